// Direct 2-D convolution (stride 1, dilation 1, groups 1) for convolutions with few input
// channels, where im2col + GEMM has K = C*kh*kw too small for BLAS to shine.
//
// Why C++ and not Pythran: the kernel keeps the partial sums of 4 output channels x 16 output
// columns in 8 AVX2 registers across all C*kh*kw taps, each input vector loaded once for 8
// FMAs. Pythran's explicit loops keep the sums in memory (3.5 ms for W5's layer at best), and
// its front end did not finish on the register-blocked loop body (benchmarks/RESULTS.md).
// Built twice like the Pythran families: the x86-64-v3 copy has the AVX2 kernel; the baseline
// copy has only the scalar one and says so (VECTORISED = False), and torsh then keeps im2col.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <omp.h>

#include <initializer_list>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define TORSH_VECTORISED 1
#else
#define TORSH_VECTORISED 0
#endif

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME conv_direct
#endif
#include "module_name.h"

namespace {

struct Shape {
    long C, Hp, Wp, O, kh, kw, OH, OW;
};

// out[o, oi, oj] for one output channel and a run of columns, plain loops (rows narrower than
// 8 and the baseline build)
void channel_columns(const float* xs, const float* w, float bias, float* y, const Shape& s,
                     long oi, long oj0, long oj1) {
    for (long oj = oj0; oj < oj1; ++oj) {
        float acc = bias;
        for (long c = 0; c < s.C; ++c)
            for (long ki = 0; ki < s.kh; ++ki) {
                const float* row = xs + (c * s.Hp + oi + ki) * s.Wp + oj;
                const float* wr = w + (c * s.kh + ki) * s.kw;
                for (long kj = 0; kj < s.kw; ++kj) acc += wr[kj] * row[kj];
            }
        y[oi * s.OW + oj] = acc;
    }
}

#if TORSH_VECTORISED
// NC output channels x NV*8 columns starting at oj: NC*NV accumulators stay in registers over
// all taps, each input vector loaded once for NC FMAs. The loops over q and v must unroll for
// the accumulators to live in registers; GCC 12 left them rolled without the pragmas (W5: 2.96 ms
// against 1.85 for the hand-unrolled 4x16 block this replaced)
template <int NC, int NV>
void block(const float* xs, const float* w, const float* b, float* y, const Shape& s, long oi, long oj) {
    const long wstride = s.C * s.kh * s.kw, plane = s.OH * s.OW;
    __m256 acc[NC][NV];
#pragma GCC unroll 4
    for (int q = 0; q < NC; ++q)
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[q][v] = _mm256_set1_ps(b[q]);
    for (long c = 0; c < s.C; ++c)
        for (long ki = 0; ki < s.kh; ++ki) {
            const float* row = xs + (c * s.Hp + oi + ki) * s.Wp + oj;
            long t = (c * s.kh + ki) * s.kw;
            for (long kj = 0; kj < s.kw; ++kj, ++t) {
                __m256 x[NV];
#pragma GCC unroll 2
                for (int v = 0; v < NV; ++v) x[v] = _mm256_loadu_ps(row + kj + 8 * v);
#pragma GCC unroll 4
                for (int q = 0; q < NC; ++q) {
                    const __m256 wv = _mm256_broadcast_ss(w + q * wstride + t);
#pragma GCC unroll 2
                    for (int v = 0; v < NV; ++v) acc[q][v] = _mm256_fmadd_ps(wv, x[v], acc[q][v]);
                }
            }
        }
    float* out = y + oi * s.OW + oj;
#pragma GCC unroll 4
    for (int q = 0; q < NC; ++q)
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) _mm256_storeu_ps(out + q * plane + 8 * v, acc[q][v]);
}

// One output row of NC channels. The columns go in blocks of 16 (or 8 for rows narrower than
// 16); a row that is not a multiple of the block ends with one block moved back to end at OW,
// recomputing a few columns (same taps in the same order: the same values) instead of running
// them scalar. Scalar tails cost LeNet-5's first layer (28 = 16 + 12 columns) 2x.
template <int NC>
void channels_row(const float* xs, const float* w, const float* b, float* y, const Shape& s, long oi) {
    if (s.OW >= 16) {
        long oj = 0;
        for (; oj + 16 <= s.OW; oj += 16) block<NC, 2>(xs, w, b, y, s, oi, oj);
        if (oj < s.OW) block<NC, 2>(xs, w, b, y, s, oi, s.OW - 16);
    } else if (s.OW >= 8) {
        block<NC, 1>(xs, w, b, y, s, oi, 0);
        if (s.OW > 8) block<NC, 1>(xs, w, b, y, s, oi, s.OW - 8);
    } else {
        const long wstride = s.C * s.kh * s.kw, plane = s.OH * s.OW;
        for (int q = 0; q < NC; ++q) channel_columns(xs, w + q * wstride, b[q], y + q * plane, s, oi, 0, s.OW);
    }
}

float horizontal_sum(__m256 v) {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

template <int NC>
void channels(const float* xs, const float* w, const float* b, float* y, const Shape& s) {
    for (long oi = 0; oi < s.OH; ++oi) channels_row<NC>(xs, w, b, y, s, oi);
}
#endif

void sample(const float* xs, const float* w, const float* b, float* ys, const Shape& s) {
    const long wstride = s.C * s.kh * s.kw, plane = s.OH * s.OW;
    long o = 0;
#if TORSH_VECTORISED
    for (; o + 4 <= s.O; o += 4) channels<4>(xs, w + o * wstride, b + o, ys + o * plane, s);
    switch (s.O - o) {  // the 1-3 channels left, in one narrower block
        case 3: channels<3>(xs, w + o * wstride, b + o, ys + o * plane, s); break;
        case 2: channels<2>(xs, w + o * wstride, b + o, ys + o * plane, s); break;
        case 1: channels<1>(xs, w + o * wstride, b + o, ys + o * plane, s); break;
        default: break;
    }
    o = s.O;
#endif
    for (; o < s.O; ++o)
        for (long oi = 0; oi < s.OH; ++oi) channel_columns(xs, w + o * wstride, b[o], ys + o * plane, s, oi, 0, s.OW);
}

#if TORSH_VECTORISED
// dw[o0+q, c, ki, kj0+t] for NO output channels x NK taps of one sample: NO*NK dot products
// along the output rows, vectorised over the columns, each accumulator in a register; each x
// vector is loaded once for NO FMAs and each gy vector once for NK. The lanes past OW of the last
// vector are masked off (neither gy nor x is read there).
template <int NO, int NK>
void weight_block(const float* xs, const float* gys, float* part, const Shape& s, long o0, long c, long ki, long kj0,
                  __m256i tail) {
    const long wide = s.OW - s.OW % 8;
    __m256 acc[NO][NK];
#pragma GCC unroll 4
    for (int q = 0; q < NO; ++q)
#pragma GCC unroll 3
        for (int t = 0; t < NK; ++t) acc[q][t] = _mm256_setzero_ps();
    for (long i = 0; i < s.OH; ++i) {
        const float* g = gys + (o0 * s.OH + i) * s.OW;
        const float* x = xs + (c * s.Hp + i + ki) * s.Wp + kj0;
        for (long j = 0; j <= wide; j += 8) {
            if (j == wide && j == s.OW) break;
            const bool masked = j == wide;
            __m256 xv[NK];
#pragma GCC unroll 3
            for (int t = 0; t < NK; ++t)
                xv[t] = masked ? _mm256_maskload_ps(x + j + t, tail) : _mm256_loadu_ps(x + j + t);
#pragma GCC unroll 4
            for (int q = 0; q < NO; ++q) {
                const float* gq = g + q * s.OH * s.OW + j;
                const __m256 gv = masked ? _mm256_maskload_ps(gq, tail) : _mm256_loadu_ps(gq);
#pragma GCC unroll 3
                for (int t = 0; t < NK; ++t) acc[q][t] = _mm256_fmadd_ps(gv, xv[t], acc[q][t]);
            }
        }
    }
#pragma GCC unroll 4
    for (int q = 0; q < NO; ++q)
#pragma GCC unroll 3
        for (int t = 0; t < NK; ++t) part[(((o0 + q) * s.C + c) * s.kh + ki) * s.kw + kj0 + t] = horizontal_sum(acc[q][t]);
}

// the taps of one (c, ki) row in chunks of 3, then 2 or 1, for NO channels from o0
template <int NO>
void weight_taps(const float* xs, const float* gys, float* part, const Shape& s, long o0, long c, long ki,
                 __m256i tail) {
    long kj = 0;
    for (; kj + 3 <= s.kw; kj += 3) weight_block<NO, 3>(xs, gys, part, s, o0, c, ki, kj, tail);
    if (s.kw - kj == 2) weight_block<NO, 2>(xs, gys, part, s, o0, c, ki, kj, tail);
    if (s.kw - kj == 1) weight_block<NO, 1>(xs, gys, part, s, o0, c, ki, kj, tail);
}
#endif

// The weight gradient of one sample, dw[o, c, ki, kj] = sum_{i,j} gy[o, i, j] xp[c, i+ki, j+kj],
// into ``part`` (O*C*kh*kw floats). Reads x and gy only: the im2col route wrote and re-read
// C*kh*kw shifted copies of the input (LeNet-5's first layer: 5 MB a step).
void sample_weight_grad(const float* xs, const float* gys, float* part, const Shape& s) {
#if TORSH_VECTORISED
    alignas(32) int lanes[8];
    for (int l = 0; l < 8; ++l) lanes[l] = l < s.OW % 8 ? -1 : 0;
    const __m256i tail = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
    for (long c = 0; c < s.C; ++c)
        for (long ki = 0; ki < s.kh; ++ki) {
            long o = 0;
            for (; o + 4 <= s.O; o += 4) weight_taps<4>(xs, gys, part, s, o, c, ki, tail);
            switch (s.O - o) {
                case 3: weight_taps<3>(xs, gys, part, s, o, c, ki, tail); break;
                case 2: weight_taps<2>(xs, gys, part, s, o, c, ki, tail); break;
                case 1: weight_taps<1>(xs, gys, part, s, o, c, ki, tail); break;
                default: break;
            }
        }
#else
    for (long o = 0; o < s.O; ++o)
        for (long c = 0; c < s.C; ++c)
            for (long ki = 0; ki < s.kh; ++ki)
                for (long kj = 0; kj < s.kw; ++kj) {
                    float acc = 0;
                    for (long i = 0; i < s.OH; ++i) {
                        const float* g = gys + (o * s.OH + i) * s.OW;
                        const float* x = xs + (c * s.Hp + i + ki) * s.Wp + kj;
                        for (long j = 0; j < s.OW; ++j) acc += g[j] * x[j];
                    }
                    part[((o * s.C + c) * s.kh + ki) * s.kw + kj] = acc;
                }
#endif
}

// The product of the sizes (all >= 0), or -1 when it overflows a long: big_enough then refuses, where
// a wrapped product could pass for a small buffer
long product(std::initializer_list<long> sizes) {
    long p = 1;
    for (long size : sizes)
        if (__builtin_mul_overflow(p, size, &p) || p > PY_SSIZE_T_MAX / (long)sizeof(float)) return -1;
    return p;
}

bool big_enough(const Py_buffer& buf, long count, const char* name, const char* op = "conv2d_direct") {
    if (count < 0) {
        PyErr_Format(PyExc_ValueError, "%s: the shape arguments make %s larger than any buffer", op, name);
        return false;
    }
    if (buf.len < count * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "%s: %s holds %zd bytes, needs %ld float32 values", op, name, buf.len,
                     count);
        return false;
    }
    return true;
}

// conv2d_direct(xp, w, b, out, n, C, Hp, Wp, O, kh, kw, OH, OW, parallel): xp is the zero-padded
// input (n, C, Hp, Wp), w (O, C, kh, kw), b (O,), out (n, O, OH, OW), all C-contiguous float32
PyObject* conv2d_direct(PyObject*, PyObject* args) {
    Py_buffer xp, w, b, out;
    long n;
    Shape s;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*y*w*lllllllllp", &xp, &w, &b, &out, &n, &s.C, &s.Hp, &s.Wp, &s.O, &s.kh, &s.kw,
                          &s.OH, &s.OW, &parallel))
        return nullptr;
    bool ok = n >= 0 && s.C > 0 && s.O > 0 && s.kh > 0 && s.kw > 0 && s.OH >= 0 && s.OW >= 0 && s.Hp >= 0 &&
              s.Wp >= 0 && s.OH <= s.Hp - s.kh + 1 && s.OW <= s.Wp - s.kw + 1;
    if (!ok) PyErr_SetString(PyExc_ValueError, "conv2d_direct: inconsistent shape arguments");
    ok = ok && big_enough(xp, product({n, s.C, s.Hp, s.Wp}), "xp") &&
         big_enough(w, product({s.O, s.C, s.kh, s.kw}), "w") && big_enough(b, s.O, "b") &&
         big_enough(out, product({n, s.O, s.OH, s.OW}), "out");
    if (ok) {
        const float* x = static_cast<const float*>(xp.buf);
        const float* wp = static_cast<const float*>(w.buf);
        const float* bp = static_cast<const float*>(b.buf);
        float* y = static_cast<float*>(out.buf);
        const long xstride = s.C * s.Hp * s.Wp, ystride = s.O * s.OH * s.OW;
        Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel && n > 1)
        for (long i = 0; i < n; ++i) sample(x + i * xstride, wp, bp, y + i * ystride, s);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&xp);
    PyBuffer_Release(&w);
    PyBuffer_Release(&b);
    PyBuffer_Release(&out);
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

// conv2d_direct_weight_grad(xp, gy, dw, n, C, Hp, Wp, O, kh, kw, OH, OW, parallel): dw (O, C, kh, kw)
// = the gradient of conv2d_direct's output w.r.t. its weight, for the output gradient gy (n, O, OH,
// OW) and the zero-padded input xp (n, C, Hp, Wp). Samples are summed in double, per thread and
// then over the threads in a fixed order: the result does not depend on timing.
PyObject* conv2d_direct_weight_grad(PyObject*, PyObject* args) {
    Py_buffer xp, gy, dw;
    long n;
    Shape s;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*lllllllllp", &xp, &gy, &dw, &n, &s.C, &s.Hp, &s.Wp, &s.O, &s.kh, &s.kw, &s.OH,
                          &s.OW, &parallel))
        return nullptr;
    bool ok = n >= 0 && s.C > 0 && s.O > 0 && s.kh > 0 && s.kw > 0 && s.OH >= 0 && s.OW >= 0 && s.Hp >= 0 &&
              s.Wp >= 0 && s.OH <= s.Hp - s.kh + 1 && s.OW <= s.Wp - s.kw + 1;
    if (!ok) PyErr_SetString(PyExc_ValueError, "conv2d_direct_weight_grad: inconsistent shape arguments");
    const long taps = ok ? product({s.O, s.C, s.kh, s.kw}) : 0;
    ok = ok && big_enough(xp, product({n, s.C, s.Hp, s.Wp}), "xp", "conv2d_direct_weight_grad") &&
         big_enough(gy, product({n, s.O, s.OH, s.OW}), "gy", "conv2d_direct_weight_grad") &&
         big_enough(dw, taps, "dw", "conv2d_direct_weight_grad");
    if (ok) {
        const float* x = static_cast<const float*>(xp.buf);
        const float* g = static_cast<const float*>(gy.buf);
        float* out = static_cast<float*>(dw.buf);
        const long xstride = s.C * s.Hp * s.Wp, gstride = s.O * s.OH * s.OW;
        Py_BEGIN_ALLOW_THREADS
        const int threads = parallel && n > 1 ? omp_get_max_threads() : 1;
        std::vector<double> sums(threads * taps, 0.0);
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num();
            std::vector<float> part(taps);
            double* mine = sums.data() + t * taps;
#pragma omp for schedule(static)
            for (long i = 0; i < n; ++i) {
                sample_weight_grad(x + i * xstride, g + i * gstride, part.data(), s);
                for (long k = 0; k < taps; ++k) mine[k] += part[k];
            }
        }
        for (long k = 0; k < taps; ++k) {
            double total = 0;
            for (int t = 0; t < threads; ++t) total += sums[t * taps + k];
            out[k] = static_cast<float>(total);
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&xp);
    PyBuffer_Release(&gy);
    PyBuffer_Release(&dw);
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"conv2d_direct", conv2d_direct, METH_VARARGS,
     "conv2d_direct(xp, w, b, out, n, C, Hp, Wp, O, kh, kw, OH, OW, parallel): direct float32 convolution, "
     "stride 1, of the zero-padded input xp into out (bias b included)."},
    {"conv2d_direct_weight_grad", conv2d_direct_weight_grad, METH_VARARGS,
     "conv2d_direct_weight_grad(xp, gy, dw, n, C, Hp, Wp, O, kh, kw, OH, OW, parallel): the weight gradient "
     "of conv2d_direct (float32, stride 1) into dw (O, C, kh, kw)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) {
    PyObject* m = PyModule_Create(&module);
    if (m && PyModule_AddObject(m, "VECTORISED", PyBool_FromLong(TORSH_VECTORISED)) < 0) {
        Py_DECREF(m);
        return nullptr;
    }
    return m;
}
