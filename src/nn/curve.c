/* curve.c - curves between two networks: weights, points, training
 * hooks, files (see curve.h). */
#include "nn/curve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/build.h"
#include "nn/combine.h"
#include "nn/modelfile.h"

const char *llfc_curve_kind_name(int kind) { return kind == LLFC_CURVE_POLYCHAIN ? "polychain" : "bezier"; }

int llfc_curve_kind_from_name(const char *name)
{
    if (!strcmp(name, "bezier")) return LLFC_CURVE_BEZIER;
    if (!strcmp(name, "polychain")) return LLFC_CURVE_POLYCHAIN;
    return -1;
}

static void curve_free(llfc_curve *c)
{
    if (!c) return;
    for (int k = 0; c->node && k < c->nnodes; k++) {
        if (c->buf && k < c->nbends && c->buf[k])
            for (int p = 0; p < c->node[0]->nparams; p++) free(c->buf[k][p]);
        if (c->buf && k < c->nbends) free(c->buf[k]);
    }
    for (int k = 0; c->node && k < c->nnodes; k++) llfc_net_free(c->node[k]);
    free(c->buf);
    free(c->node);
    free(c->scaled);
    free(c);
}

void llfc_curve_retain(llfc_curve *c) { c->refs++; }

void llfc_curve_release(llfc_curve *c)
{
    if (c && --c->refs <= 0) curve_free(c);
}

/* An empty curve of kind with nbends bends (nodes NULL). */
static llfc_curve *curve_alloc(int kind, int nbends)
{
    if (kind != LLFC_CURVE_BEZIER && kind != LLFC_CURVE_POLYCHAIN) {
        llfc_seterr("unknown curve kind %d", kind);
        return NULL;
    }
    if (nbends < 1 || nbends > 64) {
        llfc_seterr("a curve has 1 to 64 bends, not %d", nbends);
        return NULL;
    }
    llfc_curve *c = llfc_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->kind = kind, c->nbends = nbends, c->nnodes = nbends + 2, c->refs = 1;
    if (!(c->node = llfc_calloc((size_t)c->nnodes, sizeof *c->node))) { free(c); return NULL; }
    return c;
}

llfc_curve *llfc_curve_new(const llfc_net *a, const llfc_net *b, int kind, int nbends)
{
    if (llfc_net_same_arch(a, b)) return NULL;
    llfc_curve *c = curve_alloc(kind, nbends);
    if (!c) return NULL;
    int n = c->nnodes;
    for (int k = 0; k < n; k++) {
        double t = (double)k / (n - 1);
        /* the endpoints are copies; the bends are on the line at t_k */
        c->node[k] = k == 0 ? llfc_net_clone(b) : k == n - 1 ? llfc_net_clone(a) : llfc_net_lerp(a, b, t);
        if (!c->node[k]) { curve_free(c); return NULL; }
    }
    return c;
}

int llfc_curve_weights(const llfc_curve *c, double t, double *w)
{
    if (!(t >= 0.0 && t <= 1.0)) return llfc_seterr("t = %g is outside [0, 1]", t);
    int n = c->nnodes - 1; /* degree / segments */
    for (int k = 0; k <= n; k++) w[k] = 0.0;
    if (c->kind == LLFC_CURVE_POLYCHAIN) {
        double s = t * n;
        int i = (int)floor(s);
        if (i >= n) i = n - 1;
        double f = s - i;
        w[i] = 1.0 - f;
        w[i + 1] = f;
        return 0;
    }
    double binom = 1.0; /* C(n, k) */
    for (int k = 0; k <= n; k++) {
        w[k] = binom * pow(t, k) * pow(1.0 - t, n - k); /* pow(0, 0) = 1 */
        binom = binom * (n - k) / (k + 1);
    }
    return 0;
}

int llfc_curve_at_into(const llfc_curve *c, double t, llfc_net *out)
{
    double w[66];
    if (llfc_curve_weights(c, t, w)) return -1;
    return llfc_net_combine_into(out, (const llfc_net *const *)c->node, c->nnodes, w);
}

llfc_net *llfc_curve_at(const llfc_curve *c, double t)
{
    llfc_net *out = llfc_net_clone(c->node[0]);
    if (!out) return NULL;
    if (llfc_curve_at_into(c, t, out)) { llfc_net_free(out); return NULL; }
    return out;
}

/* ---- training ------------------------------------------------------------------------------- */

static int hook_point(void *ud, llfc_net *net)
{
    llfc_curve *c = ud;
    c->t_last = llfc_rng_double(&c->rng);
    return llfc_curve_at_into(c, c->t_last, net);
}

static int hook_update(void *ud, const llfc_net *net, float *const *grad, float lr, int first)
{
    llfc_curve *c = ud;
    double w[66];
    if (llfc_curve_weights(c, c->t_last, w)) return -1;
    for (int k = 1; k <= c->nbends; k++) {
        llfc_net *bend = c->node[k];
        float wk = (float)w[k];
        for (int p = 0; p < bend->nparams; p++) {
            if (!grad[p] || !c->buf[k - 1][p]) continue;
            int64_t m = llfc_tensor_numel(bend->param[p]);
            for (int64_t i = 0; i < m; i++) c->scaled[i] = wk * grad[p][i];
            float *d = llfc_tensor_data(bend->param[p]);
            llfc_sgd_update(&c->opts, first, lr, d, c->scaled, c->buf[k - 1][p], m);
            for (int64_t i = 0; i < m; i++)
                if (!isfinite(d[i]))
                    return llfc_seterr("bend %d: '%s' is %s after the update: training diverged (try a smaller lr)", k,
                                       bend->pname[p], isnan(d[i]) ? "NaN" : "infinite");
        }
    }
    c->steps++;
    (void)net;
    return 0;
}

static void hook_release(void *ud) { llfc_curve_release(ud); }

int llfc_curve_attach(llfc_curve *c, llfc_trainer *tr, uint64_t seed)
{
    if (llfc_net_same_arch(c->node[0], tr->net)) return llfc_adderr("the trainer's network");
    const llfc_net *net = c->node[0];
    int64_t maxm = 1;
    if (!c->buf) {
        if (!(c->buf = llfc_calloc((size_t)c->nbends, sizeof *c->buf))) return -1;
        for (int k = 0; k < c->nbends; k++) {
            if (!(c->buf[k] = llfc_calloc((size_t)net->nparams + 1, sizeof **c->buf))) return -1;
            for (int p = 0; p < net->nparams; p++)
                if (net->ptrain[p] &&
                    !(c->buf[k][p] = llfc_calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float))))
                    return -1;
        }
    }
    for (int p = 0; p < net->nparams; p++)
        if (llfc_tensor_numel(net->param[p]) > maxm) maxm = llfc_tensor_numel(net->param[p]);
    if (!c->scaled && !(c->scaled = llfc_mallocarray((size_t)maxm, sizeof(float)))) return -1;
    c->opts = tr->opt.o;
    llfc_rng_seed(&c->rng, seed);
    llfc_train_hooks h = {hook_point, hook_update, hook_release, c};
    llfc_curve_retain(c);
    llfc_trainer_set_hooks(tr, &h);
    return 0;
}

int llfc_curve_grad(const llfc_curve *c, double t, const float *x, const int32_t *y, int64_t n, int k, float **grad,
                    double *loss)
{
    if (k < 1 || k > c->nbends) return llfc_seterr("no bend %d (the curve has %d)", k, c->nbends);
    double w[66];
    if (llfc_curve_weights(c, t, w)) return -1;
    llfc_net *pt = llfc_curve_at(c, t);
    if (!pt) return -1;
    int rc = llfc_net_loss_grad(pt, x, y, n, grad, loss, NULL);
    for (int p = 0; !rc && p < pt->nparams; p++) {
        if (!grad[p] || !pt->ptrain[p]) continue;
        for (int64_t i = 0; i < llfc_tensor_numel(pt->param[p]); i++) grad[p][i] *= (float)w[k];
    }
    llfc_net_free(pt);
    return rc;
}

/* ---- files ---------------------------------------------------------------------------------- */

static void node_prefix(const llfc_curve *c, int k, char *buf, size_t n)
{
    if (k == 0) snprintf(buf, n, "b.");
    else if (k == c->nnodes - 1) snprintf(buf, n, "a.");
    else snprintf(buf, n, "bend%d.", k);
}

int llfc_curve_save(const llfc_curve *c, const char *path)
{
    if (!c->node[0]->config[0]) return llfc_seterr("the curve's networks have no description to save");
    llfc_st_file *f = llfc_st_new();
    if (!f) return -1;
    int rc = -1;
    char pre[32], nb[16];
    for (int k = 0; k < c->nnodes; k++) {
        node_prefix(c, k, pre, sizeof pre);
        if (llfc_net_to_st(c->node[k], f, pre, NULL)) goto done;
    }
    snprintf(nb, sizeof nb, "%d", c->nbends);
    if (llfc_st_set_meta(f, "curve", llfc_curve_kind_name(c->kind)) || llfc_st_set_meta(f, "bends", nb) ||
        llfc_st_set_meta(f, "config", c->node[0]->config))
        goto done;
    rc = llfc_st_write(path, f);
done:
    llfc_st_free(f);
    return rc;
}

int llfc_curve_file(const char *path)
{
    llfc_st_file *f = llfc_st_read(path);
    if (!f) return -1;
    int is = llfc_st_get_meta(f, "curve") != NULL;
    llfc_st_free(f);
    return is;
}

llfc_curve *llfc_curve_load(const char *path)
{
    llfc_st_file *f = llfc_st_read(path);
    if (!f) return NULL;
    llfc_curve *c = NULL;
    const char *kind = llfc_st_get_meta(f, "curve"), *bends = llfc_st_get_meta(f, "bends"),
               *cfg = llfc_st_get_meta(f, "config");
    char *end = NULL;
    long nb = bends ? strtol(bends, &end, 10) : 0;
    if (!kind || llfc_curve_kind_from_name(kind) < 0 || !bends || *end || !cfg) {
        llfc_seterr("%s: not a curve file (its metadata needs curve = bezier | polychain, bends and config)", path);
        goto done;
    }
    if (!(c = curve_alloc(llfc_curve_kind_from_name(kind), (int)nb))) { llfc_adderr("%s", path); goto done; }
    char pre[32];
    for (int k = 0; k < c->nnodes; k++) {
        if (!(c->node[k] = llfc_net_build(cfg, 1))) { llfc_adderr("%s: config '%s'", path, cfg); goto fail; }
        node_prefix(c, k, pre, sizeof pre);
        if (llfc_net_from_st(c->node[k], f, pre, path, cfg, 0)) goto fail;
    }
    int64_t want = (int64_t)c->nnodes * c->node[0]->nparams;
    if (f->n != want) {
        llfc_seterr("%s: %d tensors, a curve of %d nodes of config '%s' has %lld", path, f->n, c->nnodes, cfg,
                    (long long)want);
        goto fail;
    }
    goto done;
fail:
    curve_free(c);
    c = NULL;
done:
    llfc_st_free(f);
    return c;
}
