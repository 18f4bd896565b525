// Float32 kernels of per-sample gradients (family per_sample): torsh.func's vmap(grad(...)).
//
// outer(g, x, out, B, O, I, parallel) writes the per-sample weight gradients of a linear layer applied to one
// row per sample: out[b, o, :] = g[b, o] * x[b, :]. The product is pure stores: W17's first layer writes
// 64 x 512 x 784 float32 (100 MB) from 160 KB of operands. NumPy's einsum("bo,bi->boi") ran at about half of
// the store bandwidth; here each output row is one vector loop over x's row (in L1), and outputs larger than
// the last-level cache are written with non-temporal stores, which skip reading each line before writing it
// (the store-only product ran 6.5 ms with einsum, 3.6 ms with plain vector stores, 2.6 ms streamed: 1 thread).
//
// Every entry point checks that the buffers hold what its size arguments say (common.h; ValueError otherwise).
// One build per copy (no AVX-512 loops: the stores, not the vector width, bound the product).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <immintrin.h>

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME per_sample
#endif
#include "common.h"

namespace {

constexpr long kStreamBytes = 8L << 20;  // outputs from this size bypass the cache (larger than the L2s + L3 share)

#if defined(__AVX__)
constexpr long kLanes = 8;
inline void stream_row(float* out, const float* x, float s, long n) {
    const __m256 scale = _mm256_set1_ps(s);
    long i = 0;
    for (; i < n && (reinterpret_cast<std::uintptr_t>(out + i) & 31); ++i) out[i] = s * x[i];
    for (; i + kLanes <= n; i += kLanes) _mm256_stream_ps(out + i, _mm256_mul_ps(scale, _mm256_loadu_ps(x + i)));
    for (; i < n; ++i) out[i] = s * x[i];
}
#else
constexpr long kLanes = 4;
inline void stream_row(float* out, const float* x, float s, long n) {
    const __m128 scale = _mm_set1_ps(s);
    long i = 0;
    for (; i < n && (reinterpret_cast<std::uintptr_t>(out + i) & 15); ++i) out[i] = s * x[i];
    for (; i + kLanes <= n; i += kLanes) _mm_stream_ps(out + i, _mm_mul_ps(scale, _mm_loadu_ps(x + i)));
    for (; i < n; ++i) out[i] = s * x[i];
}
#endif

inline void store_row(float* out, const float* x, float s, long n) {
    for (long i = 0; i < n; ++i) out[i] = s * x[i];  // vectorised by the compiler
}

// outer(g, x, out, B, O, I, parallel): out[b, o, i] = g[b, o] * x[b, i], float32, C-contiguous
PyObject* outer(PyObject*, PyObject* args) {
    Py_buffer gb, xb, ob;
    long B, O, I;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*lllp", &gb, &xb, &ob, &B, &O, &I, &parallel)) return nullptr;
    HeldBuffers held{&gb, &xb, &ob};
    const long rows = float_count({B, O}), n = float_count({B, O, I});
    if (!holds_at_least(gb, rows, "g", "outer") || !holds_at_least(xb, float_count({B, I}), "x", "outer") ||
        !holds_at_least(ob, n, "out", "outer"))
        return nullptr;
    const float* g = static_cast<const float*>(gb.buf);
    const float* x = static_cast<const float*>(xb.buf);
    float* out = static_cast<float*>(ob.buf);
    const bool stream = n * static_cast<long>(sizeof(float)) >= kStreamBytes;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel if (parallel && rows > 1)
    {
#pragma omp for schedule(static)
        for (long r = 0; r < rows; ++r) {
            const float* x_row = x + (r / O) * I;
            if (stream)
                stream_row(out + r * I, x_row, g[r], I);
            else
                store_row(out + r * I, x_row, g[r], I);
        }
        if (stream) _mm_sfence();  // each thread's streamed lines are visible before the result is handed on
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"outer", outer, METH_VARARGS,
     "outer(g, x, out, B, O, I, parallel): out[b, o, i] = g[b, o] * x[b, i], float32 (per-sample weight "
     "gradients)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) { return module_with_isa(&module, kNativeIsa); }
