// The vector loops of transformer.cpp, included once per instruction set inside a namespace: the copy's own
// (SSE2 baseline or AVX2 in the x86-64-v3 copy) and, in the x86-64-v3 copy, under an AVX-512 target pragma
// (GCC then vectorises the same plain loops 16 lanes wide; chosen at import where the CPU has it). Needs
// <algorithm>, <cmath>, <cstdint>, <cstring> and kSqrtHalf / kInvSqrt2Pi from the including file.

// exp_nonpositive(x): exp for x <= 0 (every caller's argument)
#include "cephes_exp.h"

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

// Layer norm of rows [lo, hi) of a (rows, n) array: out = (x - mean) * rstd * w + b, mean and rstd = 1 / sqrt(var
// + eps) (biased variance, two passes over the row) saved per row; w = 1, b = 0 without an affine part
void layer_norm_rows(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, long lo,
                     long hi, long n, float eps) {
    const float inv_n = static_cast<float>(1.0 / static_cast<double>(n));
    for (long r = lo; r < hi; ++r) {
        const float* xr = x + r * n;
        float* yr = out + r * n;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (long j = 0; j < n; ++j) sum += xr[j];
        const float mu = sum * inv_n;
        float squares = 0.0f;
#pragma omp simd reduction(+ : squares)
        for (long j = 0; j < n; ++j) squares += (xr[j] - mu) * (xr[j] - mu);
        const float s = 1.0f / std::sqrt(squares * inv_n + eps);
        mean[r] = mu;
        rstd[r] = s;
#pragma omp simd
        for (long j = 0; j < n; ++j) yr[j] = (xr[j] - mu) * s * w[j] + b[j];
    }
}

// The backward of layer_norm_rows over rows [lo, hi): the input gradient into gx, and this block's sums of the
// weight and bias gradients into gw and gb (n values each). With x_hat = (x - mu) s and g_hat = g w:
// gx = s (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat))
void layer_norm_backward_rows(const float* g, const float* x, const float* w, const float* mean, const float* rstd,
                              float* gx, float* gw, float* gb, long lo, long hi, long n) {
    const float inv_n = static_cast<float>(1.0 / static_cast<double>(n));
    std::fill(gw, gw + n, 0.0f);
    std::fill(gb, gb + n, 0.0f);
    for (long r = lo; r < hi; ++r) {
        const float* gr = g + r * n;
        const float* xr = x + r * n;
        float* dr = gx + r * n;
        const float mu = mean[r], s = rstd[r];
        float a = 0.0f, c = 0.0f;
#pragma omp simd reduction(+ : a, c)
        for (long j = 0; j < n; ++j) {
            const float gh = gr[j] * w[j];
            a += gh;
            c += gh * (xr[j] - mu);
        }
        a *= inv_n;
        c = c * s * inv_n;
        const float sc = s * c;
#pragma omp simd
        for (long j = 0; j < n; ++j) {
            const float centered = xr[j] - mu;
            dr[j] = (gr[j] * w[j] - a - centered * sc) * s;
            gw[j] += gr[j] * (centered * s);
            gb[j] += gr[j];
        }
    }
}

// -- scaled_dot_product_attention per (batch, head) block: small GEMMs in registers ------------------------------
// The vector width of this build, rows and vectors of a register tile: AVX-512 6 x 4 vectors (24 accumulators of
// its 32 registers), else 4 x 2. GCC's target pragma does not define __AVX512F__, so the inclusions are counted:
// isa_builds.h includes this file for this copy's own loops first, then (x86-64-v3 copy) for AVX-512's
#ifndef TORSH_TA_PASS
#define TORSH_TA_PASS 1
#else
#undef TORSH_TA_PASS
#define TORSH_TA_PASS 2
#endif
#if TORSH_TA_PASS == 2
#define TA_VEC 16
#define TA_MR 6
#define TA_NV 4
#elif defined(__AVX2__)
#define TA_VEC 8
#define TA_MR 4
#define TA_NV 2
#else
#define TA_VEC 4
#define TA_MR 4
#define TA_NV 2
#endif
typedef float tvf __attribute__((vector_size(TA_VEC * 4), aligned(4)));  // aligned(4): unaligned loads
constexpr long kAttnVec = TA_VEC;
constexpr long kAttnRows = TA_MR;

inline long round_up(long n, long to) { return (n + to - 1) / to * to; }

typedef int32_t tvi __attribute__((vector_size(TA_VEC * 4), aligned(4)));

inline tvf tload(const float* p) { return *reinterpret_cast<const tvf*>(p); }
inline void tstore(float* p, tvf v) { *reinterpret_cast<tvf*>(p) = v; }

// exp_nonpositive of a whole vector (the plain loops' version vectorised 3x slower here): x = n ln2 + r,
// 2^n through the exponent bits, below FLT_MIN flushed to 0, NaN kept
inline tvf texp_nonpositive(tvf x) {
    const tvf lo = tvf{} + -87.3365447504f;
    const tvf xc = x < lo ? lo : x;
    const tvf t = xc * 1.44269504088896341f + 0.5f;
    tvf n = __builtin_convertvector(__builtin_convertvector(t, tvi), tvf);
    n = n > t ? n - 1.0f : n;  // floor (the conversion truncates toward 0)
    const tvf p = exp_reduced(xc, n);
    const tvi bits = (__builtin_convertvector(n, tvi) + 127) << 23;
    tvf scale;
    std::memcpy(&scale, &bits, sizeof scale);
    const tvf y = p * scale;
    return x < lo ? tvf{} : y;
}

// attention_softmax_row on a row padded to whole vectors (``padded`` >= kept floats, a multiple of the width):
// lanes past ``kept`` are left out of the max and the sum and written as 0, columns up to ``zero_to`` zeroed
inline void tsoftmax_row(float* s, long kept, long zero_to, float scale) {
    tvi lane;
    for (int i = 0; i < TA_VEC; ++i) lane[i] = i;
    const tvf ninf = tvf{} - INFINITY;
    tvf top = ninf;
    long j = 0;
    for (; j + TA_VEC <= kept; j += TA_VEC) {
        const tvf x = tload(s + j) * scale;
        top = x > top ? x : top;
    }
    if (j < kept) {
        const tvf x = tload(s + j) * scale;
        const tvf masked = lane < static_cast<int32_t>(kept - j) ? x : ninf;
        top = masked > top ? masked : top;
    }
    float m = -INFINITY;
    bool nan = false;
    for (int i = 0; i < TA_VEC; ++i) {
        m = std::max(m, top[i]);
        nan |= top[i] != top[i];
    }
    if (m == -INFINITY) m = 0.0f;  // every kept score -inf: 0s and a 0 sum, NaN as PyTorch
    if (nan) m = NAN;               // a NaN score makes the row NaN
    const tvf mv = tvf{} + m;
    tvf total = tvf{};
    const long whole = round_up(kept, TA_VEC);
    for (j = 0; j < whole; j += TA_VEC) {
        tvf e = texp_nonpositive(tload(s + j) * scale - mv);
        if (j + TA_VEC > kept) e = lane < static_cast<int32_t>(kept - j) ? e : tvf{};
        tstore(s + j, e);
        total += e;
    }
    float sum = 0.0f;
    for (int i = 0; i < TA_VEC; ++i) sum += total[i];
    const tvf inv = tvf{} + 1.0f / sum;
    for (j = 0; j < whole; j += TA_VEC) tstore(s + j, tload(s + j) * inv);
    if (zero_to > whole) std::fill(s + whole, s + zero_to, 0.0f);
}

// c(m, v) = sum_k a[m * sm + k * sk] * b[k * ldb + v * VEC ...] for M rows and NV vectors: the accumulators stay
// in registers over all of K; full vectors stored (c a scratch buffer whose rows are padded to whole vectors)
template <int M, int NV>
inline void attn_tile(const float* a, long sm, long sk, const float* b, long ldb, long K, float* c, long ldc) {
    tvf acc[M][NV];
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[m][v] = tvf{};
    for (long k = 0; k < K; ++k) {
        tvf bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = tload(b + k * ldb + v * TA_VEC);
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
            const tvf s = tvf{} + a[m * sm + k * sk];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[m][v] += s * bv[v];
        }
    }
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) tstore(c + m * ldc + v * TA_VEC, acc[m][v]);
}

template <int M, int NV>
inline void attn_tile_nv(int nv, const float* a, long sm, long sk, const float* b, long ldb, long K, float* c,
                         long ldc) {
    if constexpr (NV > 0) {
        if (nv == NV)
            attn_tile<M, NV>(a, sm, sk, b, ldb, K, c, ldc);
        else
            attn_tile_nv<M, NV - 1>(nv, a, sm, sk, b, ldb, K, c, ldc);
    }
}

template <int M>
inline void attn_rows(int rows, int nv, const float* a, long sm, long sk, const float* b, long ldb, long K, float* c,
                      long ldc) {
    if constexpr (M > 0) {
        if (rows == M)
            attn_tile_nv<M, TA_NV>(nv, a, sm, sk, b, ldb, K, c, ldc);
        else
            attn_rows<M - 1>(rows, nv, a, sm, sk, b, ldb, K, c, ldc);
    }
}

// C (rows <= MR, N) = A (rows, K) @ B (K, N), N a multiple of the vector width, B's rows ldb apart
inline void attn_product(long rows, const float* a, long sm, long sk, const float* b, long ldb, long K, long N,
                         float* c, long ldc) {
    for (long p = 0; p < N; p += TA_VEC * TA_NV) {
        const int nv = static_cast<int>(std::min<long>(TA_NV, (N - p) / TA_VEC));
        attn_rows<TA_MR>(static_cast<int>(rows), nv, a, sm, sk, b + p, ldb, K, c + p, ldc);
    }
}

// C (M, N) = A (M, K) @ B: row tiles of MR; ``k_from_row`` (causal dK/dV) starts each tile's K at its first row
inline void attn_product_rows(long M, const float* a, long sm, long sk, const float* b, long ldb, long K, long N,
                              float* c, long ldc, bool k_from_row) {
    for (long m0 = 0; m0 < M; m0 += TA_MR) {
        const long rows = std::min<long>(TA_MR, M - m0), k0 = k_from_row ? std::min(m0, K) : 0;
        attn_product(rows, a + m0 * sm + k0 * sk, sm, sk, b + k0 * ldb, ldb, K - k0, N, c + m0 * ldc, ldc);
    }
}

// The floats of scratch one head's forward (probs == nullptr or not) and backward need
inline long attention_forward_scratch(long L, long S, long D) {
    const long Sp = round_up(S, TA_VEC), Dp = round_up(D, TA_VEC);
    return D * Sp + S * Dp + TA_MR * Sp + TA_MR * Dp;
}
inline long attention_backward_scratch(long L, long S, long D) {
    const long Sp = round_up(S, TA_VEC), Dp = round_up(D, TA_VEC);
    return D * Sp + S * Dp + 2 * L * Dp + L * Sp + round_up(std::max(L, S), TA_MR) * Dp;
}

// rows x cols of src (rows ld apart) into dst (rows ldd apart), the columns up to ldd zeroed
inline void pack_rows(const float* src, long ld, long rows, long cols, float* dst, long ldd) {
    for (long r = 0; r < rows; ++r) {
        std::memcpy(dst + r * ldd, src + r * ld, cols * sizeof(float));
        std::fill(dst + r * ldd + cols, dst + (r + 1) * ldd, 0.0f);
    }
}
// the transpose of rows x cols of src (rows ld apart) into dst (cols x ldd), columns rows..ldd zeroed
inline void pack_transposed(const float* src, long ld, long rows, long cols, float* dst, long ldd) {
    for (long c = 0; c < cols; ++c) std::fill(dst + c * ldd + rows, dst + (c + 1) * ldd, 0.0f);
    for (long r = 0; r < rows; ++r)
        for (long c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * ld + c];
}

// One (batch, head) block of softmax(scale q k^T, causal: j <= i) v: q (L, D), k and v (S, D), out (L, D), rows
// qs/ks/vs/os floats apart, unit stride along D. The probabilities into probs (L, S, contiguous) when not null.
// Per tile of MR query rows: scores over the kept columns only, softmax in registers' scratch, product with v.
void attention_head_forward(const float* q, long qs, const float* k, long ks, const float* v, long vs, float* out,
                            long os, float* probs, long L, long S, long D, float scale, bool causal, float* work) {
    const long Sp = round_up(S, TA_VEC), Dp = round_up(D, TA_VEC);
    float* kt = work;            // D x Sp
    float* vp = kt + D * Sp;     // S x Dp
    float* st = vp + S * Dp;     // MR x Sp scores / probabilities of a row tile
    float* ot = st + TA_MR * Sp;  // MR x Dp output rows
    pack_transposed(k, ks, S, D, kt, Sp);
    pack_rows(v, vs, S, D, vp, Dp);
    for (long i0 = 0; i0 < L; i0 += TA_MR) {
        const long rows = std::min<long>(TA_MR, L - i0);
        const long kept_max = causal ? std::min(i0 + rows, S) : S;
        attn_product(rows, q + i0 * qs, qs, 1, kt, Sp, D, round_up(kept_max, TA_VEC), st, Sp);
        for (long r = 0; r < rows; ++r) {
            const long kept = causal ? std::min(i0 + r + 1, S) : S;
            tsoftmax_row(st + r * Sp, kept, kept_max, scale);  // zeros up to the tile's kept_max
            if (probs) {
                std::memcpy(probs + (i0 + r) * S, st + r * Sp, kept * sizeof(float));
                std::fill(probs + (i0 + r) * S + kept, probs + (i0 + r + 1) * S, 0.0f);
            }
        }
        attn_product(rows, st, Sp, 1, vp, Dp, kept_max, Dp, ot, Dp);
        for (long r = 0; r < rows; ++r) std::memcpy(out + (i0 + r) * os, ot + r * Dp, D * sizeof(float));
    }
}

// Its backward from the forward's probabilities p (L, S, contiguous) and the output's gradient g (L, D, rows gs
// apart): dv = p^T g, ds = scale p (dp - rowsum(p dp)) with dp = g v^T, dq = ds k, dk = ds^T q. Causal: each
// row tile of dp/dq stops at its last kept column, each of dk/dv starts at its first row i >= j.
void attention_head_backward(const float* q, long qs, const float* k, long ks, const float* v, long vs,
                             const float* p, const float* g, long gs, float* dq, long dqs, float* dk, long dks,
                             float* dv, long dvs, long L, long S, long D, float scale, bool causal, float* work) {
    const long Sp = round_up(S, TA_VEC), Dp = round_up(D, TA_VEC);
    float* vt = work;            // D x Sp
    float* kp = vt + D * Sp;     // S x Dp
    float* qp = kp + S * Dp;     // L x Dp
    float* gp = qp + L * Dp;     // L x Dp
    float* ds = gp + L * Dp;     // L x Sp
    float* ot = ds + L * Sp;     // max(L, S) rounded to MR, x Dp
    pack_transposed(v, vs, S, D, vt, Sp);
    pack_rows(k, ks, S, D, kp, Dp);
    pack_rows(q, qs, L, D, qp, Dp);
    pack_rows(g, gs, L, D, gp, Dp);
    // dv = p^T g: rows j of dv, K over the query rows i (from j when causal)
    attn_product_rows(S, p, 1, S, gp, Dp, L, Dp, ot, Dp, causal);
    for (long j = 0; j < S; ++j) std::memcpy(dv + j * dvs, ot + j * Dp, D * sizeof(float));
    for (long i0 = 0; i0 < L; i0 += TA_MR) {
        const long rows = std::min<long>(TA_MR, L - i0);
        const long kept_max = causal ? std::min(i0 + rows, S) : S;
        attn_product(rows, gp + i0 * Dp, Dp, 1, vt, Sp, D, round_up(kept_max, TA_VEC), ds + i0 * Sp, Sp);
        for (long r = 0; r < rows; ++r) {
            const long kept = causal ? std::min(i0 + r + 1, S) : S;
            attention_softmax_backward_row(p + (i0 + r) * S, ds + (i0 + r) * Sp, kept, Sp, scale);
        }
        attn_product(rows, ds + i0 * Sp, Sp, 1, kp, Dp, kept_max, Dp, ot + i0 * Dp, Dp);
    }
    for (long i = 0; i < L; ++i) std::memcpy(dq + i * dqs, ot + i * Dp, D * sizeof(float));
    // dk = ds^T q
    attn_product_rows(S, ds, 1, Sp, qp, Dp, L, Dp, ot, Dp, causal);
    for (long j = 0; j < S; ++j) std::memcpy(dk + j * dks, ot + j * Dp, D * sizeof(float));
}

// -- column sums (a Linear's bias gradient): out[j] = sum over the rows of x[i, j] -------------------------------
// Each row is read once, a block of NB vectors of columns at a time, into vector partial sums; every 64 rows the
// partial sums are added into the totals (a two-level cascade: rounding error ~(64 + rows / 64) ulp, not rows ulp)
constexpr long kSumBlockRows = 64;

template <int NB>
inline void column_block_sums(const float* x, long rows, long cols, float* out) {
    tvf total[NB];
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) total[v] = tvf{};
    for (long r0 = 0; r0 < rows; r0 += kSumBlockRows) {
        tvf part[NB];
#pragma GCC unroll 8
        for (int v = 0; v < NB; ++v) part[v] = tvf{};
        const long r1 = std::min(rows, r0 + kSumBlockRows);
        for (long r = r0; r < r1; ++r)
#pragma GCC unroll 8
            for (int v = 0; v < NB; ++v) part[v] += tload(x + r * cols + v * TA_VEC);
#pragma GCC unroll 8
        for (int v = 0; v < NB; ++v) total[v] += part[v];
    }
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) tstore(out + v * TA_VEC, total[v]);
}

// Sums of columns [c0, c1) of the (rows, cols) row-major x into out[c0 .. c1)
void column_sums_range(const float* x, long rows, long cols, float* out, long c0, long c1) {
    constexpr long kWide = 8 * TA_VEC;  // 8 vectors of partial sums and 8 of totals in registers
    long c = c0;
    for (; c + kWide <= c1; c += kWide) column_block_sums<8>(x + c, rows, cols, out + c);
    for (; c + TA_VEC <= c1; c += TA_VEC) column_block_sums<1>(x + c, rows, cols, out + c);
    for (; c < c1; ++c) {  // the last columns, fewer than a vector
        float total = 0.0f;
        for (long r0 = 0; r0 < rows; r0 += kSumBlockRows) {
            float part = 0.0f;
            for (long r = r0; r < std::min(rows, r0 + kSumBlockRows); ++r) part += x[r * cols + c];
            total += part;
        }
        out[c] = total;
    }
}

#undef TA_VEC
#undef TA_MR
#undef TA_NV
