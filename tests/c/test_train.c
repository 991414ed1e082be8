/* test_train.c - SGD (checked against hand-applied updates of the gradients),
 * schedules, determinism, trainer copies (spawning), divergence. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "data/data.h"
#include "nn/nn.h"
#include "nn/build.h"
#include "nn/train.h"

/* three Gaussian blobs in 2-d */
static llfc_dataset *blobs(int64_t n, uint64_t seed)
{
    llfc_dataset *ds = llfc_dataset_new(n, 2, 3);
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    const float cx[3] = {-2, 2, 0}, cy[3] = {0, 0, 3};
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % 3);
        ds->y[i] = c;
        ds->x[2 * i] = cx[c] + 0.5f * (float)llfc_rng_normal(&r);
        ds->x[2 * i + 1] = cy[c] + 0.5f * (float)llfc_rng_normal(&r);
    }
    return ds;
}

static int nets_equal(const llfc_net *a, const llfc_net *b)
{
    for (int p = 0; p < a->nparams; p++)
        if (memcmp(llfc_tensor_data(a->param[p]), llfc_tensor_data(b->param[p]),
                   (size_t)llfc_tensor_numel(a->param[p]) * sizeof(float)))
            return 0;
    return 1;
}

static void test_schedule(void)
{
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.lr = 1;
    o.total_steps = 110;
    o.warmup = 10;
    CHECK_NEAR(llfc_train_lr(&o, 0), 0.1, 1e-12, "warm-up: step 1 is lr/10");
    CHECK_NEAR(llfc_train_lr(&o, 9), 1.0, 1e-12, "warm-up: step 10 is lr");
    CHECK_NEAR(llfc_train_lr(&o, 50), 1.0, 1e-12, "constant after warm-up");
    o.sched = LLFC_SCHED_COSINE;
    o.lr_min = 0;
    CHECK_NEAR(llfc_train_lr(&o, 60), 0.5, 1e-12, "cosine: half-way is lr/2");
    CHECK_NEAR(llfc_train_lr(&o, 10), 1.0, 1e-12, "cosine: starts at lr");
    o.sched = LLFC_SCHED_LINEAR;
    CHECK_NEAR(llfc_train_lr(&o, 35), 0.75, 1e-12, "linear: a quarter of the way is 3/4 lr");
    o.sched = LLFC_SCHED_STEP;
    o.warmup = 0;
    o.step_size = 30;
    o.gamma = 0.5;
    CHECK_NEAR(llfc_train_lr(&o, 29), 1.0, 1e-12, "step: before the first decay");
    CHECK_NEAR(llfc_train_lr(&o, 65), 0.25, 1e-12, "step: after two decays");
}

/* Two steps on the whole dataset (batch = n, so the order does not matter):
 * compare with the update written out here from llfc_net_loss_grad. */
static void test_sgd_by_hand(int nesterov)
{
    llfc_dataset *ds = blobs(12, 1);
    int64_t widths[] = {2, 5, 3};
    llfc_net *net = llfc_mlp_new(3, widths, LLFC_ACT_RELU, LLFC_INIT_TORCH, 4);
    llfc_net *ref = llfc_net_clone(net);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.lr = 0.1;
    o.momentum = 0.8;
    o.weight_decay = 0.01;
    o.nesterov = nesterov;
    o.batch = 12;
    o.total_steps = 2;
    llfc_trainer *t = llfc_trainer_new(net, ds, &o, 3);
    CHECK(t != NULL, "trainer_new");
    llfc_step_info info;
    llfc_trainer_step(t, &info);
    llfc_trainer_step(t, &info);
    CHECK(info.step == 2 && info.epoch == 2 && info.epoch_end, "step info: step 2 ends epoch 2");
    /* by hand, in the dataset order (full batch: mean over all rows) */
    float *g[4], *buf[4];
    for (int p = 0; p < 4; p++) {
        g[p] = calloc((size_t)llfc_tensor_numel(ref->param[p]), sizeof(float));
        buf[p] = calloc((size_t)llfc_tensor_numel(ref->param[p]), sizeof(float));
    }
    for (int s = 0; s < 2; s++) {
        llfc_net_loss_grad(ref, ds->x, ds->y, 12, g, NULL, NULL);
        for (int p = 0; p < 4; p++) {
            float *w = llfc_tensor_data(ref->param[p]);
            for (int64_t i = 0; i < llfc_tensor_numel(ref->param[p]); i++) {
                float gi = g[p][i] + 0.01f * w[i];
                buf[p][i] = s == 0 ? gi : 0.8f * buf[p][i] + gi;
                w[i] -= 0.1f * (nesterov ? gi + 0.8f * buf[p][i] : buf[p][i]);
            }
        }
    }
    double maxd = 0;
    for (int p = 0; p < 4; p++)
        for (int64_t i = 0; i < llfc_tensor_numel(ref->param[p]); i++)
            maxd = fmax(maxd, fabs(llfc_tensor_data(ref->param[p])[i] - llfc_tensor_data(net->param[p])[i]));
    /* the row order of the sums differs (shuffled batch), so allow rounding */
    CHECK(maxd < 1e-6, "%s: two steps match the update written out by hand (max diff %g)",
          nesterov ? "nesterov" : "momentum", maxd);
    for (int p = 0; p < 4; p++) { free(g[p]); free(buf[p]); }
    llfc_trainer_free(t);
    llfc_net_free(net);
    llfc_net_free(ref);
    llfc_dataset_release(ds);
}

static void test_learns_and_determinism(void)
{
    llfc_dataset *ds = blobs(300, 2);
    int64_t widths[] = {2, 16, 16, 3};
    llfc_net *a = llfc_mlp_new(4, widths, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    llfc_net *b = llfc_net_clone(a);
    llfc_eval_result r0, r1;
    llfc_net_eval_ds(a, ds, 100, &r0, NULL, NULL);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.lr = 0.05;
    o.batch = 32;
    o.sched = LLFC_SCHED_COSINE;
    o.total_steps = 100;
    llfc_trainer *ta = llfc_trainer_new(a, ds, &o, 7), *tb = llfc_trainer_new(b, ds, &o, 7);
    CHECK(llfc_trainer_steps_per_epoch(ta) == 10, "steps per epoch = ceil(300 / 32)");
    int64_t done;
    int intr;
    CHECK(llfc_trainer_run(ta, 100, NULL, NULL, &done, &intr) == 0 && done == 100 && !intr, "run 100 steps");
    llfc_trainer_run(tb, 100, NULL, NULL, &done, &intr);
    CHECK(nets_equal(a, b), "same seed and options: bit-identical weights");
    llfc_net_eval_ds(a, ds, 100, &r1, NULL, NULL);
    CHECK(r1.loss < 0.5 * r0.loss && r1.err < 0.05, "it learns the blobs (loss %.3f -> %.3f, err %.3f)", r0.loss,
          r1.loss, r1.err);
    /* a different data order gives different weights */
    llfc_net *c = llfc_mlp_new(4, widths, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    llfc_trainer *tc = llfc_trainer_new(c, ds, &o, 8);
    llfc_trainer_run(tc, 100, NULL, NULL, &done, &intr);
    CHECK(!nets_equal(a, c), "another data-order seed gives other weights");
    llfc_trainer_free(ta);
    llfc_trainer_free(tb);
    llfc_trainer_free(tc);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_net_free(c);
    llfc_dataset_release(ds);
}

/* Spawning: copying the trainer mid-epoch and continuing with the same seed
 * is the same as never stopping (weights, momentum and schedule were copied);
 * different seeds diverge. */
static void test_trainer_clone(void)
{
    llfc_dataset *ds = blobs(100, 3);
    int64_t widths[] = {2, 8, 3};
    llfc_net *a = llfc_mlp_new(3, widths, LLFC_ACT_RELU, LLFC_INIT_TORCH, 5);
    llfc_net *ref = llfc_net_clone(a);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.lr = 0.1;
    o.batch = 16;
    o.sched = LLFC_SCHED_LINEAR;
    o.total_steps = 40;
    int64_t done;
    int intr;
    llfc_trainer *tr = llfc_trainer_new(ref, ds, &o, 11);
    llfc_trainer_run(tr, 40, NULL, NULL, &done, &intr);
    llfc_trainer *ta = llfc_trainer_new(a, ds, &o, 11);
    llfc_trainer_run(ta, 13, NULL, NULL, &done, &intr); /* mid-epoch (7 steps per epoch) */
    llfc_net *b = llfc_net_clone(a), *c = llfc_net_clone(a);
    llfc_trainer *tb = llfc_trainer_clone(ta, b), *tc = llfc_trainer_clone(ta, c);
    CHECK(tb && tc && tb->opt.step == 13, "trainer_clone copies the step count");
    llfc_trainer_reseed(tb, 11);
    llfc_trainer_reseed(tc, 12);
    llfc_trainer_run(ta, 27, NULL, NULL, &done, &intr);
    llfc_trainer_run(tb, 27, NULL, NULL, &done, &intr);
    llfc_trainer_run(tc, 27, NULL, NULL, &done, &intr);
    CHECK(nets_equal(a, ref), "stopping and continuing changes nothing");
    CHECK(nets_equal(b, ref), "a copy continued with the same seed equals the uninterrupted run");
    CHECK(!nets_equal(c, ref), "a copy continued with another seed differs");
    CHECK(tc->opt.step == 40 && tc->epoch == 5, "the copy reaches step 40 in epoch 6 (0-based 5)");
    /* a trainer copy needs a net of the same architecture */
    int64_t w2[] = {2, 9, 3};
    llfc_net *d = llfc_mlp_new(3, w2, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    CHECK(llfc_trainer_clone(ta, d) == NULL, "trainer_clone refuses another architecture (%s)", llfc_errmsg());
    llfc_net_free(d);
    llfc_trainer_free(tr);
    llfc_trainer_free(ta);
    llfc_trainer_free(tb);
    llfc_trainer_free(tc);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_net_free(c);
    llfc_net_free(ref);
    llfc_dataset_release(ds);
}

static void test_divergence(void)
{
    llfc_dataset *ds = blobs(60, 4);
    int64_t widths[] = {2, 8, 3};
    llfc_net *a = llfc_mlp_new(3, widths, LLFC_ACT_RELU, LLFC_INIT_TORCH, 5);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.lr = 1e30;
    o.batch = 10;
    o.total_steps = 50;
    llfc_trainer *t = llfc_trainer_new(a, ds, &o, 1);
    int64_t done;
    int intr;
    int rc = llfc_trainer_run(t, 50, NULL, NULL, &done, &intr);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "at step") && strstr(llfc_errmsg(), "diverged"),
          "a huge lr fails naming the step (%s)", llfc_errmsg());
    int finite = 1;
    for (int p = 0; p < a->nparams; p++)
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[p]); i++) finite &= isfinite(llfc_tensor_data(a->param[p])[i]);
    CHECK(finite && t->opt.step == done, "the weights stay those of the last good step (%lld steps)", (long long)done);
    o.lr = -1;
    CHECK(llfc_trainer_new(a, ds, &o, 1) == NULL && strstr(llfc_errmsg(), "lr"), "a negative lr is refused");
    o.lr = 0.1;
    o.momentum = 1.5;
    CHECK(llfc_trainer_new(a, ds, &o, 1) == NULL && strstr(llfc_errmsg(), "momentum"), "momentum >= 1 is refused");
    llfc_dataset *wrong = llfc_dataset_new(10, 3, 2);
    o.momentum = 0.9;
    CHECK(llfc_trainer_new(a, wrong, &o, 1) == NULL && strstr(llfc_errmsg(), "3 features"),
          "a dataset of another width is refused (%s)", llfc_errmsg());
    llfc_dataset_release(wrong);
    llfc_trainer_free(t);
    llfc_net_free(a);
    llfc_dataset_release(ds);
}

static int press_ctrl_c(void *ud, const llfc_step_info *info)
{
    if (info->step == 3) llfc_interrupt_flag = 1; /* as the SIGINT handler does */
    return 0;
}

static int stop_at_5(void *ud, const llfc_step_info *info) { return info->step == 5; }

static void test_interrupt(void)
{
    llfc_dataset *ds = blobs(60, 4);
    int64_t widths[] = {2, 8, 3};
    llfc_net *a = llfc_mlp_new(3, widths, LLFC_ACT_RELU, LLFC_INIT_TORCH, 5);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.batch = 10;
    o.total_steps = 50;
    llfc_trainer *t = llfc_trainer_new(a, ds, &o, 1);
    int64_t done;
    int intr;
    int rc = llfc_trainer_run(t, 50, press_ctrl_c, NULL, &done, &intr);
    CHECK(rc == 0 && intr && done == 3, "Ctrl-C stops after the current step (%lld steps)", (long long)done);
    llfc_interrupt_clear();
    rc = llfc_trainer_run(t, 50, stop_at_5, NULL, &done, &intr);
    CHECK(rc == 0 && !intr && done == 2 && t->opt.step == 5, "training continues afterwards; a callback can stop it");
    llfc_trainer_free(t);
    llfc_net_free(a);
    llfc_dataset_release(ds);
}

int main(void)
{
    llfc_blas_set_threads(1);
    test_schedule();
    test_sgd_by_hand(0);
    test_sgd_by_hand(1);
    test_learns_and_determinism();
    test_trainer_clone();
    test_divergence();
    test_interrupt();
    return check_summary();
}
