/* test_augment.c - CIFAR augmentation (random crop of the zero-padded image,
 * horizontal flip) against a naive reference written here, its draws, the
 * distribution of offsets and flips, and the trainer hook: reproducible
 * runs, the stream copied by clones, the batches the trainer augments. */
#include "check.h"
#include "data/data.h"
#include "nn/build.h"
#include "nn/train.h"

#include <stdlib.h>
#include <string.h>

/* The reference: draws as data.h documents them, then the definition
 * out(ch, i, j) = in(ch, i + ty - pad, J + tx - pad), J = f ? w-1-j : j. */
static void ref_augment(const float *in, float *out, int64_t n, int c, int h, int w, int pad, int flip,
                        llfc_rng *rng, int *offs /* [n][3] ty, tx, f or NULL */)
{
    for (int64_t s = 0; s < n; s++) {
        int ty = pad, tx = pad, f = 0;
        if (pad > 0) {
            ty = (int)llfc_rng_below(rng, 2 * (uint64_t)pad + 1);
            tx = (int)llfc_rng_below(rng, 2 * (uint64_t)pad + 1);
        }
        if (flip) f = (int)llfc_rng_below(rng, 2);
        if (offs) { offs[3 * s] = ty; offs[3 * s + 1] = tx; offs[3 * s + 2] = f; }
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    int J = f ? w - 1 - j : j, si = i + ty - pad, sj = J + tx - pad;
                    float v = si >= 0 && si < h && sj >= 0 && sj < w ? in[((s * c + ch) * h + si) * w + sj] : 0.0f;
                    out[((s * c + ch) * h + i) * w + j] = v;
                }
    }
}

static float *random_images(int64_t n, int c, int h, int w, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    size_t m = (size_t)(n * c * h * w);
    float *x = malloc(m * sizeof *x);
    for (size_t k = 0; k < m; k++) x[k] = 0.5f + llfc_rng_float(&r); /* never 0 */
    return x;
}

static void test_reference(void)
{
    static const int cases[][5] = {
        /* c, h, w, pad, flip */
        {3, 5, 7, 2, 1}, {3, 5, 7, 2, 0}, {1, 6, 4, 4, 1}, {2, 5, 7, 5, 1}, {3, 32, 32, 4, 1}, {1, 3, 3, 0, 1},
        {1, 1, 1, 1, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int c = cases[k][0], h = cases[k][1], w = cases[k][2], pad = cases[k][3], flip = cases[k][4];
        int64_t n = 50;
        float *x = random_images(n, c, h, w, 100 + k), *want = malloc((size_t)(n * c * h * w) * sizeof *want);
        llfc_rng r1, r2;
        llfc_augment_seed(&r1, 7);
        r2 = r1;
        ref_augment(x, want, n, c, h, w, pad, flip, &r2, NULL);
        int rc = llfc_augment_batch(x, n, c, h, w, pad, flip, &r1);
        CHECK(rc == 0 && !memcmp(x, want, (size_t)(n * c * h * w) * sizeof *x),
              "augment %dx%dx%d pad %d flip %d equals the naive reference", c, h, w, pad, flip);
        CHECK(!memcmp(&r1, &r2, sizeof r1), "augment %dx%dx%d pad %d flip %d: the same draws (stream state after)", c, h,
              w, pad, flip);
        free(x);
        free(want);
    }
}

static void test_properties(void)
{
    int c = 3, h = 8, w = 6, pad = 3;
    int64_t n = 200;
    size_t m = (size_t)(n * c * h * w);
    float *x = random_images(n, c, h, w, 1), *x0 = malloc(m * sizeof *x0), *y = malloc(m * sizeof *y);
    memcpy(x0, x, m * sizeof *x);
    llfc_rng r, r0;
    llfc_augment_seed(&r, 3);
    r0 = r;
    llfc_augment_batch(x, n, c, h, w, 0, 0, &r);
    CHECK(!memcmp(x, x0, m * sizeof *x) && !memcmp(&r, &r0, sizeof r), "crop 0, no flip: the identity, no draws");

    /* same seed, same result; another seed, another one */
    llfc_augment_seed(&r, 11);
    llfc_augment_batch(x, n, c, h, w, pad, 1, &r);
    memcpy(y, x0, m * sizeof *y);
    llfc_augment_seed(&r, 11);
    llfc_augment_batch(y, n, c, h, w, pad, 1, &r);
    CHECK(!memcmp(x, y, m * sizeof *x), "same seed, bit-identical augmentation");
    memcpy(y, x0, m * sizeof *y);
    llfc_augment_seed(&r, 12);
    llfc_augment_batch(y, n, c, h, w, pad, 1, &r);
    CHECK(memcmp(x, y, m * sizeof *x) != 0, "another seed, another augmentation");

    /* padded regions are zero: all-ones images keep (h - |oy|) (w - |ox|) ones per plane */
    int *offs = malloc((size_t)n * 3 * sizeof *offs);
    for (size_t k = 0; k < m; k++) y[k] = 1.0f;
    llfc_augment_seed(&r, 5);
    r0 = r;
    ref_augment(y, x, n, c, h, w, pad, 1, &r0, offs); /* just for the offsets */
    llfc_augment_batch(y, n, c, h, w, pad, 1, &r);
    int good = 1, moved = 0;
    for (int64_t s = 0; s < n; s++) {
        int oy = offs[3 * s] - pad, ox = offs[3 * s + 1] - pad, f = offs[3 * s + 2];
        moved += oy != 0 || ox != 0;
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    int J = f ? w - 1 - j : j;
                    int inside = i + oy >= 0 && i + oy < h && J + ox >= 0 && J + ox < w;
                    float v = y[((s * c + ch) * h + i) * w + j];
                    if (v != (inside ? 1.0f : 0.0f)) good = 0;
                }
    }
    CHECK(good && moved > n / 2, "padding: exactly the pixels outside the shifted image are zero (%d of %d moved)", moved,
          (int)n);

    /* flip only: each image is itself or its mirror, and both happen */
    memcpy(x, x0, m * sizeof *x);
    llfc_augment_seed(&r, 9);
    llfc_augment_batch(x, n, c, h, w, 0, 1, &r);
    int same = 0, mirrored = 0, other = 0;
    for (int64_t s = 0; s < n; s++) {
        int is_same = 1, is_mirror = 1;
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    size_t at = (size_t)(((s * c + ch) * h + i) * w);
                    if (x[at + j] != x0[at + j]) is_same = 0;
                    if (x[at + j] != x0[at + w - 1 - j]) is_mirror = 0;
                }
        same += is_same;
        mirrored += is_mirror && !is_same;
        other += !is_same && !is_mirror;
    }
    CHECK(other == 0 && same > n / 4 && mirrored > n / 4, "flip: %d unchanged, %d mirrored row by row, %d other", same,
          mirrored, other);
    free(offs);
    free(x);
    free(x0);
    free(y);
}

/* Over many draws every one of the (2 pad + 1)^2 offsets and both flips
 * occur, near uniformly: each image's transform is recovered by trying all
 * 162 with the reference formula on an image of distinct pixel values. */
static void test_distribution(void)
{
    enum { H = 8, W = 8, PAD = 4, S = 2 * PAD + 1, N = 6000 };
    float *x = malloc((size_t)N * H * W * sizeof *x);
    for (int s = 0; s < N; s++)
        for (int k = 0; k < H * W; k++) x[s * H * W + k] = (float)(k + 1);
    llfc_rng r;
    llfc_augment_seed(&r, 1);
    llfc_augment_batch(x, N, 1, H, W, PAD, 1, &r);
    static int count[S][S][2];
    int unmatched = 0, ambiguous = 0;
    for (int s = 0; s < N; s++) {
        const float *o = x + s * H * W;
        int found = 0, fy = 0, fx = 0, ff = 0;
        for (int ty = 0; ty < S; ty++)
            for (int tx = 0; tx < S; tx++)
                for (int f = 0; f < 2; f++) {
                    int ok = 1;
                    for (int i = 0; i < H && ok; i++)
                        for (int j = 0; j < W && ok; j++) {
                            int J = f ? W - 1 - j : j, si = i + ty - PAD, sj = J + tx - PAD;
                            float v = si >= 0 && si < H && sj >= 0 && sj < W ? (float)(si * W + sj + 1) : 0.0f;
                            ok = o[i * W + j] == v;
                        }
                    if (ok) { found++; fy = ty; fx = tx; ff = f; }
                }
        if (found == 0) unmatched++;
        else if (found > 1) ambiguous++;
        else count[fy][fx][ff]++;
    }
    int lo = N, hi = 0, flips = 0;
    for (int a = 0; a < S; a++)
        for (int b = 0; b < S; b++)
            for (int f = 0; f < 2; f++) {
                if (count[a][b][f] < lo) lo = count[a][b][f];
                if (count[a][b][f] > hi) hi = count[a][b][f];
                flips += f ? count[a][b][f] : 0;
            }
    CHECK(unmatched == 0 && ambiguous == 0, "every augmented image is one crop offset and flip (%d unmatched, %d ambiguous)",
          unmatched, ambiguous);
    /* expected 6000 / 162 = 37 each; binomial sd about 6 */
    CHECK(lo >= 12 && hi <= 70, "all 81 offsets x 2 flips occur, near uniformly (counts %d..%d)", lo, hi);
    CHECK(flips > N / 2 - 300 && flips < N / 2 + 300, "flipped half the time (%d of %d)", flips, N);
    free(x);
}

static void test_errors(void)
{
    float x[12] = {0};
    llfc_rng r;
    llfc_augment_seed(&r, 1);
    CHECK(llfc_augment_batch(x, 1, 0, 0, 0, 4, 1, &r) == -1 && strstr(llfc_errmsg(), "flat samples"),
          "no image shape: error (%s)", llfc_errmsg());
    CHECK(llfc_augment_batch(x, 1, 1, 3, 4, 4, 1, &r) == -1 && strstr(llfc_errmsg(), "padding 4 out of range [0, 3]"),
          "padding beyond the image: error (%s)", llfc_errmsg());
    CHECK(llfc_augment_batch(x, 1, 1, 3, 4, -1, 0, &r) == -1, "negative padding: error");
    llfc_dataset *flat = llfc_data_blobs(10, 2, 4, 0.1, 1);
    CHECK(llfc_dataset_augmented(flat, 1, 1, 1) == NULL && strstr(llfc_errmsg(), "flat samples"),
          "dataset_augmented refuses flat data");
    llfc_dataset_release(flat);
}

static llfc_dataset *image_set(int64_t n, int c, int h, int w, uint64_t seed)
{
    llfc_dataset *ds = llfc_dataset_new(n, (int64_t)c * h * w, 3);
    float *x = random_images(n, c, h, w, seed);
    memcpy(ds->x, x, (size_t)(n * c * h * w) * sizeof *x);
    free(x);
    for (int64_t i = 0; i < n; i++) ds->y[i] = (int32_t)(i % 3);
    ds->c = c;
    ds->h = h;
    ds->w = w;
    return ds;
}

static void test_dataset_augmented(void)
{
    llfc_dataset *ds = image_set(40, 2, 6, 5, 4);
    size_t m = (size_t)(40 * ds->dim);
    llfc_dataset *a = llfc_dataset_augmented(ds, 2, 1, 8);
    float *want = malloc(m * sizeof *want);
    llfc_rng r;
    llfc_augment_seed(&r, 8);
    ref_augment(ds->x, want, 40, 2, 6, 5, 2, 1, &r, NULL);
    CHECK(a && a->c == 2 && a->h == 6 && a->w == 5 && a->n == 40 && !memcmp(a->x, want, m * sizeof *want) &&
              !memcmp(a->y, ds->y, 40 * sizeof *ds->y),
          "dataset_augmented: shape and labels kept, samples as the reference");
    llfc_dataset_release(a);
    free(want);
    /* shapes survive subset, split, normalize, concat */
    int64_t idx[3] = {4, 1, 1};
    llfc_dataset *s = llfc_dataset_subset(ds, idx, 3), *p, *q;
    CHECK(s && s->c == 2 && s->h == 6 && s->w == 5, "subset keeps the image shape");
    CHECK(llfc_dataset_split(ds, 0.5, 1, &p, &q) == 0 && p->c == 2 && q->h == 6 && q->w == 5, "split keeps the image shape");
    float mean = 0.5f;
    llfc_dataset *nz = llfc_dataset_normalized(ds, &mean, 1, NULL, 0);
    llfc_dataset *parts[2] = {p, q};
    llfc_dataset *cc = llfc_dataset_concat(parts, 2);
    CHECK(nz && nz->c == 2 && nz->w == 5 && cc && cc->c == 2 && cc->h == 6, "normalize and concat keep the image shape");
    llfc_dataset_release(s);
    llfc_dataset_release(p);
    llfc_dataset_release(q);
    llfc_dataset_release(nz);
    llfc_dataset_release(cc);
    llfc_dataset_release(ds);
}

/* train a small MLP on 2x6x6 images for `steps`; weights into out */
static void train_run(llfc_dataset *ds, int pad, int flip, uint64_t seed, int steps, float *out, int64_t *nout)
{
    int64_t widths[3] = {ds->dim, 16, 3};
    llfc_net *net = llfc_mlp_new(3, widths, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.batch = 16;
    o.lr = 0.05;
    llfc_trainer *t = llfc_trainer_new(net, ds, &o, seed);
    llfc_trainer_set_augment(t, pad, flip);
    for (int k = 0; k < steps; k++) llfc_trainer_step(t, NULL);
    *nout = 0;
    for (int p = 0; p < net->nparams; p++) {
        int64_t m = llfc_tensor_numel(net->param[p]);
        memcpy(out + *nout, llfc_tensor_data(net->param[p]), (size_t)m * sizeof(float));
        *nout += m;
    }
    llfc_trainer_free(t);
    llfc_net_free(net);
}

static void test_trainer(void)
{
    llfc_dataset *ds = image_set(100, 2, 6, 6, 21);
    static float w1[20000], w2[20000], w3[20000];
    int64_t n1, n2, n3;
    train_run(ds, 2, 1, 5, 20, w1, &n1);
    train_run(ds, 2, 1, 5, 20, w2, &n2);
    CHECK(n1 == n2 && !memcmp(w1, w2, (size_t)n1 * sizeof *w1), "training with augmentation: same seed, bit-identical weights");
    train_run(ds, 0, 0, 5, 20, w3, &n3);
    CHECK(memcmp(w1, w3, (size_t)n1 * sizeof *w1) != 0, "training with augmentation differs from training without");
    train_run(ds, 0, 0, 5, 20, w2, &n2);
    CHECK(!memcmp(w2, w3, (size_t)n2 * sizeof *w2), "training without augmentation unchanged (pad 0, no flip)");

    /* the batch the trainer used is the reference augmentation of its gathered batch */
    int64_t widths[3] = {ds->dim, 8, 3};
    llfc_net *net = llfc_mlp_new(3, widths, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.batch = 16;
    llfc_trainer *t = llfc_trainer_new(net, ds, &o, 9), *plain = llfc_trainer_new(net, ds, &o, 9);
    CHECK(llfc_trainer_set_augment(t, 2, 1) == 0, "set_augment on image data");
    CHECK(!memcmp(t->order, plain->order, (size_t)ds->n * sizeof *t->order), "augmentation leaves the data order alone");
    llfc_rng r;
    llfc_augment_seed(&r, 9);
    float *g = malloc((size_t)(16 * ds->dim) * sizeof *g), *want = malloc((size_t)(16 * ds->dim) * sizeof *want);
    int good = 1;
    for (int step = 0; step < 3; step++) {
        llfc_dataset_gather(ds, t->order + t->pos, 16, g, NULL);
        ref_augment(g, want, 16, 2, 6, 6, 2, 1, &r, NULL);
        llfc_trainer_step(t, NULL);
        good = good && !memcmp(t->xb, want, (size_t)(16 * ds->dim) * sizeof *want);
    }
    CHECK(good, "the trainer augments each batch as the reference, from the stream of its seed");
    /* a clone continues the same stream: both make the same next steps */
    llfc_net *n2net = llfc_net_clone(net);
    llfc_trainer *c = llfc_trainer_clone(t, n2net);
    CHECK(c && !memcmp(&c->aug_rng, &t->aug_rng, sizeof r) && c->aug_pad == 2 && c->aug_flip == 1, "clone copies the augmentation stream");
    for (int k = 0; k < 4; k++) { llfc_trainer_step(t, NULL); llfc_trainer_step(c, NULL); }
    int same = 1;
    for (int p = 0; p < net->nparams; p++)
        same = same && !memcmp(llfc_tensor_data(net->param[p]), llfc_tensor_data(n2net->param[p]),
                               (size_t)llfc_tensor_numel(net->param[p]) * sizeof(float));
    CHECK(same, "trainer and clone stay bit-identical with augmentation");
    /* reseeding with another seed restarts the stream; the same seed keeps it */
    llfc_rng keep = c->aug_rng;
    llfc_trainer_reseed(c, 9);
    CHECK(!memcmp(&keep, &c->aug_rng, sizeof keep), "reseed with the same seed keeps the augmentation stream");
    llfc_trainer_reseed(c, 10);
    llfc_augment_seed(&r, 10);
    CHECK(!memcmp(&r, &c->aug_rng, sizeof r), "reseed with another seed restarts it from that seed");
    llfc_trainer_free(c);
    llfc_net_free(n2net);
    free(g);
    free(want);
    llfc_trainer_free(t);
    llfc_trainer_free(plain);
    llfc_net_free(net);
    llfc_dataset_release(ds);

    llfc_dataset *flat = llfc_data_blobs(20, 3, 72, 0.1, 1);
    int64_t wf[3] = {72, 4, 3};
    llfc_net *nf = llfc_mlp_new(3, wf, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    llfc_trainer *tf = llfc_trainer_new(nf, flat, &o, 1);
    CHECK(llfc_trainer_set_augment(tf, 4, 1) == -1 && strstr(llfc_errmsg(), "flat samples"),
          "set_augment refuses flat data (%s)", llfc_errmsg());
    CHECK(llfc_trainer_set_augment(tf, 0, 0) == 0, "set_augment(0, 0) is fine on flat data");
    llfc_trainer_free(tf);
    llfc_net_free(nf);
    llfc_dataset_release(flat);
}

int main(void)
{
    test_reference();
    test_properties();
    test_distribution();
    test_errors();
    test_dataset_augmented();
    test_trainer();
    return check_summary();
}
