/* ste.c - straight-through estimator matching (perm.h), with the pieces the
 * gradient-based matchers share: one Adam step, and the loss and gradient
 * of an interpolated network on a batch. */
#include "perm/perm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llfc_adam_step(double *w, const double *g, double *m, double *v, int64_t n, double lr, int64_t t)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
    for (int64_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        w[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps);
    }
}

int llfc_midpoint_grad(llfc_net *tnet, llfc_nn_work *w, const llfc_net *a, const llfc_net *t, double alpha,
                       const float *x, const int32_t *y, int64_t n, float **grad, double *loss)
{
    double ls = 0.0;
    if (llfc_net_lerp_into(tnet, a, t, alpha) || llfc_net_forward_train(tnet, w, x, n) ||
        llfc_net_loss_start(tnet, w, y, n, &ls, NULL) || llfc_net_backward(tnet, w, x, n, grad))
        return -1;
    *loss = ls / (double)n;
    return 0;
}

static float **grads_new(const llfc_net *net)
{
    float **g = llfc_calloc((size_t)net->nparams + 1, sizeof *g);
    if (!g) return NULL;
    for (int p = 0; p < net->nparams; p++) {
        if (!net->ptrain[p]) continue;
        if (!(g[p] = llfc_mallocarray((size_t)llfc_tensor_numel(net->param[p]), sizeof **g))) {
            for (int k = 0; k < p; k++) free(g[k]);
            free(g);
            return NULL;
        }
    }
    return g;
}

static void grads_free(const llfc_net *net, float **g)
{
    if (!g) return;
    for (int p = 0; p < net->nparams; p++) free(g[p]);
    free(g);
}

int llfc_ste_grad(const llfc_net *a, const llfc_net *pb, double alpha, const float *x, const int32_t *y, int64_t n,
                  float **grad, double *loss)
{
    if (llfc_match_check_pair(a, pb)) return -1;
    if (!(alpha >= 0.0 && alpha < 1.0)) return llfc_seterr("alpha must be in [0, 1), got %g", alpha);
    llfc_net *tnet = llfc_net_clone(a);
    llfc_nn_work *w = tnet ? llfc_nn_work_new(tnet, n) : NULL;
    int rc = -1;
    if (w && !llfc_midpoint_grad(tnet, w, a, pb, alpha, x, y, n, grad, loss)) {
        for (int p = 0; p < a->nparams; p++) {
            if (!grad[p] || !a->ptrain[p]) continue;
            for (int64_t i = 0, m = llfc_tensor_numel(a->param[p]); i < m; i++)
                grad[p][i] = (float)((1.0 - alpha) * grad[p][i]);
        }
        rc = 0;
    }
    llfc_nn_work_free(w);
    llfc_net_free(tnet);
    return rc;
}

/* P = argmax <free, P(b)> from the start `from` (NULL: identity);
 * *intr = 1 when Ctrl-C stopped it (the result is then not used) */
static llfc_perm *project(const llfc_net *freenet, const llfc_net *b, const llfc_perm *from, const llfc_ste_opts *o,
                          int *intr)
{
    llfc_wm_opts wo = {.max_iter = o->max_iter, .seed = o->seed, .init = from};
    llfc_wm_stats ws;
    llfc_perm *p = llfc_weight_match(freenet, b, &wo, &ws);
    if (!p) return NULL;
    free(ws.objective);
    *intr = ws.interrupted;
    return p;
}

llfc_perm *llfc_ste_match(const llfc_net *a, const llfc_net *b, const llfc_dataset *ds, const llfc_ste_opts *opts,
                          llfc_ste_stats *st)
{
    double t0 = llfc_now();
    llfc_ste_opts o = {.epochs = 1, .lr = 1e-3, .batch = 500, .alpha = 0.5, .from = LLFC_FROM_WEIGHT, .max_iter = 100};
    if (opts) o = *opts;
    memset(st, 0, sizeof *st);
    if (!ds || ds->n < 1) return llfc_seterr("no training samples"), NULL;
    if (ds->dim != llfc_net_input_dim(a))
        return llfc_seterr("the dataset has %lld features per sample, the network takes %lld", (long long)ds->dim,
                           (long long)llfc_net_input_dim(a)), NULL;
    if (ds->nclasses > llfc_net_num_classes(a))
        return llfc_seterr("the dataset has %d classes, the network %lld outputs", ds->nclasses,
                           (long long)llfc_net_num_classes(a)), NULL;
    if (o.batch < 1) return llfc_seterr("batch must be at least 1, got %lld", (long long)o.batch), NULL;
    if (o.steps < 0) return llfc_seterr("steps must be at least 1, got %lld", (long long)o.steps), NULL;
    if (o.steps == 0 && o.epochs < 1) return llfc_seterr("epochs must be at least 1, got %d", o.epochs), NULL;
    if (!(o.lr > 0.0) || !isfinite(o.lr)) return llfc_seterr("lr must be positive, got %g", o.lr), NULL;
    if (!(o.alpha >= 0.0 && o.alpha < 1.0)) return llfc_seterr("alpha must be in [0, 1), got %g", o.alpha), NULL;
    if (o.max_iter < 1) return llfc_seterr("max_iter must be at least 1, got %d", o.max_iter), NULL;
    if (llfc_match_check_pair(a, b)) return NULL;
    int64_t bs = o.batch < ds->n ? o.batch : ds->n, per_epoch = (ds->n + bs - 1) / bs;
    int64_t steps = o.steps > 0 ? o.steps : per_epoch * o.epochs;
    int64_t nepochs = (steps + per_epoch - 1) / per_epoch, din = ds->dim;
    llfc_net *freenet = NULL, *tnet = NULL, *pb = NULL;
    llfc_nn_work *w = NULL;
    llfc_perm *P = NULL, *res = NULL;
    float **grad = NULL, *xb = NULL;
    int32_t *yb = NULL;
    int64_t *idx = NULL, nfree = 0;
    double *fw = NULL, *g = NULL, *m = NULL, *v = NULL;
    switch (o.from) {
    case LLFC_FROM_WEIGHT: freenet = llfc_net_clone(a); break;
    case LLFC_FROM_IDENTITY: freenet = llfc_net_clone(b); break;
    case LLFC_FROM_PERM:
        if (!o.init) { llfc_seterr("init: no permutation given"); goto done; }
        if (llfc_perm_fits(o.init, b->spec)) { llfc_adderr("init"); goto done; }
        freenet = llfc_perm_apply(o.init, b);
        break;
    default: llfc_seterr("init: unknown start %d", o.from); goto done;
    }
    if (!freenet || !(tnet = llfc_net_clone(a)) || !(w = llfc_nn_work_new(tnet, bs)) || !(grad = grads_new(a)))
        goto done;
    for (int p = 0; p < a->nparams; p++)
        if (a->ptrain[p]) nfree += llfc_tensor_numel(a->param[p]);
    if (!(fw = llfc_mallocarray((size_t)nfree + 1, sizeof *fw)) || !(g = llfc_mallocarray((size_t)nfree + 1, sizeof *g)) ||
        !(m = llfc_calloc((size_t)nfree + 1, sizeof *m)) || !(v = llfc_calloc((size_t)nfree + 1, sizeof *v)) ||
        !(xb = llfc_mallocarray((size_t)(bs * din), sizeof *xb)) || !(yb = llfc_mallocarray((size_t)bs, sizeof *yb)) ||
        !(idx = llfc_mallocarray((size_t)ds->n, sizeof *idx)) ||
        !(st->loss = llfc_calloc((size_t)nepochs + 1, sizeof *st->loss)))
        goto done;
    for (int p = 0, k = 0; p < a->nparams; p++) {
        if (!a->ptrain[p]) continue;
        const float *d = llfc_tensor_data(freenet->param[p]);
        for (int64_t i = 0, n = llfc_tensor_numel(a->param[p]); i < n; i++) fw[k++] = d[i];
    }
    int intr = 0;
    if (!(P = project(freenet, b, NULL, &o, &intr))) goto done;
    if (intr) { llfc_seterr("interrupted"); goto done; }
    int64_t t = 0, cnt = 0;
    double lsum = 0.0;
    for (int64_t e = 0; e < nepochs && t < steps; e++) {
        llfc_dataset_order(ds, o.seed * 1000003u + (uint64_t)e, idx);
        lsum = 0.0, cnt = 0;
        for (int64_t b0 = 0; b0 < ds->n && t < steps; b0 += bs, t++) {
            if (llfc_interrupted()) { st->interrupted = 1; break; }
            int64_t mb = ds->n - b0 < bs ? ds->n - b0 : bs;
            llfc_dataset_gather(ds, idx + b0, mb, xb, yb);
            double loss;
            llfc_net_free(pb);
            if (!(pb = llfc_perm_apply(P, b))) goto done;
            if (llfc_midpoint_grad(tnet, w, a, pb, o.alpha, xb, yb, mb, grad, &loss)) goto done;
            lsum += loss, cnt++;
            st->loss[e] = lsum / (double)cnt;
            st->nloss = (int)e + 1;
            for (int p = 0, k = 0; p < a->nparams; p++) {
                if (!a->ptrain[p]) continue;
                for (int64_t i = 0, n = llfc_tensor_numel(a->param[p]); i < n; i++)
                    g[k++] = (1.0 - o.alpha) * grad[p][i];
            }
            llfc_adam_step(fw, g, m, v, nfree, o.lr, t + 1);
            for (int p = 0, k = 0; p < a->nparams; p++) {
                if (!a->ptrain[p]) continue;
                float *d = llfc_tensor_data(freenet->param[p]);
                for (int64_t i = 0, n = llfc_tensor_numel(a->param[p]); i < n; i++) d[i] = (float)fw[k++];
            }
            llfc_perm *np = project(freenet, b, P, &o, &intr);
            if (!np) goto done;
            if (intr) { llfc_perm_free(np); st->interrupted = 1; t++; break; } /* the last whole projection stands */
            if (!llfc_perm_equal(np, P)) st->changes++;
            llfc_perm_free(P);
            P = np;
            st->steps = t + 1;
            if (o.progress) {
                char msg[128];
                snprintf(msg, sizeof msg, "ste_match step %lld/%lld (epoch %lld): midpoint loss %.6g",
                         (long long)(t + 1), (long long)steps, (long long)(e + 1), loss);
                if (llfc_progress_stop(o.progress, o.progress_ud, (double)(t + 1), (double)steps, msg)) {
                    if (llfc_interrupted()) { st->interrupted = 1; t++; break; }
                    goto done;
                }
            }
        }
        if (st->interrupted) break;
    }
    res = P;
    P = NULL;
done:
    if (!res) {
        free(st->loss);
        st->loss = NULL;
        st->nloss = 0;
    }
    st->seconds = llfc_now() - t0;
    llfc_perm_free(P);
    llfc_net_free(freenet), llfc_net_free(tnet), llfc_net_free(pb);
    llfc_nn_work_free(w);
    grads_free(a, grad);
    free(fw), free(g), free(m), free(v), free(xb), free(yb), free(idx);
    return res;
}
