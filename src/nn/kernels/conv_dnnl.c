/* conv_dnnl.c - conv2d forward and backward through oneDNN (libdnnl), when
 * configure found it (LLFC_HAVE_DNNL); conv.c falls back to im2col + sgemm
 * otherwise and whenever a call here fails.
 *
 * oneDNN is the library PyTorch itself computes CPU convolutions with; its JIT
 * kernels use the machine's widest vector unit (AVX-512 here), while the
 * OpenBLAS sgemm that the im2col path calls may run a generic kernel (see
 * docs/BENCH.md, "Conv kernels").
 *
 * One engine and one stream for the process.  A primitive is made once per
 * shape and kind (forward, backward data, backward weights) and kept in a
 * small LRU table, since a training loop calls the same few shapes every
 * batch and creating a primitive JIT-compiles its kernel.  Two memory layouts:
 *   plain:   the primitives read and write the caller's NCHW / KCRS buffers;
 *   blocked: the primitives choose their layout ("any", the default), and
 *            reorders copy between the caller's buffers and blocked buffers
 *            in one scratch area that all entries share (one call at a time),
 *            so the cache holds no activations.
 * Parameter gradients accumulate (layers.h): backward weights writes into a
 * scratch [K, C, R, S] (and [K]) that is then added into dweight (dbias).
 *
 * The table is guarded by a mutex; a call holds it while it runs.
 *
 * The sanitizer build (--enable-asan --enable-ubsan) runs this path too:
 * oneDNN's JIT code is not instrumented, the buffers it gets are ours.
 */
#include <stddef.h>

#include "nn/kernels/conv_impl.h"

#ifdef LLFC_HAVE_DNNL

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#include "core/core.h"
#include "nn/kernels/layers.h"

/* ---- loading ----------------------------------------------------------------
 * libdnnl is opened by the core (llfc_dnnl_load, src/core/gemm.c: on first
 * use, its OpenMP threads passive), which its sgemm shares. */
#define DNNL_FUNCS(X) X(dnnl_engine_create) X(dnnl_engine_destroy) X(dnnl_stream_create) \
    X(dnnl_stream_destroy) X(dnnl_stream_wait) X(dnnl_memory_desc_init_by_tag) \
    X(dnnl_convolution_forward_desc_init) X(dnnl_convolution_backward_data_desc_init) \
    X(dnnl_convolution_backward_weights_desc_init) X(dnnl_primitive_desc_create) \
    X(dnnl_primitive_desc_destroy) X(dnnl_primitive_desc_query_md) X(dnnl_primitive_create) \
    X(dnnl_primitive_destroy) X(dnnl_primitive_execute) X(dnnl_memory_create) \
    X(dnnl_memory_destroy) X(dnnl_memory_set_data_handle) X(dnnl_memory_desc_equal) \
    X(dnnl_memory_desc_get_size) X(dnnl_reorder_primitive_desc_create)
#define DECLARE(f) static __typeof__(f) *p_##f;
DNNL_FUNCS(DECLARE)
#undef DECLARE

static int loaded;                /* 0 untried, 1 loaded, -1 failed */
static char load_err[256];

static int load(void)
{
    if (loaded) return loaded > 0 ? 0 : -1;
    loaded = -1;
    if (llfc_dnnl_load() < 0) return -1;
#define LOAD(f) if (!(*(void **)&p_##f = llfc_dnnl_sym(#f))) { \
        snprintf(load_err, sizeof load_err, "oneDNN: no symbol %s", #f); return -1; }
    DNNL_FUNCS(LOAD)
#undef LOAD
    loaded = 1;
    return 0;
}

/* Below, dnnl_x means the loaded function. */
#define dnnl_engine_create p_dnnl_engine_create
#define dnnl_engine_destroy p_dnnl_engine_destroy
#define dnnl_stream_create p_dnnl_stream_create
#define dnnl_stream_destroy p_dnnl_stream_destroy
#define dnnl_stream_wait p_dnnl_stream_wait
#define dnnl_memory_desc_init_by_tag p_dnnl_memory_desc_init_by_tag
#define dnnl_convolution_forward_desc_init p_dnnl_convolution_forward_desc_init
#define dnnl_convolution_backward_data_desc_init p_dnnl_convolution_backward_data_desc_init
#define dnnl_convolution_backward_weights_desc_init p_dnnl_convolution_backward_weights_desc_init
#define dnnl_primitive_desc_create p_dnnl_primitive_desc_create
#define dnnl_primitive_desc_destroy p_dnnl_primitive_desc_destroy
#define dnnl_primitive_desc_query_md p_dnnl_primitive_desc_query_md
#define dnnl_primitive_create p_dnnl_primitive_create
#define dnnl_primitive_destroy p_dnnl_primitive_destroy
#define dnnl_primitive_execute p_dnnl_primitive_execute
#define dnnl_memory_create p_dnnl_memory_create
#define dnnl_memory_destroy p_dnnl_memory_destroy
#define dnnl_memory_set_data_handle p_dnnl_memory_set_data_handle
#define dnnl_memory_desc_equal p_dnnl_memory_desc_equal
#define dnnl_memory_desc_get_size p_dnnl_memory_desc_get_size
#define dnnl_reorder_primitive_desc_create p_dnnl_reorder_primitive_desc_create

enum { KIND_FWD, KIND_BWD_DATA, KIND_BWD_WEIGHTS };
enum { MAXARGS = 4, NENTRIES = 48 };

/* One argument of a primitive: the caller's buffer (user, plain layout) and,
 * when the primitive wants another layout, its own buffer and a reorder. */
typedef struct {
    int arg;                      /* DNNL_ARG_* */
    int out;                      /* written by the primitive */
    dnnl_memory_t user;           /* handle set on each call */
    dnnl_memory_t inner;          /* NULL when user is used directly */
    size_t off;                   /* inner's place in the shared scratch, bytes */
    const dnnl_memory_desc_t *want;   /* the primitive's layout (owned by the pd) */
    dnnl_primitive_t reorder;     /* user -> inner (inputs), inner -> user (outputs) */
} carg;

typedef struct {
    int key[14];                  /* N C H W K R S stride pad kind bias layout src_blk dst_blk */
    unsigned long used;           /* LRU stamp; 0 = free slot */
    int failed;                   /* creation failed: use the fallback for this shape */
    dnnl_primitive_desc_t fwd_pd, pd;
    dnnl_primitive_t prim;
    carg args[MAXARGS];
    int nargs;
    float *acc;                   /* backward weights: [K*C*R*S + K] results to add */
    size_t scratch;               /* bytes of shared scratch the inner buffers need */
} centry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int state;                 /* 0 untried, 1 ready, -1 unavailable */
static centry table[NENTRIES];
static unsigned long clock_;
static int layout = LLFC_CONV_DNNL_BLOCKED;
static int made_for;              /* the thread count of the cached primitives */
static int act_block = -1;        /* channel block of the blocked activations; -1 not probed */
/* The inner (blocked) buffers of every entry live in one scratch area, used by
 * one call at a time, so the cache holds no activations: it grows to the
 * largest call's needs. */
static void *scratch;
static size_t scratch_size;

#define TRY(call) do { if ((call) != dnnl_success) goto fail; } while (0)

static void entry_free(centry *e);

/* Ready to run on this thread: loaded, and the primitives made for the
 * thread count that oneDNN uses now (their scratch and work split depend on
 * it, so the cache is dropped when it changed). */
static int init(void)
{
    if (!state) {
        state = -1;
        if (load() < 0) return -1;
        if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) return -1;
        if (dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
            dnnl_engine_destroy(engine);
            return -1;
        }
        state = 1;
    }
    if (state < 0) return -1;
    int nt = llfc_dnnl_enter();
    if (nt != made_for) {
        for (int i = 0; i < NENTRIES; i++) entry_free(&table[i]);
        made_for = nt;
    }
    return 0;
}

static void entry_free(centry *e)
{
    for (int i = 0; i < e->nargs; i++) {
        carg *a = &e->args[i];
        if (a->reorder) dnnl_primitive_destroy(a->reorder);
        if (a->inner) dnnl_memory_destroy(a->inner);
        if (a->user) dnnl_memory_destroy(a->user);
    }
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->pd) dnnl_primitive_desc_destroy(e->pd);
    if (e->fwd_pd) dnnl_primitive_desc_destroy(e->fwd_pd);
    llfc_free(e->acc);
    memset(e, 0, sizeof *e);
}

/* Bind argument `arg` of e->pd to a user memory of layout md. */
static int add_arg(centry *e, int arg, int out, const dnnl_memory_desc_t *md)
{
    carg *a = &e->args[e->nargs++];
    a->arg = arg, a->out = out;
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(e->pd, dnnl_query_exec_arg_md, arg);
    if (!want) return -1;
    a->want = want;
    if (dnnl_memory_create(&a->user, md, engine, DNNL_MEMORY_NONE) != dnnl_success) return -1;
    if (dnnl_memory_desc_equal(want, md)) return 0;
    dnnl_primitive_desc_t rpd = NULL;
    if (dnnl_memory_create(&a->inner, want, engine, DNNL_MEMORY_NONE) != dnnl_success)
        return -1;
    a->off = e->scratch;
    e->scratch += (dnnl_memory_desc_get_size(want) + 63) / 64 * 64;
    int rc = dnnl_reorder_primitive_desc_create(&rpd, out ? want : md, engine, out ? md : want,
                                                engine, NULL);
    if (rc != dnnl_success) return -1;
    rc = dnnl_primitive_create(&a->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    return rc == dnnl_success ? 0 : -1;
}

/* The user layout of an activation: plain NCHW (blk 0) or channel blocks of
 * blk (nChw8c, nChw16c: [N, C/blk, H, W, blk]). */
static dnnl_format_tag_t act_tag(int blk)
{
    return blk == 0 ? dnnl_nchw : blk == 8 ? dnnl_nChw8c : blk == 16 ? dnnl_nChw16c : dnnl_format_tag_undef;
}

static void dims4(dnnl_dims_t d, int a, int b, int c, int e) { d[0] = a, d[1] = b, d[2] = c, d[3] = e; }

/* Make the primitive of e->key. */
static int entry_make(centry *e)
{
    const int *k = e->key;
    int N = k[0], C = k[1], H = k[2], W = k[3], K = k[4], R = k[5], S = k[6], stride = k[7],
        pad = k[8], kind = k[9], bias = k[10], blocked = k[11] == LLFC_CONV_DNNL_BLOCKED;
    dnnl_format_tag_t tx = act_tag(k[12]), ty = act_tag(k[13]);
    int P = (H + 2 * pad - R) / stride + 1, Q = (W + 2 * pad - S) / stride + 1;
    dnnl_dims_t dx, dw, dy, db = {K}, st = {stride, stride}, pl = {pad, pad}, pr;
    /* right padding as oneDNN wants it: the last window's end minus the input */
    pr[0] = (P - 1) * stride + R - H - pad, pr[1] = (Q - 1) * stride + S - W - pad;
    dims4(dx, N, C, H, W), dims4(dw, K, C, R, S), dims4(dy, N, K, P, Q);
    dnnl_memory_desc_t mx, mw, my, mb, ax, aw, ay;
    if (tx == dnnl_format_tag_undef || ty == dnnl_format_tag_undef) goto fail;
    TRY(dnnl_memory_desc_init_by_tag(&mx, 4, dx, dnnl_f32, tx));
    TRY(dnnl_memory_desc_init_by_tag(&mw, 4, dw, dnnl_f32, dnnl_oihw));
    TRY(dnnl_memory_desc_init_by_tag(&my, 4, dy, dnnl_f32, ty));
    TRY(dnnl_memory_desc_init_by_tag(&mb, 1, db, dnnl_f32, dnnl_x));
    if (blocked) {
        TRY(dnnl_memory_desc_init_by_tag(&ax, 4, dx, dnnl_f32, dnnl_format_tag_any));
        TRY(dnnl_memory_desc_init_by_tag(&aw, 4, dw, dnnl_f32, dnnl_format_tag_any));
        TRY(dnnl_memory_desc_init_by_tag(&ay, 4, dy, dnnl_f32, dnnl_format_tag_any));
    } else {
        ax = mx, aw = mw, ay = my;
    }
    dnnl_convolution_desc_t fd, bd;
    TRY(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                           &ax, &aw, bias && kind == KIND_FWD ? &mb : NULL, &ay,
                                           st, pl, pr));
    TRY(dnnl_primitive_desc_create(&e->fwd_pd, &fd, NULL, engine, NULL));
    if (kind == KIND_FWD) {
        e->pd = e->fwd_pd, e->fwd_pd = NULL;
        TRY(dnnl_primitive_create(&e->prim, e->pd));
        if (add_arg(e, DNNL_ARG_SRC, 0, &mx) < 0
            || add_arg(e, DNNL_ARG_WEIGHTS, 0, &mw) < 0
            || (bias && add_arg(e, DNNL_ARG_BIAS, 0, &mb) < 0)
            || add_arg(e, DNNL_ARG_DST, 1, &my) < 0)
            goto fail;
        return 0;
    }
    if (kind == KIND_BWD_DATA) {
        TRY(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &ax, &aw, &ay,
                                                     st, pl, pr));
        TRY(dnnl_primitive_desc_create(&e->pd, &bd, NULL, engine, e->fwd_pd));
        TRY(dnnl_primitive_create(&e->prim, e->pd));
        if (add_arg(e, DNNL_ARG_DIFF_DST, 0, &my) < 0
            || add_arg(e, DNNL_ARG_WEIGHTS, 0, &mw) < 0
            || add_arg(e, DNNL_ARG_DIFF_SRC, 1, &mx) < 0)
            goto fail;
        return 0;
    }
    TRY(dnnl_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &ax, &aw,
                                                    bias ? &mb : NULL, &ay, st, pl, pr));
    TRY(dnnl_primitive_desc_create(&e->pd, &bd, NULL, engine, e->fwd_pd));
    TRY(dnnl_primitive_create(&e->prim, e->pd));
    if (!(e->acc = llfc_mallocarray((size_t)K * C * R * S + (size_t)K, sizeof(float))))
        goto fail;
    /* diff_dst first: at the start of the scratch, as in backward data (see backward) */
    if (add_arg(e, DNNL_ARG_DIFF_DST, 0, &my) < 0
        || add_arg(e, DNNL_ARG_SRC, 0, &mx) < 0
        || add_arg(e, DNNL_ARG_DIFF_WEIGHTS, 1, &mw) < 0
        || (bias && add_arg(e, DNNL_ARG_DIFF_BIAS, 1, &mb) < 0))
        goto fail;
    return 0;
fail:
    return -1;
}

/* The cached entry for this key (made on first use), or NULL. */
static centry *lookup(const int *key)
{
    centry *lru = &table[0];
    for (int i = 0; i < NENTRIES; i++) {
        centry *e = &table[i];
        if (e->used && !memcmp(e->key, key, sizeof e->key)) {
            e->used = ++clock_;
            return e->failed ? NULL : e;
        }
        if (e->used < lru->used) lru = e;
    }
    entry_free(lru);
    memcpy(lru->key, key, sizeof lru->key);
    lru->used = ++clock_;
    if (entry_make(lru) < 0) {
        entry_free(lru);
        memcpy(lru->key, key, sizeof lru->key);
        lru->used = clock_;
        lru->failed = 1;
        return NULL;
    }
    return lru;
}

static int scratch_reserve(size_t bytes)
{
    if (bytes <= scratch_size) return 0;
    free(scratch);
    scratch_size = 0;
    if (!(scratch = aligned_alloc(64, bytes))) return -1;
    scratch_size = bytes;
    return 0;
}

/* Run e with the given buffers (in args order).  With keep0, argument 0's
 * inner buffer already holds its reordered input. */
static int run(centry *e, void *const *bufs, int keep0)
{
    dnnl_exec_arg_t ex[MAXARGS];
    if (scratch_reserve(e->scratch) < 0) return -1;
    for (int i = 0; i < e->nargs; i++) {
        carg *a = &e->args[i];
        if (dnnl_memory_set_data_handle(a->user, bufs[i]) != dnnl_success) return -1;
        if (a->inner && dnnl_memory_set_data_handle(a->inner, (char *)scratch + a->off)
                            != dnnl_success)
            return -1;
        ex[i].arg = a->arg;
        ex[i].memory = a->inner ? a->inner : a->user;
        if (a->inner && !a->out && !(keep0 && i == 0)) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->inner}};
            if (dnnl_primitive_execute(a->reorder, stream, 2, r) != dnnl_success) return -1;
        }
    }
    if (dnnl_primitive_execute(e->prim, stream, e->nargs, ex) != dnnl_success) return -1;
    for (int i = 0; i < e->nargs; i++) {
        carg *a = &e->args[i];
        if (a->inner && a->out) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, a->inner}, {DNNL_ARG_TO, a->user}};
            if (dnnl_primitive_execute(a->reorder, stream, 2, r) != dnnl_success) return -1;
        }
    }
    return dnnl_stream_wait(stream) == dnnl_success ? 0 : -1;
}

static void make_key(int *key, int N, int C, int H, int W, int K, int R, int S, int stride,
                     int pad, int kind, int bias)
{
    int k[14] = {N, C, H, W, K, R, S, stride, pad, kind, bias, layout, 0, 0};
    memcpy(key, k, sizeof k);
}

int llfc_conv_dnnl_forward(float *out, const float *in, const float *weight, const float *bias,
                           int N, int C, int H, int W, int K, int R, int S, int stride, int pad)
{
    return llfc_conv_dnnl_forward_blk(out, in, weight, bias, N, C, H, W, K, R, S, stride, pad, 0, 0);
}

int llfc_conv_dnnl_forward_blk(float *out, const float *in, const float *weight, const float *bias,
                               int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                               int in_blk, int out_blk)
{
    int key[14], rc = -1;
    make_key(key, N, C, H, W, K, R, S, stride, pad, KIND_FWD, bias != NULL);
    key[12] = in_blk, key[13] = out_blk;
    pthread_mutex_lock(&lock);
    centry *e = init() < 0 ? NULL : lookup(key);
    if (e) {
        void *bufs[4] = {(void *)in, (void *)weight, (void *)bias, out};
        if (!bias) bufs[2] = out;   /* no bias argument: dst is the third */
        rc = run(e, bufs, 0);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int llfc_conv_dnnl_backward(float *din, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, int N, int C, int H, int W,
                            int K, int R, int S, int stride, int pad)
{
    return llfc_conv_dnnl_backward_blk(din, dweight, dbias, dout, in, weight, N, C, H, W, K, R, S, stride, pad,
                                       0, 0);
}

int llfc_conv_dnnl_backward_blk(float *din, float *dweight, float *dbias, const float *dout,
                                const float *in, const float *weight, int N, int C, int H, int W,
                                int K, int R, int S, int stride, int pad, int in_blk, int out_blk)
{
    int kd[14], kw[14], done = 0;
    make_key(kd, N, C, H, W, K, R, S, stride, pad, KIND_BWD_DATA, 0);
    make_key(kw, N, C, H, W, K, R, S, stride, pad, KIND_BWD_WEIGHTS, dbias != NULL);
    kd[12] = kw[12] = in_blk, kd[13] = kw[13] = out_blk;
    pthread_mutex_lock(&lock);
    int ok = init() == 0;
    /* the second lookup cannot evict the first: it is the most recently used */
    centry *ed = ok && din ? lookup(kd) : NULL, *ew = ok && dweight ? lookup(kw) : NULL;
    if (ed && ew && scratch_reserve(ed->scratch > ew->scratch ? ed->scratch : ew->scratch) < 0)
        ed = ew = NULL;
    int rd = -1;
    if (ed) {
        void *bufs[3] = {(void *)dout, (void *)weight, din};
        if ((rd = run(ed, bufs, 0)) == 0) done |= 1;
    }
    if (ew) {
        /* both primitives start with diff_dst at scratch offset 0: when they
         * want the same layout, backward data's reorder of dout serves both */
        const carg *a = ed ? &ed->args[0] : NULL, *b = &ew->args[0];
        int keep = a && rd == 0 && a->inner && b->inner && a->off == 0 && b->off == 0
                   && dnnl_memory_desc_equal(a->want, b->want);
        size_t nw = (size_t)K * C * R * S;
        void *bufs[4] = {(void *)dout, (void *)in, ew->acc, ew->acc + nw};
        if (run(ew, bufs, keep) == 0) {
            for (size_t i = 0; i < nw; i++) dweight[i] += ew->acc[i];
            if (dbias)
                for (int k = 0; k < K; k++) dbias[k] += ew->acc[nw + (size_t)k];
            done |= 2;
        }
    }
    pthread_mutex_unlock(&lock);
    return done;
}

/* The channel block of the layout the blocked primitives choose for
 * activations: made for a 3x3 convolution of 32 channels and asked. */
static int probe_block(void)
{
    dnnl_dims_t d = {2, 32, 8, 8}, dw = {32, 32, 3, 3}, st = {1, 1}, pd = {1, 1};
    dnnl_memory_desc_t a, aw, want;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t p = NULL;
    int blk = 0;
    if (dnnl_memory_desc_init_by_tag(&a, 4, d, dnnl_f32, dnnl_format_tag_any) != dnnl_success
        || dnnl_memory_desc_init_by_tag(&aw, 4, dw, dnnl_f32, dnnl_format_tag_any) != dnnl_success
        || dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &a,
                                              &aw, NULL, &a, st, pd, pd) != dnnl_success
        || dnnl_primitive_desc_create(&p, &cd, NULL, engine, NULL) != dnnl_success)
        return 0;
    const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(p, dnnl_query_dst_md, 0);
    for (int b = 8; b <= 16 && dst; b += 8)
        if (dnnl_memory_desc_init_by_tag(&want, 4, d, dnnl_f32, act_tag(b)) == dnnl_success
            && dnnl_memory_desc_equal(dst, &want))
            blk = b;
    dnnl_primitive_desc_destroy(p);
    return blk;
}

int llfc_conv_dnnl_block(void)
{
    pthread_mutex_lock(&lock);
    int blk = 0;
    if (layout == LLFC_CONV_DNNL_BLOCKED && init() == 0) {
        if (act_block < 0) act_block = probe_block();
        blk = act_block;
    }
    pthread_mutex_unlock(&lock);
    return blk;
}

int llfc_conv_dnnl_available(void)
{
    pthread_mutex_lock(&lock);
    int rc = init();
    pthread_mutex_unlock(&lock);
    return rc;
}

int llfc_conv_dnnl_layout(int which)
{
    pthread_mutex_lock(&lock);
    if (which != layout)
        for (int i = 0; i < NENTRIES; i++) entry_free(&table[i]);
    layout = which;
    pthread_mutex_unlock(&lock);
    return 0;
}

void llfc_conv_dnnl_set_threads(int n) { llfc_dnnl_set_threads(n); }
int llfc_conv_dnnl_get_threads(void) { return llfc_dnnl_get_threads(); }

void llfc_conv_dnnl_release(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < NENTRIES; i++) entry_free(&table[i]);
    free(scratch);
    scratch = NULL, scratch_size = 0;
    pthread_mutex_unlock(&lock);
}

const char *llfc_conv_dnnl_info(void)
{
    pthread_mutex_lock(&lock);
    int rc = load();
    pthread_mutex_unlock(&lock);
    return rc < 0 && load_err[0] ? load_err : llfc_dnnl_info();
}

#else /* !LLFC_HAVE_DNNL */

int llfc_conv_dnnl_forward(float *out, const float *in, const float *weight, const float *bias,
                           int N, int C, int H, int W, int K, int R, int S, int stride, int pad)
{
    return -1;
}
int llfc_conv_dnnl_backward(float *din, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, int N, int C, int H, int W,
                            int K, int R, int S, int stride, int pad)
{
    return 0;
}
int llfc_conv_dnnl_available(void) { return -1; }
int llfc_conv_dnnl_forward_blk(float *out, const float *in, const float *weight, const float *bias,
                               int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                               int in_blk, int out_blk)
{
    return -1;
}
int llfc_conv_dnnl_block(void) { return 0; }
int llfc_conv_dnnl_backward_blk(float *din, float *dweight, float *dbias, const float *dout,
                                const float *in, const float *weight, int N, int C, int H, int W,
                                int K, int R, int S, int stride, int pad, int in_blk, int out_blk)
{
    return 0;
}
void llfc_conv_dnnl_set_threads(int n) {}
int llfc_conv_dnnl_get_threads(void) { return 0; }
int llfc_conv_dnnl_layout(int which) { return -1; }
void llfc_conv_dnnl_release(void) {}
const char *llfc_conv_dnnl_info(void) { return NULL; }

#endif
