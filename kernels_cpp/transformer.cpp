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
#include <memory>

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME transformer
#endif
#include "common.h"

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
    void (*attention_forward)(const float*, long, const float*, long, const float*, long, float*, long, float*, long,
                              long, long, float, bool, float*);
    void (*attention_backward)(const float*, long, const float*, long, const float*, long, const float*,
                               const float*, long, float*, long, float*, long, float*, long, long, long, long, float,
                               bool, float*);
    long (*forward_scratch)(long, long, long);
    long (*backward_scratch)(long, long, long);
    void (*column_sums)(const float*, long, long, float*, long, long);
};

#define TORSH_ISA_LOOPS "transformer_impl.h"
#include "isa_builds.h"

#define TORSH_KERNELS(ns, name)                                                                               \
    Kernels {                                                                                                  \
        name, ns::gelu_range, ns::gelu_backward_range, ns::attention_softmax_row,                              \
            ns::attention_softmax_backward_row, ns::layer_norm_rows, ns::layer_norm_backward_rows,             \
            ns::attention_head_forward, ns::attention_head_backward, ns::attention_forward_scratch,            \
            ns::attention_backward_scratch, ns::column_sums_range                                              \
    }
// AVX-512's loops at import where the CPU has it; set_isa changes them (tests)
#ifdef HAVE_AVX512_BUILD
const Kernels avx512_kernels = TORSH_KERNELS(avx512, "avx512");
IsaLoops<Kernels> loops{TORSH_KERNELS(native, kNativeIsa), &avx512_kernels};
#else
IsaLoops<Kernels> loops{TORSH_KERNELS(native, kNativeIsa), nullptr};
#endif

// Runs body(lo, hi) over [0, n) in blocks, on the OpenMP threads when parallel
template <class Body>
void blocks(long n, bool parallel, Body body) {
    const long count = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (parallel && count > 1)
    for (long b = 0; b < count; ++b) body(b * kBlock, std::min(n, (b + 1) * kBlock));
}

long kept_columns(long row, long L, long S, bool causal) { return causal ? std::min(row % L + 1, S) : S; }

// -- the entry points (their buffer checks: common.h) -------------------------------------------------------

// gelu(x, out, parallel): out = x * 0.5 * (1 + erf(x / sqrt(2))), float32, as many values as x holds
PyObject* gelu(PyObject*, PyObject* args) {
    Py_buffer xb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*w*p", &xb, &ob, &parallel)) return nullptr;
    const HeldBuffers held{&xb, &ob};
    const long n = xb.len / (long)sizeof(float);
    if (!holds_at_least(ob, n, "out", "gelu")) return nullptr;
    const float* x = static_cast<const float*>(xb.buf);
    float* out = static_cast<float*>(ob.buf);
    Py_BEGIN_ALLOW_THREADS
    const Kernels& k = *loops.active;
    blocks(n, parallel, [&](long lo, long hi) { k.gelu(x, out, lo, hi); });
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// gelu_backward(grad, x, out, parallel): out = grad * (Phi(x) + x phi(x)), float32, x's size
PyObject* gelu_backward(PyObject*, PyObject* args) {
    Py_buffer gb, xb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*p", &gb, &xb, &ob, &parallel)) return nullptr;
    const HeldBuffers held{&gb, &xb, &ob};
    const long n = xb.len / (long)sizeof(float);
    if (!holds_at_least(gb, n, "grad", "gelu_backward") || !holds_at_least(ob, n, "out", "gelu_backward"))
        return nullptr;
    const float* g = static_cast<const float*>(gb.buf);
    const float* x = static_cast<const float*>(xb.buf);
    float* out = static_cast<float*>(ob.buf);
    Py_BEGIN_ALLOW_THREADS
    const Kernels& k = *loops.active;
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
    const HeldBuffers held{&sb};
    if (!attention_sizes(rows, L, S, "attention_softmax") ||
        !holds_at_least(sb, float_count({rows, S}), "scores", "attention_softmax"))
        return nullptr;
    float* s = static_cast<float*>(sb.buf);
    const Kernels& k = *loops.active;
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
    const HeldBuffers held{&pb, &gb};
    const long n = float_count({rows, S});
    if (!attention_sizes(rows, L, S, "attention_softmax_backward") ||
        !holds_at_least(pb, n, "probs", "attention_softmax_backward") ||
        !holds_at_least(gb, n, "grad", "attention_softmax_backward"))
        return nullptr;
    const float* p = static_cast<const float*>(pb.buf);
    float* g = static_cast<float*>(gb.buf);
    const Kernels& k = *loops.active;
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
    const HeldBuffers held{&xb, &wb, &bb, &ob, &mb, &rb};
    const long n = float_count({rows, cols});
    if (cols <= 0) {
        PyErr_Format(PyExc_ValueError, "layer_norm: cols %ld must be > 0", cols);
        return nullptr;
    }
    if (!holds_at_least(xb, n, "x", "layer_norm") || !holds_at_least(wb, cols, "weight", "layer_norm") ||
        !holds_at_least(bb, cols, "bias", "layer_norm") || !holds_at_least(ob, n, "out", "layer_norm") ||
        !holds_at_least(mb, rows, "mean", "layer_norm") || !holds_at_least(rb, rows, "rstd", "layer_norm"))
        return nullptr;
    const float *x = static_cast<const float*>(xb.buf), *w = static_cast<const float*>(wb.buf),
                *b = static_cast<const float*>(bb.buf);
    float *out = static_cast<float*>(ob.buf), *mean = static_cast<float*>(mb.buf), *rstd = static_cast<float*>(rb.buf);
    const Kernels& k = *loops.active;
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
    const HeldBuffers held{&gb_, &xb, &wb, &mb, &rb, &dxb, &gwb, &gbb};
    if (cols <= 0 || blocks_ < 1 || blocks_ > std::max(rows, 1L)) {
        PyErr_Format(PyExc_ValueError, "layer_norm_backward: cols %ld must be > 0 and blocks %ld in [1, max(rows %ld, 1)]",
                     cols, blocks_, rows);
        return nullptr;
    }
    const long n = float_count({rows, cols}), parts = float_count({blocks_, cols});
    const char* op = "layer_norm_backward";
    if (!holds_at_least(gb_, n, "grad", op) || !holds_at_least(xb, n, "x", op) ||
        !holds_at_least(wb, cols, "weight", op) || !holds_at_least(mb, rows, "mean", op) ||
        !holds_at_least(rb, rows, "rstd", op) || !holds_at_least(dxb, n, "gx", op) ||
        !holds_at_least(gwb, parts, "gw_part", op) || !holds_at_least(gbb, parts, "gb_part", op))
        return nullptr;
    const float *g = static_cast<const float*>(gb_.buf), *x = static_cast<const float*>(xb.buf),
                *w = static_cast<const float*>(wb.buf), *mean = static_cast<const float*>(mb.buf),
                *rstd = static_cast<const float*>(rb.buf);
    float *gx = static_cast<float*>(dxb.buf), *gw = static_cast<float*>(gwb.buf), *gbias = static_cast<float*>(gbb.buf);
    const Kernels& k = *loops.active;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel && blocks_ > 1)
    for (long i = 0; i < blocks_; ++i)
        k.layer_norm_backward(g, x, w, mean, rstd, gx, gw + i * cols, gbias + i * cols, i * rows / blocks_,
                              (i + 1) * rows / blocks_, cols);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// -- scaled_dot_product_attention, one (batch, head) block per work item --------------------------------------------

// A float32 (B, H, rows, D) array read in place through its strides (unit stride along D), its buffer held
struct Heads {
    Py_buffer view{};
    bool held = false;
    long shape[4] = {0, 0, 0, 0};
    long sb = 0, sh = 0, sr = 0;  // strides in floats
    ~Heads() {
        if (held) PyBuffer_Release(&view);
    }
    float* at(long b, long h) const { return static_cast<float*>(view.buf) + b * sb + h * sh; }
};

// Fills ``heads`` from obj (a 4-D float32 buffer, non-negative strides, unit stride along its last axis); else a
// ValueError naming the argument
bool get_heads(PyObject* obj, bool writable, const char* name, const char* op, Heads& heads) {
    if (PyObject_GetBuffer(obj, &heads.view, PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return false;
    heads.held = true;
    const Py_buffer& v = heads.view;
    const bool f32 = v.itemsize == 4 && v.format && (std::strcmp(v.format, "f") == 0 || std::strcmp(v.format, "<f") == 0 ||
                                                      std::strcmp(v.format, "=f") == 0);
    if (v.ndim != 4 || !f32) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be a 4-D float32 buffer", op, name);
        return false;
    }
    long strides[4];
    for (int i = 0; i < 4; ++i) {
        heads.shape[i] = v.shape[i];
        if (v.strides[i] < 0 || v.strides[i] % 4 != 0) {
            PyErr_Format(PyExc_ValueError, "%s: %s's strides must be non-negative multiples of 4 bytes", op, name);
            return false;
        }
        strides[i] = v.strides[i] / 4;
    }
    if (strides[3] != 1 && heads.shape[3] > 1) {
        PyErr_Format(PyExc_ValueError, "%s: %s must have unit stride along its last axis", op, name);
        return false;
    }
    heads.sb = strides[0], heads.sh = strides[1], heads.sr = strides[2];
    return true;
}

bool heads_shaped(const Heads& t, long B, long H, long rows, long cols, const char* name, const char* op) {
    if (t.shape[0] != B || t.shape[1] != H || t.shape[2] != rows || t.shape[3] != cols) {
        PyErr_Format(PyExc_ValueError, "%s: %s has shape (%ld, %ld, %ld, %ld), expected (%ld, %ld, %ld, %ld)", op, name,
                     t.shape[0], t.shape[1], t.shape[2], t.shape[3], B, H, rows, cols);
        return false;
    }
    return true;
}

bool contiguous_rows(const Heads& t, const char* name, const char* op) {
    if (t.sr != t.shape[3]) {
        PyErr_Format(PyExc_ValueError, "%s: %s's rows must be contiguous", op, name);
        return false;
    }
    return true;
}

// Runs body(b, h, scratch) over the B x H blocks on ``threads`` OpenMP threads, each with ``scratch`` floats
// of its own; false (MemoryError set) when they could not be allocated
template <class Body>
bool over_heads(long B, long H, long scratch, int threads, Body body) {
    bool failed = false;
    const long blocks = B * H;
    const int team = static_cast<int>(std::max(1L, std::min<long>(threads, blocks)));
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel num_threads(team) if (team > 1)
    {
        std::unique_ptr<float[]> work(new (std::nothrow) float[scratch]);
        if (!work) {
#pragma omp atomic write
            failed = true;
        }
#pragma omp for schedule(static)
        for (long i = 0; i < blocks; ++i)
            if (work) body(i / H, i % H, work.get());
    }
    Py_END_ALLOW_THREADS
    if (failed) PyErr_NoMemory();
    return !failed;
}

// attention_forward(q, k, v, out, probs, scale, causal, threads): out = softmax(scale q k^T, causal: j <= i) v over
// float32 (B, H, L, D) q, (B, H, S, D) k and v, read and written through their strides; the probabilities into
// probs (B, H, L, S, rows contiguous) unless it is None. Each (b, h) block on one of ``threads`` threads.
PyObject* attention_forward(PyObject*, PyObject* args) {
    PyObject *qo, *ko, *vo, *oo, *po;
    float scale;
    int causal, threads;
    if (!PyArg_ParseTuple(args, "OOOOOfpi", &qo, &ko, &vo, &oo, &po, &scale, &causal, &threads)) return nullptr;
    const char* op = "attention_forward";
    Heads q, k, v, out, probs;
    if (!get_heads(qo, false, "q", op, q) || !get_heads(ko, false, "k", op, k) || !get_heads(vo, false, "v", op, v) ||
        !get_heads(oo, true, "out", op, out) || (po != Py_None && !get_heads(po, true, "probs", op, probs)))
        return nullptr;
    const long B = q.shape[0], H = q.shape[1], L = q.shape[2], D = q.shape[3], S = k.shape[2];
    if (L < 1 || S < 1 || D < 1) {
        PyErr_Format(PyExc_ValueError, "%s: L %ld, S %ld and D %ld must be >= 1", op, L, S, D);
        return nullptr;
    }
    if (!heads_shaped(k, B, H, S, D, "k", op) || !heads_shaped(v, B, H, S, D, "v", op) ||
        !heads_shaped(out, B, H, L, D, "out", op) ||
        (po != Py_None && (!heads_shaped(probs, B, H, L, S, "probs", op) || !contiguous_rows(probs, "probs", op))))
        return nullptr;
    const Kernels& kn = *loops.active;
    const bool save = po != Py_None;
    if (!over_heads(B, H, kn.forward_scratch(L, S, D), threads, [&](long b, long h, float* work) {
            kn.attention_forward(q.at(b, h), q.sr, k.at(b, h), k.sr, v.at(b, h), v.sr, out.at(b, h), out.sr,
                                 save ? probs.at(b, h) : nullptr, L, S, D, scale, causal, work);
        }))
        return nullptr;
    Py_RETURN_NONE;
}

// attention_backward(q, k, v, probs, grad, dq, dk, dv, scale, causal, threads): the gradients of q, k, v from
// attention_forward's probabilities and the gradient of its output (all (B, H, ., .) as there), written into
// dq, dk, dv through their strides
PyObject* attention_backward(PyObject*, PyObject* args) {
    PyObject *qo, *ko, *vo, *po, *go, *dqo, *dko, *dvo;
    float scale;
    int causal, threads;
    if (!PyArg_ParseTuple(args, "OOOOOOOOfpi", &qo, &ko, &vo, &po, &go, &dqo, &dko, &dvo, &scale, &causal, &threads))
        return nullptr;
    const char* op = "attention_backward";
    Heads q, k, v, probs, g, dq, dk, dv;
    if (!get_heads(qo, false, "q", op, q) || !get_heads(ko, false, "k", op, k) || !get_heads(vo, false, "v", op, v) ||
        !get_heads(po, false, "probs", op, probs) || !get_heads(go, false, "grad", op, g) ||
        !get_heads(dqo, true, "dq", op, dq) || !get_heads(dko, true, "dk", op, dk) ||
        !get_heads(dvo, true, "dv", op, dv))
        return nullptr;
    const long B = q.shape[0], H = q.shape[1], L = q.shape[2], D = q.shape[3], S = k.shape[2];
    if (L < 1 || S < 1 || D < 1) {
        PyErr_Format(PyExc_ValueError, "%s: L %ld, S %ld and D %ld must be >= 1", op, L, S, D);
        return nullptr;
    }
    if (!heads_shaped(k, B, H, S, D, "k", op) || !heads_shaped(v, B, H, S, D, "v", op) ||
        !heads_shaped(probs, B, H, L, S, "probs", op) || !contiguous_rows(probs, "probs", op) ||
        !heads_shaped(g, B, H, L, D, "grad", op) || !heads_shaped(dq, B, H, L, D, "dq", op) ||
        !heads_shaped(dk, B, H, S, D, "dk", op) || !heads_shaped(dv, B, H, S, D, "dv", op))
        return nullptr;
    const Kernels& kn = *loops.active;
    if (!over_heads(B, H, kn.backward_scratch(L, S, D), threads, [&](long b, long h, float* work) {
            kn.attention_backward(q.at(b, h), q.sr, k.at(b, h), k.sr, v.at(b, h), v.sr, probs.at(b, h), g.at(b, h),
                                  g.sr, dq.at(b, h), dq.sr, dk.at(b, h), dk.sr, dv.at(b, h), dv.sr, L, S, D, scale,
                                  causal, work);
        }))
        return nullptr;
    Py_RETURN_NONE;
}

// column_sums(x, out, rows, cols): out[j] = the sum of column j of the float32 (rows, cols) row-major x (a Linear's
// bias gradient), one pass over x; one thread (W13's 512 x 512 is a few microseconds)
PyObject* column_sums(PyObject*, PyObject* args) {
    Py_buffer xb, ob;
    long rows, cols;
    if (!PyArg_ParseTuple(args, "y*w*ll", &xb, &ob, &rows, &cols)) return nullptr;
    const HeldBuffers held{&xb, &ob};
    if (!holds_at_least(xb, float_count({rows, cols}), "x", "column_sums") ||
        !holds_at_least(ob, cols, "out", "column_sums"))
        return nullptr;
    const float* x = static_cast<const float*>(xb.buf);
    float* out = static_cast<float*>(ob.buf);
    const Kernels& k = *loops.active;
    Py_BEGIN_ALLOW_THREADS
    k.column_sums(x, rows, cols, out, 0, cols);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// set_isa(name): "avx512" where the CPU has it, or this copy's own loops ("avx2", or "baseline" in the baseline
// copy); returns the previous name. For tests of both builds.
PyObject* set_isa(PyObject*, PyObject* args) {
    const char* name;
    if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
    return loops.set(name);
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
    {"attention_forward", attention_forward, METH_VARARGS,
     "attention_forward(q, k, v, out, probs, scale, causal, threads): out = softmax(scale q k^T (causal mask)) v per "
     "(batch, head) block of float32 (B, H, L, D) arrays read through their strides; probabilities into probs "
     "(B, H, L, S) unless None."},
    {"attention_backward", attention_backward, METH_VARARGS,
     "attention_backward(q, k, v, probs, grad, dq, dk, dv, scale, causal, threads): attention_forward's input "
     "gradients from its probabilities and its output's gradient."},
    {"column_sums", column_sums, METH_VARARGS,
     "column_sums(x, out, rows, cols): out = the column sums of float32 (rows, cols) x, read once, row by row."},
    {"set_isa", set_isa, METH_VARARGS,
     "set_isa(name): run the loops of instruction set name ('avx512' or this copy's own); returns the previous."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) {
    loops.choose();
    return module_with_isa(&module, loops.active->isa);
}
