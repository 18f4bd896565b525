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
