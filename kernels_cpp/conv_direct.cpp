// Direct 2-D convolution (float32, dilation 1, groups 1, any stride and zero padding) and its weight
// gradient, for the small-channel convolutions of CNNs, where im2col + GEMM writes and re-reads
// C*kh*kw shifted copies of the input and OpenBLAS's GEMMs are short in one dimension.
//
// Why C++ and not Pythran: the kernel keeps the partial sums of 4 output channels x 24 output
// positions in 12 AVX2 registers across all C*kh*kw taps, each input vector loaded once for 4 FMAs.
// Pythran's explicit loops keep the sums in memory (3.5 ms for W5's layer at best), and its front
// end did not finish on the register-blocked loop body (benchmarks/RESULTS.md).
//
// Each sample is first copied into a zero-padded buffer of the rows and columns the output reads
// (padding is never a separate pass in Python). With a column stride s, each padded row is stored
// as s phase rows (columns p, p + s, p + 2s, ...), so that the columns one output vector reads for
// one tap are contiguous again. A tap t = (c, ki, kj) then reads the buffer at toff[t] + poff[v] for
// output vector v: one table of tap offsets, one of vector offsets, whatever the geometry.
//
// Built twice like the Pythran families: the x86-64-v3 copy has the AVX2 kernels; the baseline copy
// has only scalar ones and says so (VECTORISED = False), and torsh then keeps im2col.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <utility>
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

// The convolution of an (n, C, H, W) input with (O, C, kh, kw) weights into (n, O, OH, OW), stride
// (sh, sw), ph/pw zero rows/columns before the input (negative: that many cropped). The padded
// buffer holds Hp rows of sw phase rows of Wq floats.
struct Geometry {
    long C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW;
    long Hp = 0, Wp = 0, Wq = 0;

    long taps() const { return C * kh * kw; }
    long plane() const { return OH * OW; }
    long buffer_floats() const { return C * Hp * sw * Wq + 8; }
};

// Where output (i, o, oi, oj) goes: out[i * sample + o * plane + oi * row + oj * col]. Contiguous
// (n, O, OH, OW) but for conv2d_to_view, whose caller writes the phases of a strided convolution's
// input gradient straight into their interleaved places (col > 1: the vectors are scattered).
struct Layout {
    long sample, plane, row, col;
};

Layout contiguous(const Geometry& g) { return {g.O * g.OH * g.OW, g.OH * g.OW, g.OW, 1}; }

// The sample's input rows and columns the output reads, zero-padded, in phase rows (see above)
void pad_sample(const float* x, const Geometry& g, float* buf) {
    for (long c = 0; c < g.C; ++c)
        for (long r = 0; r < g.Hp; ++r) {
            const long src_row = r - g.ph;
            const bool inside = src_row >= 0 && src_row < g.H;
            const float* src = x + (c * g.H + src_row) * g.W;
            for (long p = 0; p < g.sw; ++p) {
                float* dst = buf + ((c * g.Hp + r) * g.sw + p) * g.Wq;
                if (!inside) {
                    std::memset(dst, 0, g.Wq * sizeof(float));
                    continue;
                }
                if (g.sw == 1) {  // one shifted copy between zeros
                    const long lo = std::min(std::max(g.pw, 0L), g.Wq);
                    const long hi = std::max(lo, std::min(g.W + g.pw, g.Wq));
                    std::memset(dst, 0, lo * sizeof(float));
                    if (hi > lo) std::memcpy(dst + lo, src + lo - g.pw, (hi - lo) * sizeof(float));
                    std::memset(dst + hi, 0, (g.Wq - hi) * sizeof(float));
                    continue;
                }
                for (long j = 0; j < g.Wq; ++j) {
                    const long col = j * g.sw + p - g.pw;
                    dst[j] = col >= 0 && col < g.W ? src[col] : 0.0f;
                }
            }
        }
}

// Where each tap and each output vector reads the padded buffer, and where the vectors write
struct Plan {
    std::vector<long> toff;          // per tap (c, ki, kj)
    std::vector<long> poff, yoff;    // the forward's 8-wide output vectors (a row's last one moved back to end at OW)
    std::vector<long> mpoff, myoff;  // rows narrower than 8: one masked vector each
    std::vector<long> gpoff, gyoff;  // the weight gradient's full vectors (no overlap: each position once)
    std::vector<long> tpoff, tyoff;  // ... and each row's masked tail of OW % 8 positions
};

Plan make_plan(const Geometry& g, const Layout& out) {
    Plan p;
    for (long c = 0; c < g.C; ++c)
        for (long ki = 0; ki < g.kh; ++ki)
            for (long kj = 0; kj < g.kw; ++kj) p.toff.push_back(((c * g.Hp + ki) * g.sw + kj % g.sw) * g.Wq + kj / g.sw);
    for (long oi = 0; oi < g.OH; ++oi) {
        const long row = oi * g.sh * g.sw * g.Wq, yrow = oi * out.row;
        long oj = 0;
        for (; oj + 8 <= g.OW; oj += 8) {
            p.poff.push_back(row + oj);
            p.yoff.push_back(yrow + oj * out.col);
        }
        p.gpoff.insert(p.gpoff.end(), p.poff.end() - oj / 8, p.poff.end());
        p.gyoff.insert(p.gyoff.end(), p.yoff.end() - oj / 8, p.yoff.end());
        if (oj == g.OW) continue;
        p.tpoff.push_back(row + oj);
        p.tyoff.push_back(yrow + oj * out.col);
        if (g.OW >= 8) {
            p.poff.push_back(row + g.OW - 8);
            p.yoff.push_back(yrow + (g.OW - 8) * out.col);
        } else {
            p.mpoff.push_back(row);
            p.myoff.push_back(yrow);
        }
    }
    return p;
}

// The weights of output channels o0 .. o0 + nc (blocks of 4, the last one narrower) as (taps, nc):
// one broadcast stream per block instead of nc
std::vector<float> pack_weights(const float* w, const Geometry& g) {
    const long taps = g.taps();
    std::vector<float> packed(g.O * taps);
    for (long o0 = 0; o0 < g.O; o0 += 4) {
        const long nc = std::min(4L, g.O - o0);
        for (long t = 0; t < taps; ++t)
            for (long q = 0; q < nc; ++q) packed[o0 * taps + t * nc + q] = w[(o0 + q) * taps + t];
    }
    return packed;
}

#if TORSH_VECTORISED
__m256i lane_mask(long count) {
    alignas(32) int lanes[8];
    for (int l = 0; l < 8; ++l) lanes[l] = l < count ? -1 : 0;
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
}

// NC output channels x NV output vectors: NC*NV accumulators stay in registers over all taps. The
// loops over q and v must unroll for that; GCC 12 left them rolled without the pragmas. MASKED: one
// vector of a row narrower than 8 (loads and stores only its ``lanes``). Output columns ``col`` apart
// (conv2d_to_view) are stored lane by lane.
template <int NC, int NV, bool MASKED>
void forward_tile(const float* xb, const long* toff, long taps, const float* wpk, const float* bias, float* y,
                  long plane, long col, const long* poff, const long* yoff, __m256i mask, long lanes) {
    __m256 acc[NC][NV];
#pragma GCC unroll 4
    for (int q = 0; q < NC; ++q)
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) acc[q][v] = _mm256_set1_ps(bias[q]);
    long off[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) off[v] = poff[v];
    for (long t = 0; t < taps; ++t) {
        const float* base = xb + toff[t];
        __m256 xv[NV];
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) xv[v] = MASKED ? _mm256_maskload_ps(base + off[v], mask) : _mm256_loadu_ps(base + off[v]);
        const float* wt = wpk + t * NC;
#pragma GCC unroll 4
        for (int q = 0; q < NC; ++q) {
            const __m256 wv = _mm256_broadcast_ss(wt + q);
#pragma GCC unroll 3
            for (int v = 0; v < NV; ++v) acc[q][v] = _mm256_fmadd_ps(wv, xv[v], acc[q][v]);
        }
    }
#pragma GCC unroll 4
    for (int q = 0; q < NC; ++q)
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) {
            float* out = y + q * plane + yoff[v];
            if (col != 1) {
                alignas(32) float lane[8];
                _mm256_store_ps(lane, acc[q][v]);
                for (long l = 0; l < (MASKED ? lanes : 8); ++l) out[l * col] = lane[l];
            } else if (MASKED) {
                _mm256_maskstore_ps(out, mask, acc[q][v]);
            } else {
                _mm256_storeu_ps(out, acc[q][v]);
            }
        }
}

// All output vectors of NC channels: in threes, then the 1-2 left, then the masked ones
template <int NC>
void forward_channels(const float* xb, const Plan& p, long taps, const float* wpk, const float* bias, float* y,
                      long plane, long col, __m256i mask, long lanes) {
    const long* toff = p.toff.data();
    const long count = p.poff.size();
    long v = 0;
    for (; v + 3 <= count; v += 3)
        forward_tile<NC, 3, false>(xb, toff, taps, wpk, bias, y, plane, col, &p.poff[v], &p.yoff[v], mask, lanes);
    if (count - v == 2)
        forward_tile<NC, 2, false>(xb, toff, taps, wpk, bias, y, plane, col, &p.poff[v], &p.yoff[v], mask, lanes);
    if (count - v == 1)
        forward_tile<NC, 1, false>(xb, toff, taps, wpk, bias, y, plane, col, &p.poff[v], &p.yoff[v], mask, lanes);
    for (size_t m = 0; m < p.mpoff.size(); ++m)
        forward_tile<NC, 1, true>(xb, toff, taps, wpk, bias, y, plane, col, &p.mpoff[m], &p.myoff[m], mask, lanes);
}
#endif

// Output channel blocks [b0, b1) (of 4 channels) of one sample from its padded buffer
void forward_blocks(const float* xb, const Plan& p, const Geometry& g, const Layout& out, const float* wpk,
                    const float* b, float* ys, long b0, long b1) {
    const long taps = g.taps(), plane = out.plane;
    for (long blk = b0; blk < b1; ++blk) {
        const long o0 = blk * 4, nc = std::min(4L, g.O - o0);
        const float* wb = wpk + o0 * taps;
#if TORSH_VECTORISED
        const __m256i mask = lane_mask(g.OW % 8);
        float* y = ys + o0 * plane;
        switch (nc) {
            case 4: forward_channels<4>(xb, p, taps, wb, b + o0, y, plane, out.col, mask, g.OW % 8); break;
            case 3: forward_channels<3>(xb, p, taps, wb, b + o0, y, plane, out.col, mask, g.OW % 8); break;
            case 2: forward_channels<2>(xb, p, taps, wb, b + o0, y, plane, out.col, mask, g.OW % 8); break;
            default: forward_channels<1>(xb, p, taps, wb, b + o0, y, plane, out.col, mask, g.OW % 8); break;
        }
#else
        for (long q = 0; q < nc; ++q)
            for (long oi = 0; oi < g.OH; ++oi)
                for (long oj = 0; oj < g.OW; ++oj) {
                    const long pos = oi * g.sh * g.sw * g.Wq + oj;
                    float acc = b[o0 + q];
                    for (long t = 0; t < taps; ++t) acc += wb[t * nc + q] * xb[p.toff[t] + pos];
                    ys[(o0 + q) * plane + oi * out.row + oj * out.col] = acc;
                }
#endif
    }
}

#if TORSH_VECTORISED
// NO output channels x NK taps of the weight gradient over all positions of one sample: NO*NK
// accumulators in registers (lanes = positions), added at the end to the vector partial sums
// ``part`` (8 floats per (channel, tap)), whose lanes are summed once after the last sample.
template <int NO, int NK>
void weight_tile(const float* xb, const float* gys, long plane, const long* toff, const Plan& p, __m256i tail,
                 float* part, long taps) {
    __m256 acc[NO][NK];
#pragma GCC unroll 4
    for (int q = 0; q < NO; ++q)
#pragma GCC unroll 3
        for (int k = 0; k < NK; ++k) acc[q][k] = _mm256_setzero_ps();
    const float* xk[NK];
#pragma GCC unroll 3
    for (int k = 0; k < NK; ++k) xk[k] = xb + toff[k];
    const long full = p.gpoff.size();
    for (long v = 0; v < full; ++v) {
        const long po = p.gpoff[v], yo = p.gyoff[v];
        __m256 xv[NK];
#pragma GCC unroll 3
        for (int k = 0; k < NK; ++k) xv[k] = _mm256_loadu_ps(xk[k] + po);
#pragma GCC unroll 4
        for (int q = 0; q < NO; ++q) {
            const __m256 gv = _mm256_loadu_ps(gys + q * plane + yo);
#pragma GCC unroll 3
            for (int k = 0; k < NK; ++k) acc[q][k] = _mm256_fmadd_ps(gv, xv[k], acc[q][k]);
        }
    }
    const long tails = p.tpoff.size();
    for (long v = 0; v < tails; ++v) {
        const long po = p.tpoff[v], yo = p.tyoff[v];
        __m256 xv[NK];
#pragma GCC unroll 3
        for (int k = 0; k < NK; ++k) xv[k] = _mm256_maskload_ps(xk[k] + po, tail);
#pragma GCC unroll 4
        for (int q = 0; q < NO; ++q) {
            const __m256 gv = _mm256_maskload_ps(gys + q * plane + yo, tail);
#pragma GCC unroll 3
            for (int k = 0; k < NK; ++k) acc[q][k] = _mm256_fmadd_ps(gv, xv[k], acc[q][k]);
        }
    }
#pragma GCC unroll 4
    for (int q = 0; q < NO; ++q)
#pragma GCC unroll 3
        for (int k = 0; k < NK; ++k) {
            float* pp = part + (q * taps + k) * 8;
            _mm256_storeu_ps(pp, _mm256_add_ps(_mm256_loadu_ps(pp), acc[q][k]));
        }
}

template <int NO>
void weight_taps(const float* xb, const float* gys, long plane, const Plan& p, __m256i tail, float* part, long taps) {
    const long* toff = p.toff.data();
    long t = 0;
    for (; t + 3 <= taps; t += 3) weight_tile<NO, 3>(xb, gys, plane, toff + t, p, tail, part + t * 8, taps);
    if (taps - t == 2) weight_tile<NO, 2>(xb, gys, plane, toff + t, p, tail, part + t * 8, taps);
    if (taps - t == 1) weight_tile<NO, 1>(xb, gys, plane, toff + t, p, tail, part + t * 8, taps);
}
#endif

// One sample's weight gradient added to ``part``: 8 lanes per (o, tap) in the vectorised copy, one
// float per (o, tap) in the scalar one
void weight_sample(const float* xb, const float* gys, const Plan& p, const Geometry& g, float* part) {
    const long taps = g.taps(), plane = g.plane();
#if TORSH_VECTORISED
    const __m256i tail = lane_mask(g.OW % 8);
    long o = 0;
    for (; o + 4 <= g.O; o += 4) weight_taps<4>(xb, gys + o * plane, plane, p, tail, part + o * taps * 8, taps);
    float* rest = part + o * taps * 8;
    switch (g.O - o) {
        case 3: weight_taps<3>(xb, gys + o * plane, plane, p, tail, rest, taps); break;
        case 2: weight_taps<2>(xb, gys + o * plane, plane, p, tail, rest, taps); break;
        case 1: weight_taps<1>(xb, gys + o * plane, plane, p, tail, rest, taps); break;
        default: break;
    }
#else
    for (long o = 0; o < g.O; ++o)
        for (long t = 0; t < taps; ++t) {
            float acc = 0;
            for (long oi = 0; oi < g.OH; ++oi)
                for (long oj = 0; oj < g.OW; ++oj)
                    acc += gys[o * plane + oi * g.OW + oj] * xb[p.toff[t] + oi * g.sh * g.sw * g.Wq + oj];
            part[o * taps + t] += acc;
        }
#endif
}

constexpr long PART_LANES = TORSH_VECTORISED ? 8 : 1;

// The product of the sizes (all >= 0), or -1 when it overflows a long: big_enough then refuses, where
// a wrapped product could pass for a small buffer
long product(std::initializer_list<long> sizes) {
    long p = 1;
    for (long size : sizes)
        if (size < 0 || __builtin_mul_overflow(p, size, &p) || p > PY_SSIZE_T_MAX / (long)sizeof(float)) return -1;
    return p;
}

bool big_enough(const Py_buffer& buf, long count, const char* name, const char* op) {
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

// Sizes that can describe a convolution (the buffers are checked next)
bool sane(const Geometry& g, long n) {
    return n >= 0 && g.C > 0 && g.O > 0 && g.kh > 0 && g.kw > 0 && g.sh > 0 && g.sw > 0 && g.H >= 0 && g.W >= 0 &&
           g.OH >= 0 && g.OW >= 0;
}

// Derives the padded buffer's extents, after the buffers were found big enough; false with a
// ValueError set if the sizes are too large. Each size is capped at 2**31 so that no offset computed
// from them overflows.
bool complete(Geometry& g, const char* op) {
    const long cap = 1L << 31;
    bool ok = true;
    for (long v : {g.C, g.H, g.W, g.O, g.kh, g.kw, g.sh, g.sw, g.OH, g.OW, g.ph < 0 ? -g.ph : g.ph,
                   g.pw < 0 ? -g.pw : g.pw})
        ok = ok && v < cap;
    if (ok) {
        g.Hp = g.OH > 0 ? (g.OH - 1) * g.sh + g.kh : 0;
        g.Wp = g.OW > 0 ? (g.OW - 1) * g.sw + g.kw : 0;
        g.Wq = (g.Wp + g.sw - 1) / g.sw;
        ok = product({g.C, g.Hp, g.sw, g.Wq + 8}) >= 0 && product({g.OH, g.sh, g.sw, g.Wq}) >= 0;
    }
    if (!ok) PyErr_Format(PyExc_ValueError, "%s: the shape arguments make the padded input larger than any buffer", op);
    return ok;
}

// The forward over n samples, OpenMP over samples; with fewer samples than threads (batch-1
// inference), over each sample's output channel blocks instead
void forward(const float* x, const float* w, const float* b, float* y, long n, const Geometry& g, const Layout& out,
             bool parallel) {
    const Plan plan = make_plan(g, out);
    const std::vector<float> wpk = pack_weights(w, g);
    const long xstride = g.C * g.H * g.W, ystride = out.sample, blocks = (g.O + 3) / 4;
    if (parallel && n < omp_get_max_threads() && blocks > 1) {
        std::vector<float> buf(g.buffer_floats(), 0.0f);
        for (long i = 0; i < n; ++i) {
            pad_sample(x + i * xstride, g, buf.data());
#pragma omp parallel for schedule(static)
            for (long blk = 0; blk < blocks; ++blk)
                forward_blocks(buf.data(), plan, g, out, wpk.data(), b, y + i * ystride, blk, blk + 1);
        }
        return;
    }
#pragma omp parallel if (parallel && n > 1)
    {
        std::vector<float> buf(g.buffer_floats(), 0.0f);
#pragma omp for schedule(static)
        for (long i = 0; i < n; ++i) {
            pad_sample(x + i * xstride, g, buf.data());
            forward_blocks(buf.data(), plan, g, out, wpk.data(), b, y + i * ystride, 0, blocks);
        }
    }
}

// The weight gradient summed over n samples: per thread in float vector partials, then over lanes
// and threads in double in a fixed order (the result does not depend on timing)
void weight_grad(const float* x, const float* gy, float* dw, long n, const Geometry& g, bool parallel) {
    const Plan plan = make_plan(g, contiguous(g));
    const long taps = g.O * g.taps(), xstride = g.C * g.H * g.W, gstride = g.O * g.plane();
    const int threads = parallel && n > 1 ? omp_get_max_threads() : 1;
    std::vector<float> parts(threads * taps * PART_LANES, 0.0f);
#pragma omp parallel num_threads(threads)
    {
        float* mine = parts.data() + omp_get_thread_num() * taps * PART_LANES;
        std::vector<float> buf(g.buffer_floats(), 0.0f);
#pragma omp for schedule(static)
        for (long i = 0; i < n; ++i) {
            pad_sample(x + i * xstride, g, buf.data());
            weight_sample(buf.data(), gy + i * gstride, plan, g, mine);
        }
    }
    for (long k = 0; k < taps; ++k) {
        double total = 0;
        for (int t = 0; t < threads; ++t)
            for (long l = 0; l < PART_LANES; ++l) total += parts[(t * taps + k) * PART_LANES + l];
        dw[k] = static_cast<float>(total);
    }
}

struct Buffers {
    std::vector<Py_buffer> views;
    ~Buffers() {
        for (Py_buffer& v : views) PyBuffer_Release(&v);
    }
};

// conv2d(x, w, b, out, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, parallel): x (n, C, H, W), w (O,
// C, kh, kw), b (O,), out (n, O, OH, OW), all C-contiguous float32; stride (sh, sw), ph/pw zeros before
// the input's rows/columns (the zeros after it follow from OH, OW)
PyObject* conv2d(PyObject*, PyObject* args) {
    Py_buffer xb, wb, bb, ob;
    long n;
    Geometry g{};
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*y*w*lllllllllllllp", &xb, &wb, &bb, &ob, &n, &g.C, &g.H, &g.W, &g.O, &g.kh,
                          &g.kw, &g.sh, &g.sw, &g.ph, &g.pw, &g.OH, &g.OW, &parallel))
        return nullptr;
    Buffers held{{xb, wb, bb, ob}};
    const char* op = "conv2d";
    if (!sane(g, n)) {
        PyErr_SetString(PyExc_ValueError, "conv2d: inconsistent shape arguments");
        return nullptr;
    }
    if (!big_enough(xb, product({n, g.C, g.H, g.W}), "x", op) ||
        !big_enough(wb, product({g.O, g.C, g.kh, g.kw}), "w", op) || !big_enough(bb, g.O, "b", op) ||
        !big_enough(ob, product({n, g.O, g.OH, g.OW}), "out", op) || !complete(g, op))
        return nullptr;
    if (n > 0 && g.OH > 0 && g.OW > 0) {
        Py_BEGIN_ALLOW_THREADS
        forward(static_cast<const float*>(xb.buf), static_cast<const float*>(wb.buf),
                static_cast<const float*>(bb.buf), static_cast<float*>(ob.buf), n, g, contiguous(g), parallel);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

// conv2d_weight_grad(x, gy, dw, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, parallel): dw (O, C, kh,
// kw) = the gradient of conv2d's output w.r.t. its weight, for the output gradient gy (n, O, OH, OW)
PyObject* conv2d_weight_grad(PyObject*, PyObject* args) {
    Py_buffer xb, gb, db;
    long n;
    Geometry g{};
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*lllllllllllllp", &xb, &gb, &db, &n, &g.C, &g.H, &g.W, &g.O, &g.kh, &g.kw,
                          &g.sh, &g.sw, &g.ph, &g.pw, &g.OH, &g.OW, &parallel))
        return nullptr;
    Buffers held{{xb, gb, db}};
    const char* op = "conv2d_weight_grad";
    if (!sane(g, n)) {
        PyErr_SetString(PyExc_ValueError, "conv2d_weight_grad: inconsistent shape arguments");
        return nullptr;
    }
    if (!big_enough(xb, product({n, g.C, g.H, g.W}), "x", op) ||
        !big_enough(gb, product({n, g.O, g.OH, g.OW}), "gy", op) ||
        !big_enough(db, product({g.O, g.C, g.kh, g.kw}), "dw", op) || !complete(g, op))
        return nullptr;
    Py_BEGIN_ALLOW_THREADS
    if (n > 0 && g.OH > 0 && g.OW > 0)
        weight_grad(static_cast<const float*>(xb.buf), static_cast<const float*>(gb.buf), static_cast<float*>(db.buf),
                    n, g, parallel);
    else
        std::memset(db.buf, 0, g.O * g.taps() * sizeof(float));
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// The number of floats a layout spans (offset + the last element's index + 1), or -1 when it overflows
long span(long offset, long n, long O, long OH, long OW, const Layout& out) {
    long last = offset, term;
    for (auto [count, step] : {std::pair<long, long>{n, out.sample}, {O, out.plane}, {OH, out.row}, {OW, out.col}})
        if (__builtin_mul_overflow(count - 1, step, &term) || __builtin_add_overflow(last, term, &last)) return -1;
    return last >= PY_SSIZE_T_MAX / (long)sizeof(float) ? -1 : last + 1;
}

// conv2d_to_view(x, w, b, out, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, offset, sample, plane, row,
// col, parallel): conv2d with output (i, o, oi, oj) written to out[offset + i * sample + o * plane + oi * row
// + oj * col] (all >= 0), e.g. one phase of an interleaved array
PyObject* conv2d_to_view(PyObject*, PyObject* args) {
    Py_buffer xb, wb, bb, ob;
    long n, offset;
    Geometry g{};
    Layout out{};
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*y*w*llllllllllllllllllp", &xb, &wb, &bb, &ob, &n, &g.C, &g.H, &g.W, &g.O,
                          &g.kh, &g.kw, &g.sh, &g.sw, &g.ph, &g.pw, &g.OH, &g.OW, &offset, &out.sample, &out.plane,
                          &out.row, &out.col, &parallel))
        return nullptr;
    Buffers held{{xb, wb, bb, ob}};
    const char* op = "conv2d_to_view";
    if (!sane(g, n) || offset < 0 || out.sample < 0 || out.plane < 0 || out.row < 0 || out.col < 0) {
        PyErr_SetString(PyExc_ValueError, "conv2d_to_view: inconsistent shape arguments");
        return nullptr;
    }
    const bool empty = n == 0 || g.OH == 0 || g.OW == 0;
    if (!big_enough(xb, product({n, g.C, g.H, g.W}), "x", op) ||
        !big_enough(wb, product({g.O, g.C, g.kh, g.kw}), "w", op) || !big_enough(bb, g.O, "b", op) ||
        !big_enough(ob, empty ? 0 : span(offset, n, g.O, g.OH, g.OW, out), "out", op) || !complete(g, op))
        return nullptr;
    if (!empty) {
        Py_BEGIN_ALLOW_THREADS
        forward(static_cast<const float*>(xb.buf), static_cast<const float*>(wb.buf),
                static_cast<const float*>(bb.buf), static_cast<float*>(ob.buf) + offset, n, g, out, parallel);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

// The stride-1 entry points of the first version, on an input the caller padded: kept for callers
// that hold a padded input (conv2d with no padding and stride 1 computes the same)
bool padded_geometry(Geometry& g, long n, const char* op) {
    g.sh = g.sw = 1;
    g.ph = g.pw = 0;
    if (!sane(g, n) || g.OH > g.H - g.kh + 1 || g.OW > g.W - g.kw + 1) {
        PyErr_Format(PyExc_ValueError, "%s: inconsistent shape arguments", op);
        return false;
    }
    return true;
}

// conv2d_direct(xp, w, b, out, n, C, Hp, Wp, O, kh, kw, OH, OW, parallel): xp is the zero-padded
// input (n, C, Hp, Wp), w (O, C, kh, kw), b (O,), out (n, O, OH, OW), all C-contiguous float32
PyObject* conv2d_direct(PyObject*, PyObject* args) {
    Py_buffer xb, wb, bb, ob;
    long n;
    Geometry g{};
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*y*w*lllllllllp", &xb, &wb, &bb, &ob, &n, &g.C, &g.H, &g.W, &g.O, &g.kh, &g.kw,
                          &g.OH, &g.OW, &parallel))
        return nullptr;
    Buffers held{{xb, wb, bb, ob}};
    const char* op = "conv2d_direct";
    if (!padded_geometry(g, n, op) || !big_enough(xb, product({n, g.C, g.H, g.W}), "xp", op) ||
        !big_enough(wb, product({g.O, g.C, g.kh, g.kw}), "w", op) || !big_enough(bb, g.O, "b", op) ||
        !big_enough(ob, product({n, g.O, g.OH, g.OW}), "out", op) || !complete(g, op))
        return nullptr;
    if (n > 0 && g.OH > 0 && g.OW > 0) {
        Py_BEGIN_ALLOW_THREADS
        forward(static_cast<const float*>(xb.buf), static_cast<const float*>(wb.buf),
                static_cast<const float*>(bb.buf), static_cast<float*>(ob.buf), n, g, contiguous(g), parallel);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

// conv2d_direct_weight_grad(xp, gy, dw, n, C, Hp, Wp, O, kh, kw, OH, OW, parallel): dw (O, C, kh, kw)
// of conv2d_direct for the output gradient gy (n, O, OH, OW) and the zero-padded input xp
PyObject* conv2d_direct_weight_grad(PyObject*, PyObject* args) {
    Py_buffer xb, gb, db;
    long n;
    Geometry g{};
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*lllllllllp", &xb, &gb, &db, &n, &g.C, &g.H, &g.W, &g.O, &g.kh, &g.kw, &g.OH,
                          &g.OW, &parallel))
        return nullptr;
    Buffers held{{xb, gb, db}};
    const char* op = "conv2d_direct_weight_grad";
    if (!padded_geometry(g, n, op) || !big_enough(xb, product({n, g.C, g.H, g.W}), "xp", op) ||
        !big_enough(gb, product({n, g.O, g.OH, g.OW}), "gy", op) ||
        !big_enough(db, product({g.O, g.C, g.kh, g.kw}), "dw", op) || !complete(g, op))
        return nullptr;
    Py_BEGIN_ALLOW_THREADS
    if (n > 0 && g.OH > 0 && g.OW > 0)
        weight_grad(static_cast<const float*>(xb.buf), static_cast<const float*>(gb.buf), static_cast<float*>(db.buf),
                    n, g, parallel);
    else
        std::memset(db.buf, 0, g.O * g.taps() * sizeof(float));
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"conv2d", conv2d, METH_VARARGS,
     "conv2d(x, w, b, out, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, parallel): direct float32 "
     "convolution of x (zero rows ph / columns pw before it, stride (sh, sw)) into out, bias b included."},
    {"conv2d_to_view", conv2d_to_view, METH_VARARGS,
     "conv2d_to_view(x, w, b, out, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, offset, sample, plane, row, col, "
     "parallel): conv2d writing output (i, o, oi, oj) to out[offset + i*sample + o*plane + oi*row + oj*col]."},
    {"conv2d_weight_grad", conv2d_weight_grad, METH_VARARGS,
     "conv2d_weight_grad(x, gy, dw, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, parallel): the weight "
     "gradient of conv2d into dw (O, C, kh, kw)."},
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
