/* data.h - datasets held in memory: inputs as float32 [n, dim], labels int32.
 *
 * Images are stored flattened channel-first (c, h, w) with pixel/255 in
 * [0, 1] unless normalisation is asked for.  Datasets are refcounted so that
 * a Lua object and a {train=, test=} table can share one.  Operations that
 * derive a dataset (subset, split, normalize) return new datasets and never
 * change their input, so shared datasets stay as they were.
 *
 * Loaders return NULL and record a message naming the file and the problem.
 * When the failure is a file that does not exist or cannot be opened (an
 * environmental failure, not a malformed file) llfc_data_missing() is true
 * until the next loader call.
 */
#ifndef LLFC_DATA_H
#define LLFC_DATA_H

#include "core/core.h"

typedef struct llfc_dataset {
    int64_t n;          /* samples */
    int64_t dim;        /* features per sample (c*h*w for images) */
    int c, h, w;        /* image shape, or 0 0 0 for plain vectors */
    int nclasses;
    float *x;           /* [n, dim] */
    int32_t *y;         /* [n], 0-based labels in [0, nclasses) */
    char name[64];
    int refcount;
} llfc_dataset;

/* Limits the loaders enforce (absurd headers are rejected, not allocated). */
#define LLFC_DATA_MAX_SAMPLES  ((int64_t)1 << 28)
#define LLFC_DATA_MAX_DIM      ((int64_t)1 << 24)
#define LLFC_DATA_MAX_BYTES    ((int64_t)1 << 34)   /* n * dim * 4 */
#define LLFC_DATA_MAX_CLASSES  100000

llfc_dataset *llfc_dataset_new(int64_t n, int64_t dim, int nclasses);
void llfc_dataset_retain(llfc_dataset *ds);
void llfc_dataset_release(llfc_dataset *ds);
/* Copy rows idx[0..m) into xb [m, dim] and yb [m] (yb may be NULL).
 * Indices are 0-based and must be in [0, n) (not checked: hot path). */
void llfc_dataset_gather(const llfc_dataset *ds, const int64_t *idx, int64_t m,
                         float *xb, int32_t *yb);

/* ---- ordering and derived datasets ---------------------------------------- */
/* A shuffled order: idx[0..n) = a permutation of 0..n-1, a Fisher-Yates
 * shuffle with llfc_rng seeded by `seed`.  Same seed, same order on every
 * machine. */
void llfc_dataset_order(const llfc_dataset *ds, uint64_t seed, int64_t *idx);
/* Training's data order: epoch e (0-based) of a run with data-order seed
 * visits the samples in the order llfc_dataset_order gives for
 * llfc_epoch_seed(seed, e), in batches idx[k*B .. (k+1)*B). */
uint64_t llfc_epoch_seed(uint64_t seed, int64_t epoch);
void llfc_dataset_epoch_order(const llfc_dataset *ds, uint64_t seed, int64_t epoch, int64_t *idx);
/* The samples idx[0..m) (0-based, checked, repeats allowed) as a new dataset
 * (same classes and image shape). */
llfc_dataset *llfc_dataset_subset(const llfc_dataset *ds, const int64_t *idx, int64_t m);
/* Shuffle with `seed` and cut: *a gets the first round(frac * n) samples of
 * that order, *b the rest.  0 <= frac <= 1. */
int llfc_dataset_split(const llfc_dataset *ds, double frac, uint64_t seed,
                       llfc_dataset **a, llfc_dataset **b);
/* A copy with x' = (x - mean) / std.  mean and std hold nmean / nstd values
 * each: 1 (every feature), c (per channel, images) or dim (per feature).
 * mean == NULL means 0, std == NULL means 1; std values must be > 0. */
llfc_dataset *llfc_dataset_normalized(const llfc_dataset *ds, const float *mean, int nmean,
                                      const float *std, int nstd);
/* Per-feature or per-channel statistics: mean[k], std[k] (population std)
 * over all samples, k < nch where nch = c for images (per channel) else 1. */
int llfc_dataset_stats(const llfc_dataset *ds, int per_channel, float *mean, float *std);

/* ---- synthetic sets (src/data/synth.c) ------------------------------------------
 * All seeded with llfc_rng; sample i has label i % classes (balanced).
 * blobs:   `classes` Gaussian clusters in `dim` dimensions; centres uniform in
 *          [-4, 4]^dim (drawn first), points = centre + noise * N(0, I).
 * moons:   two interleaving half circles (as scikit-learn's make_moons):
 *          class 0 (cos t, sin t), class 1 (1 - cos t, 0.5 - sin t),
 *          t evenly spaced in [0, pi], plus noise * N(0, I).
 * spirals: `classes` arms; arm j, point k of m: r = k/(m-1),
 *          t = 4j + 4r + noise * N(0,1), x = (r sin t, r cos t)
 *          (the CS231n spiral set). */
llfc_dataset *llfc_data_blobs(int64_t n, int classes, int64_t dim, double noise, uint64_t seed);
llfc_dataset *llfc_data_moons(int64_t n, double noise, uint64_t seed);
llfc_dataset *llfc_data_spirals(int64_t n, int classes, double noise, uint64_t seed);

/* ---- file loaders ------------------------------------------------------------
 * Inputs are scaled pixel/255 into [0, 1]; images flattened channel-first. */
int llfc_data_missing(void);
/* Read a whole file, gunzipping it when it starts with the gzip magic
 * (1f 8b), whatever its name.  *len = bytes; caller frees.  max = limit on
 * the (decompressed) size. */
unsigned char *llfc_data_readfile(const char *path, size_t *len, size_t max);

/* IDX (MNIST format, src/data/idx.c): images idx3 (magic 0x00000803, n, rows,
 * cols, big-endian u32, then n*rows*cols unsigned bytes) and labels idx1
 * (0x00000801, n, then n bytes).  Raw or gzip'd.  nclasses > 0: labels must
 * be below it (an error names the first bad one); nclasses == 0: max label
 * + 1.  Trailing bytes, truncation and disagreeing counts are errors. */
llfc_dataset *llfc_idx_load(const char *images_path, const char *labels_path, int nclasses);
/* The same on bytes already in memory (names are used in messages). */
llfc_dataset *llfc_idx_parse(const unsigned char *img, size_t img_len, const char *img_name,
                             const unsigned char *lab, size_t lab_len, const char *lab_name,
                             int nclasses);
/* dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] with 10 classes. */
llfc_dataset *llfc_idx_load_dir(const char *dir, int test);

/* CIFAR-10 binary batches (src/data/cifar.c): records of 1 label byte (0..9) and
 * 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each 32x32 row-major).
 * A file whose size is not a multiple of 3073 or is empty is malformed. */
llfc_dataset *llfc_cifar_parse(const unsigned char *buf, size_t len, const char *name);
/* Load and concatenate the given batch files. */
llfc_dataset *llfc_cifar_load(const char *const *paths, int npaths);
/* dir/data_batch_1.bin .. data_batch_5.bin (test = 0) or dir/test_batch.bin. */
llfc_dataset *llfc_cifar10_load_dir(const char *dir, int test);

/* .npy arrays (read with llfc_npy_load, src/io/npy.c): x [n, ...] (any dtype
 * npy.c reads; [n, c, h, w] is kept as an image shape, [n, h, w] as the
 * grayscale image shape 1 x h x w) times `scale`, and
 * y [n] (or [n, 1]) of integer class indices, 0-based as numpy/PyTorch
 * store them.  nclasses > 0: labels must be below it; 0: max label + 1. */
llfc_dataset *llfc_npy_dataset(const char *x_path, const char *y_path, int nclasses, float scale);

/* Concatenate datasets with the same dim (classes = max). */
llfc_dataset *llfc_dataset_concat(llfc_dataset *const *parts, int nparts);

/* ---- augmentation (src/data/augment.c) ---------------------------------------------
 * The standard CIFAR augmentation on images stored channel-first: a random
 * crop of the image zero-padded by `pad` pixels on each side (the crop has
 * the image's size, as torchvision's RandomCrop(h, padding = pad)) and, with
 * flip != 0, a random horizontal flip (RandomHorizontalFlip(0.5)), applied
 * in that order.  For each sample in turn the draws from rng are, when
 * pad > 0, ty = llfc_rng_below(rng, 2 pad + 1) then tx likewise (the crop's
 * top-left corner in the padded image), then, when flip != 0, f =
 * llfc_rng_below(rng, 2); so
 *     out(ch, i, j) = in(ch, i + ty - pad, J + tx - pad),  J = f ? w - 1 - j : j
 * with zero outside the image.  pad = 0 and flip = 0 draw nothing and leave
 * x unchanged. */
/* c, h, w > 0 (an image shape) and 0 <= pad <= min(h, w); 0 or -1. */
int llfc_augment_check(int c, int h, int w, int pad, int flip);
/* x [n, c, h, w] in place; no allocation.  -1 only when the check fails. */
int llfc_augment_batch(float *x, int64_t n, int c, int h, int w, int pad, int flip, llfc_rng *rng);
/* Seed an augmentation stream (distinct from the data-order streams of the
 * same seed). */
void llfc_augment_seed(llfc_rng *r, uint64_t seed);
/* A copy of ds with every sample augmented once, in order, from the stream
 * llfc_augment_seed(seed). */
llfc_dataset *llfc_dataset_augmented(const llfc_dataset *ds, int pad, int flip, uint64_t seed);

#endif
