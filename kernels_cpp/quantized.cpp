// Integer products of the quantized modules (family quantized): PyTorch's x86 (fbgemm) arithmetic, exact.
//
// qgemm(a, w, out, M, K, Kp, N, a_zero_point, a_signed, parallel) writes
//     out[m, n] = sum_k (a[m, k] - a_zero_point) * (W[n, k] - w_zero_point[n])          (int32, M x N)
// for a uint8 (quint8) or int8 (qint8) activation a (M x K, C-contiguous) and a weight W (N x K, qint8) that the
// caller centred on its zero points (per tensor or per output channel) and packed once as int16
// (torsh.ao.nn.quantized._kernels.packed_weight): panels of 32 output columns, each holding for every pair of
// k (Kp/2 pairs, Kp >= K a multiple of 32, the tail zeroed) the 32 columns' two values side by side, so that
// one pmaddwd multiplies a broadcast pair of a by 8 or 16 columns at once. fbgemm gets the same integers from
// uint8 x int8 products and row/column zero-point corrections; centred int16 operands give them directly:
// |a - zp| <= 255 and |W - zp| <= 255, so each pmaddwd pair sum fits int32, and the sums are exact wherever
// fbgemm's int32 accumulators are.
//
// a is centred into int16 rows of Kp once; then each block of rows x one 32-column panel is a register tile
// (AVX-512 VNNI: 8 rows x 32 columns in 16 accumulators, vpdpwssd; AVX2: 2 rows x 32 columns; the baseline
// copy: plain loops). OpenMP shares the (panel, row block) items from 2M multiply-adds (``parallel``); each
// output is one thread's sum in a fixed order: the same integers on any thread count and instruction set.
//
// Every size is checked against the buffers (ValueError naming the entry point and the buffer).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME quantized
#endif
#include "common.h"

namespace {

constexpr long kPanel = 32;               // output columns per packed weight panel
constexpr long kParallelMacs = 2L << 20;  // below this many multiply-adds one thread (an OpenMP wake-up ~30 us)
constexpr long kRowBlock = 64;            // rows of a per work item

// Rows [0, rows) of a (uint8 or int8, K a row) minus the zero point, as int16 rows of Kp (the tail zeroed)
template <class T>
void centre_rows(const T* a, long zero_point, int16_t* out, long rows, long K, long Kp) {
    const int16_t zp = static_cast<int16_t>(zero_point);
    for (long r = 0; r < rows; ++r) {
        const T* src = a + r * K;
        int16_t* dst = out + r * Kp;
        for (long k = 0; k < K; ++k) dst[k] = static_cast<int16_t>(static_cast<int16_t>(src[k]) - zp);
        for (long k = K; k < Kp; ++k) dst[k] = 0;
    }
}

// Stores ``cols`` (<= 32) of a tile row's 32 sums
inline void store_row(int32_t* out, const int32_t* sums, long cols) {
    std::memcpy(out, sums, static_cast<size_t>(cols) * sizeof(int32_t));
}

// -- the register tiles: ``rows`` centred rows of a (stride Kp) times one packed panel -> out (stride ldo) --
// Each takes at most its own row count; a tile routine covers the rows of a work item in steps.

// Plain loops (any x86-64): 4 rows at a time
void tile_plain(const int16_t* a, long rows, const int16_t* panel, long Kp, int32_t* out, long ldo, long cols) {
    for (long r0 = 0; r0 < rows; r0 += 4) {
        const long mr = std::min(4L, rows - r0);
        int32_t acc[4][kPanel] = {};
        for (long kk = 0; kk < Kp / 2; ++kk) {
            const int16_t* w = panel + kk * 2 * kPanel;
            for (long i = 0; i < mr; ++i) {
                const int32_t x0 = a[(r0 + i) * Kp + 2 * kk], x1 = a[(r0 + i) * Kp + 2 * kk + 1];
                for (long j = 0; j < kPanel; ++j) acc[i][j] += x0 * w[2 * j] + x1 * w[2 * j + 1];
            }
        }
        for (long i = 0; i < mr; ++i) store_row(out + (r0 + i) * ldo, acc[i], cols);
    }
}

#ifdef __AVX2__
// AVX2: 2 rows x 32 columns (8 accumulators of 8 columns), pmaddwd + paddd
template <int MR>
void tile_avx2_rows(const int16_t* a, const int16_t* panel, long Kp, int32_t* out, long ldo, long cols) {
    __m256i acc[MR][4];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = _mm256_setzero_si256();
    for (long kk = 0; kk < Kp / 2; ++kk) {
        const __m256i* w = reinterpret_cast<const __m256i*>(panel + kk * 2 * kPanel);
        const __m256i w0 = _mm256_loadu_si256(w), w1 = _mm256_loadu_si256(w + 1);
        const __m256i w2 = _mm256_loadu_si256(w + 2), w3 = _mm256_loadu_si256(w + 3);
        for (int i = 0; i < MR; ++i) {
            int32_t pair;
            std::memcpy(&pair, a + i * Kp + 2 * kk, sizeof(pair));
            const __m256i x = _mm256_set1_epi32(pair);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(x, w0));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(x, w1));
            acc[i][2] = _mm256_add_epi32(acc[i][2], _mm256_madd_epi16(x, w2));
            acc[i][3] = _mm256_add_epi32(acc[i][3], _mm256_madd_epi16(x, w3));
        }
    }
    alignas(32) int32_t sums[kPanel];
    for (int i = 0; i < MR; ++i) {
        for (int j = 0; j < 4; ++j) _mm256_store_si256(reinterpret_cast<__m256i*>(sums) + j, acc[i][j]);
        store_row(out + i * ldo, sums, cols);
    }
}

void tile_avx2(const int16_t* a, long rows, const int16_t* panel, long Kp, int32_t* out, long ldo, long cols) {
    long r = 0;
    for (; r + 2 <= rows; r += 2) tile_avx2_rows<2>(a + r * Kp, panel, Kp, out + r * ldo, ldo, cols);
    if (r < rows) tile_avx2_rows<1>(a + r * Kp, panel, Kp, out + r * ldo, ldo, cols);
}
#endif

#ifdef HAVE_AVX512_BUILD
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx512vnni")
// AVX-512 VNNI: up to 8 rows x 32 columns (16 accumulators of 16 columns), vpdpwssd (multiply pairs and add)
template <int MR>
void tile_vnni_rows(const int16_t* a, const int16_t* panel, long Kp, int32_t* out, long ldo, long cols) {
    __m512i acc[MR][2];
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    for (long kk = 0; kk < Kp / 2; ++kk) {
        const int16_t* w = panel + kk * 2 * kPanel;
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 32);
        for (int i = 0; i < MR; ++i) {
            int32_t pair;
            std::memcpy(&pair, a + i * Kp + 2 * kk, sizeof(pair));
            const __m512i x = _mm512_set1_epi32(pair);
            acc[i][0] = _mm512_dpwssd_epi32(acc[i][0], x, w0);
            acc[i][1] = _mm512_dpwssd_epi32(acc[i][1], x, w1);
        }
    }
    alignas(64) int32_t sums[kPanel];
    for (int i = 0; i < MR; ++i) {
        _mm512_store_si512(sums, acc[i][0]);
        _mm512_store_si512(sums + 16, acc[i][1]);
        store_row(out + i * ldo, sums, cols);
    }
}

void tile_vnni(const int16_t* a, long rows, const int16_t* panel, long Kp, int32_t* out, long ldo, long cols) {
    long r = 0;
    for (; r + 8 <= rows; r += 8) tile_vnni_rows<8>(a + r * Kp, panel, Kp, out + r * ldo, ldo, cols);
    const int16_t* ar = a + r * Kp;
    int32_t* o = out + r * ldo;
    switch (rows - r) {
        case 7: tile_vnni_rows<7>(ar, panel, Kp, o, ldo, cols); break;
        case 6: tile_vnni_rows<6>(ar, panel, Kp, o, ldo, cols); break;
        case 5: tile_vnni_rows<5>(ar, panel, Kp, o, ldo, cols); break;
        case 4: tile_vnni_rows<4>(ar, panel, Kp, o, ldo, cols); break;
        case 3: tile_vnni_rows<3>(ar, panel, Kp, o, ldo, cols); break;
        case 2: tile_vnni_rows<2>(ar, panel, Kp, o, ldo, cols); break;
        case 1: tile_vnni_rows<1>(ar, panel, Kp, o, ldo, cols); break;
        default: break;
    }
}
#pragma GCC pop_options
#endif

using Tile = void (*)(const int16_t*, long, const int16_t*, long, int32_t*, long, long);

struct Kernels {
    const char* isa;
    Tile tile;
};

#ifdef __AVX2__
const Kernels native_kernels{kNativeIsa, tile_avx2};
#else
const Kernels native_kernels{kNativeIsa, tile_plain};
#endif
#ifdef HAVE_AVX512_BUILD
const Kernels vnni_kernels{"avx512", tile_vnni};
#endif
const Kernels plain_kernels{"plain", tile_plain};  // the baseline copy's loops, in every copy (tests)
const Kernels* active = &native_kernels;

bool cpu_has_vnni() {
#ifdef HAVE_AVX512_BUILD
    return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

// The product of dims, or -1 when one is negative or it overflows (a wrapped count could pass a size check)
long count_of(std::initializer_list<long> dims) {
    long count = 1;
    for (long dim : dims)
        if (dim < 0 || __builtin_mul_overflow(count, dim, &count)) return -1;
    return count;
}

// Whether buf holds at least ``count`` items of ``itemsize`` bytes; otherwise a ValueError
// "<entry>: <name> holds <len> bytes, too few for the <count> <what> values asked for"
bool holds_items(const Py_buffer& buf, long count, long itemsize, const char* name, const char* what,
                 const char* entry = "qgemm") {
    if (count < 0 || buf.len / itemsize < count) {
        PyErr_Format(PyExc_ValueError, "%s: %s holds %zd bytes, too few for the %ld %s values asked for", entry,
                     name, buf.len, count, what);
        return false;
    }
    return true;
}

void product(Tile tile, const int16_t* a, const int16_t* w, int32_t* out, long M, long Kp, long N, bool parallel) {
    const long panels = (N + kPanel - 1) / kPanel, row_blocks = (M + kRowBlock - 1) / kRowBlock;
    const long items = panels * row_blocks;
#pragma omp parallel for schedule(static) if (parallel && items > 1)
    for (long item = 0; item < items; ++item) {
        // the panels inside: a block of a's rows stays in cache while every panel passes (the panels of a
        // layer's weight fit the L2; a's rows would be read again from memory for every panel otherwise)
        const long rb = item / panels, p = item % panels;
        const long m0 = rb * kRowBlock, rows = std::min(kRowBlock, M - m0);
        const long n0 = p * kPanel, cols = std::min(kPanel, N - n0);
        tile(a + m0 * Kp, rows, w + p * kPanel * Kp, Kp, out + m0 * N + n0, N, cols);
    }
}

// qgemm(a, w, out, M, K, Kp, N, a_zero_point, a_signed, parallel): see the top of the file
PyObject* qgemm(PyObject*, PyObject* args) {
    Py_buffer ab, wb, ob;
    long M, K, Kp, N, zp;
    int a_signed, parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*lllllpp", &ab, &wb, &ob, &M, &K, &Kp, &N, &zp, &a_signed, &parallel))
        return nullptr;
    HeldBuffers held{&ab, &wb, &ob};
    if (M < 0 || K < 0 || N < 0 || Kp < K || Kp % 32 != 0) {
        PyErr_Format(PyExc_ValueError,
                     "qgemm: sizes M=%ld, K=%ld, Kp=%ld, N=%ld (Kp must be a multiple of 32, at least K)", M, K, Kp, N);
        return nullptr;
    }
    if (a_signed ? (zp < -128 || zp > 127) : (zp < 0 || zp > 255)) {
        PyErr_Format(PyExc_ValueError, "qgemm: a_zero_point %ld is out of the %s range", zp,
                     a_signed ? "int8" : "uint8");
        return nullptr;
    }
    const long panels = (N + kPanel - 1) / kPanel;
    if (!holds_items(ab, count_of({M, K}), 1, "a", "int8") ||
        !holds_items(wb, count_of({panels, kPanel, Kp}), 2, "w", "int16") ||
        !holds_items(ob, count_of({M, N}), 4, "out", "int32"))
        return nullptr;
    const long a_count = count_of({M, Kp});
    if (a_count < 0 || a_count > PY_SSIZE_T_MAX / 2) return PyErr_NoMemory();
    // the calling thread's centred rows, kept between calls: a fresh buffer of a convolution's columns (MBs)
    // page-faulted on every call, which cost several times the product on the 2-core VM
    thread_local std::unique_ptr<int16_t[]> centred;
    thread_local long capacity = 0;
    if (a_count > capacity) {
        centred.reset(new (std::nothrow) int16_t[a_count]);
        capacity = centred ? a_count : 0;
        if (!centred) return PyErr_NoMemory();
    }
    const Tile tile = active->tile;
    const bool threads = parallel && count_of({M, Kp, N}) >= kParallelMacs;
    int16_t* ac = centred.get();
    Py_BEGIN_ALLOW_THREADS
    if (a_signed)
        centre_rows(static_cast<const int8_t*>(ab.buf), zp, ac, M, K, Kp);
    else
        centre_rows(static_cast<const uint8_t*>(ab.buf), zp, ac, M, K, Kp);
    product(tile, ac, static_cast<const int16_t*>(wb.buf), static_cast<int32_t*>(ob.buf), M, Kp, N, threads);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// -- the epilogues: int32 accumulators -> the layer's output, per output column n ------------------------
// Separate statements and no contraction: each product and sum rounds to float32 as NumPy's would (a fused
// multiply-add would round once and change ties).
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

// out[m, n] = clamp(nearbyint((float(acc) + bias_q[n]) * multiplier[n]) + zero_point, lo, 255) as uint8:
// fbgemm's requantization (bias_q = bias / (x_scale * w_scale[n]), multiplier = x_scale * w_scale[n] / out_scale)
// Written so that GCC vectorises it (vroundps): the rounded value plus the zero point is exact below 2^24 and
// clamps to an end above; a value out of int32's range or NaN gives ``lo``, as fbgemm's float -> int32
// conversion (INT32_MIN for those) clamped.
void requantize_rows(const int32_t* acc, const float* bias_q, const float* multiplier, uint8_t* out, long M,
                     long N, long zero_point, long lo) {
    const float zp = static_cast<float>(zero_point), low = static_cast<float>(lo);
    for (long m = 0; m < M; ++m)
        for (long n = 0; n < N; ++n) {
            const float raw = static_cast<float>(acc[m * N + n]) + bias_q[n];
            const float scaled = raw * multiplier[n];
            const bool finite = __builtin_fabsf(scaled) < 2147483648.0f;
            float q = __builtin_rintf(scaled) + zp;
            q = q >= low ? q : low;
            q = q <= 255.0f ? q : 255.0f;
            out[m * N + n] = static_cast<uint8_t>(static_cast<int32_t>(finite ? q : low));
        }
}

// out[m, n] = float(acc) * scale[n] + bias[n] (float32; fbgemm's ReQuantizeForFloat of a dynamic layer)
void dequantize_rows(const int32_t* acc, const float* scale, const float* bias, float* out, long M, long N) {
    for (long m = 0; m < M; ++m)
        for (long n = 0; n < N; ++n) {
            const float product = static_cast<float>(acc[m * N + n]) * scale[n];
            out[m * N + n] = bias ? product + bias[n] : product;
        }
}
#pragma GCC pop_options

// requantize(acc, bias_q, multiplier, out, M, N, zero_point, relu): see requantize_rows (lo = zero_point
// when relu, else 0)
PyObject* requantize(PyObject*, PyObject* args) {
    Py_buffer ab, bb, mb, ob;
    long M, N, zp;
    int relu;
    if (!PyArg_ParseTuple(args, "y*y*y*w*lllp", &ab, &bb, &mb, &ob, &M, &N, &zp, &relu)) return nullptr;
    HeldBuffers held{&ab, &bb, &mb, &ob};
    if (M < 0 || N < 0 || zp < 0 || zp > 255) {
        PyErr_Format(PyExc_ValueError, "requantize: sizes M=%ld, N=%ld or zero_point %ld out of range", M, N, zp);
        return nullptr;
    }
    const long count = count_of({M, N});
    const char* e = "requantize";
    if (!holds_items(ab, count, 4, "acc", "int32", e) || !holds_items(bb, N, 4, "bias_q", "float32", e) ||
        !holds_items(mb, N, 4, "multiplier", "float32", e) || !holds_items(ob, count, 1, "out", "uint8", e))
        return nullptr;
    Py_BEGIN_ALLOW_THREADS
    requantize_rows(static_cast<const int32_t*>(ab.buf), static_cast<const float*>(bb.buf),
                    static_cast<const float*>(mb.buf), static_cast<uint8_t*>(ob.buf), M, N, zp, relu ? zp : 0);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// dequantize(acc, scale, bias, out, M, N, has_bias): see dequantize_rows (bias unread without has_bias)
PyObject* dequantize(PyObject*, PyObject* args) {
    Py_buffer ab, sb, bb, ob;
    long M, N;
    int has_bias;
    if (!PyArg_ParseTuple(args, "y*y*y*w*llp", &ab, &sb, &bb, &ob, &M, &N, &has_bias)) return nullptr;
    HeldBuffers held{&ab, &sb, &bb, &ob};
    if (M < 0 || N < 0) {
        PyErr_Format(PyExc_ValueError, "dequantize: sizes M=%ld, N=%ld", M, N);
        return nullptr;
    }
    const long count = count_of({M, N});
    const char* e = "dequantize";
    if (!holds_items(ab, count, 4, "acc", "int32", e) || !holds_items(sb, N, 4, "scale", "float32", e) ||
        (has_bias && !holds_items(bb, N, 4, "bias", "float32", e)) || !holds_items(ob, count, 4, "out", "float32", e))
        return nullptr;
    Py_BEGIN_ALLOW_THREADS
    dequantize_rows(static_cast<const int32_t*>(ab.buf), static_cast<const float*>(sb.buf),
                    has_bias ? static_cast<const float*>(bb.buf) : nullptr, static_cast<float*>(ob.buf), M, N);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// set_isa(name): "avx512" (VNNI) where the CPU has it, this copy's own loops ("avx2" or "baseline"), or "plain"
// (the baseline copy's loops); returns the previous name. For tests of every build.
PyObject* set_isa(PyObject*, PyObject* args) {
    const char* name;
    if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
    const char* previous = active->isa;
#ifdef HAVE_AVX512_BUILD
    if (std::strcmp(name, "avx512") == 0 && cpu_has_vnni()) {
        active = &vnni_kernels;
        return PyUnicode_FromString(previous);
    }
#endif
    if (std::strcmp(name, native_kernels.isa) == 0) {
        active = &native_kernels;
    } else if (std::strcmp(name, plain_kernels.isa) == 0) {
        active = &plain_kernels;
    } else {
        PyErr_Format(PyExc_ValueError, "set_isa: %s is not available here (this copy has %s, plain%s)", name,
                     native_kernels.isa, cpu_has_vnni() ? " and avx512" : "");
        return nullptr;
    }
    return PyUnicode_FromString(previous);
}

PyMethodDef methods[] = {
    {"qgemm", qgemm, METH_VARARGS,
     "qgemm(a, w, out, M, K, Kp, N, a_zero_point, a_signed, parallel): out[m, n] = sum_k (a[m, k] - a_zero_point)"
     " * W[n, k], int32 (exact), for a uint8/int8 a (M x K) and W centred and packed as int16 panels."},
    {"requantize", requantize, METH_VARARGS,
     "requantize(acc, bias_q, multiplier, out, M, N, zero_point, relu): int32 accumulators -> quint8 outputs."},
    {"dequantize", dequantize, METH_VARARGS,
     "dequantize(acc, scale, bias, out, M, N, has_bias): int32 accumulators -> float32 outputs (dynamic layers)."},
    {"set_isa", set_isa, METH_VARARGS, "set_isa(name): use the loops of another instruction set (tests)."},
    {nullptr, nullptr, 0, nullptr, }};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) {
#ifdef HAVE_AVX512_BUILD
    if (cpu_has_vnni()) active = &vnni_kernels;
#endif
    return module_with_isa(&module, active->isa);
}
