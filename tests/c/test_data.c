/* test_data.c - datasets and loaders: IDX (raw and gzip'd), CIFAR-10,
 * synthetic sets, subsets/splits/normalisation, and every malformed case
 * on small generated files. */
#include "check.h"
#include "dataset_valid.h"
#include "data/data.h"
#include "io/npy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[256];

static const char *path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_file(const char *name, const unsigned char *b, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path(name), "wb");
        if (n) gzwrite(g, b, (unsigned)n);
        gzclose(g);
    } else {
        FILE *f = fopen(path(name), "wb");
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

/* images: n x rows x cols with pixel (i, k) = (i * 7 + k) % 256 */
static size_t make_images(unsigned char *b, uint32_t n, uint32_t rows, uint32_t cols)
{
    be32(b, 0x803); be32(b + 4, n); be32(b + 8, rows); be32(b + 12, cols);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < rows * cols; k++) b[16 + i * rows * cols + k] = (unsigned char)((i * 7 + k) % 256);
    return 16 + (size_t)n * rows * cols;
}

static size_t make_labels(unsigned char *b, uint32_t n)
{
    be32(b, 0x801); be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++) b[8 + i] = (unsigned char)(i % 10);
    return 8 + n;
}

/* expect a failure whose message contains `what` */
static void expect_fail(llfc_dataset *ds, const char *what, const char *name)
{
    CHECK(ds == NULL && strstr(llfc_errmsg(), what) != NULL, "%s (message: %s)", name, llfc_errmsg());
    llfc_dataset_release(ds);
}

static void test_idx(void)
{
    unsigned char img[16 + 12 * 6], lab[8 + 12], bad[256];
    size_t ni = make_images(img, 12, 2, 3), nl = make_labels(lab, 12);
    for (int gz = 0; gz <= 1; gz++) {
        write_file("i", img, ni, gz);
        write_file("l", lab, nl, gz);
        llfc_dataset *ds = llfc_idx_load(path("i"), path("l"), 10);
        CHECK(ds && ds->n == 12 && ds->dim == 6 && ds->c == 1 && ds->h == 2 && ds->w == 3 && ds->nclasses == 10,
              "idx %s: shapes 12 x (1x2x3), 10 classes", gz ? "gzip" : "raw");
        int good = ds != NULL;
        for (int i = 0; ds && i < 12; i++)
            for (int k = 0; k < 6; k++) good &= ds->x[i * 6 + k] == (float)((i * 7 + k) % 256) / 255.0f;
        CHECK(good, "idx %s: pixels are byte/255", gz ? "gzip" : "raw");
        CHECK(ds && ds->y[11] == 1 && ds->y[3] == 3, "idx %s: labels", gz ? "gzip" : "raw");
        llfc_dataset_release(ds);
    }
    /* gzip detected by magic bytes, not by the name */
    write_file("i.gz", img, ni, 0);
    write_file("l.raw", lab, nl, 1);
    llfc_dataset *ds = llfc_idx_load(path("i.gz"), path("l.raw"), 10);
    CHECK(ds && ds->n == 12, "gzip is detected by magic bytes, not by name");
    llfc_dataset_release(ds);
    write_file("l", lab, nl, 0);
    write_file("i", img, ni, 0);

    /* missing file: environmental */
    ds = llfc_idx_load(path("nope"), path("l"), 10);
    CHECK(!ds && llfc_data_missing() && strstr(llfc_errmsg(), "nope"), "missing file: flagged as missing, named");
    ds = llfc_idx_load(path("i"), path("l"), 10);
    CHECK(ds && !llfc_data_missing(), "missing flag clears");
    llfc_dataset_release(ds);

    /* bad magic */
    memcpy(bad, img, ni); bad[0] = 0x12;
    write_file("bad", bad, ni, 0);
    ds = llfc_idx_load(path("bad"), path("l"), 10);
    expect_fail(ds, "bad magic", "bad magic number");
    CHECK(!llfc_data_missing() && strstr(llfc_errmsg(), path("bad")), "malformed is not missing; file named");
    /* wrong type byte */
    memcpy(bad, img, ni); bad[2] = 0x0d;
    write_file("bad", bad, ni, 0);
    expect_fail(llfc_idx_load(path("bad"), path("l"), 10), "data type 0x0d", "float IDX rejected");
    /* labels file given as images */
    expect_fail(llfc_idx_load(path("l"), path("i"), 10), "expected 3", "labels file as images: dimension count");
    /* truncated images, raw and gzip */
    write_file("bad", img, ni - 1, 0);
    expect_fail(llfc_idx_load(path("bad"), path("l"), 10), "truncated", "truncated images (raw)");
    write_file("bad", img, ni - 5, 1);
    expect_fail(llfc_idx_load(path("bad"), path("l"), 10), "truncated", "truncated images (gzip content)");
    /* a truncated gzip stream */
    {
        write_file("full.gz", img, ni, 1);
        FILE *f = fopen(path("full.gz"), "rb");
        unsigned char gzb[1024];
        size_t gl = fread(gzb, 1, sizeof gzb, f);
        fclose(f);
        write_file("cut.gz", gzb, gl - 10, 0);
        expect_fail(llfc_idx_load(path("cut.gz"), path("l"), 10), "truncated", "truncated gzip stream");
        /* corrupt gzip body */
        gzb[gl / 2] ^= 0xff; gzb[gl / 2 + 1] ^= 0x55;
        write_file("corrupt.gz", gzb, gl, 0);
        ds = llfc_idx_load(path("corrupt.gz"), path("l"), 10);
        CHECK(!ds, "corrupt gzip stream fails (message: %s)", llfc_errmsg());
        llfc_dataset_release(ds);
    }
    /* truncated header */
    write_file("bad", img, 10, 0);
    expect_fail(llfc_idx_load(path("bad"), path("l"), 10), "truncated IDX header", "truncated header");
    write_file("bad", img, 0, 0);
    expect_fail(llfc_idx_load(path("bad"), path("l"), 10), "truncated IDX header", "empty file");
    /* trailing bytes */
    memcpy(bad, img, ni); bad[ni] = 1;
    write_file("bad", bad, ni + 1, 0);
    expect_fail(llfc_idx_load(path("bad"), path("l"), 10), "trailing", "trailing bytes");
    /* counts disagree */
    unsigned char lab2[8 + 11];
    size_t nl2 = make_labels(lab2, 11);
    write_file("l11", lab2, nl2, 0);
    expect_fail(llfc_idx_load(path("i"), path("l11"), 10), "12 images but", "image and label counts disagree");
    /* label out of range */
    memcpy(bad, lab, nl); bad[8 + 5] = 10;
    write_file("bad", bad, nl, 0);
    expect_fail(llfc_idx_load(path("i"), path("bad"), 10), "label 10 of item 6 out of range", "label out of range");
    ds = llfc_idx_load(path("i"), path("bad"), 0);
    CHECK(ds && ds->nclasses == 11, "nclasses = 0 infers max label + 1");
    llfc_dataset_release(ds);
    /* absurd dimensions: count huge, tiny file */
    memcpy(bad, img, 16); be32(bad + 4, 0xffffffffu); be32(bad + 8, 0xffffu); be32(bad + 12, 0xffffu);
    write_file("bad", bad, 16, 0);
    ds = llfc_idx_load(path("bad"), path("l"), 10);
    CHECK(!ds && (strstr(llfc_errmsg(), "absurd") || strstr(llfc_errmsg(), "truncated")), "absurd dimensions rejected without allocating (%s)", llfc_errmsg());
    memcpy(bad, img, 16); be32(bad + 8, 0);
    write_file("bad", bad, 16, 0);
    unsigned char l0[8]; be32(l0, 0x801); be32(l0 + 4, 12);
    ds = llfc_idx_load(path("bad"), path("l"), 10);
    CHECK(!ds, "zero-row images rejected (%s)", llfc_errmsg());
    /* load_dir: names; missing says which file */
    write_file("train-images-idx3-ubyte.gz", img, ni, 1);
    write_file("train-labels-idx1-ubyte", lab, nl, 0);
    ds = llfc_idx_load_dir(dir, 0);
    CHECK(ds && ds->n == 12, "load_dir finds .gz and raw files");
    llfc_dataset_release(ds);
    ds = llfc_idx_load_dir(dir, 1);
    CHECK(!ds && llfc_data_missing() && strstr(llfc_errmsg(), "t10k-images-idx3-ubyte"), "load_dir: missing test files named (%s)", llfc_errmsg());
}

static void test_cifar(void)
{
    enum { R = 3073 };
    static unsigned char b[4 * R];
    for (int i = 0; i < 4; i++) {
        b[i * R] = (unsigned char)(i * 3 % 10);
        for (int k = 0; k < 3072; k++) b[i * R + 1 + k] = (unsigned char)((i + k) % 251);
    }
    write_file("data_batch_1.bin", b, 2 * R, 0);
    write_file("data_batch_2.bin", b + 2 * R, 2 * R, 0);
    write_file("data_batch_3.bin", b, 1 * R, 0);
    write_file("data_batch_4.bin", b, 1 * R, 1); /* gzip'd works too */
    write_file("data_batch_5.bin", b, 4 * R, 0);
    write_file("test_batch.bin", b + R, 3 * R, 0);
    llfc_dataset *ds = llfc_cifar10_load_dir(dir, 0);
    CHECK(ds && ds->n == 10 && ds->dim == 3072 && ds->c == 3 && ds->h == 32 && ds->w == 32, "cifar10 train: 10 records of 3x32x32");
    int good = ds != NULL;
    /* record 3 (batch 2, first) = b record 2: label 6; channel 1 (green) pixel (0, 5) = offset 1024 + 5 */
    good = good && ds->y[2] == 6 && ds->x[2 * 3072 + 1024 + 5] == (float)((2 + 1029) % 251) / 255.0f;
    CHECK(good, "cifar10: labels and channel-first pixels/255");
    llfc_dataset_release(ds);
    ds = llfc_cifar10_load_dir(dir, 1);
    CHECK(ds && ds->n == 3 && ds->y[0] == 3, "cifar10 test batch");
    llfc_dataset_release(ds);
    write_file("test_batch.bin", b, R + 100, 0);
    expect_fail(llfc_cifar10_load_dir(dir, 1), "not a multiple of the 3073-byte", "cifar truncated record");
    write_file("test_batch.bin", b, 0, 0);
    expect_fail(llfc_cifar10_load_dir(dir, 1), "empty", "cifar empty file");
    unsigned char bad[R];
    memcpy(bad, b, R); bad[0] = 10;
    write_file("test_batch.bin", bad, R, 0);
    expect_fail(llfc_cifar10_load_dir(dir, 1), "label 10 of record 1", "cifar label out of range");
    /* a bad label deep in a batch names the file and the record */
    static unsigned char three[3 * R];
    memcpy(three, b, 3 * R);
    three[2 * R] = 200;
    write_file("data_batch_5.bin", three, 3 * R, 0);
    expect_fail(llfc_cifar10_load_dir(dir, 0), "data_batch_5.bin: label 200 of record 3", "cifar: bad label of record 3 in batch 5 named");
    /* a gzip'd batch cut short inside a record */
    write_file("data_batch_5.bin", b, R + 7, 1);
    expect_fail(llfc_cifar10_load_dir(dir, 0), "data_batch_5.bin: size 3080 is not a multiple", "cifar: truncated gzip'd batch");
    write_file("data_batch_5.bin", b, 4 * R, 0);
    /* a directory where a batch file should be is malformed, not missing */
    unlink(path("test_batch.bin"));
    mkdir(path("test_batch.bin"), 0700);
    ds = llfc_cifar10_load_dir(dir, 1);
    CHECK(!ds && !llfc_data_missing() && strstr(llfc_errmsg(), "is a directory"), "cifar: a directory for test_batch.bin (%s)", llfc_errmsg());
    rmdir(path("test_batch.bin"));
    ds = llfc_cifar10_load_dir(dir, 1);
    CHECK(!ds && llfc_data_missing() && strstr(llfc_errmsg(), "test_batch.bin"), "cifar: missing test batch flagged missing");
    /* the batches concatenate in order 1..5: labels of records 1, 3, 5, 6, 7 */
    ds = llfc_cifar10_load_dir(dir, 0);
    good = ds && ds->n == 10 && ds->y[0] == 0 && ds->y[2] == 6 && ds->y[4] == 0 && ds->y[5] == 0 && ds->y[6] == 0 &&
           ds->y[7] == 3 && ds->y[9] == 9;
    CHECK(good, "cifar: batches 1..5 concatenated in order");
    llfc_dataset_release(ds);
    unlink(path("data_batch_3.bin"));
    ds = llfc_cifar10_load_dir(dir, 0);
    CHECK(!ds && llfc_data_missing() && strstr(llfc_errmsg(), "data_batch_3.bin"), "cifar missing batch named, flagged missing");
}

/* .npy pairs keep an image shape: [n, c, h, w] as it is, [n, h, w] as 1 x h x w */
static void test_npy_shapes(void)
{
    int64_t s4[4] = {3, 2, 4, 5}, s3[3] = {3, 6, 7}, s2[2] = {3, 9};
    llfc_tensor *x4 = llfc_tensor_new(4, s4), *x3 = llfc_tensor_new(3, s3), *x2 = llfc_tensor_new(2, s2);
    int64_t n3 = 3;
    llfc_tensor *y = llfc_tensor_new(1, &n3);
    for (int i = 0; i < 3; i++) llfc_tensor_data(y)[i] = (float)i;
    for (int64_t k = 0; k < 120; k++) llfc_tensor_data(x4)[k] = (float)k;
    char px4[512], px3[512], px2[512], py[512];
    snprintf(px4, sizeof px4, "%s", path("x4.npy"));
    snprintf(px3, sizeof px3, "%s", path("x3.npy"));
    snprintf(px2, sizeof px2, "%s", path("x2.npy"));
    snprintf(py, sizeof py, "%s", path("y.npy"));
    llfc_npy_save(px4, x4);
    llfc_npy_save(px3, x3);
    llfc_npy_save(px2, x2);
    llfc_npy_save(py, y);
    llfc_dataset *a = llfc_npy_dataset(px4, py, 0, 1.0f), *b = llfc_npy_dataset(px3, py, 0, 1.0f),
                 *c = llfc_npy_dataset(px2, py, 0, 1.0f);
    CHECK(a && a->c == 2 && a->h == 4 && a->w == 5 && a->dim == 40 && a->x[40 + 21] == 61.0f,
          "npy [n, c, h, w]: image shape 2x4x5, rows in NCHW order");
    CHECK(b && b->c == 1 && b->h == 6 && b->w == 7 && b->dim == 42, "npy [n, h, w]: grayscale images 1x6x7");
    CHECK(c && c->c == 0 && c->h == 0 && c->dim == 9, "npy [n, d]: flat samples");
    llfc_dataset_release(a);
    llfc_dataset_release(b);
    llfc_dataset_release(c);
    llfc_tensor_free(x4);
    llfc_tensor_free(x3);
    llfc_tensor_free(x2);
    llfc_tensor_free(y);
}

static void test_synth_and_ops(void)
{
    llfc_dataset *a = llfc_data_blobs(100, 4, 3, 0.5, 7), *b = llfc_data_blobs(100, 4, 3, 0.5, 7);
    CHECK(a && b && !memcmp(a->x, b->x, 300 * sizeof(float)) && !memcmp(a->y, b->y, 100 * sizeof(int32_t)), "blobs: same seed, same data");
    llfc_dataset *c = llfc_data_blobs(100, 4, 3, 0.5, 8);
    CHECK(c && memcmp(a->x, c->x, 300 * sizeof(float)), "blobs: other seed, other data");
    llfc_dataset_release(c);
    /* with noise 0 every sample of a class sits on its centre */
    c = llfc_data_blobs(12, 3, 2, 0.0, 1);
    CHECK(c && c->x[0] == c->x[6] && c->x[1] == c->x[7] && c->x[0] != c->x[2] && c->y[4] == 1, "blobs: noise 0 gives the centres, label i mod classes");
    llfc_dataset_release(c);
    c = llfc_data_moons(6, 0.0, 1);
    /* class 0: (cos t, sin t) t = 0, pi/2, pi; class 1: (1 - cos t, 0.5 - sin t) */
    CHECK(c && fabsf(c->x[0] - 1) < 1e-6f && fabsf(c->x[1]) < 1e-6f && fabsf(c->x[2] - 0) < 1e-6f && fabsf(c->x[3] - 0.5f) < 1e-6f
          && fabsf(c->x[4]) < 1e-6f && fabsf(c->x[5] - 1) < 1e-6f && c->y[1] == 1, "moons: hand-computed points at noise 0");
    llfc_dataset_release(c);
    c = llfc_data_spirals(6, 3, 0.0, 1);
    /* arm 1, point 1 of 2: r = 1, t = 4 + 4 = 8 -> (sin 8, cos 8) */
    CHECK(c && fabsf(c->x[2 * 4] - sinf(8)) < 1e-6f && fabsf(c->x[2 * 4 + 1] - cosf(8)) < 1e-6f && c->y[4] == 1, "spirals: hand-computed point");
    llfc_dataset_release(c);
    CHECK(!llfc_data_blobs(0, 4, 2, 1, 1) && !llfc_data_blobs(10, 0, 2, 1, 1) && !llfc_data_moons(10, -1, 1), "synthetic: bad arguments fail");

    int64_t idx[100];
    llfc_dataset_order(a, 3, idx);
    int seen[100] = {0}, perm = 1, moved = 0;
    for (int i = 0; i < 100; i++) { if (idx[i] < 0 || idx[i] >= 100 || seen[idx[i]]++) perm = 0; moved += idx[i] != i; }
    CHECK(perm && moved > 50, "order: a shuffled permutation");
    int64_t idx2[100];
    llfc_dataset_order(a, 3, idx2);
    CHECK(!memcmp(idx, idx2, sizeof idx), "order: reproducible");
    int64_t sel[3] = {5, 0, 5};
    llfc_dataset *s = llfc_dataset_subset(a, sel, 3);
    CHECK(s && s->n == 3 && s->x[0] == a->x[15] && s->x[3] == a->x[0] && s->y[2] == a->y[5], "subset gathers rows");
    llfc_dataset_release(s);
    sel[1] = 100;
    CHECK(!llfc_dataset_subset(a, sel, 3) && strstr(llfc_errmsg(), "index 101 out of range"), "subset: index out of range");
    llfc_dataset *p, *q;
    CHECK(llfc_dataset_split(a, 0.25, 9, &p, &q) == 0 && p->n == 25 && q->n == 75, "split sizes");
    /* the halves together hold every sample exactly once: compare sums */
    double sa = 0, sp = 0;
    for (int i = 0; i < 300; i++) sa += a->x[i];
    for (int i = 0; i < 75; i++) sp += p->x[i];
    for (int i = 0; i < 225; i++) sp += q->x[i];
    CHECK_NEAR(sp, sa, 1e-5, "split: the parts partition the samples");
    llfc_dataset_release(p);
    llfc_dataset_release(q);
    CHECK(llfc_dataset_split(a, 1.5, 9, &p, &q) == -1 && !p && !q, "split: bad fraction");

    float mean[1], std[1];
    llfc_dataset_stats(a, 0, mean, std);
    double m = 0, v = 0;
    for (int i = 0; i < 300; i++) m += a->x[i];
    m /= 300;
    for (int i = 0; i < 300; i++) v += (a->x[i] - m) * (a->x[i] - m);
    CHECK_NEAR(mean[0], m, 1e-5, "stats: mean");
    CHECK_NEAR(std[0], sqrt(v / 300), 1e-5, "stats: std");
    llfc_dataset *nz = llfc_dataset_normalized(a, mean, 1, std, 1);
    CHECK(nz && fabsf(nz->x[7] - (a->x[7] - mean[0]) / std[0]) < 1e-5f && nz->y[7] == a->y[7], "normalized: (x - mean) / std");
    llfc_dataset_release(nz);
    float bad = 0;
    CHECK(!llfc_dataset_normalized(a, NULL, 0, &bad, 1) && strstr(llfc_errmsg(), "must be > 0"), "normalized: std 0 rejected");
    float pf[3] = {1, 2, 3};
    nz = llfc_dataset_normalized(a, pf, 3, NULL, 0);
    CHECK(nz && nz->x[3 * 4 + 2] == a->x[3 * 4 + 2] - 3, "normalized: per-feature mean");
    llfc_dataset_release(nz);
    CHECK(!llfc_dataset_normalized(a, pf, 2, NULL, 0), "normalized: wrong count rejected");
    CHECK(dataset_valid(a) == 0, "validate: good");
    a->y[3] = 4;
    CHECK(dataset_valid(a) == -1 && strstr(llfc_errmsg(), "label 4 of sample 4"), "validate: bad label");
    llfc_dataset_release(a);
    llfc_dataset_release(b);
}

static void test_fashion(void)
{
    const char *d = "/usr/share/datasets/fashion-mnist";
    if (access(d, R_OK) != 0) { printf("skip - real Fashion-MNIST: %s not installed\n", d); return; }
    double t0 = llfc_now();
    llfc_dataset *tr = llfc_idx_load_dir(d, 0);
    double t1 = llfc_now();
    llfc_dataset *te = llfc_idx_load_dir(d, 1);
    CHECK(tr && tr->n == 60000 && tr->dim == 784, "Fashion-MNIST train 60000 x 784");
    CHECK(te && te->n == 10000 && te->dim == 784, "Fashion-MNIST test 10000 x 784");
    CHECK(t1 - t0 < 10.0, "Fashion-MNIST train loads in %.3f s", t1 - t0);
    if (tr) {
        int ok = dataset_valid(tr) == 0;
        float lo = 1, hi = 0;
        for (int64_t i = 0; i < tr->n * tr->dim; i++) { if (tr->x[i] < lo) lo = tr->x[i]; if (tr->x[i] > hi) hi = tr->x[i]; }
        CHECK(ok && lo == 0 && hi == 1, "Fashion-MNIST: labels in [0,10), pixels in [0,1] (min %g max %g)", lo, hi);
    }
    llfc_dataset_release(tr);
    llfc_dataset_release(te);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/llfc-test-data-XXXXXX");
    if (!mkdtemp(dir)) { printf("not ok - mkdtemp\n"); return 1; }
    test_idx();
    test_cifar();
    test_npy_shapes();
    test_synth_and_ops();
    test_fashion();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return check_summary();
}
