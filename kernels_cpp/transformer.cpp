// Float32 kernels of a transformer's training step (family transformer): the exact GELU and its
// gradient, and the softmax of scaled_dot_product_attention (scale, causal mask, softmax, in one pass
// per direction).
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

// exp(x) for x <= 0 (every caller's argument): x = n ln2 + r, e^r by Cephes' expf polynomial, 2^n
// through the exponent bits. Results below FLT_MIN (x < -87.33) are flushed to 0; NaN stays NaN.
inline float exp_nonpositive(float x) {
    const float lo = -87.3365447504f;
    const float xc = x < lo ? lo : x;
    const float n = std::floor(xc * 1.44269504088896341f + 0.5f);
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    const float y = p * scale;
    return x < lo ? 0.0f : y;
}

// erf(v) as PyTorch's Vectorized<float>::erf: sign(v) (1 - t r(t) exp(-v^2)), t = 1 / (1 + p |v|)
inline float erf_as(float v) {
    const float a = std::fabs(v);
    const float t = 1.0f / (0.3275911f * a + 1.0f);
    float r = 1.061405429f;
    r = r * t + -1.453152027f;
    r = r * t + 1.421413741f;
    r = r * t + -0.284496736f;
    r = r * t + 0.254829592f;
    const float e = exp_nonpositive(-(v * v));
    return std::copysign((-e * t) * r + 1.0f, v);
}

// PyTorch's float32 GELU gives NaN at +inf (its float64 one gives inf): so does this one
void gelu_range(const float* x, float* out, long lo, long hi) {
#pragma omp simd
    for (long i = lo; i < hi; ++i) {
        const float y = x[i] * 0.5f * (1.0f + erf_as(x[i] * kSqrtHalf));
        out[i] = x[i] == INFINITY ? NAN : y;
    }
}

// grad * (Phi(x) + x phi(x)), as PyTorch's GeluBackward (approximate='none')
void gelu_backward_range(const float* g, const float* x, float* out, long lo, long hi) {
#pragma omp simd
    for (long i = lo; i < hi; ++i) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + erf_as(v * kSqrtHalf));
        const float pdf = kInvSqrt2Pi * exp_nonpositive(v * v * -0.5f);
        out[i] = g[i] * (cdf + v * pdf);
    }
}

// Runs body(lo, hi) over [0, n) in blocks, on the OpenMP threads when parallel
template <class Body>
void blocks(long n, bool parallel, Body body) {
    const long count = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (parallel && count > 1)
    for (long b = 0; b < count; ++b) body(b * kBlock, std::min(n, (b + 1) * kBlock));
}

// Row r of (rows, S) scores, r % L its query position: with causal, columns j > r % L are masked out.
// The softmax of scale * s over the kept columns is written in place, zeros after them.
void attention_softmax_row(float* s, long kept, long S, float scale) {
    float top = -INFINITY;  // a NaN score makes the row NaN below, whatever this max makes of it
#pragma omp simd reduction(max : top)
    for (long j = 0; j < kept; ++j) top = std::max(top, s[j] * scale);
    if (top == -INFINITY) top = 0.0f;  // every kept score -inf: exp gives 0s and the sum 0, as PyTorch (NaN row)
    float total = 0.0f;
#pragma omp simd reduction(+ : total)
    for (long j = 0; j < kept; ++j) {
        const float e = exp_nonpositive(s[j] * scale - top);
        s[j] = e;
        total += e;
    }
    const float inv = 1.0f / total;
#pragma omp simd
    for (long j = 0; j < kept; ++j) s[j] *= inv;
    std::fill(s + kept, s + S, 0.0f);
}

// In place over dp: scale * p (dp - sum_k p_k dp_k), the gradient of the scores of attention_softmax_row
void attention_softmax_backward_row(const float* p, float* dp, long kept, long S, float scale) {
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (long j = 0; j < kept; ++j) dot += p[j] * dp[j];
#pragma omp simd
    for (long j = 0; j < kept; ++j) dp[j] = scale * (p[j] * (dp[j] - dot));
    std::fill(dp + kept, dp + S, 0.0f);
}

long kept_columns(long row, long L, long S, bool causal) { return causal ? std::min(row % L + 1, S) : S; }

// -- argument checks ---------------------------------------------------------------------------------------
struct Buffers {
    Py_buffer* views[3];
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
    blocks(n, parallel, [&](long lo, long hi) { gelu_range(x, out, lo, hi); });
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
    blocks(n, parallel, [&](long lo, long hi) { gelu_backward_range(g, x, out, lo, hi); });
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
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel)
    for (long r = 0; r < rows; ++r) attention_softmax_row(s + r * S, kept_columns(r, L, S, causal), S, scale);
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
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel)
    for (long r = 0; r < rows; ++r)
        attention_softmax_backward_row(p + r * S, g + r * S, kept_columns(r, L, S, causal), S, scale);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
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
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) { return PyModule_Create(&module); }
