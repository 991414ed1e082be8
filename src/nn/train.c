/* train.c - SGD training of networks (see train.h for the exact rules). */
#include "nn/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void llfc_train_opts_default(llfc_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lr = 0.01;
    o->momentum = 0.9;
    o->batch = 128;
    o->sched = LLFC_SCHED_CONSTANT;
    o->gamma = 0.1;
}

int llfc_sched_from_name(const char *name)
{
    if (!strcmp(name, "constant")) return LLFC_SCHED_CONSTANT;
    if (!strcmp(name, "step")) return LLFC_SCHED_STEP;
    if (!strcmp(name, "cosine")) return LLFC_SCHED_COSINE;
    if (!strcmp(name, "linear")) return LLFC_SCHED_LINEAR;
    return -1;
}

const char *llfc_sched_name(int sched)
{
    static const char *names[] = {"constant", "step", "cosine", "linear"};
    return sched >= 0 && sched < 4 ? names[sched] : "?";
}

double llfc_train_lr(const llfc_train_opts *o, int64_t t)
{
    if (o->warmup > 0 && t < o->warmup) return o->lr * (double)(t + 1) / (double)o->warmup;
    double u = (double)(t - o->warmup), U = (double)(o->total_steps - o->warmup);
    double frac = U > 0 ? u / U : 0.0;
    if (frac > 1) frac = 1;
    switch (o->sched) {
    case LLFC_SCHED_STEP:
        return o->step_size > 0 ? o->lr * pow(o->gamma, floor(u / (double)o->step_size)) : o->lr;
    case LLFC_SCHED_COSINE:
        return o->lr_min + (o->lr - o->lr_min) * 0.5 * (1.0 + cos(M_PI * frac));
    case LLFC_SCHED_LINEAR:
        return o->lr + (o->lr_min - o->lr) * frac;
    default:
        return o->lr;
    }
}

/* ---- trainer ------------------------------------------------------------------ */
/* the samples of this epoch from position `from` on, reshuffled */
static void shuffle_epoch(llfc_trainer *t, int64_t from)
{
    llfc_rng r;
    llfc_rng_seed(&r, llfc_epoch_seed(t->seed, t->epoch));
    llfc_rng_shuffle(&r, t->order + from, t->ds->n - from);
}

static void start_epoch(llfc_trainer *t)
{
    llfc_dataset_epoch_order(t->ds, t->seed, t->epoch, t->order);
    t->pos = 0;
}

void llfc_trainer_set_hooks(llfc_trainer *t, const llfc_train_hooks *h)
{
    if (t->hooks.release) t->hooks.release(t->hooks.ud);
    memset(&t->hooks, 0, sizeof t->hooks);
    if (h) t->hooks = *h;
}

void llfc_trainer_free(llfc_trainer *t)
{
    if (!t) return;
    llfc_trainer_set_hooks(t, NULL);
    if (t->opt.buf) for (int p = 0; p < t->opt.nparams; p++) free(t->opt.buf[p]);
    free(t->opt.buf);
    free(t->order);
    llfc_nn_work_free(t->work);
    if (t->grad) for (int p = 0; p < t->net->nparams; p++) free(t->grad[p]);
    free(t->grad);
    free(t->saved);
    free(t->xb);
    free(t->yb);
    llfc_dataset_release(t->ds);
    free(t);
}

static int check_opts(const llfc_train_opts *o)
{
    if (!(o->lr >= 0) || !isfinite(o->lr)) return llfc_seterr("lr must be a finite number >= 0, got %g", o->lr);
    if (!(o->momentum >= 0 && o->momentum < 1)) return llfc_seterr("momentum must be in [0, 1), got %g", o->momentum);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay)) return llfc_seterr("weight_decay must be a finite number >= 0, got %g", o->weight_decay);
    if (!(o->gamma >= 0) || !isfinite(o->gamma)) return llfc_seterr("gamma must be a finite number >= 0, got %g", o->gamma);
    if (!(o->lr_min >= 0) || !isfinite(o->lr_min))
        return llfc_seterr("lr_min must be a finite number >= 0, got %g", o->lr_min);
    if (o->nesterov && o->momentum <= 0) return llfc_seterr("nesterov needs a momentum > 0");
    if (o->batch < 1) return llfc_seterr("batch must be positive, got %lld", (long long)o->batch);
    if (o->sched < 0 || o->sched > LLFC_SCHED_LINEAR) return llfc_seterr("unknown schedule %d", o->sched);
    if (o->warmup < 0) return llfc_seterr("warmup must be >= 0 steps, got %lld", (long long)o->warmup);
    if (o->sched == LLFC_SCHED_STEP && o->step_size < 1)
        return llfc_seterr("the step schedule needs step_size >= 1, got %lld", (long long)o->step_size);
    return 0;
}

static int alloc_work(llfc_trainer *t)
{
    int64_t b = t->opt.o.batch < t->ds->n ? t->opt.o.batch : t->ds->n;
    if (!(t->work = llfc_nn_work_new(t->net, b))) return -1;
    if (!(t->xb = llfc_mallocarray((size_t)(b * t->ds->dim), sizeof(float)))) return -1;
    if (!(t->yb = llfc_mallocarray((size_t)b, sizeof(int32_t)))) return -1;
    if (!(t->grad = llfc_calloc((size_t)t->net->nparams, sizeof *t->grad))) return -1;
    for (int p = 0; p < t->net->nparams; p++)
        if (t->net->ptrain[p] &&
            !(t->grad[p] = llfc_mallocarray((size_t)llfc_tensor_numel(t->net->param[p]), sizeof(float))))
            return -1;
    if (!(t->saved = llfc_mallocarray((size_t)llfc_net_nbuffer_values(t->net) + 1, sizeof(float)))) return -1;
    return 0;
}

llfc_trainer *llfc_trainer_new(llfc_net *net, llfc_dataset *ds, const llfc_train_opts *o, uint64_t seed)
{
    if (check_opts(o)) return NULL;
    if (ds->n < 1) { llfc_seterr("the dataset is empty"); return NULL; }
    if (ds->dim != llfc_net_input_dim(net)) {
        llfc_seterr("the dataset has %lld features per sample, the network takes %lld", (long long)ds->dim,
                    (long long)llfc_net_input_dim(net));
        return NULL;
    }
    if (ds->nclasses > llfc_net_num_classes(net)) {
        llfc_seterr("the dataset has %d classes, the network outputs %lld", ds->nclasses,
                    (long long)llfc_net_num_classes(net));
        return NULL;
    }
    llfc_trainer *t = llfc_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->net = net;
    t->ds = ds;
    llfc_dataset_retain(ds);
    t->opt.o = *o;
    t->opt.nparams = net->nparams;
    t->seed = seed;
    if (!(t->opt.buf = llfc_calloc((size_t)net->nparams, sizeof *t->opt.buf))) goto fail;
    for (int p = 0; p < net->nparams; p++)
        if (!(t->opt.buf[p] = llfc_calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float)))) goto fail;
    if (!(t->order = llfc_mallocarray((size_t)ds->n, sizeof *t->order))) goto fail;
    if (alloc_work(t)) goto fail;
    start_epoch(t);
    return t;
fail:
    llfc_trainer_free(t);
    return NULL;
}

llfc_trainer *llfc_trainer_clone(const llfc_trainer *s, llfc_net *net)
{
    if (llfc_net_same_arch(s->net, net)) return NULL;
    llfc_trainer *t = llfc_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->net = net;
    t->ds = s->ds;
    llfc_dataset_retain(s->ds);
    t->opt = s->opt;
    t->opt.buf = NULL;
    t->seed = s->seed;
    t->epoch = s->epoch;
    t->pos = s->pos;
    t->aug_pad = s->aug_pad;
    t->aug_flip = s->aug_flip;
    t->aug_rng = s->aug_rng;
    if (!(t->opt.buf = llfc_calloc((size_t)s->opt.nparams, sizeof *t->opt.buf))) goto fail;
    for (int p = 0; p < s->opt.nparams; p++) {
        size_t m = (size_t)llfc_tensor_numel(net->param[p]);
        if (!(t->opt.buf[p] = llfc_mallocarray(m, sizeof(float)))) goto fail;
        memcpy(t->opt.buf[p], s->opt.buf[p], m * sizeof(float));
    }
    if (!(t->order = llfc_mallocarray((size_t)s->ds->n, sizeof *t->order))) goto fail;
    memcpy(t->order, s->order, (size_t)s->ds->n * sizeof *t->order);
    if (alloc_work(t)) goto fail;
    return t;
fail:
    llfc_trainer_free(t);
    return NULL;
}

void llfc_trainer_reseed(llfc_trainer *t, uint64_t seed)
{
    if (seed == t->seed) return;
    t->seed = seed;
    if (t->pos < t->ds->n) shuffle_epoch(t, t->pos);
    llfc_augment_seed(&t->aug_rng, seed);
}

int llfc_trainer_set_augment(llfc_trainer *t, int pad, int flip)
{
    flip = flip != 0;
    if ((pad || flip) && llfc_augment_check(t->ds->c, t->ds->h, t->ds->w, pad, flip)) return -1;
    t->aug_pad = pad;
    t->aug_flip = flip;
    llfc_augment_seed(&t->aug_rng, t->seed);
    return 0;
}

int64_t llfc_trainer_steps_per_epoch(const llfc_trainer *t)
{
    return (t->ds->n + t->opt.o.batch - 1) / t->opt.o.batch;
}

/* The SGD update of one tensor w [m] with gradient g and momentum buffer buf.
 * Loops run in blocks of VB so that -O2 vectorizes them. */
#define VB 16

void llfc_sgd_update(const llfc_train_opts *o, int first, float lr, float *restrict w, const float *restrict g,
                       float *restrict buf, int64_t m)
{
    const float mu = (float)o->momentum, wd = (float)o->weight_decay;
    int64_t i = 0;
    if (mu == 0.0f) {
        for (; i + VB <= m; i += VB)
            for (int j = 0; j < VB; j++) w[i + j] -= lr * (g[i + j] + wd * w[i + j]);
        for (; i < m; i++) w[i] -= lr * (g[i] + wd * w[i]);
        return;
    }
    /* PyTorch: buf = g on the first step, then buf = mu * buf + g */
    const float keep = first ? 0.0f : mu;
    if (o->nesterov) {
        for (; i + VB <= m; i += VB)
            for (int j = 0; j < VB; j++) {
                float gi = g[i + j] + wd * w[i + j];
                float b = keep * buf[i + j] + gi;
                buf[i + j] = b;
                w[i + j] -= lr * (gi + mu * b);
            }
        for (; i < m; i++) {
            float gi = g[i] + wd * w[i];
            float b = keep * buf[i] + gi;
            buf[i] = b;
            w[i] -= lr * (gi + mu * b);
        }
    } else {
        for (; i + VB <= m; i += VB)
            for (int j = 0; j < VB; j++) {
                float b = keep * buf[i + j] + (g[i + j] + wd * w[i + j]);
                buf[i + j] = b;
                w[i + j] -= lr * b;
            }
        for (; i < m; i++) {
            float b = keep * buf[i] + (g[i] + wd * w[i]);
            buf[i] = b;
            w[i] -= lr * b;
        }
    }
}

/* The buffers (BatchNorm running statistics) are changed by the forward
 * pass: keep them to undo a diverged step. */
static void buffers_copy(llfc_trainer *t, int restore)
{
    float *s = t->saved;
    for (int p = 0; p < t->net->nparams; p++) {
        if (t->net->ptrain[p]) continue;
        int64_t m = llfc_tensor_numel(t->net->param[p]);
        float *d = llfc_tensor_data(t->net->param[p]);
        if (restore) memcpy(d, s, (size_t)m * sizeof *d);
        else memcpy(s, d, (size_t)m * sizeof *d);
        s += m;
    }
}

int llfc_trainer_step(llfc_trainer *t, llfc_step_info *info)
{
    llfc_net *net = t->net;
    llfc_dataset *ds = t->ds;
    if (t->pos >= ds->n) { t->epoch++; start_epoch(t); }
    int64_t b = t->opt.o.batch, m = ds->n - t->pos < b ? ds->n - t->pos : b;
    llfc_dataset_gather(ds, t->order + t->pos, m, t->xb, t->yb);
    if (t->aug_pad || t->aug_flip) /* checked by llfc_trainer_set_augment */
        llfc_augment_batch(t->xb, m, ds->c, ds->h, ds->w, t->aug_pad, t->aug_flip, &t->aug_rng);
    int64_t stepno = t->opt.step + 1;
    double loss = 0.0;
    int64_t nerr = 0;
    if (t->hooks.point && t->hooks.point(t->hooks.ud, net)) return llfc_adderr("step %lld", (long long)stepno);
    buffers_copy(t, 0);
    if (llfc_net_forward_train(net, t->work, t->xb, m) ||
        llfc_net_loss_start(net, t->work, t->yb, m, &loss, &nerr)) {
        buffers_copy(t, 1);
        return llfc_adderr("step %lld", (long long)stepno);
    }
    loss /= (double)m;
    if (!isfinite(loss)) {
        buffers_copy(t, 1);
        return llfc_seterr("the loss is %s at step %lld (epoch %lld): training diverged; the network keeps the "
                           "weights of step %lld (try a smaller lr)",
                           isnan(loss) ? "NaN" : "infinite", (long long)stepno, (long long)t->epoch + 1,
                           (long long)t->opt.step);
    }
    float lr = (float)llfc_train_lr(&t->opt.o, t->opt.step);
    int first = t->opt.step == 0;
    /* the whole gradient first, then every trainable parameter */
    if (llfc_net_backward(net, t->work, t->xb, m, t->grad)) return llfc_adderr("step %lld", (long long)stepno);
    if (t->hooks.update) {
        if (t->hooks.update(t->hooks.ud, net, t->grad, lr, first)) return llfc_adderr("step %lld", (long long)stepno);
    } else {
        for (int p = 0; p < net->nparams; p++)
            if (t->grad[p])
                llfc_sgd_update(&t->opt.o, first, lr, llfc_tensor_data(net->param[p]), t->grad[p], t->opt.buf[p],
                                llfc_tensor_numel(net->param[p]));
    }
    t->opt.step = stepno;
    t->pos += m;
    if (info) {
        info->step = stepno;
        info->epoch = t->epoch + 1;
        info->epoch_end = t->pos >= ds->n;
        info->n = m;
        info->loss = loss;
        info->acc = 1.0 - (double)nerr / (double)m;
        info->lr = llfc_train_lr(&t->opt.o, stepno - 1);
    }
    return 0;
}

int llfc_trainer_run(llfc_trainer *t, int64_t nsteps, llfc_step_fn fn, void *ud, int64_t *done, int *interrupted)
{
    *done = 0;
    *interrupted = 0;
    for (int64_t s = 0; s < nsteps; s++) {
        llfc_step_info info;
        if (llfc_trainer_step(t, &info)) return -1;
        (*done)++;
        int stop = fn && fn(ud, &info);
        if (llfc_interrupted()) { *interrupted = 1; break; }
        if (stop) break;
    }
    /* the last update is not followed by a forward pass that would see a NaN loss */
    if (*done > 0)
        for (int p = 0; p < t->net->nparams; p++) {
            const float *w = llfc_tensor_data(t->net->param[p]);
            int64_t n = llfc_tensor_numel(t->net->param[p]);
            for (int64_t i = 0; i < n; i++)
                if (!isfinite(w[i]))
                    return llfc_seterr("parameter '%s' is %s after step %lld: training diverged (try a smaller lr)",
                                       t->net->pname[p], isnan(w[i]) ? "NaN" : "infinite", (long long)t->opt.step);
        }
    return 0;
}

int llfc_net_eval_ds(const llfc_net *net, const llfc_dataset *ds, int64_t batch, llfc_eval_result *res,
                     llfc_progress_fn progress, void *ud)
{
    if (ds->dim != llfc_net_input_dim(net))
        return llfc_seterr("the dataset has %lld features per sample, the network takes %lld", (long long)ds->dim,
                           (long long)llfc_net_input_dim(net));
    return llfc_net_eval(net, ds->x, ds->y, ds->n, batch, res, progress, ud);
}
