// Float32 kernels of a transformer's training step (family transformer): the exact GELU and its
// gradient, the softmax of scaled_dot_product_attention (scale, causal mask, softmax, in one pass
// per direction), and layer norm over rows (forward and backward, one pass over each row per direction).
//
// The loops live in transformer_impl.h, included once per instruction set: this copy's own and, in the
// x86-64-v3 copy, an AVX-512 one chosen at import where the CPU has it (``ISA``; ``set_isa`` for tests):
// the GELU of W13's 8x64x512 took 166 us on AVX2 and 72 us on AVX-512 (one thread).
//
// Why C++: the exact GELU needs erf, which NumPy lacks and SciPy computes one scalar at a time (a
// GELU of 8x64x512 took longer than the GEMMs around it in the GPT step), and Pythran's erf/exp are
// scalar calls too. Here erf and exp are short float32 polynomials written as plain loops, which the
// compiler vectorises (x86-64-v3 copy: 8 lanes). erf is PyTorch's own vectorised formula
// (Abramowitz-Stegun 7.1.26 with exp(-x^2): absolute error < 1.5e-7), and GELU and its gradient are
// computed in the order of PyTorch's GeluKernel/GeluBackwardKernel, so the values agree with its
// to about an ulp. The attention softmax keeps the masked-out scores from being written, masked and
// re-read: row i of a causal (L, S) score matrix only reads columns j <= i.
//
// Built with -fno-trapping-math (meson.build): only then does GCC turn the selects below (flush to 0,
// the +inf case) into blends and vectorise the loops around them.
//
// Every entry point checks that the buffers hold what its size arguments say (ValueError otherwise).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME transformer
#endif
#include "module_name.h"

namespace {

constexpr float kSqrtHalf = 0.70710678118654752440f;  // M_SQRT1_2
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // M_2_SQRTPI * M_SQRT1_2 * 0.5
constexpr long kBlock = 4096;                             // elements per OpenMP work item

// One instruction set's loops (transformer_impl.h): this copy's own and, in the x86-64-v3 copy, AVX-512
struct Kernels {
    const char* isa;
    void (*gelu)(const float*, float*, long, long);
    void (*gelu_backward)(const float*, const float*, float*, long, long);
    void (*softmax_row)(float*, long, long, float);
    void (*softmax_backward_row)(const float*, float*, long, long, float);
    void (*layer_norm)(const float*, const float*, const float*, float*, float*, float*, long, long, long, float);
    void (*layer_norm_backward)(const float*, const float*, const float*, const float*, const float*, float*, float*,
                                float*, long, long, long);
};

namespace native {
#include "transformer_impl.h"
}  // namespace native

#if defined(__AVX2__) && defined(__GNUC__)
#define HAVE_AVX512_BUILD 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,prefer-vector-width=512")
namespace avx512 {
#include "transformer_impl.h"
}  // namespace avx512
#pragma GCC pop_options
#endif

#define TORSH_KERNELS(ns, name)                                                                               \
    Kernels {                                                                                                  \
        name, ns::gelu_range, ns::gelu_backward_range, ns::attention_softmax_row,                              \
            ns::attention_softmax_backward_row, ns::layer_norm_rows, ns::layer_norm_backward_rows              \
    }
#ifdef __AVX2__
const Kernels native_kernels = TORSH_KERNELS(native, "avx2");
#else
const Kernels native_kernels = TORSH_KERNELS(native, "baseline");
#endif
#ifdef HAVE_AVX512_BUILD
const Kernels avx512_kernels = TORSH_KERNELS(avx512, "avx512");
#endif
const Kernels* active = &native_kernels;  // AVX-512's at import where the CPU has it; set_isa changes it (tests)

bool cpu_has_avx512() {
#ifdef HAVE_AVX512_BUILD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#else
    return false;
#endif
}

// Runs body(lo, hi) over [0, n) in blocks, on the OpenMP threads when parallel
template <class Body>
void blocks(long n, bool parallel, Body body) {
    const long count = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (parallel && count > 1)
    for (long b = 0; b < count; ++b) body(b * kBlock, std::min(n, (b + 1) * kBlock));
}

long kept_columns(long row, long L, long S, bool causal) { return causal ? std::min(row % L + 1, S) : S; }

// -- argument checks ---------------------------------------------------------------------------------------
struct Buffers {
    Py_buffer* views[8];
    int count;
    ~Buffers() {
        for (int i = 0; i < count; ++i) PyBuffer_Release(views[i]);
    }
};

// Whether buf holds at least count float32 values (count < 0: the size arguments overflowed)
bool holds(const Py_buffer& buf, long count, const char* name, const char* op) {
    if (count < 0 || buf.len / (Py_ssize_t)sizeof(float) < count) {
        PyErr_Format(PyExc_ValueError, "%s: %s holds %zd bytes, too few for the %ld float32 values asked for", op,
                     name, buf.len, count);
        return false;
    }
    return true;
}

// rows * S, or -1 when a size is negative or the product overflows
long matrix_size(long rows, long S) {
    long n;
    if (rows < 0 || S < 0 || __builtin_mul_overflow(rows, S, &n) || n > PY_SSIZE_T_MAX / (long)sizeof(float)) return -1;
    return n;
}

// gelu(x, out, parallel): out = x * 0.5 * (1 + erf(x / sqrt(2))), float32, as many values as x holds
PyObject* gelu(PyObject*, PyObject* args) {
    Py_buffer xb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*w*p", &xb, &ob, &parallel)) return nullptr;
    Buffers held{{&xb, &ob}, 2};
    const long n = xb.len / (long)sizeof(float);
    if (!holds(ob, n, "out", "gelu")) return nullptr;
    const float* x = static_cast<const float*>(xb.buf);
    float* out = static_cast<float*>(ob.buf);
    Py_BEGIN_ALLOW_THREADS
    const Kernels& k = *active;
    blocks(n, parallel, [&](long lo, long hi) { k.gelu(x, out, lo, hi); });
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// gelu_backward(grad, x, out, parallel): out = grad * (Phi(x) + x phi(x)), float32, x's size
PyObject* gelu_backward(PyObject*, PyObject* args) {
    Py_buffer gb, xb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*p", &gb, &xb, &ob, &parallel)) return nullptr;
    Buffers held{{&gb, &xb, &ob}, 3};
    const long n = xb.len / (long)sizeof(float);
    if (!holds(gb, n, "grad", "gelu_backward") || !holds(ob, n, "out", "gelu_backward")) return nullptr;
    const float* g = static_cast<const float*>(gb.buf);
    const float* x = static_cast<const float*>(xb.buf);
    float* out = static_cast<float*>(ob.buf);
    Py_BEGIN_ALLOW_THREADS
    const Kernels& k = *active;
    blocks(n, parallel, [&](long lo, long hi) { k.gelu_backward(g, x, out, lo, hi); });
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

bool attention_sizes(long rows, long L, long S, const char* op) {
    if (rows < 0 || L <= 0 || S < 0 || rows % L != 0) {
        PyErr_Format(PyExc_ValueError, "%s: rows %ld must be a multiple of L %ld > 0, S %ld >= 0", op, rows, L, S);
        return false;
    }
    return true;
}

// attention_softmax(scores, rows, L, S, scale, causal, parallel): scores (rows, S) (rows = batch * L),
// replaced in place by softmax(scale * scores) over each row's kept columns (causal: j <= row % L), 0 elsewhere
PyObject* attention_softmax(PyObject*, PyObject* args) {
    Py_buffer sb;
    long rows, L, S;
    float scale;
    int causal, parallel;
    if (!PyArg_ParseTuple(args, "w*lllfpp", &sb, &rows, &L, &S, &scale, &causal, &parallel)) return nullptr;
    Buffers held{{&sb}, 1};
    if (!attention_sizes(rows, L, S, "attention_softmax") ||
        !holds(sb, matrix_size(rows, S), "scores", "attention_softmax"))
        return nullptr;
    float* s = static_cast<float*>(sb.buf);
    const Kernels& k = *active;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel)
    for (long r = 0; r < rows; ++r) k.softmax_row(s + r * S, kept_columns(r, L, S, causal), S, scale);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// attention_softmax_backward(probs, grad, rows, L, S, scale, causal, parallel): grad (the gradient of
// attention_softmax's output, (rows, S)) replaced in place by the gradient of its scores
PyObject* attention_softmax_backward(PyObject*, PyObject* args) {
    Py_buffer pb, gb;
    long rows, L, S;
    float scale;
    int causal, parallel;
    if (!PyArg_ParseTuple(args, "y*w*lllfpp", &pb, &gb, &rows, &L, &S, &scale, &causal, &parallel)) return nullptr;
    Buffers held{{&pb, &gb}, 2};
    const long n = matrix_size(rows, S);
    if (!attention_sizes(rows, L, S, "attention_softmax_backward") ||
        !holds(pb, n, "probs", "attention_softmax_backward") || !holds(gb, n, "grad", "attention_softmax_backward"))
        return nullptr;
    const float* p = static_cast<const float*>(pb.buf);
    float* g = static_cast<float*>(gb.buf);
    const Kernels& k = *active;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel)
    for (long r = 0; r < rows; ++r)
        k.softmax_backward_row(p + r * S, g + r * S, kept_columns(r, L, S, causal), S, scale);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// layer_norm(x, w, b, out, mean, rstd, rows, cols, eps, parallel): float32 (rows, cols) x normalised per row into out,
// times w plus b (cols values each); each row's mean and rstd = 1 / sqrt(biased var + eps) into mean, rstd
PyObject* layer_norm(PyObject*, PyObject* args) {
    Py_buffer xb, wb, bb, ob, mb, rb;
    long rows, cols;
    float eps;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*w*llfp", &xb, &wb, &bb, &ob, &mb, &rb, &rows, &cols, &eps, &parallel))
        return nullptr;
    Buffers held{{&xb, &wb, &bb, &ob, &mb, &rb}, 6};
    const long n = matrix_size(rows, cols);
    if (cols <= 0) {
        PyErr_Format(PyExc_ValueError, "layer_norm: cols %ld must be > 0", cols);
        return nullptr;
    }
    if (!holds(xb, n, "x", "layer_norm") || !holds(wb, cols, "weight", "layer_norm") ||
        !holds(bb, cols, "bias", "layer_norm") || !holds(ob, n, "out", "layer_norm") ||
        !holds(mb, rows, "mean", "layer_norm") || !holds(rb, rows, "rstd", "layer_norm"))
        return nullptr;
    const float *x = static_cast<const float*>(xb.buf), *w = static_cast<const float*>(wb.buf),
                *b = static_cast<const float*>(bb.buf);
    float *out = static_cast<float*>(ob.buf), *mean = static_cast<float*>(mb.buf), *rstd = static_cast<float*>(rb.buf);
    const Kernels& k = *active;
    const long step = std::max(1L, kBlock / cols);  // rows per OpenMP work item
    const long count = (rows + step - 1) / step;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel && count > 1)
    for (long i = 0; i < count; ++i)
        k.layer_norm(x, w, b, out, mean, rstd, i * step, std::min(rows, (i + 1) * step), cols, eps);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// layer_norm_backward(grad, x, w, mean, rstd, gx, gw_part, gb_part, rows, cols, blocks, parallel): the input
// gradient into gx; the weight and bias gradients summed over each of ``blocks`` equal runs of rows into the rows
// of gw_part and gb_part (blocks, cols), for the caller to add up in order (the same bits on any thread count)
PyObject* layer_norm_backward(PyObject*, PyObject* args) {
    Py_buffer gb_, xb, wb, mb, rb, dxb, gwb, gbb;
    long rows, cols, blocks_;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*w*w*lllp", &gb_, &xb, &wb, &mb, &rb, &dxb, &gwb, &gbb, &rows, &cols,
                          &blocks_, &parallel))
        return nullptr;
    Buffers held{{&gb_, &xb, &wb, &mb, &rb, &dxb, &gwb, &gbb}, 8};
    if (cols <= 0 || blocks_ < 1 || blocks_ > std::max(rows, 1L)) {
        PyErr_Format(PyExc_ValueError, "layer_norm_backward: cols %ld must be > 0 and blocks %ld in [1, max(rows %ld, 1)]",
                     cols, blocks_, rows);
        return nullptr;
    }
    const long n = matrix_size(rows, cols), parts = matrix_size(blocks_, cols);
    const char* op = "layer_norm_backward";
    if (!holds(gb_, n, "grad", op) || !holds(xb, n, "x", op) || !holds(wb, cols, "weight", op) ||
        !holds(mb, rows, "mean", op) || !holds(rb, rows, "rstd", op) || !holds(dxb, n, "gx", op) ||
        !holds(gwb, parts, "gw_part", op) || !holds(gbb, parts, "gb_part", op))
        return nullptr;
    const float *g = static_cast<const float*>(gb_.buf), *x = static_cast<const float*>(xb.buf),
                *w = static_cast<const float*>(wb.buf), *mean = static_cast<const float*>(mb.buf),
                *rstd = static_cast<const float*>(rb.buf);
    float *gx = static_cast<float*>(dxb.buf), *gw = static_cast<float*>(gwb.buf), *gbias = static_cast<float*>(gbb.buf);
    const Kernels& k = *active;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel && blocks_ > 1)
    for (long i = 0; i < blocks_; ++i)
        k.layer_norm_backward(g, x, w, mean, rstd, gx, gw + i * cols, gbias + i * cols, i * rows / blocks_,
                              (i + 1) * rows / blocks_, cols);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// set_isa(name): "avx512" where the CPU has it, or this copy's own loops ("avx2", or "baseline" in the baseline
// copy); returns the previous name. For tests of both builds.
PyObject* set_isa(PyObject*, PyObject* args) {
    const char* name;
    if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
    const char* previous = active->isa;
#ifdef HAVE_AVX512_BUILD
    if (std::strcmp(name, "avx512") == 0 && cpu_has_avx512()) {
        active = &avx512_kernels;
        return PyUnicode_FromString(previous);
    }
#endif
    if (std::strcmp(name, native_kernels.isa) != 0) {
        PyErr_Format(PyExc_ValueError, "set_isa: %s is not available here (this copy has %s%s)", name,
                     native_kernels.isa, cpu_has_avx512() ? " and avx512" : "");
        return nullptr;
    }
    active = &native_kernels;
    return PyUnicode_FromString(previous);
}

PyMethodDef methods[] = {
    {"gelu", gelu, METH_VARARGS,
     "gelu(x, out, parallel): out = x * 0.5 * (1 + erf(x / sqrt(2))) over float32 x (PyTorch's formula)."},
    {"gelu_backward", gelu_backward, METH_VARARGS,
     "gelu_backward(grad, x, out, parallel): out = grad * (Phi(x) + x * phi(x)), float32."},
    {"attention_softmax", attention_softmax, METH_VARARGS,
     "attention_softmax(scores, rows, L, S, scale, causal, parallel): in place, each row of the (rows, S) "
     "float32 scores becomes softmax(scale * row) over columns j <= row % L (causal) or all, zeros elsewhere."},
    {"attention_softmax_backward", attention_softmax_backward, METH_VARARGS,
     "attention_softmax_backward(probs, grad, rows, L, S, scale, causal, parallel): in place, grad (of the "
     "probabilities) becomes the gradient of attention_softmax's scores."},
    {"layer_norm", layer_norm, METH_VARARGS,
     "layer_norm(x, w, b, out, mean, rstd, rows, cols, eps, parallel): float32 rows of x normalised (biased "
     "variance) times w plus b into out; per-row mean and rstd saved."},
    {"layer_norm_backward", layer_norm_backward, METH_VARARGS,
     "layer_norm_backward(grad, x, w, mean, rstd, gx, gw_part, gb_part, rows, cols, blocks, parallel): input "
     "gradient into gx, weight/bias gradients as per-block partial sums (blocks, cols)."},
    {"set_isa", set_isa, METH_VARARGS,
     "set_isa(name): run the loops of instruction set name ('avx512' or this copy's own); returns the previous."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) {
    PyObject* m = PyModule_Create(&module);
#ifdef HAVE_AVX512_BUILD
    if (cpu_has_avx512()) active = &avx512_kernels;
#endif
    if (m && PyModule_AddStringConstant(m, "ISA", active->isa) < 0) {
        Py_DECREF(m);
        return nullptr;
    }
    return m;
}
