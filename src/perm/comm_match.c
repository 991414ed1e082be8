/* comm_match.c - commutativity matching (perm.h): the permutation of b that
 * minimises J = sum_l |(W_A - W_B')(H_A - H_B')|^2 over the weight ops.
 *
 * State: the current p, the net p(b) and, for every slot that a weight op
 * reads (the input excepted), the features of a and of p(b) over the n
 * samples, kept in memory (float, NCHW per sample); a move of group g
 * gathers p(b)'s slots of g's channels in place.  Every term is computed
 * the same way (the weight difference applied to the feature difference, in
 * batches, squares summed in double), so J compares exactly between steps.
 *
 * A layer "reads" group gin (the group of its weight's input axis; the
 * channels of its input slot move with it) and "writes" group gout (its
 * output axis).  Layers reading and writing the same group are refused.
 */
#include "perm/perm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perm/lap.h"

typedef struct {
    int op, slot;
    int gin, gout;          /* groups of the input channels and of the outputs, or -1 */
    int C, HW;              /* input channels, positions per channel (din = C * HW) */
    int K, PQ;              /* output channels, positions per channel */
    int R, stride, pad, H, W, P, Q; /* patch geometry (a linear op: R = 1, 1x1 maps) */
    int64_t din, dout;
    double term;            /* its current |D|^2 */
    /* swap search: Gram of the input patches of a and p(b) stacked, and the
     * permutation of gin when it was computed */
    double *pg;
    int64_t *pg_snap;
} cm_layer;

typedef struct {
    const llfc_net *a, *b;
    llfc_net *bp;            /* p(b) */
    llfc_net *dnet;          /* a copy of a; a weight op gets W_A - W_B' before use */
    llfc_perm *p;
    int nl;
    cm_layer *L;
    int nslots;
    float **ha, **hb;        /* per kept slot: [n, dim] of a and of p(b) */
    int *slotg;              /* per slot: the group of its channels (-1 none, -2 not kept) */
    int64_t n, bs, maxin, maxout, maxg;
    float *e, *y1, *y2, *r1, *r2; /* batch scratch: [bs, maxin], [bs, maxout] x2, [bs, maxin] x2 */
    float *gram;             /* [maxg, maxg] */
    double J;
} cm;

static void cm_free(cm *c)
{
    if (c->ha)
        for (int s = 0; s < c->nslots; s++) free(c->ha[s]), free(c->hb[s]);
    free(c->ha), free(c->hb), free(c->slotg);
    if (c->L)
        for (int l = 0; l < c->nl; l++) free(c->L[l].pg), free(c->L[l].pg_snap);
    free(c->L);
    free(c->e), free(c->y1), free(c->y2), free(c->r1), free(c->r2), free(c->gram);
    llfc_net_free(c->bp);
    llfc_net_free(c->dnet);
    llfc_perm_free(c->p);
    memset(c, 0, sizeof *c);
}

static double sum_terms(const cm *c)
{
    double J = 0.0;
    for (int l = 0; l < c->nl; l++) J += c->L[l].term;
    return J;
}

/* The layers, the kept features of a and b over x, the batch size.  nmax:
 * as llfc_comm_opts (0: automatic); *nused receives the samples kept. */
static int cm_init(cm *c, const llfc_net *a, const llfc_net *b, const float *x, int64_t n, int64_t nmax,
                   int64_t batch)
{
    memset(c, 0, sizeof *c);
    if (llfc_match_check_pair(a, b)) return -1;
    if (n < 1) return llfc_seterr("need at least one sample, got %lld", (long long)n);
    const llfc_permspec *s = a->spec;
    c->a = a, c->b = b;
    int S = c->nslots = a->nslots;
    if (!(c->slotg = llfc_mallocarray((size_t)S, sizeof *c->slotg)) ||
        !(c->L = llfc_calloc((size_t)a->nops + 1, sizeof *c->L)) ||
        !(c->ha = llfc_calloc((size_t)S, sizeof *c->ha)) || !(c->hb = llfc_calloc((size_t)S, sizeof *c->hb)))
        return -1;
    for (int k = 0; k < S; k++) c->slotg[k] = -2;
    for (int i = 0; i < a->nops; i++) {
        const llfc_op *o = &a->ops[i];
        if (!llfc_op_has_weight(o) || o->in == 0) continue; /* the same input: a zero term */
        cm_layer *ly = &c->L[c->nl++];
        ly->op = i, ly->slot = o->in;
        ly->gout = s->axis[o->pw][0];
        ly->gin = s->axis[o->pw][1];
        ly->din = llfc_net_slot_dim(a, o->in), ly->dout = llfc_net_slot_dim(a, o->out);
        if (ly->gin >= 0 && ly->gin == ly->gout)
            return llfc_seterr("%s: its inputs and outputs are both in group %s (not supported)", o->name,
                               s->gname[ly->gin]);
        if (o->kind == LLFC_OP_CONV) {
            ly->C = o->C, ly->HW = o->H * o->W, ly->K = o->K, ly->PQ = o->P * o->Q;
            ly->R = o->R, ly->stride = o->stride, ly->pad = o->pad, ly->H = o->H, ly->W = o->W, ly->P = o->P,
            ly->Q = o->Q;
        } else {
            if (ly->gin >= 0 && o->H * o->W != 1)
                return llfc_seterr("%s: group %s permutes the inputs of a linear op that reads a %dx%dx%d map",
                                   o->name, s->gname[ly->gin], o->C, o->H, o->W);
            ly->C = (int)ly->din, ly->HW = 1, ly->K = o->K, ly->PQ = 1;
            ly->R = ly->stride = 1, ly->pad = 0, ly->H = ly->W = ly->P = ly->Q = 1;
        }
        if (ly->gin >= 0 && s->gsize[ly->gin] != ly->C)
            return llfc_seterr("%s: group %s has %lld units, the op reads %d channels", o->name, s->gname[ly->gin],
                               (long long)s->gsize[ly->gin], ly->C);
        if (ly->gout >= 0 && s->gsize[ly->gout] != ly->K)
            return llfc_seterr("%s: group %s has %lld units, the op writes %d channels", o->name,
                               s->gname[ly->gout], (long long)s->gsize[ly->gout], ly->K);
        int *sg = &c->slotg[o->in];
        if (*sg == -2) *sg = ly->gin;
        else if (*sg != ly->gin)
            return llfc_seterr("slot %d is read by weight ops whose inputs are in different groups", o->in);
        if (ly->din > c->maxin) c->maxin = ly->din;
        if (ly->dout > c->maxout) c->maxout = ly->dout;
        if (ly->gin >= 0 && s->gsize[ly->gin] > c->maxg) c->maxg = s->gsize[ly->gin];
        if (ly->gout >= 0 && s->gsize[ly->gout] > c->maxg) c->maxg = s->gsize[ly->gout];
    }
    /* samples: the kept features of both nets near 512 MB unless asked */
    int64_t per = 0;
    for (int k = 1; k < S; k++)
        if (c->slotg[k] != -2) per += llfc_net_slot_dim(a, k);
    if (nmax > 0) {
        if (n > nmax) n = nmax;
    } else {
        int64_t cap = (INT64_C(64) << 20) / (per > 0 ? per : 1);
        if (cap < 1) cap = 1;
        if (n > 2000) n = 2000;
        if (n > cap) n = cap;
    }
    c->n = n;
    int64_t bper = 3 * c->maxin + 2 * c->maxout;
    c->bs = batch > 0 ? batch : (INT64_C(16) << 20) / (bper > 0 ? bper : 1);
    if (c->bs < 1) c->bs = 1;
    if (c->bs > n) c->bs = n;
    int64_t bs = c->bs;
    if (!(c->e = llfc_mallocarray((size_t)(bs * c->maxin + 1), sizeof(float))) ||
        !(c->r1 = llfc_mallocarray((size_t)(bs * c->maxin + 1), sizeof(float))) ||
        !(c->r2 = llfc_mallocarray((size_t)(bs * c->maxin + 1), sizeof(float))) ||
        !(c->y1 = llfc_mallocarray((size_t)(bs * c->maxout + 1), sizeof(float))) ||
        !(c->y2 = llfc_mallocarray((size_t)(bs * c->maxout + 1), sizeof(float))) ||
        !(c->gram = llfc_mallocarray((size_t)(c->maxg * c->maxg + 1), sizeof(float))))
        return -1;
    for (int k = 1; k < S; k++) {
        if (c->slotg[k] == -2) continue;
        size_t m = (size_t)(n * llfc_net_slot_dim(a, k));
        if (!(c->ha[k] = llfc_mallocarray(m, sizeof(float))) || !(c->hb[k] = llfc_mallocarray(m, sizeof(float))))
            return llfc_adderr("commutativity: features of %lld samples", (long long)n);
    }
    /* the features, forwarded straight into the kept arrays */
    float **keep = llfc_calloc((size_t)S, sizeof *keep);
    if (!keep) return -1;
    int64_t din = llfc_net_input_dim(a), fb = bs;
    int rc = 0;
    for (int64_t i0 = 0; i0 < n && !rc; i0 += fb) {
        int64_t m = n - i0 < fb ? n - i0 : fb;
        for (int net = 0; net < 2 && !rc; net++) {
            for (int k = 1; k < S; k++)
                keep[k] = c->ha[k] ? (net ? c->hb[k] : c->ha[k]) + i0 * llfc_net_slot_dim(a, k) : NULL;
            rc = llfc_check_interrupt() || llfc_net_forward_slots(net ? b : a, x + i0 * din, m, keep);
        }
    }
    free(keep);
    if (rc) return -1;
    if (!(c->bp = llfc_net_clone(b)) || !(c->dnet = llfc_net_clone(a)) || !(c->p = llfc_perm_identity(s))) return -1;
    return 0;
}

/* x[m, C, HW] gathered on the channels by q, in place (per sample) */
static void gather_channels(float *x, int64_t m, int64_t C, int64_t HW, const int64_t *q, float *tmp)
{
    for (int64_t i = 0; i < m; i++) {
        float *xi = x + i * C * HW;
        memcpy(tmp, xi, (size_t)(C * HW) * sizeof *tmp);
        for (int64_t ch = 0; ch < C; ch++) memcpy(xi + ch * HW, tmp + q[ch] * HW, (size_t)HW * sizeof *tmp);
    }
}

/* Move group g of p(b) by q: p becomes compose(q, p), p(b) and its kept
 * features follow.  Terms are the caller's. */
static int cm_move(cm *c, int g, const int64_t *q)
{
    const llfc_permspec *s = c->a->spec;
    int64_t ng = s->gsize[g];
    llfc_perm *qp = llfc_perm_identity(s);
    if (!qp) return -1;
    memcpy(qp->idx[g], q, (size_t)ng * sizeof *q);
    llfc_net *nb = llfc_perm_apply(qp, c->bp);
    llfc_perm *np = nb ? llfc_perm_compose(qp, c->p) : NULL;
    llfc_perm_free(qp);
    if (!np) { llfc_net_free(nb); return -1; }
    llfc_net_free(c->bp), c->bp = nb;
    llfc_perm_free(c->p), c->p = np;
    int64_t dmax = 0;
    for (int k = 1; k < c->nslots; k++)
        if (c->slotg[k] == g && llfc_net_slot_dim(c->a, k) > dmax) dmax = llfc_net_slot_dim(c->a, k);
    if (dmax == 0) return 0;
    float *tmp = llfc_mallocarray((size_t)dmax, sizeof *tmp);
    if (!tmp) return -1;
    for (int k = 1; k < c->nslots; k++) {
        int64_t d = llfc_net_slot_dim(c->a, k);
        if (c->slotg[k] == g) gather_channels(c->hb[k], c->n, ng, d / ng, q, tmp);
    }
    free(tmp);
    return 0;
}

/* dnet's weight of layer ly = W_A - W_B', with q applied on the axes of group
 * g (q NULL: p(b) as it is) */
static void set_diff(cm *c, const cm_layer *ly, int g, const int64_t *q)
{
    const llfc_permspec *s = c->a->spec;
    int pw = c->a->ops[ly->op].pw;
    const int64_t *ap[LLFC_MAXDIM] = {0};
    llfc_tensor *D = c->dnet->param[pw];
    for (int d = 0; d < D->ndim; d++)
        if (q && s->axis[pw][d] == g) ap[d] = q;
    llfc_perm_gather(c->bp->param[pw], D, ap);
    float *dd = llfc_tensor_data(D);
    const float *wa = llfc_tensor_data(c->a->param[pw]);
    for (int64_t i = 0, m = llfc_tensor_numel(D); i < m; i++) dd[i] = wa[i] - dd[i];
}

/* c->e [m, din] = H_A - H_B' of samples i0 .. i0+m, H_B' gathered by qin (or not) */
static void make_e(cm *c, const cm_layer *ly, int64_t i0, int64_t m, const int64_t *qin)
{
    const float *ha = c->ha[ly->slot] + i0 * ly->din, *hb = c->hb[ly->slot] + i0 * ly->din;
    float *e = c->e;
    if (!qin) {
        for (int64_t i = 0; i < m * ly->din; i++) e[i] = ha[i] - hb[i];
        return;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t ch = 0; ch < ly->C; ch++) {
            const float *x = ha + (i * ly->C + ch) * ly->HW, *y = hb + (i * ly->C + qin[ch]) * ly->HW;
            float *z = e + (i * ly->C + ch) * ly->HW;
            for (int64_t k = 0; k < ly->HW; k++) z[k] = x[k] - y[k];
        }
}

/* The term of layer l with p(b) moved by q on group g (q NULL: as it is). */
static int cm_term(cm *c, int l, int g, const int64_t *q, double *out)
{
    const cm_layer *ly = &c->L[l];
    set_diff(c, ly, g, q);
    const int64_t *qin = q && ly->gin == g ? q : NULL;
    double acc = 0.0;
    for (int64_t i0 = 0; i0 < c->n; i0 += c->bs) {
        int64_t m = c->n - i0 < c->bs ? c->n - i0 : c->bs;
        if (llfc_check_interrupt()) return -1;
        make_e(c, ly, i0, m, qin);
        if (llfc_net_apply_weight(c->dnet, ly->op, c->e, m, c->y1)) return -1;
        const float *y = c->y1;
        for (int64_t i = 0; i < m * ly->dout; i++) acc += (double)y[i] * y[i];
    }
    *out = acc;
    return 0;
}

static int cm_all_terms(cm *c)
{
    for (int l = 0; l < c->nl; l++)
        if (cm_term(c, l, -1, NULL, &c->L[l].term)) return -1;
    c->J = sum_terms(c);
    return 0;
}

/* out [k, k] = sum over samples and positions of X[., i, .] * Y[., j, .]
 * for X, Y [m, k, q] */
static void gram_maps(const float *X, const float *Y, int64_t m, int64_t k, int64_t q, float *out)
{
    if (q == 1) {
        llfc_gemm(1, 0, (int)k, (int)k, (int)m, 1.0f, X, (int)k, Y, (int)k, 0.0f, out, (int)k);
        return;
    }
    for (int64_t i = 0; i < m; i++)
        llfc_gemm(0, 1, (int)k, (int)k, (int)q, 1.0f, X + i * k * q, (int)q, Y + i * k * q, (int)q, i ? 1.0f : 0.0f,
                  out, (int)k);
}

static void add_scaled(double *C, const float *g, int64_t n, double f)
{
    for (int64_t i = 0; i < n * n; i++) C[i] += f * g[i];
}

/* The cost of group g at the current p (see llfc_comm_group_cost). */
static int cm_cost(cm *c, int g, int parts, double *C)
{
    int64_t ng = c->a->spec->gsize[g];
    memset(C, 0, (size_t)(ng * ng) * sizeof *C);
    for (int l = 0; l < c->nl; l++) {
        const cm_layer *ly = &c->L[l];
        int out = (parts & LLFC_COMM_OUT) && ly->gout == g, in = (parts & LLFC_COMM_IN) && ly->gin == g;
        if (!out && !in) continue;
        if (in) set_diff(c, ly, -1, NULL);
        for (int64_t i0 = 0; i0 < c->n; i0 += c->bs) {
            int64_t m = c->n - i0 < c->bs ? c->n - i0 : c->bs;
            if (llfc_check_interrupt()) return -1;
            make_e(c, ly, i0, m, NULL);
            if (out) { /* C[o, j] -= 2 <W_A[o] E, W_B'[j] E> */
                if (llfc_net_apply_weight(c->a, ly->op, c->e, m, c->y1) ||
                    llfc_net_apply_weight(c->bp, ly->op, c->e, m, c->y2))
                    return -1;
                gram_maps(c->y1, c->y2, m, ly->K, ly->PQ, c->gram);
                add_scaled(C, c->gram, ng, -2.0);
            }
            if (in) { /* C[i, j] -= 2 (<R_A[i], H_B'[j]> + <H_A[i], R_B[j]>), R = W^T D */
                if (llfc_net_apply_weight(c->dnet, ly->op, c->e, m, c->y1) ||
                    llfc_net_apply_weight_t(c->a, ly->op, c->y1, m, c->r1) ||
                    llfc_net_apply_weight_t(c->bp, ly->op, c->y1, m, c->r2))
                    return -1;
                gram_maps(c->r1, c->hb[ly->slot] + i0 * ly->din, m, ly->C, ly->HW, c->gram);
                add_scaled(C, c->gram, ng, -2.0);
                gram_maps(c->ha[ly->slot] + i0 * ly->din, c->r2, m, ly->C, ly->HW, c->gram);
                add_scaled(C, c->gram, ng, -2.0);
            }
        }
    }
    return 0;
}

/* J if group g moved by q (the other terms as they are); new terms in nt[l] */
static int cm_trial(cm *c, int g, const int64_t *q, double *nt, double *Jnew)
{
    for (int l = 0; l < c->nl; l++) {
        nt[l] = c->L[l].term;
        if (c->L[l].gin == g || c->L[l].gout == g)
            if (cm_term(c, l, g, q, &nt[l])) return -1;
    }
    double J = 0.0;
    for (int l = 0; l < c->nl; l++) J += nt[l];
    *Jnew = J;
    return 0;
}

static int cm_accept(cm *c, int g, const int64_t *q, const double *nt)
{
    if (cm_move(c, g, q)) return -1;
    for (int l = 0; l < c->nl; l++) c->L[l].term = nt[l];
    c->J = sum_terms(c);
    return 0;
}

typedef struct { double gain; int64_t start; } cycle;

static int cmp_cycle(const void *x, const void *y)
{
    const cycle *a = x, *b = y;
    return a->gain < b->gain ? -1 : a->gain > b->gain ? 1 : (a->start > b->start) - (a->start < b->start);
}

/* Take the first k of the moves in list (each a cycle of assign starting at
 * start) into q (identity elsewhere). */
static void moves_to_q(const cycle *list, int64_t k, const int64_t *assign, int64_t ng, int64_t *q)
{
    for (int64_t i = 0; i < ng; i++) q[i] = i;
    for (int64_t t = 0; t < k; t++) {
        int64_t i = list[t].start;
        do { q[i] = assign[i]; i = assign[i]; } while (i != list[t].start);
    }
}

/* Scratch of the group steps. */
typedef struct {
    double *C, *nt;
    int64_t *assign, *assign2, *q;
    cycle *cyc;
    char *seen;
} cm_scratch;

static void scratch_free(cm_scratch *w)
{
    free(w->C), free(w->nt), free(w->assign), free(w->assign2), free(w->q), free(w->cyc), free(w->seen);
}

static int scratch_init(cm_scratch *w, const cm *c)
{
    memset(w, 0, sizeof *w);
    int64_t g = c->maxg > 0 ? c->maxg : 1;
    if (!(w->C = llfc_mallocarray((size_t)(g * g), sizeof *w->C)) ||
        !(w->nt = llfc_mallocarray((size_t)c->nl + 1, sizeof *w->nt)) ||
        !(w->assign = llfc_mallocarray((size_t)g, sizeof *w->assign)) ||
        !(w->assign2 = llfc_mallocarray((size_t)g, sizeof *w->assign2)) ||
        !(w->q = llfc_mallocarray((size_t)g, sizeof *w->q)) || !(w->cyc = llfc_mallocarray((size_t)g, sizeof *w->cyc)) ||
        !(w->seen = llfc_mallocarray((size_t)g, 1)))
        return -1;
    return 0;
}

/* Try moves list[0 .. k) for k = all, half, ..., 1: the first that lowers
 * J is taken.  *taken = moves taken (0: none). */
static int try_moves(cm *c, int g, cm_scratch *w, const int64_t *assign, int64_t nmoves, int64_t *taken)
{
    int64_t ng = c->a->spec->gsize[g];
    *taken = 0;
    for (int64_t k = nmoves; k >= 1; k = k == 1 ? 0 : (k + 1) / 2) {
        moves_to_q(w->cyc, k, assign, ng, w->q);
        double Jn;
        if (cm_trial(c, g, w->q, w->nt, &Jn)) return -1;
        if (Jn < c->J) {
            if (cm_accept(c, g, w->q, w->nt)) return -1;
            *taken = k;
            return 0;
        }
    }
    return 0;
}

/* The proposal's swaps (i, assign[i]) with negative predicted gain, best
 * first and disjoint, as two-unit moves in w->assign2 / w->cyc; returns
 * their number. */
static int64_t proposal_swaps(cm_scratch *w, int64_t ng)
{
    const double *C = w->C;
    int64_t ns = 0;
    for (int64_t i = 0; i < ng; i++) {
        int64_t j = w->assign[i];
        if (j == i) continue;
        double d = C[i * ng + j] + C[j * ng + i] - C[i * ng + i] - C[j * ng + j];
        if (d < 0.0) w->cyc[ns].gain = d, w->cyc[ns++].start = i;
    }
    qsort(w->cyc, (size_t)ns, sizeof *w->cyc, cmp_cycle);
    memset(w->seen, 0, (size_t)ng);
    for (int64_t i = 0; i < ng; i++) w->assign2[i] = i;
    int64_t nm = 0;
    for (int64_t t = 0; t < ns; t++) {
        int64_t i = w->cyc[t].start, j = w->assign[i];
        if (w->seen[i] || w->seen[j]) continue;
        w->seen[i] = w->seen[j] = 1;
        w->assign2[i] = j, w->assign2[j] = i;
        w->cyc[nm++] = w->cyc[t];
    }
    return nm;
}

/* One group step: 1 = the whole assignment taken, 2 = a subset, 0 = none
 * (or nothing proposed). */
static int cm_group_step(cm *c, int g, cm_scratch *w, int *outcome)
{
    int64_t ng = c->a->spec->gsize[g];
    *outcome = 0;
    if (cm_cost(c, g, LLFC_COMM_OUT | LLFC_COMM_IN, w->C)) return -1;
    double total;
    if (llfc_lap_solve(ng, ng, w->C, 0, w->assign, &total)) return -1;
    memset(w->seen, 0, (size_t)ng);
    int64_t ncyc = 0;
    for (int64_t i = 0; i < ng; i++) {
        if (w->seen[i] || w->assign[i] == i) continue;
        double gain = 0.0;
        int64_t j = i;
        do {
            w->seen[j] = 1;
            gain += w->C[j * ng + w->assign[j]] - w->C[j * ng + j];
            j = w->assign[j];
        } while (j != i);
        if (gain < 0.0) w->cyc[ncyc].gain = gain, w->cyc[ncyc++].start = i;
    }
    if (ncyc == 0) return 0;
    qsort(w->cyc, (size_t)ncyc, sizeof *w->cyc, cmp_cycle);
    int64_t taken;
    if (try_moves(c, g, w, w->assign, ncyc, &taken)) return -1;
    if (taken) { *outcome = taken == ncyc ? 1 : 2; return 0; }
    /* no subset of the cycles: subsets of the swaps (i, assign[i]) */
    int64_t ns = proposal_swaps(w, ng);
    if (ns && try_moves(c, g, w, w->assign2, ns, &taken)) return -1;
    *outcome = taken ? 2 : 0;
    return 0;
}

/* ---- the swap search -------------------------------------------------------- */

/* Gram of the input patches of layer ly (a's channels, then p(b)'s):
 * pg [(X*C + c)*R2 + s, (Y*C + c')*R2 + t] = sum over samples and output
 * positions of X_c[pos + s] * Y_c'[pos + t] (zero outside the map). */
static int cm_patch_gram(cm *c, cm_layer *ly)
{
    int64_t C = ly->C, R2 = (int64_t)ly->R * ly->R, D = 2 * C * R2, PQ = (int64_t)ly->P * ly->Q;
    int64_t per = PQ * D, chunk = (INT64_C(4) << 20) / (per > 0 ? per : 1);
    if (chunk < 1) chunk = 1;
    if (chunk > c->n) chunk = c->n;
    float *pat = llfc_mallocarray((size_t)(chunk * per), sizeof *pat);
    float *g = llfc_mallocarray((size_t)(D * D), sizeof *g);
    if (!ly->pg) ly->pg = llfc_calloc((size_t)(D * D), sizeof *ly->pg);
    if (!ly->pg_snap) ly->pg_snap = llfc_mallocarray((size_t)C, sizeof *ly->pg_snap);
    int rc = -1;
    if (!pat || !g || !ly->pg || !ly->pg_snap) goto done;
    memset(ly->pg, 0, (size_t)(D * D) * sizeof *ly->pg);
    memcpy(ly->pg_snap, c->p->idx[ly->gin], (size_t)C * sizeof *ly->pg_snap);
    for (int64_t i0 = 0; i0 < c->n; i0 += chunk) {
        int64_t m = c->n - i0 < chunk ? c->n - i0 : chunk;
        if (llfc_check_interrupt()) goto done;
        for (int64_t i = 0; i < m; i++)
            for (int X = 0; X < 2; X++) {
                const float *h = (X ? c->hb : c->ha)[ly->slot] + (i0 + i) * ly->din;
                for (int64_t ch = 0; ch < C; ch++)
                    for (int pp = 0; pp < ly->P; pp++)
                        for (int qq = 0; qq < ly->Q; qq++) {
                            float *row = pat + (i * PQ + pp * ly->Q + qq) * D + (X * C + ch) * R2;
                            for (int u = 0; u < ly->R; u++)
                                for (int v = 0; v < ly->R; v++) {
                                    int y = pp * ly->stride - ly->pad + u, xx = qq * ly->stride - ly->pad + v;
                                    row[u * ly->R + v] = y < 0 || y >= ly->H || xx < 0 || xx >= ly->W
                                                             ? 0.0f
                                                             : h[(ch * ly->H + y) * ly->W + xx];
                                }
                        }
            }
        llfc_gemm(1, 0, (int)D, (int)D, (int)(m * PQ), 1.0f, pat, (int)D, pat, (int)D, 0.0f, g, (int)D);
        for (int64_t k = 0; k < D * D; k++) ly->pg[k] += g[k];
    }
    rc = 0;
done:
    free(pat), free(g);
    return rc;
}

/* Gram of the kernels of layer ly (a's input columns, then p(b)'s):
 * kg [(X*C + c)*R2 + s, (Y*C + c')*R2 + t] = sum_o W_X[o, c, s] W_Y[o, c', t]. */
static int cm_kernel_gram(cm *c, const cm_layer *ly, double *kg)
{
    int pw = c->a->ops[ly->op].pw;
    int64_t C = ly->C, R2 = (int64_t)ly->R * ly->R, D = 2 * C * R2, K = ly->K;
    float *st = llfc_mallocarray((size_t)(K * D), sizeof *st), *g = llfc_mallocarray((size_t)(D * D), sizeof *g);
    if (!st || !g) { free(st), free(g); return -1; }
    for (int X = 0; X < 2; X++) {
        const float *w = llfc_tensor_data((X ? c->bp : c->a)->param[pw]);
        for (int64_t o = 0; o < K; o++) memcpy(st + o * D + X * C * R2, w + o * C * R2, (size_t)(C * R2) * sizeof *st);
    }
    llfc_gemm(1, 0, (int)D, (int)D, (int)K, 1.0f, st, (int)D, st, (int)D, 0.0f, g, (int)D);
    for (int64_t k = 0; k < D * D; k++) kg[k] = g[k];
    free(st), free(g);
    return 0;
}

/* sum_{s,t} of G[x1 s, y1 t] - G[x1 s, y2 t] - G[x2 s, y1 t] + G[x2 s, y2 t]
 * times the same of H: the inner product of (x1 - x2)(y1 - y2) terms */
static double pair_dot(const double *G, int64_t gx1, int64_t gx2, int64_t gy1, int64_t gy2, const double *H,
                       int64_t hx1, int64_t hx2, int64_t hy1, int64_t hy2, int64_t R2, int64_t D)
{
    double acc = 0.0;
    for (int64_t s = 0; s < R2; s++)
        for (int64_t t = 0; t < R2; t++) {
            double k = G[(gx1 + s) * D + gy1 + t] - G[(gx1 + s) * D + gy2 + t] - G[(gx2 + s) * D + gy1 + t] +
                       G[(gx2 + s) * D + gy2 + t];
            double m = H[(hx1 + s) * D + hy1 + t] - H[(hx1 + s) * D + hy2 + t] - H[(hx2 + s) * D + hy1 + t] +
                       H[(hx2 + s) * D + hy2 + t];
            acc += k * m;
        }
    return acc;
}

/* |L(tau - I)|^2 of layer ly for the swap of units i and j of its input
 * group: L = (a_i - a_j) * (hb_j - hb_i) + (wb_j - wb_i) * (ha_i - ha_j)
 * (a, wb: kernel columns of W_A, W_B'; ha, hb: input channels).  kb, pb map
 * p(b)'s current channel to its index in kg, pg. */
static double swap_quad(const cm_layer *ly, const double *kg, const int64_t *kb, const int64_t *pb, int64_t i,
                        int64_t j)
{
    int64_t C = ly->C, R2 = (int64_t)ly->R * ly->R, D = 2 * C * R2;
    const double *pg = ly->pg;
    int64_t Ai = i * R2, Aj = j * R2;                                   /* a's channels (both Grams) */
    int64_t KBi = (C + kb[i]) * R2, KBj = (C + kb[j]) * R2;             /* p(b)'s kernels in kg */
    int64_t PBi = (C + pb[i]) * R2, PBj = (C + pb[j]) * R2;             /* p(b)'s maps in pg */
    double k1m1 = pair_dot(kg, Ai, Aj, Ai, Aj, pg, PBj, PBi, PBj, PBi, R2, D);
    double k2m2 = pair_dot(kg, KBj, KBi, KBj, KBi, pg, Ai, Aj, Ai, Aj, R2, D);
    double k12 = pair_dot(kg, Ai, Aj, KBj, KBi, pg, PBj, PBi, Ai, Aj, R2, D);
    return k1m1 + k2m2 + 2.0 * k12;
}

typedef struct { double d; int64_t i, j; } swapc;

static int cmp_swap(const void *x, const void *y)
{
    const swapc *a = x, *b = y;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
    if (a->i != b->i) return a->i < b->i ? -1 : 1;
    return (a->j > b->j) - (a->j < b->j);
}

/* Largest side of a patch Gram the swap search keeps (2 C R^2; 8192: 512 MB). */
#define CM_MAX_GRAM 8192

/* Does the swap search fit group g (every patch Gram of its input-side ops)? */
static int swap_fits(const cm *c, int g)
{
    for (int l = 0; l < c->nl; l++)
        if (c->L[l].gin == g && 2 * (int64_t)c->L[l].C * c->L[l].R * c->L[l].R > CM_MAX_GRAM) return 0;
    return 1;
}

/* Improving swaps of group g until none lowers J; *nswaps counts them. */
static int cm_swap_group(cm *c, int g, cm_scratch *w, int64_t *nswaps)
{
    const llfc_permspec *s = c->a->spec;
    int64_t ng = s->gsize[g];
    int nin = 0;
    for (int l = 0; l < c->nl; l++) nin += c->L[l].gin == g;
    double **kg = llfc_calloc((size_t)nin + 1, sizeof *kg);
    int64_t **kb = llfc_calloc((size_t)nin + 1, sizeof *kb), **pb = llfc_calloc((size_t)nin + 1, sizeof *pb);
    int64_t *kinv = llfc_mallocarray((size_t)ng, sizeof *kinv), *pinv = llfc_mallocarray((size_t)ng, sizeof *pinv);
    int64_t *ksnap = llfc_mallocarray((size_t)ng, sizeof *ksnap);
    swapc *cand = llfc_mallocarray((size_t)(ng * (ng - 1) / 2 + 1), sizeof *cand);
    /* the quadratic parts of every swap (i < j at Q[i * ng + j]); after a
     * move only the pairs touching a moved unit are computed again */
    double *Q = llfc_mallocarray((size_t)(ng * ng), sizeof *Q);
    char *moved = llfc_mallocarray((size_t)ng, 1);
    int fresh = 1;
    int rc = -1;
    if (!kg || !kb || !pb || !kinv || !pinv || !ksnap || !cand || !Q || !moved) goto done;
    memcpy(ksnap, c->p->idx[g], (size_t)ng * sizeof *ksnap);
    for (int l = 0, k = 0; l < c->nl; l++) {
        cm_layer *ly = &c->L[l];
        if (ly->gin != g) continue;
        int64_t D = 2 * (int64_t)ly->C * ly->R * ly->R;
        if (!ly->pg && cm_patch_gram(c, ly)) goto done;
        if (!(kg[k] = llfc_mallocarray((size_t)(D * D), sizeof **kg)) || cm_kernel_gram(c, ly, kg[k])) goto done;
        if (!(kb[k] = llfc_mallocarray((size_t)ng, sizeof **kb)) || !(pb[k] = llfc_mallocarray((size_t)ng, sizeof **pb)))
            goto done;
        k++;
    }
    for (;;) {
        if (llfc_check_interrupt()) goto done;
        if (cm_cost(c, g, LLFC_COMM_OUT | LLFC_COMM_IN, w->C)) goto done;
        /* where p(b)'s current units sit in each Gram */
        for (int64_t i = 0; i < ng; i++) kinv[ksnap[i]] = i;
        for (int l = 0, k = 0; l < c->nl; l++) {
            const cm_layer *ly = &c->L[l];
            if (ly->gin != g) continue;
            for (int64_t i = 0; i < ng; i++) pinv[ly->pg_snap[i]] = i;
            for (int64_t i = 0; i < ng; i++) {
                kb[k][i] = kinv[c->p->idx[g][i]];
                pb[k][i] = pinv[c->p->idx[g][i]];
            }
            k++;
        }
        for (int64_t i = 0; i < ng; i++)
            for (int64_t j = i + 1; j < ng; j++) {
                if (!fresh && !moved[i] && !moved[j]) continue;
                double d = 0.0;
                for (int l = 0, k = 0; l < c->nl; l++)
                    if (c->L[l].gin == g) { d += swap_quad(&c->L[l], kg[k], kb[k], pb[k], i, j); k++; }
                Q[i * ng + j] = d;
            }
        fresh = 0;
        double tol = 1e-9 * (c->J > 0.0 ? c->J : 0.0);
        int64_t nc = 0;
        const double *C = w->C;
        for (int64_t i = 0; i < ng; i++)
            for (int64_t j = i + 1; j < ng; j++) {
                double d = C[i * ng + j] + C[j * ng + i] - C[i * ng + i] - C[j * ng + j] + Q[i * ng + j];
                if (d < -tol) cand[nc].d = d, cand[nc].i = i, cand[nc++].j = j;
            }
        if (nc == 0) break;
        qsort(cand, (size_t)nc, sizeof *cand, cmp_swap);
        /* disjoint swaps, best first, as two-unit cycles */
        memset(w->seen, 0, (size_t)ng);
        int64_t nm = 0;
        for (int64_t i = 0; i < ng; i++) w->assign[i] = i;
        for (int64_t t = 0; t < nc; t++) {
            int64_t i = cand[t].i, j = cand[t].j;
            if (w->seen[i] || w->seen[j]) continue;
            w->seen[i] = w->seen[j] = 1;
            w->assign[i] = j, w->assign[j] = i;
            w->cyc[nm].gain = cand[t].d, w->cyc[nm++].start = i;
        }
        int64_t taken;
        if (try_moves(c, g, w, w->assign, nm, &taken)) goto done;
        if (taken == 0) break; /* the predicted gain was rounding */
        *nswaps += taken;
        for (int64_t i = 0; i < ng; i++) moved[i] = w->q[i] != i; /* try_moves leaves the taken move in q */
    }
    rc = 0;
done:
    for (int k = 0; k < nin; k++) {
        if (kg) free(kg[k]);
        if (kb) free(kb[k]);
        if (pb) free(pb[k]);
    }
    free(kg), free(kb), free(pb), free(kinv), free(pinv), free(ksnap), free(cand), free(Q), free(moved);
    return rc;
}

/* ---- the search --------------------------------------------------------------- */

/* groups some term depends on */
static char *touched_groups(const cm *c)
{
    char *t = llfc_calloc((size_t)c->a->spec->ngroups + 1, 1);
    if (!t) return NULL;
    for (int l = 0; l < c->nl; l++) {
        if (c->L[l].gin >= 0) t[c->L[l].gin] = 1;
        if (c->L[l].gout >= 0) t[c->L[l].gout] = 1;
    }
    return t;
}

static int report(const llfc_comm_opts *o, double done, double total, const char *msg, llfc_comm_stats *st)
{
    if (!llfc_progress_stop(o->progress, o->progress_ud, done, total, msg)) return 0;
    if (llfc_interrupted()) { st->interrupted = 1; return 1; }
    return -1;
}

/* The starting permutation of the options (NULL + message on failure). */
static llfc_perm *start_perm(const llfc_net *a, const llfc_net *b, const float *x, int64_t n, const llfc_comm_opts *o)
{
    switch (o->from) {
    case LLFC_FROM_IDENTITY: return llfc_perm_identity(a->spec);
    case LLFC_FROM_PERM:
        if (!o->init) return llfc_seterr("init: no permutation given"), NULL;
        if (llfc_perm_fits(o->init, a->spec)) return llfc_adderr("init"), NULL;
        return llfc_perm_clone(o->init);
    case LLFC_FROM_ACTIVATION: {
        llfc_am_opts ao = {.method = LLFC_AM_INNER, .batch = 0};
        llfc_perm *p = llfc_activation_match(a, b, x, n, &ao, NULL);
        if (!p) llfc_adderr("init (activation matching)");
        return p;
    }
    case LLFC_FROM_WEIGHT: {
        llfc_wm_opts wo = {.max_iter = 100, .seed = o->seed};
        llfc_wm_stats ws;
        llfc_perm *p = llfc_weight_match(a, b, &wo, &ws);
        if (!p) return llfc_adderr("init (weight matching)"), NULL;
        free(ws.objective);
        if (ws.interrupted) { llfc_perm_free(p); llfc_seterr("interrupted"); return NULL; }
        return p;
    }
    default: return llfc_seterr("init: unknown start %d", o->from), NULL;
    }
}

/* Put c at p0 (from the identity it starts at). */
static int cm_start(cm *c, const llfc_perm *p0)
{
    for (int g = 0; g < c->a->spec->ngroups; g++) {
        int id = 1;
        for (int64_t i = 0; i < c->a->spec->gsize[g] && id; i++) id = p0->idx[g][i] == i;
        if (!id && cm_move(c, g, p0->idx[g])) return -1;
    }
    return 0;
}

llfc_perm *llfc_comm_match(const llfc_net *a, const llfc_net *b, const float *x, int64_t n, const llfc_comm_opts *opts,
                           llfc_comm_stats *st)
{
    double t0 = llfc_now();
    llfc_comm_opts o = {.max_iter = 100, .from = LLFC_FROM_WEIGHT};
    if (opts) o = *opts;
    memset(st, 0, sizeof *st);
    if (o.max_iter < 1) return llfc_seterr("max_iter must be at least 1, got %d", o.max_iter), NULL;
    if (o.nmax < 0) return llfc_seterr("n must be at least 1, got %lld", (long long)o.nmax), NULL;
    if (o.batch < 0) return llfc_seterr("batch must be at least 1, got %lld", (long long)o.batch), NULL;
    cm c;
    cm_scratch w = {0};
    llfc_perm *p0 = NULL, *res = NULL;
    char *touched = NULL;
    int64_t *order = NULL;
    if (cm_init(&c, a, b, x, n, o.nmax, o.batch)) goto done;
    st->n = c.n;
    if (!(p0 = start_perm(a, b, x, c.n, &o)) || cm_start(&c, p0) || cm_all_terms(&c)) goto done;
    st->J_init = c.J;
    const llfc_permspec *s = a->spec;
    int G = s->ngroups;
    if (scratch_init(&w, &c) || !(touched = touched_groups(&c)) ||
        !(order = llfc_mallocarray((size_t)G + 1, sizeof *order)) ||
        !(st->J = llfc_mallocarray((size_t)o.max_iter, sizeof *st->J)))
        goto done;
    llfc_rng rng;
    llfc_rng_seed(&rng, o.seed);
    char msg[160];
    int it;
    for (it = 0; it < o.max_iter && !st->interrupted; it++) {
        int improved = 0;
        for (int g = 0; g < G; g++) order[g] = g;
        llfc_rng_shuffle(&rng, order, G);
        for (int k = 0; k < G; k++) {
            int g = (int)order[k], outcome;
            if (!touched[g]) continue;
            if (llfc_interrupted()) { st->interrupted = 1; break; }
            if (cm_group_step(&c, g, &w, &outcome)) {
                if (llfc_interrupted()) { st->interrupted = 1; break; }
                goto done;
            }
            if (outcome == 1) st->full++;
            else if (outcome == 2) st->partial++;
            else st->rejected++;
            improved |= outcome != 0;
            snprintf(msg, sizeof msg, "commutativity_match sweep %d, group %s: %s, J %.9g", it + 1, s->gname[g],
                     outcome == 1 ? "step taken" : outcome == 2 ? "part of the step taken" : "no step", c.J);
            int r = report(&o, it + (k + 1.0) / G, o.max_iter, msg, st);
            if (r < 0) goto done;
        }
        if (st->interrupted) break; /* a partial sweep: not counted */
        st->J[it] = c.J;
        st->iterations = it + 1;
        if (!improved) { it++; break; }
    }
    if (!o.no_swaps && !st->interrupted) {
        int changed = 1;
        for (int pass = 0; changed && !st->interrupted; pass++) {
            changed = 0;
            for (int g = 0; g < G; g++) order[g] = g;
            llfc_rng_shuffle(&rng, order, G);
            for (int k = 0; k < G; k++) {
                int g = (int)order[k];
                if (!touched[g] || s->gsize[g] < 2) continue;
                if (!swap_fits(&c, g)) {
                    if (pass == 0) st->swap_skipped++;
                    continue;
                }
                if (llfc_interrupted()) { st->interrupted = 1; break; }
                int64_t before = st->swaps;
                if (cm_swap_group(&c, g, &w, &st->swaps)) {
                    if (llfc_interrupted()) { st->interrupted = 1; break; }
                    goto done;
                }
                changed |= st->swaps > before;
                snprintf(msg, sizeof msg, "commutativity_match swap search pass %d, group %s: %lld swaps, J %.9g",
                         pass + 1, s->gname[g], (long long)(st->swaps - before), c.J);
                if (report(&o, st->iterations, o.max_iter, msg, st) < 0) goto done;
            }
        }
    }
    st->J_final = c.J;
    res = c.p;
    c.p = NULL;
done:
    if (!res) {
        free(st->J);
        st->J = NULL;
    }
    st->seconds = llfc_now() - t0;
    scratch_free(&w);
    free(touched), free(order);
    llfc_perm_free(p0);
    cm_free(&c);
    return res;
}

int llfc_comm_objective(const llfc_net *a, const llfc_net *b, const llfc_perm *p, const float *x, int64_t n,
                        double *J, double *terms)
{
    cm c;
    int rc = -1;
    if (cm_init(&c, a, b, x, n, n, 0)) goto done;
    if (llfc_perm_fits(p, a->spec) || cm_start(&c, p) || cm_all_terms(&c)) goto done;
    *J = c.J;
    if (terms) {
        for (int i = 0; i < a->nops; i++) terms[i] = 0.0;
        for (int l = 0; l < c.nl; l++) terms[c.L[l].op] = c.L[l].term;
    }
    rc = 0;
done:
    cm_free(&c);
    return rc;
}

int llfc_comm_group_cost(const llfc_net *a, const llfc_net *b, const llfc_perm *p, const float *x, int64_t n, int g,
                         int parts, double *C)
{
    cm c;
    int rc = -1;
    if (cm_init(&c, a, b, x, n, n, 0)) goto done;
    if (g < 0 || g >= a->spec->ngroups) { llfc_seterr("no group %d", g + 1); goto done; }
    if (llfc_perm_fits(p, a->spec) || cm_start(&c, p)) goto done;
    rc = cm_cost(&c, g, parts, C);
done:
    cm_free(&c);
    return rc;
}
