// The float32 LSTM for torsh._ops.nn.rnn.fused_layer (family lstm_cell): a layer direction's whole forward
// and backward recurrence (lstm_layer_forward / lstm_layer_backward), and the GEMM of its other products.
//
// Why C++: a time step is one small GEMM (W9: 32 x 128 @ 128 x 512) and the cell's elementwise
// work. Driven from Python, each step paid NumPy's call overhead, OpenBLAS packing W_hh again
// (and its AVX2 kernel even on AVX-512 CPUs) and a Pythran cell step of ~20 us (five exp passes).
// Here W_hh is packed once per sequence (pack_weight), the GEMM keeps its tile in registers
// (lstm_seq_impl.h) and the cell uses vectorised exp/tanh polynomials, so a whole sequence runs
// without returning to Python. Built twice like the other families (baseline and x86-64-v3
// copies); the x86-64-v3 copy also holds an AVX-512 build of the recurrence, chosen at import
// when the CPU has AVX-512 (ISA says which one runs). Float64 stays on the Pythran kernels.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <omp.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME lstm_cell
#endif
#include "common.h"
#include "spin_team.h"

// One build of the recurrence per instruction set (see lstm_seq_impl.h for VEC, MR, NV)
#ifdef __AVX2__
#define VEC 8
#define MR 6
#define NV 2
#define NATIVE_ISA "avx2"
#else
#define VEC 4
#define MR 6
#define NV 2
#define NATIVE_ISA "sse2"
#endif
namespace {  // internal linkage: direct calls, no PLT
namespace native {
#include "lstm_seq_impl.h"
}
}  // namespace
#undef VEC
#undef MR
#undef NV

#ifdef HAVE_AVX512_BUILD  // common.h
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw")
#define VEC 16
#define MR 8
#define NV 2
namespace {
namespace avx512 {
#include "lstm_seq_impl.h"
}
}  // namespace
#undef VEC
#undef MR
#undef NV
#pragma GCC pop_options
#endif

namespace {

// The build of the recurrence this CPU runs, chosen once at import
struct Recurrence {
    const char* isa;
    long (*packed_size)(long, long);
    void (*pack)(const float*, long, long, bool, float*);
    void (*forward_steps)(const float*, const float*, const float*, const float*, long, const float*, const float*,
                          float*, float*, float*, float*, long, long, long, bool, long, long);
    void (*backward_steps)(const float*, const float*, float*, float*, const float*, const float*, const float*,
                           const float*, float*, long, long, long, bool, long, long, float*, const float*, float*,
                           long);
    void (*gemm)(const float*, long, long, const float*, long, long, long, float*, long, bool);
    long (*tile_rows)();
    void (*pack_inputs)(const float*, const float*, const float*, long, long, long, long, bool, long, long, float*);
    long (*panels)(long);
    void (*pack_panels)(const float*, long, long, bool, long, long, float*);
};

#define RECURRENCE(ns, name)                                                                                     \
    {name,         ns::packed_size, ns::pack,        ns::forward_steps, ns::backward_steps, ns::gemm, ns::tile_rows, \
     ns::pack_inputs, ns::panels,   ns::pack_panels}
Recurrence recurrence = RECURRENCE(native, NATIVE_ISA);

void choose_recurrence() {
#ifdef HAVE_AVX512_BUILD
    if (cpu_has_avx512()) recurrence = RECURRENCE(avx512, "avx512");
#endif
}

// ``part(r0, r1)`` over the rows 0 .. rows - 1 of gemm's C cut into at most ``threads`` parts, on OpenMP
// threads when there are several. The cuts fall on multiples of the GEMM's tile height: every row goes
// through the same tile (and summation order) as in one part, so the results do not depend on
// ``threads``. The caller picks ``threads`` (1 in a fork child, whose OpenMP workers are gone).
template <class Part>
void over_row_parts(long rows, long threads, Part part) {
    const long tile = recurrence.tile_rows();
    const long tiles = (rows + tile - 1) / tile;
    const long parts = std::max(1L, std::min(threads, tiles));
    if (parts == 1) {
        part(0, rows);
        return;
    }
#pragma omp parallel for num_threads(parts) schedule(static)
    for (long p = 0; p < parts; ++p)
        part(std::min(rows, tiles * p / parts * tile), std::min(rows, tiles * (p + 1) / parts * tile));
}

// Part p of ``count`` items cut into ``parts`` on multiples of ``tile`` (over_row_parts' cuts)
inline long cut(long count, long tile, long parts, long p) {
    const long tiles = (count + tile - 1) / tile;
    return std::min(count, tiles * p / parts * tile);
}

// A barrier used once by the ``n`` threads of a region. It spins a little: the threads run side by
// side and arrive close together (their shares are even), and libgomp's own barrier sleeps in the
// kernel under torsh's OMP_WAIT_POLICY=PASSIVE (waking a thread costs tens of us on this VM). Past
// that (a late thread waiting for a core other processes hold) it sleeps in short naps, leaving the
// core to the thread it waits for.
struct Arrivals {
    std::atomic<long> count{0};
    void wait(long n) {
        count.fetch_add(1, std::memory_order_acq_rel);
        for (long spins = 0; count.load(std::memory_order_acquire) < n; ++spins) {
#if defined(__x86_64__) || defined(__i386__)
            if (spins < 4000) {  // ~10-50 us of pause instructions
                __builtin_ia32_pause();
                continue;
            }
#endif
            const timespec nap{0, 20000};
            nanosleep(&nap, nullptr);
        }
    }
};

// ``body(p, parts)`` on each thread of one OpenMP region of up to ``parts`` threads (the team may be
// smaller: ``parts`` is then the team's size), or on this thread alone when ``parts`` is 1
template <class Body>
void in_one_region(long parts, Body body) {
    if (parts <= 1) {
        body(0L, 1L);
        return;
    }
#pragma omp parallel num_threads(parts)
    body((long)omp_get_thread_num(), (long)omp_get_num_threads());
}

// A float32 scratch buffer the recurrence packs or sums into (its contents start undefined)
inline std::unique_ptr<float[]> scratch(long count) { return std::unique_ptr<float[]>(new float[std::max(1L, count)]); }

// product = a * b * c, false (and a ValueError) when negative or when the bytes would overflow (float_count)
bool product(const char* op, long a, long b, long c, long* out) {
    *out = float_count({a, b, c});
    if (*out < 0) PyErr_Format(PyExc_ValueError, "%s: negative or too large shape", op);
    return *out >= 0;
}

// pack_weight(w, rows, cols, transposed) -> bytearray: the (rows, cols) C-contiguous float32 matrix
// w as the right-hand GEMM operand of the recurrence, packed for this CPU's build: w itself
// (K = rows, N = cols), or w^T when ``transposed``: gemm's right-hand operand, pack_weight(B, K, N, False).
PyObject* pack_weight(PyObject*, PyObject* args) {
    Py_buffer w;
    long rows, cols;
    int transposed;
    if (!PyArg_ParseTuple(args, "y*llp", &w, &rows, &cols, &transposed)) return nullptr;
    const HeldBuffers held{&w};
    long count = 0, size = 0;
    bool ok = product("pack_weight", rows, cols, 1, &count) && holds_exactly(w, count, "w", "pack_weight");
    const long K = transposed ? cols : rows, N = transposed ? rows : cols;
    // the packed size pads N to a panel: it must not overflow either
    ok = ok && product("pack_weight", K, N + 64, 1, &size);
    PyObject* out = nullptr;
    if (ok) out = PyByteArray_FromStringAndSize(nullptr, recurrence.packed_size(K, N) * (Py_ssize_t)sizeof(float));
    if (out) recurrence.pack(static_cast<const float*>(w.buf), K, N, transposed, (float*)PyByteArray_AS_STRING(out));
    return out;
}

// The shapes of a layer call: steps T, rows B, hidden H; sets the element counts of the (T, B, 4H),
// (T, B, H) and (B, H) operands.
struct Shapes {
    long steps, rows, hidden;
    long gates_all, units_all, state;
    bool check(const char* op) {
        return product(op, steps, rows, hidden, &units_all) && product(op, units_all, 4, 1, &gates_all) &&
               product(op, rows, hidden, 1, &state);
    }
};

bool holds_packed(const char* op, const Py_buffer& buf, long K, long N) {
    if (buf.len != recurrence.packed_size(K, N) * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "%s: the packed weight holds %zd bytes, expected %ld float32 values of a "
                     "%ld x %ld pack_weight", op, buf.len, recurrence.packed_size(K, N), K, N);
        return false;
    }
    return true;
}

// gemm(a, b_packed, c, M, K, N, a_row_stride, a_col_stride, add[, threads]): C = A @ B (C += A @ B
// when ``add``) in the recurrence's GEMM, for the layer's other products (input projection, weight
// gradients). A(m, k) = a[m * a_row_stride + k * a_col_stride] (strides in floats, so A may be a
// transposed view), b_packed = pack_weight(B, K, N, False), c (M, N) C-contiguous. ``threads``
// (default 1): the rows of C are shared among up to that many threads, cut on tile boundaries as
// the recurrence's rows (over_row_parts), so the results do not depend on it.
PyObject* gemm(PyObject*, PyObject* args) {
    const char* op = "gemm";
    Py_buffer a, bp, c;
    long M, K, N, sm, sk;
    int add;
    long threads = 1;
    if (!PyArg_ParseTuple(args, "y*y*w*lllllp|l", &a, &bp, &c, &M, &K, &N, &sm, &sk, &add, &threads))
        return nullptr;
    const HeldBuffers held{&a, &bp, &c};
    long c_count = 0, b_count = 0, a_last = 0, a_last_k = 0;
    bool ok = product(op, M, N, 1, &c_count) && product(op, K, N, 1, &b_count) && holds_exactly(c, c_count, "c", op) &&
              holds_packed(op, bp, K, N);
    // the last element A reads, (M - 1) * sm + (K - 1) * sk, lies within a
    if (ok && M > 0 && K > 0) {
        ok = product(op, M - 1, sm, 1, &a_last) && product(op, K - 1, sk, 1, &a_last_k) &&
             !__builtin_add_overflow(a_last, a_last_k, &a_last);
        if (!ok)
            PyErr_Format(PyExc_ValueError, "%s: negative or too large strides", op);
        else if (a.len / (Py_ssize_t)sizeof(float) <= a_last) {
            PyErr_Format(PyExc_ValueError, "%s: a holds %zd bytes, the strides read element %ld", op, a.len, a_last);
            ok = false;
        }
    }
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        over_row_parts(M, threads, [&](long r0, long r1) {
            recurrence.gemm((const float*)a.buf + r0 * sm, sm, sk, (const float*)bp.buf, r1 - r0, K, N,
                            (float*)c.buf + r0 * N, N, add);
        });
        Py_END_ALLOW_THREADS
    }
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

// One matmul call's work, shared by the threads that run it: B packed one panel per item (phase 0), then C's rows
// in blocks of whole GEMM tiles (phase 1, once every panel is packed). Each row of C goes through the same tile and
// summation order whichever thread takes its block: the results do not depend on the thread count or the schedule.
struct MatmulJob {
    const float *a, *b;
    float *packed, *c;
    long sm, sk, M, K, N, panel_count, rows_per_item, row_items;
    bool transposed;
    std::atomic<long> next_panel{0}, panels_done{0}, next_rows{0};

    void run_share() {
        for (long q; (q = next_panel.fetch_add(1, std::memory_order_relaxed)) < panel_count;) {
            recurrence.pack_panels(b, K, N, transposed, q, q + 1, packed);
            panels_done.fetch_add(1, std::memory_order_release);
        }
        SpinTeam::wait_for(panels_done, panel_count);
        for (long i; (i = next_rows.fetch_add(1, std::memory_order_relaxed)) < row_items;) {
            const long r0 = i * rows_per_item, r1 = std::min(M, r0 + rows_per_item);
            recurrence.gemm(a + r0 * sm, sm, sk, packed, r1 - r0, K, N, c + r0 * N, N, false);
        }
    }
};

// Row blocks per thread of a matmul on several: enough that a helper joining late still finds some, few enough
// that each is tens of microseconds at W13's sizes (512 rows: 16 blocks of 32 rows on two threads)
constexpr long kRowItemsPerThread = 8;

// matmul(a, b, c, M, K, N, a_row_stride, a_col_stride, b_transposed, threads): C = A @ B in the recurrence's GEMM,
// B packed inside the call (pack_weight's layout, into a scratch buffer): A(m, k) = a[m * a_row_stride +
// k * a_col_stride] (strides in floats: A may be a transposed view), B(k, n) = b[k * N + n], or b[n * K + k] when
// ``b_transposed`` (weight.t() of a C-contiguous weight), c (M, N) C-contiguous. With ``threads`` > 1 the packing
// and C's row blocks are shared on the spinning team (spin_team.h) with up to threads - 1 helpers; the results are
// the same bits as on one thread.
PyObject* matmul(PyObject*, PyObject* args) {
    const char* op = "matmul";
    Py_buffer a, b, c;
    long M, K, N, sm, sk, threads;
    int transposed;
    if (!PyArg_ParseTuple(args, "y*y*w*lllllpl", &a, &b, &c, &M, &K, &N, &sm, &sk, &transposed, &threads))
        return nullptr;
    const HeldBuffers held{&a, &b, &c};
    long c_count = 0, b_count = 0, a_last = 0, a_last_k = 0, padded = 0;
    // the packed B pads N to a panel: its size must not overflow either
    bool ok = product(op, M, N, 1, &c_count) && product(op, K, N, 1, &b_count) && product(op, K, N + 64, 1, &padded) &&
              holds_exactly(c, c_count, "c", op) && holds_exactly(b, b_count, "b", op);
    // the last element A reads, (M - 1) * sm + (K - 1) * sk, lies within a
    if (ok && M > 0 && K > 0) {
        ok = product(op, M - 1, sm, 1, &a_last) && product(op, K - 1, sk, 1, &a_last_k) &&
             !__builtin_add_overflow(a_last, a_last_k, &a_last);
        if (!ok)
            PyErr_Format(PyExc_ValueError, "%s: negative or too large strides", op);
        else if (a.len / (Py_ssize_t)sizeof(float) <= a_last) {
            PyErr_Format(PyExc_ValueError, "%s: a holds %zd bytes, the strides read element %ld", op, a.len, a_last);
            ok = false;
        }
    }
    if (!ok) return nullptr;
    float* packed = new (std::nothrow) float[std::max(1L, recurrence.packed_size(K, N))];
    if (!packed) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    const long tile = recurrence.tile_rows(), tiles = (M + tile - 1) / tile;
    const long parts = std::max(1L, std::min(threads, tiles));
    const long items = std::max(1L, std::min(tiles, parts * kRowItemsPerThread));
    const long rows_per_item = std::max(1L, (tiles + items - 1) / items) * tile;
    MatmulJob job{(const float*)a.buf, (const float*)b.buf, packed, (float*)c.buf, sm, sk, M, K, N,
                  recurrence.panels(N), rows_per_item, (M + rows_per_item - 1) / rows_per_item, (bool)transposed};
    if (parts == 1)
        job.run_share();
    else
        SpinTeam::instance().run((int)std::min(parts, (long)SpinTeam::kMaxHelpers + 1),
                                 [](void* context, int) { static_cast<MatmulJob*>(context)->run_share(); }, &job);
    Py_END_ALLOW_THREADS
    delete[] packed;
    Py_RETURN_NONE;
}

// set_spin_us(us): how long an idle helper of the matmul team spins for the next call before it sleeps; returns
// the previous value
PyObject* set_spin_us(PyObject*, PyObject* args) {
    long us;
    if (!PyArg_ParseTuple(args, "l", &us)) return nullptr;
    if (us < 0 || us > 1000000) {
        PyErr_Format(PyExc_ValueError, "set_spin_us: %ld is not in [0, 1000000]", us);
        return nullptr;
    }
    return PyLong_FromLong(SpinTeam::spin_ns.exchange(us * 1000) / 1000);
}

// team_stats(): what the matmul team did in this process
PyObject* team_stats(PyObject*, PyObject*) {
    SpinTeam& team = SpinTeam::instance();
    return Py_BuildValue("{s:l,s:l,s:l,s:i}", "jobs", team.jobs(), "seats", team.seats(), "wakes", team.wakes(),
                         "helpers", team.helpers());
}

// A buffer that is either empty (the operand is not wanted: nullptr) or holds exactly ``count`` floats
bool holds_or_empty(const char* op, const Py_buffer& buf, long count, const char* name) {
    return buf.len == 0 || holds_exactly(buf, count, name, op);
}

inline float* floats_or_null(const Py_buffer& buf) { return buf.len == 0 ? nullptr : (float*)buf.buf; }

// The threads a layer call runs on: up to ``threads``, at most one per GEMM tile of the batch rows
long layer_parts(long rows, long threads) {
    const long tile = recurrence.tile_rows();
    return std::max(1L, std::min(threads, (rows + tile - 1) / tile));
}

// lstm_layer_forward(w_ih, w_hh, bias, x, h0, c0, acts, cells, tanh_cells, outputs, steps, rows, features,
// hidden, reverse, threads): one LSTM direction over a whole sequence, input projection included, in ONE
// parallel region. w_ih (4H, F), w_hh (4H, H), bias (4H: b_ih + b_hh, or empty for none), x (T, B, F),
// h0, c0 (B, H); writes acts (T, B, 4H) (sigmoid i, f, o and tanh g), cells, tanh_cells and outputs (T, B, H).
// Each of
// up to ``threads`` threads owns a share of the batch rows (cut on GEMM tiles: the same bits as one
// thread) and projects its rows' input gates step by step: no step waits for another thread.
PyObject* lstm_layer_forward(PyObject*, PyObject* args) {
    const char* op = "lstm_layer_forward";
    Py_buffer w_ih, w_hh, bias, x, h0, c0, acts, cells, tanh_cells, outputs;
    Shapes s;
    long features, threads;
    int reverse;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*w*w*w*w*llllpl", &w_ih, &w_hh, &bias, &x, &h0, &c0, &acts, &cells,
                          &tanh_cells, &outputs, &s.steps, &s.rows, &features, &s.hidden, &reverse, &threads))
        return nullptr;
    const HeldBuffers held{&w_ih, &w_hh, &bias, &x, &h0, &c0, &acts, &cells, &tanh_cells, &outputs};
    long inputs = 0, w_ih_count = 0, w_hh_count = 0;
    bool ok = s.check(op) && product(op, s.steps, s.rows, features, &inputs) &&
              product(op, 4, s.hidden, features, &w_ih_count) && product(op, 4, s.hidden, s.hidden, &w_hh_count) &&
              holds_exactly(w_ih, w_ih_count, "w_ih", op) && holds_exactly(w_hh, w_hh_count, "w_hh", op) &&
              holds_or_empty(op, bias, 4 * s.hidden, "bias") && holds_exactly(x, inputs, "x", op) &&
              holds_exactly(h0, s.state, "h0", op) && holds_exactly(c0, s.state, "c0", op) && holds_exactly(acts, s.gates_all, "acts", op) &&
              holds_exactly(cells, s.units_all, "cells", op) && holds_exactly(tanh_cells, s.units_all, "tanh_cells", op) &&
              holds_exactly(outputs, s.units_all, "outputs", op);
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        const long G = 4 * s.hidden;
        auto wih_t = scratch(recurrence.packed_size(features, G)), whh_t = scratch(recurrence.packed_size(s.hidden, G));
        recurrence.pack((const float*)w_ih.buf, features, G, true, wih_t.get());
        recurrence.pack((const float*)w_hh.buf, s.hidden, G, true, whh_t.get());
        const long tile = recurrence.tile_rows();
        in_one_region(layer_parts(s.rows, threads), [&](long p, long parts) {
            recurrence.forward_steps(whh_t.get(), (const float*)x.buf, wih_t.get(), floats_or_null(bias), features,
                                     (const float*)h0.buf, (const float*)c0.buf, (float*)acts.buf, (float*)cells.buf,
                                     (float*)tanh_cells.buf, (float*)outputs.buf, s.steps, s.rows, s.hidden, reverse,
                                     cut(s.rows, tile, parts, p), cut(s.rows, tile, parts, p + 1));
        });
        Py_END_ALLOW_THREADS
    }
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

// The work of one thread of lstm_layer_backward after the backward recurrence: rows m0 .. m1 - 1 of
// [d W_ih | d W_hh] = d_gates^T [x | h_prev] (K = T*B rows) and of the bias gradient.
struct WeightGradRows {
    const float *d_gates, *inputs_packed, *dg_sums;
    float *joined, *d_w_ih, *d_w_hh, *d_b;
    long K, B, F, H;
    void operator()(long m0, long m1) const {
        const long G = 4 * H, N = F + H;
        if (m1 <= m0) return;
        recurrence.gemm(d_gates + m0, 1, G, inputs_packed, m1 - m0, K, N, joined + m0 * N, N, false);
        for (long m = m0; m < m1; ++m) {
            std::memcpy(d_w_ih + m * F, joined + m * N, F * sizeof(float));
            std::memcpy(d_w_hh + m * H, joined + m * N + F, H * sizeof(float));
        }
        if (!d_b) return;
        for (long m = m0; m < m1; ++m) d_b[m] = 0.0f;
        for (long r = 0; r < B; ++r)  // rows in order: the same sums whatever the cut
            for (long m = m0; m < m1; ++m) d_b[m] += dg_sums[r * G + m];
    }
};

// lstm_layer_backward(w_ih, w_hh, x, h0, outputs, gout, dh, dc, acts, cells, tanh_cells, c0, d_gates, d_x,
// d_w_ih, d_w_hh, d_b, steps, rows, features, hidden, reverse, threads): the whole backward of what
// lstm_layer_forward saved, in ONE parallel region: each thread runs the backward recurrence of its
// batch rows (writing their d_gates (T, B, 4H) and, when d_x is not empty, their d x (T, B, F)), waits
// once for the others, then computes its share of the gate rows of d W_ih (4H, F), d W_hh (4H, H) and,
// when d_b is not empty, of the bias gradient d_b (4H). dh, dc (B, H) enter as the gradients of the
// final state and leave as those of h0, c0. Cuts fall on GEMM tiles: the same bits as one thread.
PyObject* lstm_layer_backward(PyObject*, PyObject* args) {
    const char* op = "lstm_layer_backward";
    Py_buffer w_ih, w_hh, x, h0, outputs, gout, dh, dc, acts, cells, tanh_cells, c0, d_gates, d_x, d_w_ih, d_w_hh,
        d_b;
    Shapes s;
    long features, threads;
    int reverse;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*w*w*y*y*y*y*w*w*w*w*w*llllpl", &w_ih, &w_hh, &x, &h0, &outputs, &gout,
                          &dh, &dc, &acts, &cells, &tanh_cells, &c0, &d_gates, &d_x, &d_w_ih, &d_w_hh, &d_b, &s.steps,
                          &s.rows, &features, &s.hidden, &reverse, &threads))
        return nullptr;
    const HeldBuffers held{&w_ih, &w_hh, &x, &h0, &outputs, &gout, &dh, &dc, &acts, &cells, &tanh_cells, &c0,
                           &d_gates, &d_x, &d_w_ih, &d_w_hh, &d_b};
    long inputs = 0, w_ih_count = 0, w_hh_count = 0, joined_count = 0;
    bool ok = s.check(op) && product(op, s.steps, s.rows, features, &inputs) &&
              product(op, 4, s.hidden, features, &w_ih_count) && product(op, 4, s.hidden, s.hidden, &w_hh_count) &&
              product(op, 4 * s.hidden, features + s.hidden, 1, &joined_count) &&
              holds_exactly(w_ih, w_ih_count, "w_ih", op) && holds_exactly(w_hh, w_hh_count, "w_hh", op) && holds_exactly(x, inputs, "x", op) &&
              holds_exactly(h0, s.state, "h0", op) && holds_exactly(outputs, s.units_all, "outputs", op) &&
              holds_exactly(gout, s.units_all, "gout", op) && holds_exactly(dh, s.state, "dh", op) && holds_exactly(dc, s.state, "dc", op) &&
              holds_exactly(acts, s.gates_all, "acts", op) && holds_exactly(cells, s.units_all, "cells", op) &&
              holds_exactly(tanh_cells, s.units_all, "tanh_cells", op) && holds_exactly(c0, s.state, "c0", op) &&
              holds_exactly(d_gates, s.gates_all, "d_gates", op) && holds_or_empty(op, d_x, inputs, "d_x") &&
              holds_exactly(d_w_ih, w_ih_count, "d_w_ih", op) && holds_exactly(d_w_hh, w_hh_count, "d_w_hh", op) &&
              holds_or_empty(op, d_b, 4 * s.hidden, "d_b");
    // the packed [x | h_prev] pads its columns to a panel: its size must not overflow either
    long padded = 0;
    ok = ok && product(op, s.steps * s.rows, features + s.hidden + 64, 1, &padded);
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        const long T = s.steps, B = s.rows, H = s.hidden, F = features, G = 4 * H, K = T * B;
        auto whh = scratch(recurrence.packed_size(G, H));
        recurrence.pack((const float*)w_hh.buf, G, H, false, whh.get());
        float* dx = floats_or_null(d_x);
        auto wih = scratch(dx ? recurrence.packed_size(G, F) : 0);
        if (dx) recurrence.pack((const float*)w_ih.buf, G, F, false, wih.get());
        float* db = floats_or_null(d_b);
        auto dg_sums = scratch(db ? B * G : 0);
        auto inputs_packed = scratch(recurrence.packed_size(K, F + H));
        auto joined = scratch(G * (F + H));
        const WeightGradRows weight_rows{(const float*)d_gates.buf, inputs_packed.get(), dg_sums.get(), joined.get(),
                                         (float*)d_w_ih.buf, (float*)d_w_hh.buf, db, K, B, F, H};
        const long tile = recurrence.tile_rows();
        Arrivals recurrence_done;
        in_one_region(layer_parts(B, threads), [&](long p, long parts) {
            const long r0 = cut(B, tile, parts, p), r1 = cut(B, tile, parts, p + 1);
            recurrence.pack_inputs((const float*)x.buf, (const float*)h0.buf, (const float*)outputs.buf, T, B, F, H,
                                   reverse, T * p / parts, T * (p + 1) / parts, inputs_packed.get());
            if (db) std::memset(dg_sums.get() + r0 * G, 0, (r1 - r0) * G * sizeof(float));
            recurrence.backward_steps(whh.get(), (const float*)gout.buf, (float*)dh.buf, (float*)dc.buf,
                                      (const float*)acts.buf, (const float*)cells.buf, (const float*)tanh_cells.buf,
                                      (const float*)c0.buf, (float*)d_gates.buf, T, B, H, reverse, r0, r1,
                                      db ? dg_sums.get() : nullptr, dx ? wih.get() : nullptr, dx, F);
            if (parts > 1) recurrence_done.wait(parts);
            weight_rows(cut(G, tile, parts, p), cut(G, tile, parts, p + 1));
        });
        Py_END_ALLOW_THREADS
    }
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"pack_weight", pack_weight, METH_VARARGS,
     "pack_weight(w, rows, cols, transposed) -> bytearray: w (or w^T) packed as the recurrence's GEMM operand."},
    {"gemm", gemm, METH_VARARGS,
     "gemm(a, b_packed, c, M, K, N, a_row_stride, a_col_stride, add[, threads]): C (+)= A @ B in the recurrence's "
     "GEMM, its rows shared among threads."},
    {"matmul", matmul, METH_VARARGS,
     "matmul(a, b, c, M, K, N, a_row_stride, a_col_stride, b_transposed, threads): C = A @ B (B packed inside), "
     "shared on a team of helper threads that spin briefly between calls."},
    {"set_spin_us", set_spin_us, METH_VARARGS,
     "set_spin_us(us): microseconds an idle matmul helper spins before sleeping; returns the previous value."},
    {"team_stats", team_stats, METH_NOARGS,
     "team_stats(): {jobs, seats, wakes, helpers}: jobs run on the matmul team, seats its helpers took, posts "
     "that woke a sleeping helper, helper threads started."},
    {"lstm_layer_forward", lstm_layer_forward, METH_VARARGS,
     "lstm_layer_forward(w_ih, w_hh, bias, x, h0, c0, acts, cells, tanh_cells, outputs, steps, rows, features, "
     "hidden, reverse, threads): one float32 LSTM direction, input projection included, in one parallel region."},
    {"lstm_layer_backward", lstm_layer_backward, METH_VARARGS,
     "lstm_layer_backward(w_ih, w_hh, x, h0, outputs, gout, dh, dc, acts, cells, tanh_cells, c0, d_gates, d_x, "
     "d_w_ih, d_w_hh, d_b, steps, rows, features, hidden, reverse, threads): its whole backward, weight "
     "gradients included, in one parallel region."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) {
    choose_recurrence();
    return module_with_isa(&module, recurrence.isa);
}
