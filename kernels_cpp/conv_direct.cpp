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

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define TORSH_VECTORISED 1
#else
#define TORSH_VECTORISED 0
#endif

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME conv_direct
#endif
#define TORSH_STR2(x) #x
#define TORSH_STR(x) TORSH_STR2(x)
#define TORSH_CAT2(a, b) a##b
#define TORSH_CAT(a, b) TORSH_CAT2(a, b)

namespace {

struct Shape {
    long C, Hp, Wp, O, kh, kw, OH, OW;
};

// out[o, oi, oj] for one output channel and a run of columns, plain loops (tails and the
// baseline build)
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
// 4 output channels x 16 columns starting at oj: 8 accumulators in registers over all taps
void block4x16(const float* xs, const float* w, const float* b, float* y, const Shape& s, long oi, long oj) {
    const long wstride = s.C * s.kh * s.kw, plane = s.OH * s.OW;
    __m256 a00 = _mm256_set1_ps(b[0]), a01 = a00, a10 = _mm256_set1_ps(b[1]), a11 = a10;
    __m256 a20 = _mm256_set1_ps(b[2]), a21 = a20, a30 = _mm256_set1_ps(b[3]), a31 = a30;
    for (long c = 0; c < s.C; ++c)
        for (long ki = 0; ki < s.kh; ++ki) {
            const float* row = xs + (c * s.Hp + oi + ki) * s.Wp + oj;
            long t = (c * s.kh + ki) * s.kw;
            for (long kj = 0; kj < s.kw; ++kj, ++t) {
                const __m256 x0 = _mm256_loadu_ps(row + kj), x1 = _mm256_loadu_ps(row + kj + 8);
                __m256 v = _mm256_broadcast_ss(w + t);
                a00 = _mm256_fmadd_ps(v, x0, a00); a01 = _mm256_fmadd_ps(v, x1, a01);
                v = _mm256_broadcast_ss(w + wstride + t);
                a10 = _mm256_fmadd_ps(v, x0, a10); a11 = _mm256_fmadd_ps(v, x1, a11);
                v = _mm256_broadcast_ss(w + 2 * wstride + t);
                a20 = _mm256_fmadd_ps(v, x0, a20); a21 = _mm256_fmadd_ps(v, x1, a21);
                v = _mm256_broadcast_ss(w + 3 * wstride + t);
                a30 = _mm256_fmadd_ps(v, x0, a30); a31 = _mm256_fmadd_ps(v, x1, a31);
            }
        }
    float* out = y + oi * s.OW + oj;
    _mm256_storeu_ps(out, a00); _mm256_storeu_ps(out + 8, a01);
    _mm256_storeu_ps(out + plane, a10); _mm256_storeu_ps(out + plane + 8, a11);
    _mm256_storeu_ps(out + 2 * plane, a20); _mm256_storeu_ps(out + 2 * plane + 8, a21);
    _mm256_storeu_ps(out + 3 * plane, a30); _mm256_storeu_ps(out + 3 * plane + 8, a31);
}
#endif

void sample(const float* xs, const float* w, const float* b, float* ys, const Shape& s) {
    const long wstride = s.C * s.kh * s.kw, plane = s.OH * s.OW;
    long o = 0;
#if TORSH_VECTORISED
    const long wide = s.OW - s.OW % 16;
    for (; o + 4 <= s.O; o += 4)
        for (long oi = 0; oi < s.OH; ++oi) {
            for (long oj = 0; oj < wide; oj += 16) block4x16(xs, w + o * wstride, b + o, ys + o * plane, s, oi, oj);
            for (long q = 0; q < 4; ++q)
                channel_columns(xs, w + (o + q) * wstride, b[o + q], ys + (o + q) * plane, s, oi, wide, s.OW);
        }
#endif
    for (; o < s.O; ++o)
        for (long oi = 0; oi < s.OH; ++oi) channel_columns(xs, w + o * wstride, b[o], ys + o * plane, s, oi, 0, s.OW);
}

bool big_enough(const Py_buffer& buf, long count, const char* name) {
    if (buf.len < count * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "conv2d_direct: %s holds %zd bytes, needs %ld float32 values", name, buf.len,
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
    bool ok = n >= 0 && s.C > 0 && s.O > 0 && s.kh > 0 && s.kw > 0 && s.OH >= 0 && s.OW >= 0 &&
              s.OH + s.kh - 1 <= s.Hp && s.OW + s.kw - 1 <= s.Wp;
    if (!ok) PyErr_SetString(PyExc_ValueError, "conv2d_direct: inconsistent shape arguments");
    ok = ok && big_enough(xp, n * s.C * s.Hp * s.Wp, "xp") && big_enough(w, s.O * s.C * s.kh * s.kw, "w") &&
         big_enough(b, s.O, "b") && big_enough(out, n * s.O * s.OH * s.OW, "out");
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

PyMethodDef methods[] = {
    {"conv2d_direct", conv2d_direct, METH_VARARGS,
     "conv2d_direct(xp, w, b, out, n, C, Hp, Wp, O, kh, kw, OH, OW, parallel): direct float32 convolution, "
     "stride 1, of the zero-padded input xp into out (bias b included)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_STR(TORSH_MODULE_NAME), nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_CAT(PyInit_, TORSH_MODULE_NAME)(void) {
    PyObject* m = PyModule_Create(&module);
    if (m && PyModule_AddObject(m, "VECTORISED", PyBool_FromLong(TORSH_VECTORISED)) < 0) {
        Py_DECREF(m);
        return nullptr;
    }
    return m;
}
