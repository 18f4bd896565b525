// The float32 LSTM recurrence for one instruction set: lstm_cell.cpp includes this file once per
// instruction set, each time inside its own namespace and #pragma GCC target region, with
//   VEC  floats per vector register (4 SSE2, 8 AVX2, 16 AVX-512)
//   MR   rows of the output a GEMM tile holds in registers
//   NV   vectors per tile row (a tile is MR x NR, NR = NV * VEC columns)
// The code uses GCC vector types, so the one source compiles to each instruction set. No #include
// of its own but cephes_exp.h: the includer provides <algorithm>, <cmath>, <cstdint> and <cstring>.

typedef float vf __attribute__((vector_size(VEC * 4), aligned(4)));  // aligned(4): unaligned loads
typedef int vi __attribute__((vector_size(VEC * 4), aligned(4)));

constexpr long NR = VEC * NV;
inline long tile_rows() { return MR; }  // rows of a full GEMM tile: where a split of the batch may fall

inline vf load(const float* p) { return *reinterpret_cast<const vf*>(p); }
inline void store(float* p, vf v) { *reinterpret_cast<vf*>(p) = v; }
inline vf load_n(const float* p, long n) {
    vf v = {};
    std::memcpy(&v, p, n * sizeof(float));
    return v;
}
inline void store_n(float* p, vf v, long n) { std::memcpy(p, &v, n * sizeof(float)); }
inline vf splat(float s) { return vf{} + s; }

// -- the GEMM: C (M x N) (+)= A (M x K) @ B, A(m, k) = a[m * sm + k * sk], B packed once ------------

// Floats of B (K x N) packed: column panels of NR, the last one zero-padded.
inline long packed_size(long K, long N) { return K * ((N + NR - 1) / NR) * NR; }

// Panels q0 .. q1 - 1 of pack() below into ``packed`` (the whole packed buffer): the share of one thread
inline long panels(long N) { return (N + NR - 1) / NR; }
void pack_panels(const float* b, long K, long N, bool transposed, long q0, long q1, float* packed) {
    float* out = packed + q0 * K * NR;
    for (long p = q0 * NR; p < std::min(N, q1 * NR); p += NR, out += K * NR) {
        const long cols = std::min(NR, N - p);
        if (cols < NR) std::memset(out, 0, K * NR * sizeof(float));
        if (transposed) {  // column p + j of B is a row of b: read it in order
            for (long j = 0; j < cols; ++j)
                for (long k = 0; k < K; ++k) out[k * NR + j] = b[(p + j) * K + k];
        } else {  // row k of the panel is a piece of row k of b
            for (long k = 0; k < K; ++k) std::memcpy(out + k * NR, b + k * N + p, cols * sizeof(float));
        }
    }
}

// B(k, n) = b[k * N + n], or b[n * K + k] when ``transposed``, packed panel by panel: panel p holds
// columns p*NR .. p*NR + NR - 1, row k of the panel at k * NR, so a tile reads B contiguously.
void pack(const float* b, long K, long N, bool transposed, float* out) {
    pack_panels(b, K, N, transposed, 0, panels(N), out);
}

// One M x NR tile (``cols`` <= NR columns kept): the accumulators stay in registers over all of K.
// Short tiles (a batch of one or two rows) keep KS sets of accumulators over interleaved k, so
// that the FMAs do not wait on each other's latency; the sets are summed at the end.
template <int M>
inline void tile(const float* a, long sm, long sk, const float* panel, long K, float* c, long ldc, long cols,
                 bool add) {
    constexpr int KS = M <= 2 ? 4 : 1;
    vf acc[KS][M][NV];
    const bool full = cols == NR;
#pragma GCC unroll 4
    for (int q = 0; q < KS; ++q)
#pragma GCC unroll 16
        for (int m = 0; m < M; ++m)
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) acc[q][m][v] = q == 0 && add && full ? load(c + m * ldc + v * VEC) : vf{};
    long k = 0;
    for (; k + KS <= K; k += KS) {
#pragma GCC unroll 4
        for (int q = 0; q < KS; ++q) {
            vf b[NV];
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) b[v] = load(panel + (k + q) * NR + v * VEC);
#pragma GCC unroll 16
            for (int m = 0; m < M; ++m) {
                const vf s = splat(a[m * sm + (k + q) * sk]);
#pragma GCC unroll 8
                for (int v = 0; v < NV; ++v) acc[q][m][v] += s * b[v];
            }
        }
    }
    for (; k < K; ++k)
        for (int m = 0; m < M; ++m) {
            const vf s = splat(a[m * sm + k * sk]);
            for (int v = 0; v < NV; ++v) acc[0][m][v] += s * load(panel + k * NR + v * VEC);
        }
    for (int q = 1; q < KS; ++q)
        for (int m = 0; m < M; ++m)
            for (int v = 0; v < NV; ++v) acc[0][m][v] += acc[q][m][v];
    if (full) {
        for (int m = 0; m < M; ++m)
            for (int v = 0; v < NV; ++v) store(c + m * ldc + v * VEC, acc[0][m][v]);
        return;
    }
    for (int m = 0; m < M; ++m) {  // the last, narrower panel
        float row[NR];
        for (int v = 0; v < NV; ++v) store(row + v * VEC, acc[0][m][v]);
        for (long j = 0; j < cols; ++j) c[m * ldc + j] = add ? c[m * ldc + j] + row[j] : row[j];
    }
}

// The rows left below MR: a tile of exactly that height (R counts down to 1).
template <int R>
inline void tail_tile(long rows, const float* a, long sm, long sk, const float* panel, long K, float* c, long ldc,
                      long cols, bool add) {
    if constexpr (R > 0) {
        if (rows == R)
            tile<R>(a, sm, sk, panel, K, c, ldc, cols, add);
        else
            tail_tile<R - 1>(rows, a, sm, sk, panel, K, c, ldc, cols, add);
    }
}

// Most rows of K per pass of the GEMM: a panel's block of B (at most KC x NR) stays in L1 while every
// row tile of A passes over it, and the block of A stays in L2 for the next panel. W9's weight
// gradient of W_hh (512 x 1600 @ 1600 x 128, A transposed): 1.32 ms in one pass over K, 0.86-0.89 ms
// in blocks of 256-512; its products with K = 512 (input gradient, backward steps) lost 5-15% in two
// blocks of 256, so K is cut in equal blocks of at most 512.
constexpr long KC = 512;

// C = A @ B, or C += A @ B when ``add``; bp from pack(). The blocks of K after the first add to C:
// a full tile's sums run in the same order as in one pass (same bits).
void gemm(const float* a, long sm, long sk, const float* bp, long M, long K, long N, float* c, long ldc, bool add) {
    const long blocks = std::max(1L, (K + KC - 1) / KC);
    for (long b = 0; b < blocks; ++b) {  // K == 0: one pass writes C = 0 (or leaves it)
        const long k0 = K * b / blocks, kc = K * (b + 1) / blocks - k0;
        const bool accumulate = add || b > 0;
        const float* a_block = a + k0 * sk;
        for (long p = 0; p < N; p += NR) {
            const long cols = std::min(NR, N - p);
            const float* panel = bp + p * K + k0 * NR;
            long m = 0;
            for (; m + MR <= M; m += MR)
                tile<MR>(a_block + m * sm, sm, sk, panel, kc, c + m * ldc + p, ldc, cols, accumulate);
            tail_tile<MR - 1>(M - m, a_block + m * sm, sm, sk, panel, kc, c + m * ldc + p, ldc, cols, accumulate);
        }
    }
}

// -- exp, sigmoid, tanh on vectors (Cephes' single-precision polynomials, ~1 ulp) ----------------
inline vf vmax(vf a, vf b) { return a > b ? a : b; }
inline vf vmin(vf a, vf b) { return a < b ? a : b; }

#include "cephes_exp.h"

inline vf exp_v(vf x) {
    x = vmin(vmax(x, splat(-87.3f)), splat(88.3f));  // 2^n stays a normal float; NaN passes through
    const vf t = x * 1.44269504088896341f + 12582912.0f;  // n = round(x / ln 2) in t's low mantissa bits
    const vf n = t - 12582912.0f;
    const vf p = exp_reduced(x, n);
    const vi two_n = ((vi)t - 0x4B400000 + 127) << 23;  // C casts between vector types keep the bits
    return p * (vf)two_n;
}

inline vf sigmoid_v(vf x) { return 1.0f / (1.0f + exp_v(-x)); }

inline vf tanh_v(vf x) {
    const vf ax = x < 0.0f ? -x : x;
    const vf big = 1.0f - 2.0f / (exp_v(2.0f * ax) + 1.0f);  // no cancellation for |x| >= 0.625
    const vf z = x * x;
    vf p = splat(-5.70498872745e-3f);
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const vf small = p * z * x + x;
    return ax < 0.625f ? small : (x < 0.0f ? -big : big);
}

// -- the cell ----------------------------------------------------------------------------------

// Forward of ``n`` (<= VEC) hidden units of one row: act holds the pre-activations of the four
// gates (at 0, H, 2H, 3H) and leaves with sigmoid(i), sigmoid(f), tanh(g), sigmoid(o).
inline void forward_units(float* act, const float* c_prev, float* c, float* tc, float* h, long H, long n) {
    const bool full = n == VEC;
    auto get = [&](const float* p) { return full ? load(p) : load_n(p, n); };
    auto put = [&](float* p, vf v) { full ? store(p, v) : store_n(p, v, n); };
    const vf i = sigmoid_v(get(act)), f = sigmoid_v(get(act + H)), g = tanh_v(get(act + 2 * H)),
             o = sigmoid_v(get(act + 3 * H));
    const vf cell = f * get(c_prev) + i * g;
    const vf t = tanh_v(cell);
    put(act, i);
    put(act + H, f);
    put(act + 2 * H, g);
    put(act + 3 * H, o);
    put(c, cell);
    put(tc, t);
    put(h, o * t);
}

void forward_row(float* act, const float* c_prev, float* c, float* tc, float* h, long H) {
    long j = 0;
    for (; j + VEC <= H; j += VEC) forward_units(act + j, c_prev + j, c + j, tc + j, h + j, H, VEC);
    if (j < H) forward_units(act + j, c_prev + j, c + j, tc + j, h + j, H, H - j);
}

// Backward of one row. dh (H) holds the recurrent gradient of h and leaves as the total with gout,
// the output's gradient; dc enters as the cell gradient and leaves as that of c_prev; act the four
// activations, tc = tanh(c). Writes the pre-activation gate gradients dg (4H) and, when SUM, adds
// them to ``dg_sum`` (4H): the row's share of the bias gradient, summed while dg is in registers.
template <bool SUM>
void backward_row(float* dh, const float* gout, float* dc, const float* act, const float* c_prev, const float* tc,
                  float* dg, float* dg_sum, long H) {
    const float* i_gate = act;
    const float* f_gate = act + H;
    const float* g_gate = act + 2 * H;
    const float* o_gate = act + 3 * H;
#pragma GCC ivdep
    for (long j = 0; j < H; ++j) {
        const float d = dh[j] + gout[j];
        const float i = i_gate[j], f = f_gate[j], g = g_gate[j], o = o_gate[j], t = tc[j];
        const float cell = dc[j] + d * o * (1.0f - t * t);
        dh[j] = d;
        const float di = cell * g * i * (1.0f - i), df = cell * c_prev[j] * f * (1.0f - f),
                    dgg = cell * i * (1.0f - g * g), d_o = d * t * o * (1.0f - o);
        dg[j] = di;
        dg[H + j] = df;
        dg[2 * H + j] = dgg;
        dg[3 * H + j] = d_o;
        if constexpr (SUM) {
            dg_sum[j] += di;
            dg_sum[H + j] += df;
            dg_sum[2 * H + j] += dgg;
            dg_sum[3 * H + j] += d_o;
        }
        dc[j] = cell * f;
    }
}

// -- the whole sequence -------------------------------------------------------------------------

// The input gates of the batch rows r0 .. r1 - 1 at time t, projected into ``act`` (their rows of acts):
// bias + x_t W_ih^T (``wih_t`` = pack(W_ih, transposed), bias null for none). Projected step by step, the
// rows are in cache for the recurrent product that adds to them, and no (T, B, 4H) gx is written and read back.
struct InputGates {
    const float *x, *wih_t, *bias;
    long F;
    void into(float* act, long t, long B, long r0, long r1, long G) const {
        if (bias)
            for (long r = r0; r < r1; ++r) std::memcpy(act + (r - r0) * G, bias, G * sizeof(float));
        gemm(x + (t * B + r0) * F, F, 1, wih_t, r1 - r0, F, G, act, G, bias != nullptr);
    }
};

// The forward recurrence over all T steps (step n is time t = n, or T - 1 - n when ``reverse``) for the
// batch rows r0 .. r1 - 1: rows never mix in a recurrence, so a split of the rows needs no synchronisation
// between steps. Operands as lstm_layer_forward in lstm_cell.cpp; ``whh_t`` = pack(W_hh, transposed); the
// input gates from x, wih_t, bias (InputGates).
void forward_steps(const float* whh_t, const float* x, const float* wih_t, const float* bias, long F, const float* h0,
                   const float* c0, float* acts, float* cells, float* tanh_cells, float* outputs, long T, long B,
                   long H, bool reverse, long r0, long r1) {
    const long G = 4 * H;
    const InputGates in{x, wih_t, bias, F};
    for (long n = 0; n < T; ++n) {
        const long t = reverse ? T - 1 - n : n;
        const long prev = reverse ? t + 1 : t - 1;
        const float* h_prev = (n == 0 ? h0 : outputs + prev * B * H) + r0 * H;
        const float* c_prev = (n == 0 ? c0 : cells + prev * B * H) + r0 * H;
        float* act = acts + (t * B + r0) * G;
        in.into(act, t, B, r0, r1, G);
        gemm(h_prev, H, 1, whh_t, r1 - r0, H, G, act, G, true);
        for (long r = r0; r < r1; ++r)
            forward_row(act + (r - r0) * G, c_prev + (r - r0) * H, cells + (t * B + r) * H,
                        tanh_cells + (t * B + r) * H, outputs + (t * B + r) * H, H);
    }
}

// The backward recurrence over all T steps, last visited to first, for the batch rows r0 .. r1 - 1;
// ``whh`` = pack(W_hh). ``dg_sums`` (B, 4H), when not null, gathers each row's gate gradients over
// the steps (bias gradient); ``wih`` = pack(W_ih), when not null, gives d x (T, B, F) = d gates W_ih
// step by step, while the step's gate gradients are in cache.
void backward_steps(const float* whh, const float* gout, float* dh, float* dc, const float* acts, const float* cells,
                    const float* tanh_cells, const float* c0, float* d_gates, long T, long B, long H, bool reverse,
                    long r0, long r1, float* dg_sums, const float* wih, float* d_x, long F) {
    const long G = 4 * H;
    for (long n = T - 1; n >= 0; --n) {
        const long t = reverse ? T - 1 - n : n;
        const long prev = reverse ? t + 1 : t - 1;
        const float* c_prev = n == 0 ? c0 : cells + prev * B * H;
        float* dg = d_gates + t * B * G;
        for (long r = r0; r < r1; ++r) {
            const long at = (t * B + r);
            if (dg_sums)
                backward_row<true>(dh + r * H, gout + at * H, dc + r * H, acts + at * G, c_prev + r * H,
                                   tanh_cells + at * H, dg + r * G, dg_sums + r * G, H);
            else
                backward_row<false>(dh + r * H, gout + at * H, dc + r * H, acts + at * G, c_prev + r * H,
                                    tanh_cells + at * H, dg + r * G, nullptr, H);
        }
        if (wih) gemm(dg + r0 * G, G, 1, wih, r1 - r0, G, F, d_x + (t * B + r0) * F, F, false);
        gemm(dg + r0 * G, G, 1, whh, r1 - r0, G, H, dh + r0 * H, H, false);
    }
}

// Rows t0*B .. t1*B - 1 (steps t0 .. t1 - 1) of pack() of the (T*B, F + H) matrix whose row t*B + r is
// x's row beside the hidden state step t multiplied with W_hh (h0's row r for the direction's first
// step): the right-hand operand of the weight gradients [d W_ih | d W_hh] = d_gates^T [x | h_prev],
// packed straight from x, h0 and outputs (no joined copy). Threads pack even shares of the steps.
void pack_inputs(const float* x, const float* h0, const float* outputs, long T, long B, long F, long H, bool reverse,
                 long t0, long t1, float* out) {
    const long K = T * B, N = F + H;
    for (long p = 0; p < N; p += NR) {
        float* panel = out + p * K;
        const long cols = std::min(NR, N - p);
        const long from_x = std::max(0L, std::min(F - p, cols));  // the panel's columns taken from x
        for (long t = t0; t < t1; ++t) {
            const bool first_step = reverse ? t == T - 1 : t == 0;
            const float* h_prev = first_step ? h0 : outputs + (reverse ? t + 1 : t - 1) * B * H;
            for (long r = 0; r < B; ++r) {
                float* row = panel + (t * B + r) * NR;
                if (from_x) std::memcpy(row, x + (t * B + r) * F + p, from_x * sizeof(float));
                if (cols > from_x) std::memcpy(row + from_x, h_prev + r * H + (p + from_x - F),
                                               (cols - from_x) * sizeof(float));
                if (cols < NR) std::memset(row + cols, 0, (NR - cols) * sizeof(float));
            }
        }
    }
}

