/* train.h - training networks: SGD with momentum, learning-rate schedules, seeded
 * data order, and the trainer state that spawning copies.
 *
 * The update is PyTorch's torch.optim.SGD (dampening 0):
 *   g = grad + wd * w;  buf = mu * buf + g  (buf = g on the first step);
 *   d = nesterov ? g + mu * buf : buf;  w -= lr_t * d
 * applied to every trainable parameter (weights and biases; BatchNorm's
 * buffers are updated by the training-mode forward pass instead).
 *
 * Data order: epoch e visits the samples in the order of a Fisher-Yates
 * shuffle seeded with (seed, e); batches are consecutive slices of it, the
 * last one of an epoch may be smaller (as PyTorch's DataLoader with
 * drop_last = False).  llfc_trainer_reseed() changes the seed in the middle
 * of an epoch: the samples not yet visited in this epoch are reshuffled with
 * the new seed, later epochs use it (the same seed changes nothing).
 *
 * Schedule at step t (0-based) of T total steps, warm-up W steps:
 *   t < W: lr * (t + 1) / W;  otherwise, with u = t - W, U = T - W:
 *   constant: lr;  step: lr * gamma^floor(u / step_size);
 *   cosine: lr_min + (lr - lr_min) * (1 + cos(pi * u / U)) / 2;
 *   linear: lr + (lr_min - lr) * u / U.
 */
#ifndef LLFC_TRAIN_H
#define LLFC_TRAIN_H

#include "data/data.h"
#include "nn/nn.h"

enum { LLFC_SCHED_CONSTANT = 0, LLFC_SCHED_STEP, LLFC_SCHED_COSINE, LLFC_SCHED_LINEAR };

typedef struct llfc_train_opts {
    double lr, momentum, weight_decay;
    int nesterov;
    int64_t batch;
    int sched;             /* LLFC_SCHED_* */
    int64_t total_steps;   /* schedule horizon T */
    int64_t warmup;        /* W warm-up steps */
    int64_t step_size;     /* step schedule: decay every step_size steps */
    double gamma;          /* step schedule factor */
    double lr_min;         /* cosine / linear end value */
} llfc_train_opts;

/* Defaults: lr 0.01, momentum 0.9, no weight decay, batch 128, constant. */
void llfc_train_opts_default(llfc_train_opts *o);
int llfc_sched_from_name(const char *name); /* -1 if unknown */
const char *llfc_sched_name(int sched);
/* The learning rate at 0-based step t. */
double llfc_train_lr(const llfc_train_opts *o, int64_t t);

/* Optimiser state: momentum buffers (one per parameter tensor) and the number
 * of steps taken, which is also the position in the schedule. */
typedef struct llfc_optim {
    llfc_train_opts o;
    int nparams;
    float **buf;       /* buf[p] like net->param[p] */
    int64_t step;
} llfc_optim;

/* Training parameters that are not the network's own (the bends of a curve,
 * curve.h): with hooks, before each batch point(ud, net) writes the
 * parameters the batch is evaluated at into the trainer's network, and after
 * the backward pass update(ud, net, grad, lr, first) receives the gradient
 * there (grad[p] laid out like net->param[p], NULL for buffers), the step's
 * learning rate and whether it is the first step, in place of the SGD update
 * of the network.  release(ud), if set, is called when the trainer is freed;
 * llfc_trainer_clone does not copy hooks. */
typedef struct llfc_train_hooks {
    int (*point)(void *ud, llfc_net *net);
    int (*update)(void *ud, const llfc_net *net, float *const *grad, float lr, int first);
    void (*release)(void *ud);
    void *ud;
} llfc_train_hooks;

/* A training run in progress: the network (borrowed), the dataset (retained),
 * the optimiser, the data order position and the workspaces. */
typedef struct llfc_trainer {
    llfc_net *net;
    llfc_dataset *ds;
    llfc_optim opt;
    uint64_t seed;     /* data-order seed */
    int64_t epoch;     /* 0-based epoch of the next batch */
    int64_t pos;       /* position of the next batch in order[] */
    int64_t *order;    /* [ds->n] this epoch's order */
    int aug_pad, aug_flip; /* augmentation of each batch (0 0: none) */
    llfc_rng aug_rng;      /* its stream (see llfc_trainer_set_augment) */
    /* workspaces (not state) */
    llfc_nn_work *work;
    float **grad;      /* a gradient per trainable parameter (NULL for buffers) */
    float *saved;      /* the buffers before the step (restored on divergence) */
    float *xb;         /* [batch, dim] */
    int32_t *yb;       /* [batch] */
    llfc_train_hooks hooks; /* zero: train the network itself */
} llfc_trainer;

/* What one step did. */
typedef struct llfc_step_info {
    int64_t step;      /* 1-based number of the step just taken */
    int64_t epoch;     /* 1-based epoch it belongs to */
    int epoch_end;     /* 1 if it finished an epoch */
    int64_t n;         /* batch rows */
    double loss;       /* mean loss of the batch (before the update) */
    double acc;        /* batch accuracy (before the update) */
    double lr;         /* learning rate used */
} llfc_step_info;

/* A trainer for net on ds.  Fails on a dataset that does not fit the net. */
llfc_trainer *llfc_trainer_new(llfc_net *net, llfc_dataset *ds, const llfc_train_opts *o, uint64_t seed);
void llfc_trainer_free(llfc_trainer *t);
/* A copy of the whole state (optimiser, schedule position, data order) that
 * trains net, which must have t->net's architecture (normally a clone). */
llfc_trainer *llfc_trainer_clone(const llfc_trainer *t, llfc_net *net);
/* Change the data-order seed from here on (see above); a different seed
 * also restarts the augmentation stream from llfc_augment_seed(seed). */
void llfc_trainer_reseed(llfc_trainer *t, uint64_t seed);
/* Augment every batch (data.h, llfc_augment_batch): crop with `pad` pixels of
 * zero padding, flip != 0 for random horizontal flips; pad = flip = 0 turns
 * it off.  The draws come from a stream of their own seeded with
 * llfc_augment_seed(t->seed), so the data order does not depend on it and
 * the same seed gives the same run; llfc_trainer_clone copies the stream.
 * Fails on a dataset without an image shape. */
int llfc_trainer_set_augment(llfc_trainer *t, int pad, int flip);
/* Set (h NULL: remove) the hooks above; the hooks set before are released. */
void llfc_trainer_set_hooks(llfc_trainer *t, const llfc_train_hooks *h);
/* The SGD update of the rule above on one tensor w [m] with gradient g and
 * momentum buffer buf (first: the first step, buf = g). */
void llfc_sgd_update(const llfc_train_opts *o, int first, float lr, float *w, const float *g, float *buf, int64_t m);
/* Steps per epoch: ceil(n / batch). */
int64_t llfc_trainer_steps_per_epoch(const llfc_trainer *t);
/* One SGD step.  A non-finite loss fails with a message naming the step and
 * leaves the parameters as they were before this step. */
int llfc_trainer_step(llfc_trainer *t, llfc_step_info *info);

/* Called after every step; a non-zero return stops training (not an error). */
typedef int (*llfc_step_fn)(void *ud, const llfc_step_info *info);
/* Run up to nsteps steps (stopping early when fn asks, or on Ctrl-C, which
 * sets *interrupted).  Returns the number of steps taken in *done, or -1 on
 * failure (divergence; the net keeps the parameters of the last good step). */
int llfc_trainer_run(llfc_trainer *t, int64_t nsteps, llfc_step_fn fn, void *ud, int64_t *done, int *interrupted);

/* Evaluate a network on a dataset (batched). */
int llfc_net_eval_ds(const llfc_net *net, const llfc_dataset *ds, int64_t batch, llfc_eval_result *res,
                     llfc_progress_fn progress, void *ud);

#endif
