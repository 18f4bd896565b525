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
// Built twice like the Pythran families: the x86-64-v3 copy has the vector kernels (conv_direct_impl.h)
// for AVX2 and, chosen at import where the CPU has it, AVX-512 (``ISA`` says which); the baseline copy has
// only scalar ones and says so (VECTORISED = False), and torsh then keeps im2col.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <omp.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
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
// buffer holds Hp rows of sw phase rows of Wq floats; ``flat`` (stride 1, rows narrower than a vector):
// kw copies of it shifted by kj columns and cut to OW, so that the output positions of consecutive
// rows are consecutive floats for every tap and one vector spans several rows.
struct Geometry {
    long C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW;
    long Hp = 0, Wp = 0, Wq = 0;
    bool flat = false;

    long taps() const { return C * kh * kw; }
    long plane() const { return OH * OW; }
    // whole cache lines (16 floats), so that consecutive buffers of an AlignedFloats start on one too
    long buffer_floats() const { return ((flat ? kw * C * Hp * OW : C * Hp * sw * Wq) + 8 + 15) / 16 * 16; }
};

// Where output (i, o, oi, oj) goes: out[i * sample + o * plane + oi * row + oj * col]. Contiguous
// (n, O, OH, OW) but for conv2d_input_grad, which writes the phases of a strided convolution's input
// gradient straight into their interleaved places (col > 1: the vectors are scattered).
struct Layout {
    long sample, plane, row, col;
};

Layout contiguous(const Geometry& g) { return {g.O * g.OH * g.OW, g.OH * g.OW, g.OW, 1}; }

// The flat layout (see Geometry): buf[((kj * C + c) * Hp + r) * OW + j] = padded input (c, r, j + kj).
// Only the input's values are written: every caller hands a zeroed buffer (std::vector's value
// initialisation) and reuses it for samples of the same geometry, whose padding positions never change.
// Rows are under 16 floats (flat rows are narrower than a vector), copied in plain loops: a bounds test
// per element, then memset/memcpy calls per row, each made LeNet-5's second input gradient (20K floats a
// sample) spend about as long here as in its FMAs. GCC would turn the loops back into calls, hence the
// attribute.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void shift_sample(const float* x, const Geometry& g,
                                                                                float* buf) {
    const long OW = g.OW;
    const long r0 = std::max(g.ph, 0L), r1 = std::min(g.H + g.ph, g.Hp);  // rows r with 0 <= r - ph < H
    for (long kj = 0; kj < g.kw; ++kj) {
        // columns j with 0 <= j + kj - pw < W: [lo, hi)
        const long lo = std::min(std::max(g.pw - kj, 0L), OW);
        const long hi = std::max(lo, std::min(g.W + g.pw - kj, OW));
        const long shift = kj - g.pw;  // dst[j] is column j + shift
        for (long c = 0; c < g.C; ++c)
            for (long r = r0; r < r1; ++r) {
                const float* src = x + (c * g.H + r - g.ph) * g.W;
                float* dst = buf + ((kj * g.C + c) * g.Hp + r) * OW;
                for (long j = lo; j < hi; ++j) dst[j] = src[j + shift];
            }
    }
}

// dst[j] = from[j * step] for j in [lo, hi), as scalar loads: GCC vectorises the loop with gathers, which
// made W12's stride-2 forward 10-25% slower on this Zen 5
__attribute__((optimize("no-tree-vectorize"))) void strided_copy(const float* from, long step, float* dst, long lo,
                                                                  long hi) {
    for (long j = lo; j < hi; ++j) dst[j] = from[j * step];
}

// ceil(a / b) for b > 0 and any a
long ceil_div(long a, long b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Column stride 2, pw >= 0: the row's source columns in pairs (s, s + 1) = (2m, 2m + 1) go to phase rows
// ``even`` and ``odd`` (the phases of padded columns 2m + pw and 2m + 1 + pw) at m + even_at and m + odd_at
// (their padding left as the zeroed buffer has it, see shift_sample). One pass of paired loads that GCC vectorises with shuffles, where two strided
// copies made W12's stride-2 layers spend about as long padding as multiplying (16 -> 32 channels: 0.72
// ms against 0.40 at stride 1, same output)
void split_pairs(const float* src, long W, long pw, long Wq, float* phase0, float* phase1) {
    float* even = pw % 2 == 0 ? phase0 : phase1;  // where source column 2m goes
    float* odd = pw % 2 == 0 ? phase1 : phase0;
    const long even_at = pw / 2, odd_at = (pw + 1) / 2;
    // m with 2m < W and m + even_at < Wq; m with 2m + 1 < W and m + odd_at < Wq
    const long even_end = std::max(0L, std::min((W + 1) / 2, Wq - even_at));
    const long odd_end = std::max(0L, std::min(W / 2, Wq - odd_at));
    const long both = std::min(even_end, odd_end);
    float* ev = even + even_at;
    float* od = odd + odd_at;
    for (long m = 0; m < both; ++m) {
        ev[m] = src[2 * m];
        od[m] = src[2 * m + 1];
    }
    for (long m = both; m < even_end; ++m) ev[m] = src[2 * m];
    for (long m = both; m < odd_end; ++m) od[m] = src[2 * m + 1];
}

// The sample's input rows and columns the output reads, zero-padded, in phase rows (see above). Rows and
// phases that no tap reads (a kernel smaller than its stride: W12's 1x1 stride-2 shortcuts) are skipped.
// Only the input's values are written, into a buffer zeroed by the caller (see shift_sample); plain
// loops rather than memcpy calls: rows are tens of floats.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void pad_sample(const float* x, const Geometry& g,
                                                                              float* buf) {
    if (g.flat) {
        shift_sample(x, g, buf);
        return;
    }
    const long phases = std::min(g.sw, g.kw);
    // per column phase p, the columns j * sw + p - pw inside the input: j in [lo, hi) (once per sample: the
    // divisions per row and phase were a quarter of this function's time in W12)
    long bounds[2][8];
    const bool few = phases <= 8;
    for (long p = 0; p < (few ? phases : 0); ++p) {
        bounds[0][p] = std::min(std::max(ceil_div(g.pw - p, g.sw), 0L), g.Wq);
        bounds[1][p] = std::max(bounds[0][p], std::min(ceil_div(g.W + g.pw - p, g.sw), g.Wq));
    }
    // the padded rows r with 0 <= r - ph < H, and (r % sh) < kh: rows some tap reads
    const long r0 = std::max(g.ph, 0L), r1 = std::min(g.H + g.ph, g.Hp);
    for (long c = 0; c < g.C; ++c)
        for (long r = r0, phase_row = r0 % g.sh; r < r1; ++r, phase_row = phase_row + 1 == g.sh ? 0 : phase_row + 1) {
            if (phase_row >= g.kh) continue;
            const float* src = x + (c * g.H + r - g.ph) * g.W;
            if (g.sw == 2 && g.pw >= 0 && phases == 2) {
                float* dst = buf + (c * g.Hp + r) * 2 * g.Wq;
                split_pairs(src, g.W, g.pw, g.Wq, dst, dst + g.Wq);
                continue;
            }
            for (long p = 0; p < phases; ++p) {
                float* dst = buf + ((c * g.Hp + r) * g.sw + p) * g.Wq;
                const long lo = few ? bounds[0][p] : std::min(std::max(ceil_div(g.pw - p, g.sw), 0L), g.Wq);
                const long hi = few ? bounds[1][p] : std::max(lo, std::min(ceil_div(g.W + g.pw - p, g.sw), g.Wq));
                if (g.sw == 1) {
                    const long shift = -g.pw;  // dst[j] is column j - pw
                    for (long j = lo; j < hi; ++j) dst[j] = src[j + shift];
                } else {
                    strided_copy(src + p - g.pw, g.sw, dst, lo, hi);
                }
            }
        }
}


// Floats (zeroed unless told) starting on a 64-byte boundary (a cache line, an AVX-512 vector). The padded buffers' vector
// loads then split cache lines in the same pattern in every process: in std::vector's 16-byte alignment the
// pattern followed the heap's history, one process's kernels faster than the next one's
class AlignedFloats {
   public:
    explicit AlignedFloats(long count, bool zeroed = true)
        : data_(static_cast<float*>(std::aligned_alloc(64, bytes(count)))) {
        if (data_ == nullptr) throw std::bad_alloc();
        if (zeroed) std::memset(data_, 0, bytes(count));
    }
    ~AlignedFloats() { std::free(data_); }
    AlignedFloats(const AlignedFloats&) = delete;
    AlignedFloats& operator=(const AlignedFloats&) = delete;
    float* data() const { return data_; }

   private:
    static size_t bytes(long count) { return (static_cast<size_t>(std::max(count, 1L)) * sizeof(float) + 63) / 64 * 64; }
    float* data_;
};

// Where each tap and each output vector reads the padded buffer, and where the vectors write
struct Plan {
    std::vector<long> toff;          // per tap (c, ki, kj)
    std::vector<long> poff, yoff;    // the forward's output vectors (a row's last one moved back to end at OW)
    std::vector<long> mpoff, myoff;  // rows narrower than a vector: one masked vector each
    std::vector<long> gpoff, gyoff;  // the weight gradient's full vectors (no overlap: each position once)
    std::vector<long> tpoff, tyoff;  // ... and each row's masked tail of OW % lanes positions
    long tail = 0;                   // the lanes of the masked vectors
};

// The flat layout's plan: positions p = oi * OW + oj read the buffer at toff[t] + p
Plan make_flat_plan(const Geometry& g, long lanes) {
    Plan p;
    for (long c = 0; c < g.C; ++c)
        for (long ki = 0; ki < g.kh; ++ki)
            for (long kj = 0; kj < g.kw; ++kj) p.toff.push_back(((kj * g.C + c) * g.Hp + ki) * g.OW);
    const long positions = g.OH * g.OW;
    long q = 0;
    for (; q + lanes <= positions; q += lanes) {
        p.poff.push_back(q);
        p.gpoff.push_back(q);
    }
    p.tail = positions % lanes;
    if (p.tail) {
        p.tpoff.push_back(q);
        if (positions >= lanes)
            p.poff.push_back(positions - lanes);
        else
            p.mpoff.push_back(0);
    }
    p.yoff = p.poff, p.myoff = p.mpoff, p.gyoff = p.gpoff, p.tyoff = p.tpoff;
    return p;
}

Plan make_plan(const Geometry& g, const Layout& out, long lanes) {
    if (g.flat) return make_flat_plan(g, lanes);
    Plan p;
    p.tail = g.OW % lanes;
    for (long c = 0; c < g.C; ++c)
        for (long ki = 0; ki < g.kh; ++ki)
            for (long kj = 0; kj < g.kw; ++kj) p.toff.push_back(((c * g.Hp + ki) * g.sw + kj % g.sw) * g.Wq + kj / g.sw);
    for (long oi = 0; oi < g.OH; ++oi) {
        const long row = oi * g.sh * g.sw * g.Wq, yrow = oi * out.row;
        long oj = 0;
        for (; oj + lanes <= g.OW; oj += lanes) {
            p.poff.push_back(row + oj);
            p.yoff.push_back(yrow + oj * out.col);
        }
        p.gpoff.insert(p.gpoff.end(), p.poff.end() - oj / lanes, p.poff.end());
        p.gyoff.insert(p.gyoff.end(), p.yoff.end() - oj / lanes, p.yoff.end());
        if (oj == g.OW) continue;
        p.tpoff.push_back(row + oj);
        p.tyoff.push_back(yrow + oj * out.col);
        if (g.OW >= lanes) {
            p.poff.push_back(row + g.OW - lanes);
            p.yoff.push_back(yrow + (g.OW - lanes) * out.col);
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

// The scalar kernels (the baseline copy): output channel blocks [b0, b1) (of 4 channels) of one sample
// from its padded buffer, with the weights packed as pack_weights does
[[maybe_unused]] void scalar_forward_blocks(const float* xb, const Plan& p, const Geometry& g, const Layout& out, const float* wpk,
                           const float* b, float* ys, long b0, long b1) {
    const long taps = g.taps();
    for (long blk = b0; blk < b1; ++blk) {
        const long o0 = blk * 4, nc = std::min(4L, g.O - o0);
        const float* wb = wpk + o0 * taps;
        for (long q = 0; q < nc; ++q)
            for (long oi = 0; oi < g.OH; ++oi)
                for (long oj = 0; oj < g.OW; ++oj) {
                    const long pos = oi * g.sh * g.sw * g.Wq + oj;
                    float acc = b[o0 + q];
                    for (long t = 0; t < taps; ++t) acc += wb[t * nc + q] * xb[p.toff[t] + pos];
                    ys[(o0 + q) * out.plane + oi * out.row + oj * out.col] = acc;
                }
    }
}

// The weight gradient of ``count`` samples for output channels [o0, o0 + nc) and taps [t0, t1), added to
// ``part`` (one float per (o, tap))
[[maybe_unused]] void scalar_weight_block(const float* xb, const float* gys, const Plan& p, const Geometry& g,
                                          float* part, long count, long xstep, long gstep, long o0, long nc, long t0,
                                          long t1) {
    const long taps = g.taps(), plane = g.plane();
    for (long s = 0; s < count; ++s, xb += xstep, gys += gstep)
    for (long o = o0; o < o0 + nc; ++o)
        for (long t = t0; t < t1; ++t) {
            float acc = 0;
            for (long oi = 0; oi < g.OH; ++oi)
                for (long oj = 0; oj < g.OW; ++oj)
                    acc += gys[o * plane + oi * g.OW + oj] * xb[p.toff[t] + oi * g.sh * g.sw * g.Wq + oj];
            part[o * taps + t] += acc;
        }
}

}  // namespace

// The vector kernels, one copy per instruction set: AVX2 (this copy's own, x86-64-v3) and AVX-512,
// chosen at run time for rows of at least 16 outputs when the CPU has it (Zen 5's 512-bit FMAs do
// twice the work of its 256-bit ones; rows of 8 would leave half of each vector idle)
#if TORSH_VECTORISED
namespace {
namespace avx2 {
using V = __m256;
using Mask = __m256i;
constexpr long L = 8;
constexpr int WEIGHT_TAPS = 3;  // 4 x 3 accumulators of 16 registers
constexpr int NARROW_VECTORS = 4;  // forward tiles of 1-2 channels: 8 accumulators
inline V vload(const float* p) { return _mm256_loadu_ps(p); }
inline V vmaskload(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
inline void vstore(float* p, V v) { _mm256_storeu_ps(p, v); }
inline void vmaskstore(float* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V vbroadcast(const float* p) { return _mm256_broadcast_ss(p); }
inline V vzero() { return _mm256_setzero_ps(); }
inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
inline Mask vmask(long count) {
    alignas(32) int lanes[8];
    for (int l = 0; l < 8; ++l) lanes[l] = l < count ? -1 : 0;
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
}
#include "conv_direct_impl.h"
}  // namespace avx2
}  // namespace

#if defined(__GNUC__)
#define HAVE_AVX512_BUILD 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw")
namespace {
namespace avx512 {
using V = __m512;
using Mask = __mmask16;
constexpr long L = 16;
// 4 x 6 accumulators of 32 registers: 10 loads per 24 FMAs (4 x 3 measured 77 GFLOP/s against AVX2's
// 100 on W12's layers: the unaligned 64-byte loads of x and gy, split over two cache lines, were the bound)
constexpr int WEIGHT_TAPS = 6;
constexpr int NARROW_VECTORS = 6;  // forward tiles of 1-2 channels: 12 accumulators, as the 4 x 3 tiles
inline V vload(const float* p) { return _mm512_loadu_ps(p); }
inline V vmaskload(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
inline void vstore(float* p, V v) { _mm512_storeu_ps(p, v); }
inline void vmaskstore(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vbroadcast(const float* p) { return _mm512_set1_ps(*p); }
inline V vzero() { return _mm512_setzero_ps(); }
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
inline Mask vmask(long count) { return static_cast<Mask>((1u << count) - 1); }
#include "conv_direct_impl.h"
}  // namespace avx512
}  // namespace
#pragma GCC pop_options
#endif
#endif

namespace {

// One instruction set's kernels and the width of its vectors (the plan's and the partial sums')
struct Kernels {
    const char* isa;
    long lanes;
    void (*forward_blocks)(const float*, const Plan&, const Geometry&, const Layout&, const float*, const float*,
                           float*, long, long);
    void (*weight_block)(const float*, const float*, const Plan&, const Geometry&, float*, long, long, long, long,
                         long, long, long);
};

#if TORSH_VECTORISED
const Kernels native_kernels{"avx2", avx2::L, avx2::forward_blocks, avx2::weight_block};
#else
const Kernels native_kernels{"scalar", 1, scalar_forward_blocks, scalar_weight_block};
#endif
#ifdef HAVE_AVX512_BUILD
const Kernels avx512_kernels{"avx512", avx512::L, avx512::forward_blocks, avx512::weight_block};
#endif
bool use_avx512 = false;  // set at import when the CPU has AVX-512; set_isa changes it (tests)

const Kernels& kernels_for(const Geometry& g) {
#ifdef HAVE_AVX512_BUILD
    if (use_avx512 && (g.OW >= avx512_kernels.lanes || g.flat)) return avx512_kernels;
#endif
    (void)g;
    return native_kernels;
}

// g with ``flat`` set where AVX-512 would otherwise leave lanes idle in the forward: stride 1, rows
// narrower than 16, at least 16 outputs, output rows contiguous
Geometry with_layout_for(const Geometry& g, const Layout& out) {
    Geometry f = g;
#ifdef HAVE_AVX512_BUILD
    f.flat = use_avx512 && g.OW < avx512_kernels.lanes && g.OH * g.OW >= avx512_kernels.lanes && g.sh == 1 &&
             g.sw == 1 && out.col == 1 && out.row == g.OW && out.plane == g.OH * g.OW;
#endif
    (void)out;
    return f;
}

bool cpu_has_avx512() {
#ifdef HAVE_AVX512_BUILD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#else
    return false;
#endif
}

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

// Multiply-adds below which a call stays on one thread: waking the sleeping OpenMP workers (libgomp with
// OMP_WAIT_POLICY=PASSIVE, torsh's default) costs tens of microseconds on a VM, as long as the 0.4-2.4M
// of a batch-1 CNN layer take on one core
constexpr long PARALLEL_MIN_MACS = 1L << 22;

long macs(long n, const Geometry& g) { return n * g.O * g.OH * g.OW * g.taps(); }

// -- sharing work among threads -----------------------------------------------------------------------------------
// torsh runs libgomp with OMP_WAIT_POLICY=PASSIVE (idle workers sleep, leaving the cores to BLAS and NumPy), and
// on this VM a sleeping thread takes microseconds to wake, milliseconds when another process holds its core. An
// OpenMP region's closing barrier waits for every thread of the team, woken or not. So the work runs on this
// file's own helper threads, in items handed out one at a time: the caller starts on the items at once, a helper
// joins when it wakes, and a helper that has not joined by the time the items run out is not waited for (the
// call then ran on one thread, at one thread's speed). Measured with other processes running (load 4-10): W12's
// 16-channel 32x32 forward took 4.6 ms (median) on two OpenMP threads against 0.86 ms on one; a job of 32 items
// of 12 us, 300 us apart, took 6.9 ms (median; mean 6.2 ms) as an OpenMP region and 0.45 ms (mean 0.58 ms) on
// these helpers; on an idle core both 0.41-0.45 ms. Each item writes outputs of its own, so results do not depend
// on which thread ran it.

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Pauses before a waiting thread yields its core instead (to another process, on a shared machine): ~50 us
constexpr long SPIN_PAUSES = 2000;

void wait_for(const std::atomic<long>& counter, long target) {
    for (long spins = 0; counter.load(std::memory_order_acquire) < target; ++spins) {
        if (spins < SPIN_PAUSES)
            cpu_relax();
        else
            std::this_thread::yield();
    }
}

// Helper threads, started on first use and kept (detached: they hold no resources a process exit must free).
// run() opens a job: a helper that wakes while it is open takes a seat (an index ``me`` in [1, threads)) and runs
// the job's body; once the caller's own body returns, the job is closed to newcomers and only the seated helpers
// are waited for. One caller at a time: a second thread finding the pool busy runs its job alone. A fork() child
// starts a pool of its own (the parent's helper threads are not copied into it).
class Helpers {
   public:
    using Body = void (*)(void* context, int me);

    // body(context, me) on the calling thread (me = 0) and on the helpers that join in time (up to threads - 1)
    void run(int threads, Body body, void* context) {
        std::unique_lock<std::mutex> caller(busy_, std::try_to_lock);
        if (!caller.owns_lock() || threads <= 1 || !start(threads - 1)) {
            body(context, 0);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(state_);
            body_ = body, context_ = context, seats_ = threads - 1, taken_ = 0;
            generation_.fetch_add(1, std::memory_order_seq_cst);
        }
        if (sleeping_.load(std::memory_order_seq_cst) > 0) futex(&generation_, FUTEX_WAKE_PRIVATE, INT32_MAX);
        body(context, 0);
        {
            std::lock_guard<std::mutex> lock(state_);
            body_ = nullptr, seats_ = 0;
        }
        wait_for_zero(seated_);
    }

    static Helpers& instance() {
        static Helpers* helpers = [] {
            pthread_atfork(nullptr, nullptr, [] { fresh_after_fork = true; });
            return new Helpers;  // never destroyed: its threads may still sleep in it at exit
        }();
        if (fresh_after_fork) {  // the parent's pool is not ours: its helpers do not exist here
            fresh_after_fork = false;
            helpers = new Helpers;
        }
        return *helpers;
    }

   private:
    static inline bool fresh_after_fork = false;
    // Pauses a helper spins for the next job before it sleeps: a layer's calls come in bursts (input and weight
    // gradient, one layer's backward after the next)
    static constexpr long HELPER_SPIN = 2000;

    bool start(int helpers) {
        try {
            while (started_ < helpers) {
                std::thread(&Helpers::serve, this).detach();
                ++started_;
            }
        } catch (const std::system_error&) {  // no more threads: run on those there are
        }
        return started_ > 0;
    }

    static void wait_for_zero(const std::atomic<long>& counter) {
        for (long spins = 0; counter.load(std::memory_order_acquire) != 0; ++spins) {
            if (spins < SPIN_PAUSES)
                cpu_relax();
            else
                std::this_thread::yield();
        }
    }

    // The futex system call on a 32-bit word (no glibc wrapper): a helper sleeps on the job generation itself
    static void futex(std::atomic<uint32_t>* word, int op, uint32_t value) {
        syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr, nullptr, 0);
    }

    // Returns once the generation is no longer ``seen``: spinning a while, then asleep on the futex
    void await_job(uint32_t seen) {
        for (long spins = 0; spins < HELPER_SPIN; ++spins) {
            if (generation_.load(std::memory_order_acquire) != seen) return;
            cpu_relax();
        }
        sleeping_.fetch_add(1, std::memory_order_seq_cst);
        while (generation_.load(std::memory_order_seq_cst) == seen) futex(&generation_, FUTEX_WAIT_PRIVATE, seen);
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
    }

    void serve() {
        uint32_t seen = generation_.load(std::memory_order_acquire);
        for (;;) {
            await_job(seen);
            Body body;
            void* context;
            int me;
            {
                std::lock_guard<std::mutex> lock(state_);
                seen = generation_.load(std::memory_order_relaxed);
                if (body_ == nullptr || seats_ == 0) continue;  // closed before this helper woke, or full
                --seats_;
                me = ++taken_;
                body = body_, context = context_;
                seated_.fetch_add(1, std::memory_order_relaxed);
            }
            body(context, me);
            seated_.fetch_sub(1, std::memory_order_release);
        }
    }

    std::mutex busy_;   // held by the caller of run()
    std::mutex state_;  // guards the job fields below
    std::atomic<uint32_t> generation_{0};  // one more per job published (the futex word helpers sleep on)
    std::atomic<int> sleeping_{0};         // helpers asleep on it: the caller wakes them only if any
    Body body_ = nullptr;                  // the open job, or nullptr
    void* context_ = nullptr;
    int seats_ = 0, taken_ = 0;
    std::atomic<long> seated_{0};  // helpers inside the current job's body
    int started_ = 0;
};

constexpr int MAX_PHASES = 2;

// item(phase, i, thread) for i in [0, counts[phase]) of each phase in turn, on up to ``threads`` threads (a thread
// starts on a phase once every item of the one before has finished). ``item`` must not throw.
template <class Item>
void share_phases(int threads, const long* counts, int phases, Item item) {
    if (threads <= 1) {
        for (int p = 0; p < phases; ++p)
            for (long i = 0; i < counts[p]; ++i) item(p, i, 0);
        return;
    }
    struct Shared {
        const long* counts;
        int phases;
        Item* item;
        std::atomic<long> next[MAX_PHASES], done[MAX_PHASES];
    } shared{counts, phases, &item, {}, {}};
    for (int p = 0; p < MAX_PHASES; ++p) shared.next[p] = 0, shared.done[p] = 0;
    Helpers::instance().run(threads, [](void* context, int me) {
        Shared& s = *static_cast<Shared*>(context);
        for (int p = 0; p < s.phases; ++p) {
            if (p > 0) wait_for(s.done[p - 1], s.counts[p - 1]);
            for (long i; (i = s.next[p].fetch_add(1, std::memory_order_relaxed)) < s.counts[p];) {
                (*s.item)(p, i, me);
                s.done[p].fetch_add(1, std::memory_order_release);
            }
        }
    }, &shared);
}

// The forward over n samples, shared among the threads by sample; with fewer samples than threads, over each
// sample's output channel blocks instead
// (All memory is allocated before the parallel regions, which then cannot throw: std::bad_alloc reaches
// the entry point, which raises MemoryError.)
void forward(const float* x, const float* w, const float* b, float* y, long n, const Geometry& given,
             const Layout& out, bool parallel) {
    const Geometry g = with_layout_for(given, out);
    const Kernels& k = kernels_for(g);
    const Plan plan = make_plan(g, out, k.lanes);
    const std::vector<float> wpk = pack_weights(w, g);
    const long xstride = g.C * g.H * g.W, ystride = out.sample, blocks = (g.O + 3) / 4, step = g.buffer_floats();
    parallel = parallel && macs(n, g) >= PARALLEL_MIN_MACS;
    if (parallel && n < omp_get_max_threads() && blocks > 1) {
        AlignedFloats buf(step);
        for (long i = 0; i < n; ++i) {
            pad_sample(x + i * xstride, g, buf.data());
#pragma omp parallel for schedule(static)
            for (long blk = 0; blk < blocks; ++blk)
                k.forward_blocks(buf.data(), plan, g, out, wpk.data(), b, y + i * ystride, blk, blk + 1);
        }
        return;
    }
    const int threads = parallel && n > 1 ? omp_get_max_threads() : 1;
    AlignedFloats bufs(threads * step);  // one per thread, its padding zeros written once
    share_phases(threads, &n, 1, [&](int, long i, int me) {
        float* buf = bufs.data() + me * step;
        pad_sample(x + i * xstride, g, buf);
        k.forward_blocks(buf, plan, g, out, wpk.data(), b, y + i * ystride, 0, blocks);
    });
}

// Output vectors per weight-gradient tile from which a tile covers one sample; smaller planes take
// groups of samples per tile, so that adding the registers to the partial sums stays rare
constexpr long TILE_VECTORS = 64;
// The weight gradient's items on several threads: ranges of output channel blocks (of 4) x ranges of taps, the
// latter multiples of TAP_GRAIN (of both WEIGHT_TAPS values, 3 and 6: a range's tiles are those of the whole tap
// list); about WEIGHT_ITEMS of them, so that a thread woken late still takes its share. One thread runs one item
// of everything: per group of samples all channels, while the group's padded samples are in cache
constexpr long TAP_GRAIN = 12;
constexpr long WEIGHT_ITEMS = 8;
// Floats of padded samples held at once (4 MB): the whole batch of W5's and W12's layers
constexpr long PADDED_FLOATS = 1L << 20;

// The 16 (or 8) float lanes of each weight's partial sum, added in double in a fixed order: four interleaved
// sums (one chain of 16 dependent adds took ~15% of W12's 64-channel 8x8 layer)
void sum_lanes(const float* part, long lanes, float* dw) {
    double total[4] = {0, 0, 0, 0};
    for (long l = 0; l < lanes; ++l) total[l & 3] += part[l];
    *dw = static_cast<float>((total[0] + total[1]) + (total[2] + total[3]));
}

// The weight gradient summed over n samples. Per chunk of samples: the samples padded (phase 0), then each item
// (channel blocks x tap range) adds their products, group of samples by group in sample order, to its weights'
// vector partial sums (phase 1); after the last chunk the item sums its partials' lanes. Every weight is one item's
// alone and summed in the same order however the items are cut: the result is the same on any number of threads.
void weight_grad(const float* x, const float* gy, float* dw, long n, const Geometry& given, bool parallel) {
    const Geometry g = with_layout_for(given, contiguous(given));
    const Kernels& k = kernels_for(g);
    const Plan plan = make_plan(g, contiguous(g), k.lanes);
    const long lanes = k.lanes, step = g.buffer_floats(), taps = g.taps();
    const long xstride = g.C * g.H * g.W, gstride = g.O * g.plane();
    const long vectors = std::max<long>(1, plan.gpoff.size() + plan.tpoff.size());
    const long group = std::min(n, std::max(1L, std::min(8L, TILE_VECTORS / vectors)));
    const int threads = parallel && macs(n, g) >= PARALLEL_MIN_MACS ? omp_get_max_threads() : 1;
    // samples padded at a time: on one thread a group, computed while it is in cache (padding the whole batch
    // first made W12's step ~3% slower); on several, as many groups as PADDED_FLOATS hold, for fewer hand-overs
    const long chunk = threads > 1 ? std::min(n, std::max(group, PADDED_FLOATS / step / group * group)) : group;
    const long wanted = threads > 1 ? WEIGHT_ITEMS : 1;
    const long blocks = (g.O + 3) / 4, per_item = (blocks + std::min(blocks, wanted) - 1) / std::min(blocks, wanted);
    const long block_ranges = (blocks + per_item - 1) / per_item, grains = (taps + TAP_GRAIN - 1) / TAP_GRAIN;
    const long tap_ranges = std::min(grains, (wanted + block_ranges - 1) / block_ranges);
    const long range = (grains + tap_ranges - 1) / tap_ranges * TAP_GRAIN;  // taps per item
    const long items = block_ranges * ((taps + range - 1) / range);
    AlignedFloats part(g.O * taps * lanes, false);
    AlignedFloats bufs(chunk * step, false);  // zeroed by the first chunk's items
    for (long first = 0; first < n; first += chunk) {
        const long count = std::min(chunk, n - first), counts[2] = {count, items};
        share_phases(threads, counts, 2, [&](int phase, long i, int) {
            if (phase == 0) {  // the padding zeros are written with the first chunk, and stay
                float* buf = bufs.data() + i * step;
                if (first == 0) std::fill(buf, buf + step, 0.0f);
                pad_sample(x + (first + i) * xstride, g, buf);
                return;
            }
            const long o0 = i % block_ranges * per_item * 4, o1 = std::min(g.O, o0 + per_item * 4);
            const long t0 = i / block_ranges * range, t1 = std::min(taps, t0 + range);
            if (first == 0)
                for (long o = o0; o < o1; ++o)
                    std::fill(part.data() + (o * taps + t0) * lanes, part.data() + (o * taps + t1) * lanes, 0.0f);
            for (long s = 0; s < count; s += group)
                for (long o = o0; o < o1; o += 4)
                    k.weight_block(bufs.data() + s * step, gy + (first + s) * gstride, plan, g, part.data(),
                                   std::min(group, count - s), step, gstride, o, std::min(4L, o1 - o), t0, t1);
            if (first + count == n)
                for (long o = o0; o < o1; ++o)
                    for (long t = t0; t < t1; ++t) sum_lanes(part.data() + (o * taps + t) * lanes, lanes, dw + o * taps + t);
        });
    }
}

// Runs ``work`` (without the GIL); false if it ran out of memory
template <class Work>
bool guarded(Work work) {
    try {
        work();
        return true;
    } catch (const std::bad_alloc&) {
        return false;
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
        bool ok = true;
        Py_BEGIN_ALLOW_THREADS
        ok = guarded([&] {
            forward(static_cast<const float*>(xb.buf), static_cast<const float*>(wb.buf),
                    static_cast<const float*>(bb.buf), static_cast<float*>(ob.buf), n, g, contiguous(g), parallel);
        });
        Py_END_ALLOW_THREADS
        if (!ok) return PyErr_NoMemory();
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
    bool ok = true;
    Py_BEGIN_ALLOW_THREADS
    if (n > 0 && g.OH > 0 && g.OW > 0)
        ok = guarded([&] {
            weight_grad(static_cast<const float*>(xb.buf), static_cast<const float*>(gb.buf),
                        static_cast<float*>(db.buf), n, g, parallel);
        });
    else
        std::memset(db.buf, 0, g.O * g.taps() * sizeof(float));
    Py_END_ALLOW_THREADS
    if (!ok) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

// -- the input gradient in one call -----------------------------------------------------------------------------
// dx of conv2d for the output gradient gy, as one stride-1 convolution of gy per phase (a, b) of dx's rows and
// columns (a < sh, b < sw): dx row r = i sh + a gets the taps ki = k0 + m sh, k0 = (a + ph) mod sh, from gy rows
// i + d - m, d = (a + ph - k0) / sh; as a correlation, the flipped sub-kernel with m_h - 1 - d zeros before gy.
// Each phase writes straight into its interleaved places of dx; a phase no tap reaches (a 1x1 stride-2 kernel's
// odd rows) is zeros. At stride 1 the one phase is the whole flipped kernel. All phases of all samples are the
// items of one job on the helper threads (four calls, four jobs and a Python loop before).
struct InputGradPhase {
    Geometry g;               // the phase's convolution of gy (its C is the forward's O, its O the forward's C)
    Layout out;               // where it writes inside dx
    long offset = 0;          // its first position: a * W + b
    bool empty = false;       // no tap reaches it: zeros
    bool empty_rows = false;  // ... nor its rows' other phases: the (a, 0) phase zeros whole rows, the others skip
    Plan plan;
    std::vector<float> wpk;   // the flipped sub-kernel, packed
    const Kernels* k = nullptr;
    long step = 0;            // its padded buffer's floats
};

// The phases of the input gradient of the forward geometry f (whose sizes complete() accepted); false with a
// ValueError set if a phase's padded gy would be too large
bool input_grad_phases(const Geometry& f, const float* w, std::vector<InputGradPhase>& phases, const char* op) {
    const long sample = f.C * f.H * f.W, plane = f.H * f.W;
    for (long a = 0; a < std::min(f.sh, f.H); ++a)
        for (long b = 0; b < std::min(f.sw, f.W); ++b) {
            InputGradPhase ph;
            const long k0h = ((a + f.ph) % f.sh + f.sh) % f.sh, k0w = ((b + f.pw) % f.sw + f.sw) % f.sw;
            const long mh = k0h < f.kh ? (f.kh - 1 - k0h) / f.sh + 1 : 0;
            const long mw = k0w < f.kw ? (f.kw - 1 - k0w) / f.sw + 1 : 0;
            const long dh = (a + f.ph - k0h) / f.sh, dw = (b + f.pw - k0w) / f.sw;  // exact divisions
            ph.g = Geometry{f.O, f.OH, f.OW, f.C, std::max(mh, 1L), std::max(mw, 1L), 1, 1, mh - 1 - dh, mw - 1 - dw,
                            (f.H - a + f.sh - 1) / f.sh, (f.W - b + f.sw - 1) / f.sw};
            ph.out = Layout{sample, plane, f.sh * f.W, f.sw};
            ph.offset = a * f.W + b;
            ph.empty = mh == 0 || mw == 0;
            ph.empty_rows = mh == 0;
            if (!ph.empty) {
                if (!complete(ph.g, op)) return false;
                ph.g = with_layout_for(ph.g, ph.out);
                ph.k = &kernels_for(ph.g);
                ph.plan = make_plan(ph.g, ph.out, ph.k->lanes);
                std::vector<float> flipped(f.C * f.O * mh * mw);  // (C, O, mh, mw): channels swapped, taps reversed
                for (long c = 0; c < f.C; ++c)
                    for (long o = 0; o < f.O; ++o)
                        for (long i = 0; i < mh; ++i)
                            for (long j = 0; j < mw; ++j)
                                flipped[((c * f.O + o) * mh + i) * mw + j] =
                                    w[((o * f.C + c) * f.kh + k0h + (mh - 1 - i) * f.sh) * f.kw + k0w + (mw - 1 - j) * f.sw];
                ph.wpk = pack_weights(flipped.data(), ph.g);
                ph.step = ph.g.buffer_floats();
            }
            phases.push_back(std::move(ph));
        }
    return true;
}

// Zeros at a phase's places in one sample of dx (rows no tap reaches in one memset each: W12's 1x1 stride-2
// shortcuts had three phases of scattered zeros, now one)
void zero_phase(const InputGradPhase& ph, float* dxs, long W) {
    if (ph.empty_rows) {
        if (ph.offset % W != 0) return;  // not (a, 0) (offset a W + b, b < W): that phase zeros the rows
        for (long c = 0; c < ph.g.O; ++c)
            for (long i = 0; i < ph.g.OH; ++i)
                std::memset(dxs + ph.offset + c * ph.out.plane + i * ph.out.row, 0, W * sizeof(float));
        return;
    }
    for (long c = 0; c < ph.g.O; ++c)
        for (long i = 0; i < ph.g.OH; ++i) {
            float* row = dxs + ph.offset + c * ph.out.plane + i * ph.out.row;
            for (long j = 0; j < ph.g.OW; ++j) row[j * ph.out.col] = 0.0f;
        }
}

// Items: (sample, phase, range of output channel blocks); the blocks are cut only when there are fewer
// (sample, phase) pairs than threads (batch 1). Each thread pads into a buffer of its own per phase, whose padding
// zeros are written once.
void input_grad(const float* gy, float* dx, long n, const Geometry& f,
                const std::vector<InputGradPhase>& phases, bool parallel) {
    const long count = phases.size();
    long work = 0, floats = 0, blocks = (f.C + 3) / 4;
    std::vector<long> at(count);  // each phase's buffer inside a thread's
    for (long p = 0; p < count; ++p) {
        if (!phases[p].empty) work += macs(n, phases[p].g);
        at[p] = floats, floats += phases[p].step;
    }
    const int threads = parallel && work >= PARALLEL_MIN_MACS ? omp_get_max_threads() : 1;
    const long splits = n * count >= threads ? 1 : std::min(blocks, (threads + n * count - 1) / (n * count));
    const long per_split = (blocks + splits - 1) / splits, items = n * count * splits;
    AlignedFloats bufs(threads * floats);
    const std::vector<float> zero_bias(f.C, 0.0f);
    const long gstride = f.O * f.OH * f.OW, dstride = f.C * f.H * f.W;
    share_phases(threads, &items, 1, [&](int, long item, int me) {
        const long s = item / (count * splits), p = item / splits % count, part = item % splits;
        const InputGradPhase& ph = phases[p];
        float* dxs = dx + s * dstride;
        if (ph.empty) {
            if (part == 0) zero_phase(ph, dxs, f.W);
            return;
        }
        const long b0 = part * per_split, b1 = std::min(blocks, b0 + per_split);
        if (b0 >= b1) return;
        float* buf = bufs.data() + me * floats + at[p];
        pad_sample(gy + s * gstride, ph.g, buf);
        ph.k->forward_blocks(buf, ph.plan, ph.g, ph.out, ph.wpk.data(), zero_bias.data(), dxs + ph.offset, b0, b1);
    });
}

// conv2d_input_grad(gy, w, dx, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, parallel): dx (n, C, H, W) = the
// gradient of conv2d's output w.r.t. its input for the output gradient gy (n, O, OH, OW) and the weights w
// (O, C, kh, kw), all C-contiguous float32; the geometry is conv2d's (any stride, ph/pw zeros before the input)
PyObject* conv2d_input_grad(PyObject*, PyObject* args) {
    Py_buffer gb, wb, db;
    long n;
    Geometry g{};
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*lllllllllllllp", &gb, &wb, &db, &n, &g.C, &g.H, &g.W, &g.O, &g.kh, &g.kw,
                          &g.sh, &g.sw, &g.ph, &g.pw, &g.OH, &g.OW, &parallel))
        return nullptr;
    Buffers held{{gb, wb, db}};
    const char* op = "conv2d_input_grad";
    if (!sane(g, n)) {
        PyErr_SetString(PyExc_ValueError, "conv2d_input_grad: inconsistent shape arguments");
        return nullptr;
    }
    if (!big_enough(gb, product({n, g.O, g.OH, g.OW}), "gy", op) ||
        !big_enough(wb, product({g.O, g.C, g.kh, g.kw}), "w", op) ||
        !big_enough(db, product({n, g.C, g.H, g.W}), "dx", op) || !complete(g, op))
        return nullptr;
    if (n == 0 || g.H == 0 || g.W == 0) Py_RETURN_NONE;
    std::vector<InputGradPhase> phases;  // built with the GIL held: a phase too large raises ValueError
    if (!guarded([&] { phases.reserve(std::min(g.sh, g.H) * std::min(g.sw, g.W)); }))
        return PyErr_NoMemory();
    bool built = false;
    if (!guarded([&] { built = input_grad_phases(g, static_cast<const float*>(wb.buf), phases, op); }))
        return PyErr_NoMemory();
    if (!built) return nullptr;
    bool ok = true;
    Py_BEGIN_ALLOW_THREADS
    ok = guarded([&] {
        input_grad(static_cast<const float*>(gb.buf), static_cast<float*>(db.buf), n, g, phases, parallel);
    });
    Py_END_ALLOW_THREADS
    if (!ok) return PyErr_NoMemory();
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
        bool ok = true;
        Py_BEGIN_ALLOW_THREADS
        ok = guarded([&] {
            forward(static_cast<const float*>(xb.buf), static_cast<const float*>(wb.buf),
                    static_cast<const float*>(bb.buf), static_cast<float*>(ob.buf), n, g, contiguous(g), parallel);
        });
        Py_END_ALLOW_THREADS
        if (!ok) return PyErr_NoMemory();
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
    bool ok = true;
    Py_BEGIN_ALLOW_THREADS
    if (n > 0 && g.OH > 0 && g.OW > 0)
        ok = guarded([&] {
            weight_grad(static_cast<const float*>(xb.buf), static_cast<const float*>(gb.buf),
                        static_cast<float*>(db.buf), n, g, parallel);
        });
    else
        std::memset(db.buf, 0, g.O * g.taps() * sizeof(float));
    Py_END_ALLOW_THREADS
    if (!ok) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

// -- max pooling (float32 planes): values and argmax indices in one pass, and the indices' scatter back ---------
// The Pythran kernel's compare-and-branch per element mispredicted on real data (0.46 ms for LeNet-5's
// second pool, 25.6K windows); here every step is a select the compiler turns into blends.

struct PoolGeometry {
    long planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
};

bool pool_sane(const PoolGeometry& g) {
    return g.planes >= 0 && g.H >= 0 && g.W >= 0 && g.OH >= 0 && g.OW >= 0 && g.kh > 0 && g.kw > 0 && g.sh > 0 &&
           g.sw > 0 && g.ph >= 0 && g.pw >= 0 && g.dh > 0 && g.dw > 0 && g.H < (1L << 31) && g.W < (1L << 31) &&
           g.OH < (1L << 31) && g.OW < (1L << 31) && g.kh < (1L << 31) && g.kw < (1L << 31) && g.sh < (1L << 31) &&
           g.sw < (1L << 31) && g.ph < (1L << 31) && g.pw < (1L << 31) && g.dh < (1L << 31) && g.dw < (1L << 31);
}

// PyTorch's CPU rule: the first in-bounds element's index with -inf, then an element replaces the best
// when it is greater or NaN (so the last NaN of a window wins)
inline void take_if_better(float v, long k, float& best, long& best_i) {
    // bit selects: GCC compiled the ternaries into branches, mispredicted on real data
    const uint32_t take = -static_cast<uint32_t>((v > best) | (v != v));
    uint32_t vb, bb;
    std::memcpy(&vb, &v, 4);
    std::memcpy(&bb, &best, 4);
    bb = (vb & take) | (bb & ~take);
    std::memcpy(&best, &bb, 4);
    const long wide = -static_cast<long>(take & 1);
    best_i = (k & wide) | (best_i & ~wide);
}

#if TORSH_VECTORISED
// Lanes [0, count) of 8 set (count may be <= 0 or > 8)
inline __m256i first_lanes(long count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::max(0L, std::min(8L, count)))),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The even and odd floats of p[0 .. 2 count), count <= 8 (the lanes past it zero, not read)
inline void split_even_odd(const float* p, long count, __m256& even, __m256& odd) {
    const __m256 a = count >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first_lanes(2 * count));
    const __m256 b = count >= 8 ? _mm256_loadu_ps(p + 8) : _mm256_maskload_ps(p + 8, first_lanes(2 * count - 8));
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

// take_if_better on 8 windows: which = the window element (0-3) holding the best so far
inline void take_if_better8(__m256 v, int code, __m256& best, __m256i& which) {
    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    best = _mm256_blendv_ps(best, v, take);
    which = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(which),
                                                 _mm256_castsi256_ps(_mm256_set1_epi32(code)), take));
}

// Outputs oj .. oj + count - 1 (count <= 8) of a row of 2x2 windows: element (a, b) of window j is row a
// (r0 or r1) at column 2 j + b, its flat index k0 + 2 j + a W + b
inline void max_pool_2x2_avx2(const float* r0, const float* r1, float* o, int64_t* ix, long k0, long W, long oj,
                              long count) {
    __m256 e0, o0, e1, o1;
    split_even_odd(r0 + 2 * oj, count, e0, o0);
    split_even_odd(r1 + 2 * oj, count, e1, o1);
    __m256 best = e0;
    __m256i which = _mm256_setzero_si256();
    take_if_better8(o0, 1, best, which);
    take_if_better8(e1, 2, best, which);
    take_if_better8(o1, 3, best, which);
    const __m256i keep = first_lanes(count);
    if (count >= 8)
        _mm256_storeu_ps(o + oj, best);
    else
        _mm256_maskstore_ps(o + oj, keep, best);
    // index = k0 + 2 (oj + lane) + (which & 1) + (which >> 1) * W, in int64
    const __m256i within = _mm256_add_epi32(_mm256_and_si256(which, _mm256_set1_epi32(1)),
                                            _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
    const __m256i row = _mm256_srli_epi32(which, 1);
    const __m256i base = _mm256_set1_epi64x(k0 + 2 * oj), width = _mm256_set1_epi64x(W);
    for (int half = 0; half < 2; ++half) {
        const __m128i w4 = half ? _mm256_extracti128_si256(within, 1) : _mm256_castsi256_si128(within);
        const __m128i r4 = half ? _mm256_extracti128_si256(row, 1) : _mm256_castsi256_si128(row);
        const __m256i k = _mm256_add_epi64(_mm256_add_epi64(base, _mm256_cvtepi32_epi64(w4)),
                                           _mm256_mul_epu32(_mm256_cvtepi32_epi64(r4), width));
        long long* dst = reinterpret_cast<long long*>(ix + oj + 4 * half);
        if (count >= 8)
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), k);
        else  // the int64 lanes [0, count - 4 half): each int32 lane pair of the mask widened
            _mm256_maskstore_epi64(dst, _mm256_cvtepi32_epi64(half ? _mm256_extracti128_si256(keep, 1)
                                                                    : _mm256_castsi256_si128(keep)), k);
    }
}

inline long max_pool_row_2x2_avx2(const float* r0, const float* r1, float* o, int64_t* ix, long k0, long W,
                                  long OW) {
    long oj = 0;
    for (; oj + 8 <= OW; oj += 8) max_pool_2x2_avx2(r0, r1, o, ix, k0, W, oj, 8);
    if (oj < OW) max_pool_2x2_avx2(r0, r1, o, ix, k0, W, oj, OW - oj);  // masked: no branch per element
    return OW;
}
#endif

// 2x2 windows at stride 2, no padding or dilation, all inside the plane
void max_pool_plane_2x2(const float* x, float* out, int64_t* idx, const PoolGeometry g) {
    for (long oi = 0; oi < g.OH; ++oi) {
        const long k0 = 2 * oi * g.W;
        const float* r0 = x + k0;
        const float* r1 = r0 + g.W;
        float* o = out + oi * g.OW;
        int64_t* ix = idx + oi * g.OW;
        long oj = 0;
#if TORSH_VECTORISED
        oj = max_pool_row_2x2_avx2(r0, r1, o, ix, k0, g.W, g.OW);
#endif
        for (; oj < g.OW; ++oj) {
            const long k = k0 + 2 * oj;
            float best = r0[2 * oj];
            long best_i = k;
            take_if_better(r0[2 * oj + 1], k + 1, best, best_i);
            take_if_better(r1[2 * oj], k + g.W, best, best_i);
            take_if_better(r1[2 * oj + 1], k + g.W + 1, best, best_i);
            o[oj] = best;
            ix[oj] = best_i;
        }
    }
}

// (g by value: idx's int64 stores could alias a referenced geometry's longs, reloaded at every element)
void max_pool_plane(const float* x, float* out, int64_t* idx, const PoolGeometry g) {
    for (long oi = 0; oi < g.OH; ++oi) {
        const long h0 = oi * g.sh - g.ph;
        long hs = h0;
        while (hs < 0) hs += g.dh;
        const long he = std::min(h0 + (g.kh - 1) * g.dh + 1, g.H);
        for (long oj = 0; oj < g.OW; ++oj) {
            const long w0 = oj * g.sw - g.pw;
            long ws = w0;
            while (ws < 0) ws += g.dw;
            const long we = std::min(w0 + (g.kw - 1) * g.dw + 1, g.W);
            float best = -__builtin_inff();
            long best_i = hs * g.W + ws;
            for (long ih = hs; ih < he; ih += g.dh)
                for (long iw = ws; iw < we; iw += g.dw) take_if_better(x[ih * g.W + iw], ih * g.W + iw, best, best_i);
            out[oi * g.OW + oj] = best;
            idx[oi * g.OW + oj] = best_i;
        }
    }
}

// max_pool2d(x, out, idx, planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, parallel): x (planes, H, W)
// float32, out (planes, OH, OW) float32 and idx (planes, OH, OW) int64 (the flat in-plane index of each
// window's maximum)
PyObject* max_pool2d(PyObject*, PyObject* args) {
    Py_buffer xb, ob, ib;
    PoolGeometry g{};
    int parallel;
    if (!PyArg_ParseTuple(args, "y*w*w*lllllllllllllp", &xb, &ob, &ib, &g.planes, &g.H, &g.W, &g.OH, &g.OW, &g.kh,
                          &g.kw, &g.sh, &g.sw, &g.ph, &g.pw, &g.dh, &g.dw, &parallel))
        return nullptr;
    Buffers held{{xb, ob, ib}};
    const char* op = "max_pool2d";
    if (!pool_sane(g)) {
        PyErr_SetString(PyExc_ValueError, "max_pool2d: inconsistent shape arguments");
        return nullptr;
    }
    const long outs = product({g.planes, g.OH, g.OW});
    if (!big_enough(xb, product({g.planes, g.H, g.W}), "x", op) || !big_enough(ob, outs, "out", op) ||
        !big_enough(ib, outs < 0 ? -1 : outs * 2, "idx", op))  // int64: two floats' bytes each
        return nullptr;
    const bool fast = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 &&
                      g.dw == 1 && 2 * g.OH <= g.H && 2 * g.OW <= g.W;
    const float* x = static_cast<const float*>(xb.buf);
    float* out = static_cast<float*>(ob.buf);
    int64_t* idx = static_cast<int64_t*>(ib.buf);
    const long in_plane = g.H * g.W, out_plane = g.OH * g.OW;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) if (parallel && g.planes > 1)
    for (long p = 0; p < g.planes; ++p) {
        if (fast)
            max_pool_plane_2x2(x + p * in_plane, out + p * out_plane, idx + p * out_plane, g);
        else
            max_pool_plane(x + p * in_plane, out + p * out_plane, idx + p * out_plane, g);
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// max_pool2d_backward(g, idx, dx, planes, in_plane, out_plane, parallel): dx (planes, in_plane) = zeros, then
// dx[p, idx[p, j]] += g[p, j] for g (planes, out_plane) float32 and idx int64; an index outside [0, in_plane)
// is not written and raises ValueError
PyObject* max_pool2d_backward(PyObject*, PyObject* args) {
    Py_buffer gb, ib, db;
    long planes, in_plane, out_plane;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*lllp", &gb, &ib, &db, &planes, &in_plane, &out_plane, &parallel))
        return nullptr;
    Buffers held{{gb, ib, db}};
    const char* op = "max_pool2d_backward";
    if (planes < 0 || in_plane < 0 || out_plane < 0) {
        PyErr_SetString(PyExc_ValueError, "max_pool2d_backward: inconsistent shape arguments");
        return nullptr;
    }
    const long outs = product({planes, out_plane});
    if (!big_enough(gb, outs, "g", op) || !big_enough(ib, outs < 0 ? -1 : outs * 2, "idx", op) ||
        !big_enough(db, product({planes, in_plane}), "dx", op))
        return nullptr;
    const float* g = static_cast<const float*>(gb.buf);
    const int64_t* idx = static_cast<const int64_t*>(ib.buf);
    float* dx = static_cast<float*>(db.buf);
    long bad = 0;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static) reduction(+ : bad) if (parallel && planes > 1)
    for (long p = 0; p < planes; ++p) {
        float* d = dx + p * in_plane;
        std::memset(d, 0, in_plane * sizeof(float));
        const float* gp = g + p * out_plane;
        const int64_t* ip = idx + p * out_plane;
        for (long j = 0; j < out_plane; ++j) {
            const int64_t k = ip[j];
            if (k < 0 || k >= in_plane) {
                ++bad;
                continue;
            }
            d[k] += gp[j];
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "max_pool2d_backward: an index is outside the plane");
        return nullptr;
    }
    Py_RETURN_NONE;
}

// -- training-mode batch norm (float32, (n, C, S) with S > 1), one channel per work item on the helpers above ------
// Pythran's OpenMP loops over the channels waited in their closing barrier for a worker not yet woken, as the
// convolutions did (W12 has 12 such calls a step at 2 threads). Each channel's sums run in 16 float lanes per row,
// added up in double in a fixed order: the same result on any number of threads.
constexpr long BN_LANES = 16;

// Values per lane a float partial sum takes before it is added to the double total (rows of 64 floats: a flush
// per row cost more than the row's adds)
constexpr long BN_FLUSH = 64;

// sum over the n rows x[i * stride + j], j < S, of f(x, j) (float lanes, flushed into a double)
template <class F>
double channel_sum(long n, long stride, long S, F f) {
    double total = 0;
    float lanes[BN_LANES] = {};
    long taken = 0;  // values in the lanes since the last flush
    auto flush = [&] {
        double part = 0;
        for (long l = 0; l < BN_LANES; ++l) part += lanes[l], lanes[l] = 0;
        total += part;
        taken = 0;
    };
    for (long i = 0; i < n; ++i) {
        long j = 0;
        for (; j + BN_LANES <= S; j += BN_LANES)
            for (long l = 0; l < BN_LANES; ++l) lanes[l] += f(i * stride + j + l);
        for (; j < S; ++j) lanes[j % BN_LANES] += f(i * stride + j);
        taken += (S + BN_LANES - 1) / BN_LANES;
        if (taken >= BN_FLUSH) flush();
    }
    flush();
    return total;
}

// channel_sum of f and of h in one pass over the rows (batch norm's backward reads g and x once for both): each
// sum's lanes, flushes and order of adds as channel_sum's, so the same bits as two separate sums
template <class F, class H>
void channel_sums(long n, long stride, long S, F f, H h, double& total_f, double& total_h) {
    total_f = total_h = 0;
    float lf[BN_LANES] = {}, lh[BN_LANES] = {};
    long taken = 0;
    auto flush = [&] {
        double pf = 0, ph = 0;
        for (long l = 0; l < BN_LANES; ++l) pf += lf[l], ph += lh[l], lf[l] = lh[l] = 0;
        total_f += pf, total_h += ph;
        taken = 0;
    };
    for (long i = 0; i < n; ++i) {
        long j = 0;
        for (; j + BN_LANES <= S; j += BN_LANES)
            for (long l = 0; l < BN_LANES; ++l) {
                const long k = i * stride + j + l;
                lf[l] += f(k), lh[l] += h(k);
            }
        for (; j < S; ++j) {
            const long k = i * stride + j;
            lf[j % BN_LANES] += f(k), lh[j % BN_LANES] += h(k);
        }
        taken += (S + BN_LANES - 1) / BN_LANES;
        if (taken >= BN_FLUSH) flush();
    }
    flush();
}

struct BatchNormShape {
    long n, C, S;
    long stride() const { return C * S; }
};

void batch_norm_channel(const float* x, const float* w, const float* b, float eps, const BatchNormShape& d,
                        float* out, float* mean, float* var, float* rstd, long c) {
    const float* xc = x + c * d.S;
    const double m = 1.0 / (double(d.n) * d.S);
    const float mu = static_cast<float>(channel_sum(d.n, d.stride(), d.S, [&](long k) { return xc[k]; }) * m);
    const float v = static_cast<float>(channel_sum(d.n, d.stride(), d.S, [&](long k) {
        const float t = xc[k] - mu;
        return t * t;
    }) * m);
    const float r = 1.0f / std::sqrt(v + eps);
    mean[c] = mu, var[c] = v, rstd[c] = r;
    const float scale = r * w[c], shift = b[c] - mu * scale;
    for (long i = 0; i < d.n; ++i) {
        const float* xi = xc + i * d.stride();
        float* oi = out + c * d.S + i * d.stride();
        for (long j = 0; j < d.S; ++j) oi[j] = xi[j] * scale + shift;
    }
}

void batch_norm_backward_channel(const float* g, const float* x, const float* w, const float* mean,
                                 const float* rstd, const BatchNormShape& d, float* gx, float* gw, float* gb, long c) {
    const float* gc = g + c * d.S;
    const float* xc = x + c * d.S;
    const float mu = mean[c], r = rstd[c];
    double sg, sgx;
    channel_sums(d.n, d.stride(), d.S, [&](long k) { return gc[k]; }, [&](long k) { return gc[k] * (xc[k] - mu); },
                 sg, sgx);
    gb[c] = static_cast<float>(sg);
    gw[c] = static_cast<float>(sgx * r);
    // gx = w r (g - sum(g) / M - (x - mu) r^2 sum(g (x - mu)) / M)
    const double m = 1.0 / (double(d.n) * d.S);
    const float k1 = w[c] * r;
    const float k2 = static_cast<float>(-double(k1) * r * r * sgx * m), k3 = static_cast<float>(-double(k1) * sg * m);
    for (long i = 0; i < d.n; ++i) {
        const long row = i * d.stride();
        float* gxi = gx + c * d.S + row;
        for (long j = 0; j < d.S; ++j) gxi[j] = gc[row + j] * k1 + (xc[row + j] - mu) * k2 + k3;
    }
}

bool batch_norm_shape(BatchNormShape& d, const char* op) {
    if (d.n < 0 || d.C <= 0 || d.S < 0 || product({d.n, d.C, d.S}) < 0) {
        PyErr_Format(PyExc_ValueError, "%s: inconsistent shape arguments", op);
        return false;
    }
    return true;
}

// batch_norm_train(x, w, b, out, mean, var, rstd, n, C, S, eps, parallel): x and out (n, C, S), w, b, mean, var
// and rstd (C,), all float32: out = (x - mean) * rstd * w + b with the batch's per-channel mean and biased var
PyObject* batch_norm_train(PyObject*, PyObject* args) {
    Py_buffer xb, wb, bb, ob, mb, vb, rb;
    BatchNormShape d{};
    float eps;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*w*w*lllfp", &xb, &wb, &bb, &ob, &mb, &vb, &rb, &d.n, &d.C, &d.S, &eps,
                          &parallel))
        return nullptr;
    Buffers held{{xb, wb, bb, ob, mb, vb, rb}};
    const char* op = "batch_norm_train";
    if (!batch_norm_shape(d, op)) return nullptr;
    const long all = product({d.n, d.C, d.S});
    if (!big_enough(xb, all, "x", op) || !big_enough(ob, all, "out", op) || !big_enough(wb, d.C, "w", op) ||
        !big_enough(bb, d.C, "b", op) || !big_enough(mb, d.C, "mean", op) || !big_enough(vb, d.C, "var", op) ||
        !big_enough(rb, d.C, "rstd", op))
        return nullptr;
    const auto* x = static_cast<const float*>(xb.buf);
    const auto *w = static_cast<const float*>(wb.buf), *b = static_cast<const float*>(bb.buf);
    auto *out = static_cast<float*>(ob.buf), *mean = static_cast<float*>(mb.buf);
    auto *var = static_cast<float*>(vb.buf), *rstd = static_cast<float*>(rb.buf);
    Py_BEGIN_ALLOW_THREADS
    share_phases(parallel ? omp_get_max_threads() : 1, &d.C, 1, [&](int, long c, int) {
        batch_norm_channel(x, w, b, eps, d, out, mean, var, rstd, c);
    });
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// batch_norm_backward(g, x, w, mean, rstd, gx, gw, gb, n, C, S, parallel): the input, weight and bias gradients
// of batch_norm_train for the output gradient g; g, x and gx (n, C, S), the others (C,), all float32
PyObject* batch_norm_backward(PyObject*, PyObject* args) {
    Py_buffer gb_, xb, wb, mb, rb, gxb, gwb, gbb;
    BatchNormShape d{};
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*w*w*lllp", &gb_, &xb, &wb, &mb, &rb, &gxb, &gwb, &gbb, &d.n, &d.C, &d.S,
                          &parallel))
        return nullptr;
    Buffers held{{gb_, xb, wb, mb, rb, gxb, gwb, gbb}};
    const char* op = "batch_norm_backward";
    if (!batch_norm_shape(d, op)) return nullptr;
    const long all = product({d.n, d.C, d.S});
    if (!big_enough(gb_, all, "g", op) || !big_enough(xb, all, "x", op) || !big_enough(gxb, all, "gx", op) ||
        !big_enough(wb, d.C, "w", op) || !big_enough(mb, d.C, "mean", op) || !big_enough(rb, d.C, "rstd", op) ||
        !big_enough(gwb, d.C, "gw", op) || !big_enough(gbb, d.C, "gb", op))
        return nullptr;
    const auto *g = static_cast<const float*>(gb_.buf), *x = static_cast<const float*>(xb.buf);
    const auto *w = static_cast<const float*>(wb.buf), *mean = static_cast<const float*>(mb.buf);
    const auto* rstd = static_cast<const float*>(rb.buf);
    auto *gx = static_cast<float*>(gxb.buf), *gw = static_cast<float*>(gwb.buf), *gb = static_cast<float*>(gbb.buf);
    Py_BEGIN_ALLOW_THREADS
    share_phases(parallel ? omp_get_max_threads() : 1, &d.C, 1, [&](int, long c, int) {
        batch_norm_backward_channel(g, x, w, mean, rstd, d, gx, gw, gb, c);
    });
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// set_isa(name): "avx512" (rows of at least 16 outputs on AVX-512 where the CPU has it) or this copy's own
// kernels ("avx2", or "scalar" in the baseline copy); returns the previous name. For tests of both builds.
PyObject* set_isa(PyObject*, PyObject* args) {
    const char* name;
    if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
    const char* previous = use_avx512 ? "avx512" : native_kernels.isa;
    if (std::strcmp(name, "avx512") == 0 && cpu_has_avx512()) {
        use_avx512 = true;
    } else if (std::strcmp(name, native_kernels.isa) == 0) {
        use_avx512 = false;
    } else {
        PyErr_Format(PyExc_ValueError, "set_isa: %s is not available here (this copy has %s%s)", name,
                     native_kernels.isa, cpu_has_avx512() ? " and avx512" : "");
        return nullptr;
    }
    return PyUnicode_FromString(previous);
}

PyMethodDef methods[] = {
    {"set_isa", set_isa, METH_VARARGS,
     "set_isa(name): run the vector kernels of instruction set name ('avx512' or this copy's own); returns the "
     "previous one."},
    {"conv2d", conv2d, METH_VARARGS,
     "conv2d(x, w, b, out, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, parallel): direct float32 "
     "convolution of x (zero rows ph / columns pw before it, stride (sh, sw)) into out, bias b included."},
    {"conv2d_input_grad", conv2d_input_grad, METH_VARARGS,
     "conv2d_input_grad(gy, w, dx, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, parallel): the input gradient "
     "of conv2d (float32, any stride) into dx (n, C, H, W), all phases of a strided one in one call."},
    {"conv2d_weight_grad", conv2d_weight_grad, METH_VARARGS,
     "conv2d_weight_grad(x, gy, dw, n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW, parallel): the weight "
     "gradient of conv2d into dw (O, C, kh, kw)."},
    {"max_pool2d", max_pool2d, METH_VARARGS,
     "max_pool2d(x, out, idx, planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, parallel): float32 window "
     "maxima of the (H, W) planes into out and their flat in-plane indices (int64) into idx."},
    {"max_pool2d_backward", max_pool2d_backward, METH_VARARGS,
     "max_pool2d_backward(g, idx, dx, planes, in_plane, out_plane, parallel): dx = zeros with g added at the "
     "flat in-plane indices idx (float32 g and dx, int64 idx)."},
    {"batch_norm_train", batch_norm_train, METH_VARARGS,
     "batch_norm_train(x, w, b, out, mean, var, rstd, n, C, S, eps, parallel): float32 training-mode batch norm "
     "of x (n, C, S) into out, with the batch's per-channel mean, biased var and 1/sqrt(var + eps)."},
    {"batch_norm_backward", batch_norm_backward, METH_VARARGS,
     "batch_norm_backward(g, x, w, mean, rstd, gx, gw, gb, n, C, S, parallel): the input, weight and bias "
     "gradients of batch_norm_train (float32)."},
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
    use_avx512 = cpu_has_avx512();
    if (m && (PyModule_AddObject(m, "VECTORISED", PyBool_FromLong(TORSH_VECTORISED)) < 0 ||
              PyModule_AddStringConstant(m, "ISA", use_avx512 ? "avx512" : native_kernels.isa) < 0)) {
        Py_DECREF(m);
        return nullptr;
    }
    return m;
}
