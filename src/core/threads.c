/* threads.c - llfc's worker threads: llfc_parallel_for and the split products.
 *
 * One pool per process: the calling thread plus n - 1 workers, created on
 * first use and kept.  A job is a range [0, n) cut into equal parts; part 0
 * runs on the caller, the others on the workers.  Between jobs a worker
 * spins for a short while (a training step issues its products and
 * element-wise loops back to back, microseconds apart) and then sleeps on a
 * condition variable, so an idle llfc uses no CPU.
 *
 * Why a pool of llfc's own rather than OpenBLAS's threads: with both, every
 * element-wise loop started a thread that had to share the second core with
 * OpenBLAS's worker spinning after the last product (docs/BENCH.md, "One
 * pool of threads").  Now OpenBLAS runs single-threaded inside llfc and
 * llfc_gemm cuts a product into column (or row) blocks, one per thread.  As
 * with OpenBLAS's own threads, a thread count gives the same bits on every
 * run, and another thread count may round differently (OpenBLAS's kernels
 * round an element according to where its tile falls).
 *
 * Jobs are not nested: a parallel_for inside a part, or a second thread
 * starting a job while one runs, runs its whole range on its own thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/core.h"

#define POOL_MAX 256
/* How long a worker spins for the next job before it sleeps, in seconds. */
#define SPIN_SECONDS 2e-4

static struct {
    pthread_mutex_t mu;         /* guards sleepers' waiting and the workers' creation */
    pthread_cond_t cv;
    pthread_mutex_t busy;       /* held by the thread running a job */
    atomic_uint gen;            /* bumped for each job */
    atomic_int pending;         /* worker parts of the current job not finished */
    atomic_int sleepers;        /* workers waiting on cv */
    int nworkers;               /* created */
    pid_t pid;                  /* of the process that created them */
    /* the current job (written before gen is bumped) */
    void (*fn)(void *, int64_t, int64_t);
    void *ud;
    int64_t n;
    int parts;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .busy = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int in_job;  /* this thread runs a part of a job */
static unsigned start_gen[POOL_MAX];  /* the generation each worker was created at */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t part_lo(int64_t n, int parts, int i) { return n * i / parts; }

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;   /* 1 .. nworkers */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);   /* Ctrl-C goes to the program's threads */
    in_job = 1;
    unsigned seen = start_gen[id];
    for (;;) {
        unsigned g = atomic_load(&pool.gen);
        if (g == seen) {
            double t0 = llfc_now();
            for (int k = 1; (g = atomic_load(&pool.gen)) == seen; k++) {
                cpu_relax();
                if ((k & 255) == 0 && llfc_now() - t0 > SPIN_SECONDS) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&pool.mu);
            atomic_fetch_add(&pool.sleepers, 1);
            while ((g = atomic_load(&pool.gen)) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.mu);
        }
        seen = g;
        /* every worker acknowledges every job (pending counts them all), so
         * that the job's fields are not rewritten while one still reads them */
        int parts = pool.parts;
        if (id < parts) pool.fn(pool.ud, part_lo(pool.n, parts, id), part_lo(pool.n, parts, id + 1));
        atomic_fetch_sub(&pool.pending, 1);
    }
    return NULL;
}

/* Make sure `want` workers exist; returns how many do. */
static int ensure_workers(int want)
{
    if (want > POOL_MAX - 1) want = POOL_MAX - 1;
    pid_t me = getpid();
    if (pool.pid != me) {   /* a forked child: the parent's workers are not here */
        pool.nworkers = 0;
        pool.pid = me;
        atomic_store(&pool.sleepers, 0);
    }
    while (pool.nworkers < want) {
        pthread_attr_t at;
        pthread_t t;
        if (pthread_attr_init(&at) != 0) break;
        start_gen[pool.nworkers + 1] = atomic_load(&pool.gen);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, worker, (void *)(intptr_t)(pool.nworkers + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) break;
        pool.nworkers++;
    }
    return pool.nworkers;
}

int llfc_parallel_parts(int64_t n, int64_t min_per_thread)
{
    if (n <= 0) return 0;
    if (min_per_thread < 1) min_per_thread = 1;
    int t = llfc_threads();
    if (in_job || t < 2) return 1;
    int64_t p = n / min_per_thread;
    return p < 2 ? 1 : (int)(p < t ? p : t);
}

int llfc_parallel_for(int64_t n, int64_t min_per_thread,
                      void (*fn)(void *ud, int64_t lo, int64_t hi), void *ud)
{
    int parts = llfc_parallel_parts(n, min_per_thread);
    if (parts == 0) return 0;
    if (parts < 2 || pthread_mutex_trylock(&pool.busy) != 0) {
        fn(ud, 0, n);
        return 1;
    }
    pthread_mutex_lock(&pool.mu);
    int have = ensure_workers(parts - 1);
    pthread_mutex_unlock(&pool.mu);
    if (have + 1 < parts) parts = have + 1;
    if (parts < 2) {
        pthread_mutex_unlock(&pool.busy);
        fn(ud, 0, n);
        return 1;
    }
    pool.fn = fn;
    pool.ud = ud;
    pool.n = n;
    pool.parts = parts;
    atomic_store(&pool.pending, have);
    atomic_fetch_add(&pool.gen, 1);          /* publishes the job (sequentially consistent) */
    if (atomic_load(&pool.sleepers) > 0) {   /* a worker that checked gen before the bump waits on cv */
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
    in_job = 1;
    fn(ud, 0, part_lo(n, parts, 1));
    in_job = 0;
    for (int k = 1; atomic_load(&pool.pending) > 0; k++) {
        cpu_relax();
        if ((k & 1023) == 0) sched_yield();   /* a worker that was descheduled */
    }
    pthread_mutex_unlock(&pool.busy);
    return parts;
}
