// A persistent team of helper threads for kernels called back to back from Python (the panel GEMM's row tiles of
// a training step's products), included once at file scope by such a family (after common.h).
//
// Why not OpenMP: torsh runs libgomp with OMP_WAIT_POLICY=PASSIVE (spinning OpenMP workers took the cores OpenBLAS
// needs, see backend/kernels.py), so every parallel region starts by waking a sleeping worker through a futex, and
// its closing barrier waits for that worker even when it woke late: at W13's products (80-700 us each) the panel
// GEMM split over two OpenMP threads was slower than on one, and 1.3-1.7x faster than one with the second thread
// already spinning (OMP_WAIT_POLICY=ACTIVE). Here the caller never waits for a helper to wake: it opens the job and
// starts on its items at once; a helper that is awake (it spins for ``spin_ns`` after its last job, so the
// products of one layer's forward or backward find it awake) takes a seat and items from the same counters; one
// that sleeps is woken by the post and joins if items are left when it arrives. The caller waits only for helpers
// that took a seat. The spin is bounded (set_spin_us): after it the helpers sleep on a futex and cost nothing.
//
// One job at a time: a second caller finding the team busy runs its job alone. fork() keeps only the calling
// thread: a child starts a team of its own (torsh asks for one thread in a forked child anyway, so a DataLoader
// worker never starts helpers, let alone spins).
//
// Needs <Python.h> (common.h) for nothing; uses pthreads, futex and the monotonic clock.
#pragma once

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <mutex>

namespace {

class SpinTeam {
   public:
    using Body = void (*)(void* context, int me);
    static constexpr int kMaxHelpers = 15;

    // body(context, me) on the calling thread (me = 0) and on the helpers that join in time (up to threads - 1);
    // returns once the caller's body returned and every helper that joined has left the body
    void run(int threads, Body body, void* context) {
        std::unique_lock<std::mutex> caller(busy_, std::try_to_lock);
        if (!caller.owns_lock() || threads <= 1 || !start(std::min(threads - 1, kMaxHelpers))) {
            body(context, 0);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(state_);
            body_ = body, context_ = context, seats_ = threads - 1, taken_ = 0;
            generation_.fetch_add(1, std::memory_order_seq_cst);
        }
        if (sleeping_.load(std::memory_order_seq_cst) > 0) {
            futex(&generation_, FUTEX_WAKE_PRIVATE, INT32_MAX);
            wakes_.fetch_add(1, std::memory_order_relaxed);
        }
        jobs_.fetch_add(1, std::memory_order_relaxed);
        body(context, 0);
        {
            std::lock_guard<std::mutex> lock(state_);
            body_ = nullptr, seats_ = 0;
        }
        wait_until_zero(seated_);
    }

    // The team of this process (a fork() child's first call makes a fresh one: the parent's helpers are not here)
    static SpinTeam& instance() {
        static SpinTeam* team = [] {
            pthread_atfork(nullptr, nullptr, [] { fresh_after_fork = true; });
            return new SpinTeam;  // never destroyed: its helpers may still sleep in it at exit
        }();
        if (fresh_after_fork) {
            fresh_after_fork = false;
            team = new SpinTeam;  // the parent's copy is left as it is (its mutexes may be held by threads gone)
        }
        return *team;
    }

    // How long (ns) an idle helper spins for the next job before it sleeps
    static inline std::atomic<long> spin_ns{100000};

    // What the team did: jobs run on it, seats helpers took, posts that had to wake a sleeper, helpers started
    long jobs() const { return jobs_.load(); }
    long seats() const { return seats_taken_.load(); }
    long wakes() const { return wakes_.load(); }
    int helpers() const { return started_; }

    static long now_ns() {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000000000L + ts.tv_nsec;
    }

    static void relax() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }

    // Spins until ``counter`` reaches ``target`` (~50 us of pauses), then yields the core while waiting on
    static void wait_for(const std::atomic<long>& counter, long target) {
        for (long spins = 0; counter.load(std::memory_order_acquire) < target; ++spins) {
            if (spins < 2000)
                relax();
            else
                sched_yield();
        }
    }

   private:
    static inline bool fresh_after_fork = false;

    // Starts helpers up to ``count`` (kept: asleep they cost nothing); false if none runs
    bool start(int count) {
        if (started_ >= count) return true;
        sigset_t all, previous;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &previous);  // signals stay with Python's threads
        for (; started_ < count; ++started_) {
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_t thread;
            const int failed = pthread_create(&thread, &attr, serve_thread, this);
            pthread_attr_destroy(&attr);
            if (failed) break;  // no more threads: run on those there are
        }
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        return started_ > 0;
    }

    static void wait_until_zero(const std::atomic<long>& counter) {
        for (long spins = 0; counter.load(std::memory_order_acquire) != 0; ++spins) {
            if (spins < 2000)
                relax();
            else
                sched_yield();
        }
    }

    // The futex system call on a 32-bit word (no glibc wrapper): helpers sleep on the job generation itself
    static void futex(std::atomic<uint32_t>* word, int op, uint32_t value) {
        syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr, nullptr, 0);
    }

    // Returns once the generation is no longer ``seen``: spinning up to spin_ns, then asleep on the futex
    void await_job(uint32_t seen) {
        const long since = now_ns();
        for (unsigned polls = 1;; ++polls) {
            if (generation_.load(std::memory_order_acquire) != seen) return;
            relax();
            if ((polls & 63) == 0 && now_ns() - since >= spin_ns.load(std::memory_order_relaxed)) break;
        }
        sleeping_.fetch_add(1, std::memory_order_seq_cst);
        while (generation_.load(std::memory_order_seq_cst) == seen) futex(&generation_, FUTEX_WAIT_PRIVATE, seen);
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
    }

    static void* serve_thread(void* team) {
        static_cast<SpinTeam*>(team)->serve();
        return nullptr;
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
            seats_taken_.fetch_add(1, std::memory_order_relaxed);
            body(context, me);
            seated_.fetch_sub(1, std::memory_order_release);
        }
    }

    std::mutex busy_;   // held by the caller of run()
    std::mutex state_;  // guards the job fields below
    std::atomic<uint32_t> generation_{0};  // one more per job opened (the futex word helpers sleep on)
    std::atomic<int> sleeping_{0};         // helpers asleep on it: the caller wakes them only if any
    Body body_ = nullptr;                  // the open job, or nullptr
    void* context_ = nullptr;
    int seats_ = 0, taken_ = 0;
    std::atomic<long> seated_{0};  // helpers inside the current job's body
    int started_ = 0;
    std::atomic<long> jobs_{0}, seats_taken_{0}, wakes_{0};
};

}  // namespace
