/* augment.c - the standard CIFAR augmentation on batches of images held
 * channel-first: a random crop of the zero-padded image (pad pixels on each
 * side) and a random horizontal flip, drawn from an llfc_rng so that runs
 * are reproducible (see data.h for the exact draws).
 *
 * The batch is changed in place, one plane at a time, without any scratch
 * memory: rows are shifted with memmove in the order that never overwrites
 * a row still to be read, the uncovered border is zeroed, then rows are
 * mirrored by swapping.
 */
#include "data/data.h"

#include <string.h>

/* Largest padding accepted (a crop window still overlaps the image). */
static int pad_limit(int h, int w) { return h < w ? h : w; }

int llfc_augment_check(int c, int h, int w, int pad, int flip)
{
    if (c <= 0 || h <= 0 || w <= 0)
        return llfc_seterr("augmentation needs images (a shape c x h x w), the data has flat samples");
    if (pad < 0 || pad > pad_limit(h, w))
        return llfc_seterr("crop padding %d out of range [0, %d] for %dx%d images", pad, pad_limit(h, w), h, w);
    (void)flip;
    return 0;
}

/* One plane p [h, w]: out(i, j) = p(i + oy, j + ox), zero outside. */
static void shift_plane(float *p, int h, int w, int oy, int ox)
{
    int ax = ox < 0 ? -ox : ox;
    size_t keep = ax < w ? (size_t)(w - ax) : 0;
    for (int k = 0; k < h; k++) {
        /* oy > 0 reads rows below: go down; oy <= 0 reads rows above: go up */
        int i = oy > 0 ? k : h - 1 - k, si = i + oy;
        float *d = p + (size_t)i * w;
        if (si < 0 || si >= h || keep == 0) {
            memset(d, 0, (size_t)w * sizeof *d);
            continue;
        }
        const float *s = p + (size_t)si * w;
        if (ox >= 0) {
            memmove(d, s + ox, keep * sizeof *d);
            memset(d + keep, 0, (size_t)ax * sizeof *d);
        } else {
            memmove(d + ax, s, keep * sizeof *d);
            memset(d, 0, (size_t)ax * sizeof *d);
        }
    }
}

static void flip_plane(float *p, int h, int w)
{
    for (int i = 0; i < h; i++) {
        float *r = p + (size_t)i * w;
        for (int a = 0, b = w - 1; a < b; a++, b--) {
            float t = r[a];
            r[a] = r[b];
            r[b] = t;
        }
    }
}

/* x [n, c, h, w] in place */
int llfc_augment_batch(float *x, int64_t n, int c, int h, int w, int pad, int flip, llfc_rng *rng)
{
    if (llfc_augment_check(c, h, w, pad, flip)) return -1;
    size_t plane = (size_t)h * (size_t)w, img = plane * (size_t)c;
    uint64_t span = 2 * (uint64_t)pad + 1;
    for (int64_t s = 0; s < n; s++) {
        int oy = 0, ox = 0, f = 0;
        if (pad > 0) {
            oy = (int)llfc_rng_below(rng, span) - pad;
            ox = (int)llfc_rng_below(rng, span) - pad;
        }
        if (flip) f = (int)llfc_rng_below(rng, 2);
        float *xi = x + (size_t)s * img;
        for (int ch = 0; ch < c; ch++) {
            float *p = xi + (size_t)ch * plane;
            if (oy || ox) shift_plane(p, h, w, oy, ox);
            if (f) flip_plane(p, h, w);
        }
    }
    return 0;
}

llfc_dataset *llfc_dataset_augmented(const llfc_dataset *ds, int pad, int flip, uint64_t seed)
{
    if (llfc_augment_check(ds->c, ds->h, ds->w, pad, flip)) return NULL;
    llfc_dataset *o = llfc_dataset_new(ds->n, ds->dim, ds->nclasses);
    if (!o) return NULL;
    o->c = ds->c;
    o->h = ds->h;
    o->w = ds->w;
    memcpy(o->name, ds->name, sizeof o->name);
    memcpy(o->x, ds->x, (size_t)(ds->n * ds->dim) * sizeof *o->x);
    memcpy(o->y, ds->y, (size_t)ds->n * sizeof *o->y);
    llfc_rng r;
    llfc_augment_seed(&r, seed);
    llfc_augment_batch(o->x, o->n, o->c, o->h, o->w, pad, flip, &r);
    return o;
}

void llfc_augment_seed(llfc_rng *r, uint64_t seed)
{
    /* a stream of its own: the data-order shuffles use seed ^ k * golden */
    llfc_rng_seed(r, seed ^ 0xa5a5c1fa12a5e11dULL);
}
