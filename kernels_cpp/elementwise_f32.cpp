// Large float32 elementwise ops (a + b, a - b, a * b, a / b, copy, sigmoid) on a thread team of their own whose
// helpers spin a short while after each op before they sleep (family elementwise_f32).
//
// Why not OpenMP: torsh runs libgomp with OMP_WAIT_POLICY=PASSIVE (spinning OpenMP workers stole the cores that
// OpenBLAS's threads need, see backend/kernels.py), so every parallel region starts by waking a sleeping worker
// through a futex: 25-45 us on the 2-core VM, against ~60 us for a whole 1e6 float32 add. Here the calling thread
// never waits for a helper: it posts the op and starts on its chunks at once; a helper that is awake (it spins for
// up to ``spin_us`` after its last op: back-to-back ops find it awake) takes chunks from the same counter; one that
// sleeps is woken by the post and joins when it arrives, if chunks are left. The caller waits only for the chunks
// a helper took. The spin is bounded (``set_spin_us``, 50 us) so that BLAS threads running right after
// an op wait at most that long for their core; after it the helpers sleep and cost nothing during GEMMs.
//
// Each element is computed by the same expression whichever thread takes its chunk: results do not depend on the
// schedule or the thread count. The loops live in elementwise_f32_impl.h, included for this copy's instruction set
// and, in the x86-64-v3 copy, for AVX-512 too (chosen at import where the CPU has it; ``set_isa`` for tests).
//
// Every entry point checks that the buffers hold the values asked for (ValueError otherwise); ``out`` sets the
// element count. Callers pass float32 C-contiguous arrays; an in-place op passes out as a (the same elements).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <linux/futex.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME elementwise_f32
#endif
#include "common.h"

namespace {

// -- the loops, per instruction set ---------------------------------------------------------------------------
struct Kernels {
    const char* isa;
    void (*add)(const float*, const float*, float*, long, long);
    void (*sub)(const float*, const float*, float*, long, long);
    void (*mul)(const float*, const float*, float*, long, long);
    void (*div)(const float*, const float*, float*, long, long);
    void (*sigmoid)(const float*, float*, long, long);
};

#define TORSH_ISA_LOOPS "elementwise_f32_impl.h"
#include "isa_builds.h"

#define TORSH_KERNELS(ns, name) \
    Kernels { name, ns::add_range, ns::sub_range, ns::mul_range, ns::div_range, ns::sigmoid_range }
#ifdef HAVE_AVX512_BUILD
const Kernels avx512_kernels = TORSH_KERNELS(avx512, "avx512");
IsaLoops<Kernels> loops{TORSH_KERNELS(native, kNativeIsa), &avx512_kernels};
#else
IsaLoops<Kernels> loops{TORSH_KERNELS(native, kNativeIsa), nullptr};
#endif

// -- the thread team --------------------------------------------------------------------------------------------
constexpr long kChunk = 16384;        // elements per work item: 64 KiB of float32, in L2 with its operands
constexpr int kMaxHelpers = 15;
constexpr uint64_t kField = 1u << 24;  // the ticket's chunk fields: at most 2^24 - 1 chunks per op

// One op: body(ctx, lo, hi) over [0, n) in chunks
struct Job {
    void (*body)(const void*, long, long);
    const void* ctx;
    long n;
};

// The ticket says which op is running and which chunk is next: generation (16 bits) | chunks (24) | next (24).
// Threads claim a chunk by compare-and-swap on the whole word, so a thread that read an old op's ticket can never
// claim a chunk of a newer one by mistake; the Job is read only after a successful claim, when the op cannot
// finish (the claimed chunk is not done) and so the caller cannot overwrite it.
alignas(64) std::atomic<uint64_t> ticket{0};
alignas(64) std::atomic<long> chunks_done{0};
alignas(64) std::atomic<int> wake_word{0};  // futex word: bumped by a post that finds sleepers
std::atomic<int> sleepers{0};
std::atomic<int> helpers_wanted{0};  // helpers with an index below this take part
std::atomic<bool> busy{false};       // one op on the team at a time; a second caller runs alone
std::atomic<long> spin_ns{50000};
Job job;
int helpers_started = 0;
// stats(): what the team did
std::atomic<long> helper_chunks{0}, helper_sleeps{0}, posts_waking{0};  // touched under ``busy`` only

uint64_t chunks_of(uint64_t t) { return (t >> 24) & (kField - 1); }
uint64_t next_of(uint64_t t) { return t & (kField - 1); }

long now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Claims the next chunk of the op in ticket word t, or returns false when none is left (or the op changed)
bool claim(uint64_t& t, long& chunk) {
    while (next_of(t) < chunks_of(t)) {
        if (ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
            chunk = static_cast<long>(next_of(t));
            return true;
        }
    }
    return false;
}

void run_chunk(long chunk) {
    const long lo = chunk * kChunk;
    job.body(job.ctx, lo, std::min(job.n, lo + kChunk));
}

// Works through what is left of the op in t; true if it ran a chunk. ``taken`` counts the chunks run
bool work(uint64_t t, std::atomic<long>* taken = nullptr) {
    long chunk;
    bool ran = false;
    while (claim(t, chunk)) {
        run_chunk(chunk);
        chunks_done.fetch_add(1, std::memory_order_release);
        if (taken) taken->fetch_add(1, std::memory_order_relaxed);
        ran = true;
    }
    return ran;
}

void futex_wait(std::atomic<int>* word, int expected) {
    syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<int>* word) {
    syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

bool has_work(uint64_t t) { return next_of(t) < chunks_of(t); }

// A helper: takes chunks while an op has some, spins for spin_ns after its last op, then sleeps. The spin does not
// yield: with sched_yield in it, a helper on a core shared with another process gave the core away and took part in
// 2% of back-to-back 1e6 adds (1e6 add 96 us on two threads against 96 on one; without the yield 56 us)
void* helper_main(void* arg) {
    const int index = static_cast<int>(reinterpret_cast<intptr_t>(arg));
    long idle_since = now_ns();
    for (unsigned polls = 0;; ++polls) {
        const uint64_t t = ticket.load(std::memory_order_acquire);
        if (has_work(t) && index < helpers_wanted.load(std::memory_order_relaxed)) {
            if (work(t, &helper_chunks)) idle_since = now_ns();
            continue;
        }
        cpu_relax();
        if ((polls & 63) != 0 || now_ns() - idle_since < spin_ns.load(std::memory_order_relaxed)) continue;
        const int seen = wake_word.load(std::memory_order_seq_cst);
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        helper_sleeps.fetch_add(1, std::memory_order_relaxed);
        if (!has_work(ticket.load(std::memory_order_seq_cst))) futex_wait(&wake_word, seen);
        sleepers.fetch_sub(1, std::memory_order_seq_cst);
        idle_since = now_ns();
    }
    return nullptr;
}

// Starts helpers up to ``count`` (never stops them: asleep they cost nothing); false if none could start
void start_helpers(int count) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);  // signals stay with Python's threads
    for (; helpers_started < count; ++helpers_started) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 1 << 16);
        pthread_t thread;
        const int failed = pthread_create(&thread, &attr, helper_main,
                                          reinterpret_cast<void*>(static_cast<intptr_t>(helpers_started)));
        pthread_attr_destroy(&attr);
        if (failed) break;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

// fork() keeps only the calling thread: the child starts its own helpers when it needs them
void after_fork_in_child() {
    helpers_started = 0;
    ticket.store(0);
    chunks_done.store(0);
    sleepers.store(0);
    busy.store(false);
}

uint16_t generation = 0;

// Runs body over [0, n): on the team when parallel (the caller takes chunks at once), else on the caller alone
void run(long n, bool parallel, void (*body)(const void*, long, long), const void* ctx) {
    const long chunks = (n + kChunk - 1) / kChunk;
    const int helpers = parallel ? std::min(omp_get_max_threads() - 1, kMaxHelpers) : 0;
    if (helpers < 1 || chunks < 2 || chunks >= static_cast<long>(kField) || busy.exchange(true)) {
        body(ctx, 0, n);
        return;
    }
    start_helpers(helpers);
    job = Job{body, ctx, n};
    chunks_done.store(0, std::memory_order_relaxed);
    helpers_wanted.store(helpers, std::memory_order_relaxed);
    ++generation;
    const uint64_t t = (static_cast<uint64_t>(generation) << 48) | (static_cast<uint64_t>(chunks) << 24);
    ticket.store(t, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) > 0) {
        wake_word.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_all(&wake_word);
        posts_waking.fetch_add(1, std::memory_order_relaxed);
    }
    work(t);
    for (unsigned polls = 1; chunks_done.load(std::memory_order_acquire) < chunks; ++polls) {
        cpu_relax();  // a helper finishes the chunk it took
        if ((polls & 1023) == 0) sched_yield();
    }
    busy.store(false, std::memory_order_release);
}

// -- the ops' bodies --------------------------------------------------------------------------------------------
struct Binary {
    void (*loop)(const float*, const float*, float*, long, long);
    const float *a, *b;
    float* out;
};

void binary_body(const void* ctx, long lo, long hi) {
    const Binary& op = *static_cast<const Binary*>(ctx);
    op.loop(op.a, op.b, op.out, lo, hi);
}

struct Unary {
    void (*loop)(const float*, float*, long, long);
    const float* x;
    float* out;
};

void unary_body(const void* ctx, long lo, long hi) {
    const Unary& op = *static_cast<const Unary*>(ctx);
    op.loop(op.x, op.out, lo, hi);
}

void copy_body(const void* ctx, long lo, long hi) {
    const Unary& op = *static_cast<const Unary*>(ctx);
    std::memcpy(op.out + lo, op.x + lo, static_cast<size_t>(hi - lo) * sizeof(float));
}

// -- the entry points -------------------------------------------------------------------------------------------
using BinaryLoop = void (*)(const float*, const float*, float*, long, long);

// out = a op b over out's float32 values; releases the buffers
PyObject* run_binary(Py_buffer& ab, Py_buffer& bb, Py_buffer& ob, int parallel, const char* name,
                     BinaryLoop Kernels::*loop) {
    const HeldBuffers held{&ab, &bb, &ob};
    const long n = ob.len / static_cast<long>(sizeof(float));
    if (!holds_at_least(ab, n, "a", name, "of out") || !holds_at_least(bb, n, "b", name, "of out")) return nullptr;
    Binary op{loops.active->*loop, static_cast<const float*>(ab.buf), static_cast<const float*>(bb.buf),
              static_cast<float*>(ob.buf)};
    Py_BEGIN_ALLOW_THREADS
    run(n, parallel, binary_body, &op);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// out = f(x) over out's float32 values (body runs a chunk); releases the buffers
PyObject* run_unary(Py_buffer& xb, Py_buffer& ob, int parallel, const char* name,
                    void (*body)(const void*, long, long), void (*loop)(const float*, float*, long, long)) {
    const HeldBuffers held{&xb, &ob};
    const long n = ob.len / static_cast<long>(sizeof(float));
    if (!holds_at_least(xb, n, "x", name, "of out")) return nullptr;
    Unary op{loop, static_cast<const float*>(xb.buf), static_cast<float*>(ob.buf)};
    Py_BEGIN_ALLOW_THREADS
    run(n, parallel, body, &op);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// add(a, b, out, parallel): out = a + b
PyObject* add(PyObject*, PyObject* args) {
    Py_buffer ab, bb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*p", &ab, &bb, &ob, &parallel)) return nullptr;
    return run_binary(ab, bb, ob, parallel, "add", &Kernels::add);
}

// sub(a, b, out, parallel): out = a - b
PyObject* sub(PyObject*, PyObject* args) {
    Py_buffer ab, bb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*p", &ab, &bb, &ob, &parallel)) return nullptr;
    return run_binary(ab, bb, ob, parallel, "sub", &Kernels::sub);
}

// mul(a, b, out, parallel): out = a * b
PyObject* mul(PyObject*, PyObject* args) {
    Py_buffer ab, bb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*p", &ab, &bb, &ob, &parallel)) return nullptr;
    return run_binary(ab, bb, ob, parallel, "mul", &Kernels::mul);
}

// div(a, b, out, parallel): out = a / b
PyObject* div(PyObject*, PyObject* args) {
    Py_buffer ab, bb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*y*w*p", &ab, &bb, &ob, &parallel)) return nullptr;
    return run_binary(ab, bb, ob, parallel, "div", &Kernels::div);
}

// copy(src, out, parallel): out = src
PyObject* copy(PyObject*, PyObject* args) {
    Py_buffer xb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*w*p", &xb, &ob, &parallel)) return nullptr;
    return run_unary(xb, ob, parallel, "copy", copy_body, nullptr);
}

// sigmoid(x, out, parallel): out = 1 / (1 + exp(-x))
PyObject* sigmoid(PyObject*, PyObject* args) {
    Py_buffer xb, ob;
    int parallel;
    if (!PyArg_ParseTuple(args, "y*w*p", &xb, &ob, &parallel)) return nullptr;
    return run_unary(xb, ob, parallel, "sigmoid", unary_body, loops.active->sigmoid);
}

// set_isa(name): "avx512" where the CPU has it, or this copy's own loops; returns the previous name (tests)
PyObject* set_isa(PyObject*, PyObject* args) {
    const char* name;
    if (!PyArg_ParseTuple(args, "s", &name)) return nullptr;
    return loops.set(name);
}

// set_spin_us(us): how long an idle helper spins before it sleeps; returns the previous value
PyObject* set_spin_us(PyObject*, PyObject* args) {
    long us;
    if (!PyArg_ParseTuple(args, "l", &us)) return nullptr;
    if (us < 0 || us > 1000000) {
        PyErr_Format(PyExc_ValueError, "set_spin_us: %ld is not in [0, 1000000]", us);
        return nullptr;
    }
    return PyLong_FromLong(spin_ns.exchange(us * 1000) / 1000);
}

PyObject* stats(PyObject*, PyObject*) {
    return Py_BuildValue("{s:l,s:l,s:l,s:i}", "helper_chunks", helper_chunks.load(), "helper_sleeps",
                         helper_sleeps.load(), "posts_waking", posts_waking.load(), "helpers", helpers_started);
}

PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "add(a, b, out, parallel): out = a + b, float32."},
    {"sub", sub, METH_VARARGS, "sub(a, b, out, parallel): out = a - b, float32."},
    {"mul", mul, METH_VARARGS, "mul(a, b, out, parallel): out = a * b, float32."},
    {"div", static_cast<PyCFunction>(div), METH_VARARGS, "div(a, b, out, parallel): out = a / b, float32."},
    {"copy", copy, METH_VARARGS, "copy(src, out, parallel): out = src, float32."},
    {"sigmoid", sigmoid, METH_VARARGS, "sigmoid(x, out, parallel): out = 1 / (1 + exp(-x)), float32."},
    {"set_isa", set_isa, METH_VARARGS,
     "set_isa(name): run the loops of instruction set name ('avx512' or this copy's own); returns the previous."},
    {"set_spin_us", set_spin_us, METH_VARARGS,
     "set_spin_us(us): microseconds an idle helper thread spins before sleeping; returns the previous value."},
    {"stats", stats, METH_NOARGS,
     "stats(): {helper_chunks, helper_sleeps, posts_waking, helpers}: chunks the helpers ran, the times they went "
     "to sleep, the posts that woke them, the helper threads started."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) {
    loops.choose();
    pthread_atfork(nullptr, nullptr, after_fork_in_child);
    return module_with_isa(&module, loops.active->isa);
}
