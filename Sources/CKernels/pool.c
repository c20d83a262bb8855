#include "ckernels.h"
#include <pthread.h>
#include <stdatomic.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#else
#define CK_PAUSE() ((void)0)
#endif

// Workers spin on the ticket for a while (a training step issues thousands of short regions and a futex
// wake costs more than most of them), then sleep on a condition variable. 2^15 pauses ≈ 0.1–1 ms.
#define CK_SPIN 32768

// One 64-bit ticket names the current region and hands out its tasks: generation (bits 40–63), task count
// (bits 20–39), next task index (bits 0–19). A task is claimed by a CAS that also checks the generation, so a
// late worker can never claim (or read the descriptor of) a region that has already finished.
#define IDX_BITS 20
#define IDX_MASK ((1ULL << IDX_BITS) - 1)
#define GEN_SHIFT 40
static _Atomic unsigned long long ticket = 0;
static _Atomic long done_count = 0;
static _Atomic int sleepers = 0;
static ck_task_fn job_fn;
static void *job_ctx;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;
static int total_threads = 1;
static int started_workers = 0;
static _Thread_local int inside_task = 0;

static void drain(unsigned long long gen) {
    for (;;) {
        unsigned long long t = atomic_load_explicit(&ticket, memory_order_acquire);
        if ((t >> GEN_SHIFT) != gen) return;
        unsigned long long i = t & IDX_MASK, n = (t >> IDX_BITS) & IDX_MASK;
        if (i >= n) return;
        if (!atomic_compare_exchange_weak_explicit(&ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        job_fn(job_ctx, (long)i);
        atomic_fetch_add_explicit(&done_count, 1, memory_order_release);
    }
}

static void *worker(void *arg) {
    (void)arg;
    inside_task = 1;
    unsigned long long seen = atomic_load(&ticket) >> GEN_SHIFT;
    for (;;) {
        unsigned long long g = seen;
        for (int spins = 0; spins < CK_SPIN && (g = atomic_load_explicit(&ticket, memory_order_acquire) >> GEN_SHIFT) == seen; spins++)
            CK_PAUSE();
        if (g == seen) {
            pthread_mutex_lock(&lock);
            atomic_fetch_add(&sleepers, 1);
            while ((g = atomic_load(&ticket) >> GEN_SHIFT) == seen) pthread_cond_wait(&wake, &lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&lock);
        }
        seen = g;
        drain(g);
    }
    return NULL;
}

void ck_pool_grow(int threads) {
    if (threads < 1) threads = 1;
    pthread_mutex_lock(&owner);
    while (started_workers < threads - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&t, &attr, worker, NULL);
        pthread_attr_destroy(&attr);
        if (failed) break;
        started_workers++;
    }
    // Never shrinks: callers with different budgets share the pool, each splitting work into its own count.
    int available = threads <= started_workers + 1 ? threads : started_workers + 1;
    if (available > total_threads) total_threads = available;
    pthread_mutex_unlock(&owner);
}

void ck_pool_run(long count, ck_task_fn fn, void *context) {
    if (count <= 0) return;
    if (count == 1 || total_threads == 1 || inside_task || count > (long)IDX_MASK || pthread_mutex_trylock(&owner) != 0) {
        // Serial: one task, a one-thread pool, a nested region, or another thread already owns the pool.
        for (long i = 0; i < count; i++) fn(context, i);
        return;
    }
    job_fn = fn;
    job_ctx = context;
    atomic_store_explicit(&done_count, 0, memory_order_relaxed);
    unsigned long long gen = ((atomic_load(&ticket) >> GEN_SHIFT) + 1) & ((1ULL << (64 - GEN_SHIFT)) - 1);
    atomic_store(&ticket, (gen << GEN_SHIFT) | ((unsigned long long)count << IDX_BITS));  // seq_cst: pairs with `sleepers`
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&lock);
    }
    inside_task = 1;
    drain(gen);
    inside_task = 0;
    while (atomic_load_explicit(&done_count, memory_order_acquire) < count) CK_PAUSE();
    pthread_mutex_unlock(&owner);
}
