/* core.c - errors, allocation, interruption, llfc_parallel_for, the PRNG, files. */
#include "core/core.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

void *llfc_malloc(size_t n)
{
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
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) llfc_seterr("out of memory (%zu bytes)", count * size);
    return p;
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

int llfc_check_interrupt(void)
{
    if (llfc_interrupt_flag) return llfc_seterr("interrupted");
    return 0;
}

/* ---- parallel for: the calling thread plus one pthread --------------------- */
struct pfor_part {
    void (*fn)(void *, int64_t, int64_t);
    void *ud;
    int64_t lo, hi;
};

static void *pfor_run(void *arg)
{
    struct pfor_part *p = arg;
    p->fn(p->ud, p->lo, p->hi);
    return NULL;
}

int llfc_parallel_for(int64_t n, int64_t min_per_thread,
                      void (*fn)(void *ud, int64_t lo, int64_t hi), void *ud)
{
    if (n <= 0) return 0;
    if (min_per_thread < 1) min_per_thread = 1;
    if (n < 2 * min_per_thread || n < 2 || llfc_blas_get_threads() < 2) {
        fn(ud, 0, n);
        return 1;
    }
    int64_t mid = n / 2;
    struct pfor_part part = {fn, ud, mid, n};
    pthread_t t;
    if (pthread_create(&t, NULL, pfor_run, &part) != 0) {
        fn(ud, 0, n);
        return 1;
    }
    fn(ud, 0, mid);
    pthread_join(t, NULL);
    return 2;
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

/* ---- atomic file writing ---------------------------------------------------- */
FILE *llfc_afile_open(llfc_afile *a, const char *path)
{
    size_t n = strlen(path);
    a->f = NULL;
    a->path = path;
    if (!(a->tmp = llfc_malloc(n + 16))) return NULL;
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        llfc_seterr("%s: cannot create a temporary file: %s", path, strerror(errno));
        free(a->tmp);
        a->tmp = NULL;
        return NULL;
    }
    mode_t mask = umask(0); /* mkstemp makes 0600; give what fopen would */
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) { /* keep 0600 */ }
    if (!(a->f = fdopen(fd, "wb"))) {
        llfc_seterr("%s: %s", path, strerror(errno));
        close(fd);
        unlink(a->tmp);
        free(a->tmp);
        a->tmp = NULL;
    }
    return a->f;
}

int llfc_afile_commit(llfc_afile *a, int ok)
{
    int err = 0;
    if (!a->f) return -1;
    if (ok && fflush(a->f) != 0) { ok = 0; err = errno; }
    if (fclose(a->f) != 0 && ok) { ok = 0; err = errno; }
    a->f = NULL;
    if (ok && rename(a->tmp, a->path) != 0) {
        err = errno;
        llfc_seterr("%s: cannot rename the temporary file: %s", a->path, strerror(err));
        ok = -1;
    }
    if (ok != 1) {
        unlink(a->tmp);
        if (ok == 0 && err) llfc_seterr("%s: write failed: %s", a->path, strerror(err));
        else if (ok == 0 && !*llfc_errmsg()) llfc_seterr("%s: write failed", a->path);
    }
    free(a->tmp);
    a->tmp = NULL;
    return ok == 1 ? 0 : -1;
}

int llfc_write_file_atomic(const char *path, const char *data, size_t len)
{
    llfc_afile a;
    FILE *f = llfc_afile_open(&a, path);
    if (!f) return -1;
    llfc_seterr("%s: write failed", path);
    return llfc_afile_commit(&a, fwrite(data, 1, len, f) == len);
}

FILE *llfc_fopen_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        llfc_seterr("%s: cannot open: %s", path, strerror(e));
        errno = e;
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        llfc_seterr("%s: is a directory, not a file", path);
        errno = EISDIR;
        return NULL;
    }
    return f;
}
