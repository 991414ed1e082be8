/* stitch.c - a network made of A's ops up to a cut, a stitching layer and
 * B's ops after it (see stitch.h).  The op list is spliced: A's ops 0..s-1
 * keep their slots, the stitching op reads slot s and writes s + 1, and B's
 * op j >= s becomes op j + 1, every slot it reads shifted by one. */
#include "nn/stitch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the slot cut after feature layer l (-1: the input) */
static int cut_slot(const llfc_net *net, int l) { return l < 0 ? 0 : net->ops[net->featop[l]].out; }

int llfc_net_stitch_check(const llfc_net *net, int l)
{
    if (l < -1 || l >= net->nfeat)
        return llfc_seterr("no feature layer %d (the network has 1 to %d, 0 is the input)", l + 1, net->nfeat);
    int s = cut_slot(net, l);
    char name[48];
    for (int j = s; j < net->nops; j++) {
        const llfc_op *o = &net->ops[j];
        int early = o->in < s ? o->in : o->kind == LLFC_OP_ADD && o->in2 < s ? o->in2 : -1;
        if (early >= 0)
            return llfc_seterr("the cut after %s is not one: op %d (%s) also reads %s, before the cut (inside a "
                               "residual block)",
                               l < 0 ? "x" : llfc_net_featname(net, l, name, sizeof name), j + 1, o->name,
                               llfc_net_slot_name(net, early, (char[48]){0}, 48));
    }
    return 0;
}

int64_t llfc_net_stitch_width(const llfc_net *net, int l)
{
    if (l < -1 || l >= net->nfeat) return -1;
    int s = cut_slot(net, l);
    return s == 0 ? net->c : net->ops[s - 1].K;
}

/* Append a copy of src's param p (frozen) to dst, remembering where it went. */
static int take(llfc_net *dst, const llfc_net *src, int p, int *map)
{
    if (p < 0) return 0;
    if (map[p] >= 0) return 0;
    int q = dst->nparams;
    size_t len = strlen(src->pname[p]) + 1;
    if (!(dst->pname[q] = llfc_malloc(len)) || !(dst->param[q] = llfc_tensor_clone(src->param[p]))) return -1;
    memcpy(dst->pname[q], src->pname[p], len);
    dst->ptrain[q] = 0;
    map[p] = q;
    dst->nparams++;
    return 0;
}

static int remap_params(llfc_op *o, const int *map)
{
    int *ps[5] = {&o->pw, &o->pb, &o->prm, &o->prv, &o->pnbt};
    for (int k = 0; k < 5; k++)
        if (*ps[k] >= 0) *ps[k] = map[*ps[k]];
    return 0;
}

llfc_net *llfc_net_stitch(const llfc_net *a, const llfc_net *b, int l, const float *w, const float *bias)
{
    if (llfc_net_same_arch(a, b)) return NULL;
    if (llfc_net_stitch_check(a, l)) return NULL;
    int s = cut_slot(a, l), P = a->nparams;
    int64_t C = llfc_net_stitch_width(a, l);
    int H = s == 0 ? a->h : a->ops[s - 1].P, W = s == 0 ? a->w : a->ops[s - 1].Q;
    llfc_net *n = llfc_calloc(1, sizeof *n);
    int *ma = llfc_mallocarray((size_t)P + 1, sizeof *ma), *mb = llfc_mallocarray((size_t)P + 1, sizeof *mb);
    if (!n || !ma || !mb) goto fail;
    for (int p = 0; p < P; p++) ma[p] = mb[p] = -1;
    n->c = a->c, n->h = a->h, n->w = a->w;
    n->bn_eps = a->bn_eps, n->bn_momentum = a->bn_momentum, n->ln_eps = a->ln_eps;
    n->nops = a->nops + 1, n->nslots = n->nops + 1, n->nfeat = a->nfeat;
    if (!(n->pname = llfc_calloc((size_t)P + 3, sizeof *n->pname)) ||
        !(n->param = llfc_calloc((size_t)P + 3, sizeof *n->param)) || !(n->ptrain = llfc_calloc((size_t)P + 3, 1)) ||
        !(n->ops = llfc_calloc((size_t)n->nops, sizeof *n->ops)) ||
        !(n->featop = llfc_calloc((size_t)n->nfeat, sizeof *n->featop)) ||
        !(n->widths = llfc_mallocarray((size_t)n->nfeat + 1, sizeof *n->widths)))
        goto fail;
    memcpy(n->widths, a->widths, (size_t)(a->nfeat + 1) * sizeof *n->widths);
    /* A's part */
    for (int j = 0; j < s; j++) {
        llfc_op o = a->ops[j];
        const int ps[5] = {o.pw, o.pb, o.prm, o.prv, o.pnbt};
        for (int k = 0; k < 5; k++)
            if (take(n, a, ps[k], ma)) goto fail;
        remap_params(&o, ma);
        n->ops[j] = o;
    }
    /* the stitching layer */
    {
        int64_t ws[4] = {C, C, 1, 1};
        int conv = (int64_t)H * W > 1;
        int qw = n->nparams, qb = qw + 1;
        if (!(n->pname[qw] = llfc_malloc(16)) || !(n->pname[qb] = llfc_malloc(16))) goto fail;
        snprintf(n->pname[qw], 16, "stitch.weight");
        snprintf(n->pname[qb], 16, "stitch.bias");
        if (!(n->param[qw] = llfc_tensor_new(conv ? 4 : 2, ws)) || !(n->param[qb] = llfc_tensor_new(1, ws))) goto fail;
        n->ptrain[qw] = n->ptrain[qb] = 1;
        n->nparams += 2;
        float *d = llfc_tensor_data(n->param[qw]), *e = llfc_tensor_data(n->param[qb]);
        for (int64_t i = 0; i < C * C; i++) d[i] = w ? w[i] : (i / C == i % C ? 1.0f : 0.0f);
        for (int64_t i = 0; i < C; i++) e[i] = bias ? bias[i] : 0.0f;
        llfc_op *o = &n->ops[s];
        memset(o, 0, sizeof *o);
        o->kind = conv ? LLFC_OP_CONV : LLFC_OP_LINEAR;
        o->in = s, o->in2 = -1, o->out = s + 1;
        o->C = (int)C, o->H = H, o->W = W;
        o->K = (int)C, o->P = conv ? H : 1, o->Q = conv ? W : 1;
        o->R = 1, o->stride = 1, o->pad = 0;
        o->pw = qw, o->pb = qb, o->prm = o->prv = o->pnbt = -1, o->feat = -1;
        snprintf(o->name, sizeof o->name, "stitch");
        if (!conv && H * W != 1) goto fail;
    }
    /* B's part, one op and one slot later */
    for (int j = s; j < b->nops; j++) {
        llfc_op o = b->ops[j];
        const int ps[5] = {o.pw, o.pb, o.prm, o.prv, o.pnbt};
        for (int k = 0; k < 5; k++)
            if (take(n, b, ps[k], mb)) goto fail;
        remap_params(&o, mb);
        o.in += 1;
        if (o.kind == LLFC_OP_ADD) o.in2 += 1;
        o.out = j + 2;
        n->ops[j + 1] = o;
    }
    for (int f = 0; f < n->nfeat; f++) n->featop[f] = a->featop[f] < s ? a->featop[f] : a->featop[f] + 1;
    if (l == a->nfeat - 1) { /* after the logits: the stitching layer gives them */
        llfc_op *last = &n->ops[s - 1], *st = &n->ops[s];
        st->feat = last->feat;
        memcpy(st->fname, last->fname, sizeof st->fname);
        last->feat = -1;
        last->fname[0] = 0;
        n->featop[l] = s;
    }
    if (llfc_net_check(n)) { llfc_adderr("stitch"); goto fail; }
    free(ma), free(mb);
    return n;
fail:
    free(ma), free(mb);
    llfc_net_free(n);
    return NULL;
}
