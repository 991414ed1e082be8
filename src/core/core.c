/* core.c - errors, allocation, interruption, the PRNG (llfc_parallel_for: threads.c; atomic files: file.c). */
#include "core/core.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char errbuf[1024];

int llfc_seterr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

int llfc_adderr(const char *fmt, ...)
{
    char prefix[256], old[sizeof errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    int k = snprintf(errbuf, sizeof errbuf, "%s: ", prefix);
    if (k > 0 && (size_t)k < sizeof errbuf) snprintf(errbuf + k, sizeof errbuf - (size_t)k, "%.*s", (int)(sizeof errbuf - (size_t)k - 1), old);
    return -1;
}

const char *llfc_errmsg(void) { return errbuf; }

/* ---- allocation under a cap ---------------------------------------------------
 * One allocation may not exceed the cap: the machine's physical memory, or
 * LLFC_MAX_ALLOC (bytes, with an optional K, M, G or T suffix).  A larger
 * request (a tensor of 2^40 floats) is an error at once instead of an attempt
 * that the kernel might grant lazily and then kill the process for. */
static size_t alloc_cap;

size_t llfc_alloc_cap(void)
{
    if (alloc_cap) return alloc_cap;
    size_t cap = 0;
    const char *env = getenv("LLFC_MAX_ALLOC");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        double mul = *end == 'K' || *end == 'k' ? 0x1p10 : *end == 'M' || *end == 'm' ? 0x1p20
                   : *end == 'G' || *end == 'g' ? 0x1p30 : *end == 'T' || *end == 't' ? 0x1p40 : 1;
        if (v > 0 && v * mul < 0x1p63) cap = (size_t)(v * mul);
    }
    if (!cap) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        cap = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : (size_t)1 << 34;
    }
    alloc_cap = cap;
    return cap;
}

static int over_cap(size_t n)
{
    if (n <= llfc_alloc_cap()) return 0;
    llfc_seterr("out of memory: %.4g GB asked in one piece, more than the cap of %.4g GB "
                "(the physical memory, or LLFC_MAX_ALLOC)", (double)n / 0x1p30, (double)llfc_alloc_cap() / 0x1p30);
    return 1;
}

void *llfc_malloc(size_t n)
{
    if (over_cap(n)) return NULL;
    void *p = malloc(n ? n : 1);
    if (!p) llfc_seterr("out of memory (%zu bytes)", n);
    return p;
}

void *llfc_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        llfc_seterr("out of memory (size overflow)");
        return NULL;
    }
    if (over_cap(count * size)) return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) llfc_seterr("out of memory (%zu bytes)", count * size);
    return p;
}

void *llfc_realloc(void *p, size_t n)
{
    if (over_cap(n)) return NULL;
    void *q = realloc(p, n ? n : 1);
    if (!q) llfc_seterr("out of memory (%zu bytes)", n);
    return q;
}

void *llfc_mallocarray(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        llfc_seterr("out of memory (size overflow)");
        return NULL;
    }
    return llfc_malloc(count * size);
}

void llfc_free(void *p) { free(p); }

volatile sig_atomic_t llfc_interrupt_flag = 0;

void llfc_interrupt_clear(void) { llfc_interrupt_flag = 0; }

int llfc_check_interrupt(void) { return llfc_progress_stop(NULL, NULL, 0, 0, NULL); }

int llfc_progress_stop(llfc_progress_fn fn, void *ud, double done, double total, const char *what)
{
    if (llfc_interrupt_flag) return llfc_seterr("interrupted");
    if (!fn) return 0;
    int r = fn(ud, done, total, what);
    if (r == 0) return 0;
    if (r > 0 || llfc_interrupt_flag) return llfc_seterr("interrupted");
    if (!errbuf[0]) llfc_seterr("progress callback failed");
    return -1;
}

/* ---- PRNG: xoshiro256** (Blackman & Vigna), seeded by splitmix64 ---------- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void llfc_rng_seed(llfc_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t llfc_rng_next(llfc_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float llfc_rng_float(llfc_rng *r) { return (float)(llfc_rng_next(r) >> 40) * 0x1.0p-24f; }
double llfc_rng_double(llfc_rng *r) { return (double)(llfc_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t llfc_rng_below(llfc_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = llfc_rng_next(r); while (v >= limit);
    return v % n;
}

double llfc_rng_normal(llfc_rng *r)
{
    double u1 = 1.0 - llfc_rng_double(r); /* (0, 1] */
    double u2 = llfc_rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void llfc_rng_shuffle(llfc_rng *r, int64_t *a, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)llfc_rng_below(r, (uint64_t)i + 1);
        int64_t t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

double llfc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
