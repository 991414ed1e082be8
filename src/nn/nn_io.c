/* nn_io.c - model files: networks as safetensors with PyTorch state_dict
 * names and the architecture in __metadata__ (see nn.h). */
#include "nn/nn.h"
#include "nn/nn_cnn.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Conv nets (nn_cnn.h): __metadata__ {"arch": "cnn", "config": "<builder
 * arguments>"}; the tensors are exactly the parameters and buffers of the net
 * the config builds, with its shapes; num_batches_tracked is an I64 scalar
 * (shape []) as PyTorch writes it. */
static int is_count(const llfc_net *net, int p)
{
    for (int i = 0; i < net->cnn->nops; i++)
        if (net->cnn->ops[i].kind == LLFC_OP_BN && net->cnn->ops[i].pnbt == p) return 1;
    return 0;
}

static int cnn_save(const llfc_net *net, const char *path)
{
    if (!net->cnn->config[0]) return llfc_seterr("the conv net has no configuration to save");
    llfc_st_file *f = llfc_st_new();
    if (!f) return -1;
    int rc = -1;
    for (int p = 0; p < net->nparams; p++) {
        if (is_count(net, p)) {
            llfc_tensor *t = llfc_tensor_new(0, NULL);
            if (!t) goto done;
            llfc_tensor_data(t)[0] = llfc_tensor_data(net->param[p])[0];
            int e = llfc_st_add_i64(f, net->pname[p], t);
            llfc_tensor_free(t);
            if (e) goto done;
        } else if (llfc_st_add(f, net->pname[p], net->param[p])) {
            goto done;
        }
    }
    if (llfc_st_set_meta(f, "arch", "cnn") || llfc_st_set_meta(f, "config", net->cnn->config) ||
        llfc_st_set_meta(f, "format", "pt"))
        goto done;
    rc = llfc_st_write(path, f);
done:
    llfc_st_free(f);
    return rc;
}

static llfc_net *cnn_load(llfc_st_file *f, const char *path)
{
    const char *cfg = llfc_st_get_meta(f, "config");
    if (!cfg) {
        llfc_seterr("%s: a cnn file needs a config in the metadata", path);
        return NULL;
    }
    llfc_net *net = llfc_cnn_from_config(cfg);
    if (!net) {
        llfc_adderr("%s: config '%s'", path, cfg);
        return NULL;
    }
    for (int p = 0; p < net->nparams; p++) {
        llfc_tensor *t = llfc_st_get(f, net->pname[p]);
        char sa[64], sb[64];
        if (!t) {
            llfc_seterr("%s: missing tensor '%s' for the net of config '%s'", path, net->pname[p], cfg);
            goto fail;
        }
        int count_ok = is_count(net, p) && llfc_tensor_numel(t) == 1 && t->ndim <= 1;
        if (!count_ok && !llfc_tensor_same_shape(t, net->param[p])) {
            llfc_seterr("%s: '%s' is %s, the config '%s' needs %s", path, net->pname[p],
                        llfc_tensor_shape_str(t, sa, sizeof sa), cfg,
                        llfc_tensor_shape_str(net->param[p], sb, sizeof sb));
            goto fail;
        }
        if (llfc_tensor_copy(net->param[p], t)) goto fail;
    }
    for (int i = 0; i < f->n; i++) {
        int known = 0;
        for (int p = 0; p < net->nparams && !known; p++) known = !strcmp(f->tensors[i].name, net->pname[p]);
        if (!known) {
            llfc_seterr("%s: unexpected tensor '%s' for the net of config '%s'", path, f->tensors[i].name, cfg);
            goto fail;
        }
    }
    return net;
fail:
    llfc_net_free(net);
    return NULL;
}

int llfc_net_save(const llfc_net *net, const char *path)
{
    if (net->arch == LLFC_ARCH_CNN && net->cnn) return cnn_save(net, path);
    if (net->arch != LLFC_ARCH_MLP) return llfc_seterr("only MLPs can be saved");
    llfc_st_file *f = llfc_st_new();
    if (!f) return -1;
    char widths[1024];
    size_t len = 0;
    for (int l = 0; l <= net->nlayers && len < sizeof widths; l++)
        len += (size_t)snprintf(widths + len, sizeof widths - len, l ? ",%lld" : "%lld", (long long)net->widths[l]);
    if (len >= sizeof widths) { llfc_st_free(f); return llfc_seterr("too many layers to save"); }
    int rc = -1;
    for (int p = 0; p < net->nparams; p++)
        if (llfc_st_add(f, net->pname[p], net->param[p])) goto done;
    if (llfc_st_set_meta(f, "arch", "mlp") || llfc_st_set_meta(f, "widths", widths) ||
        llfc_st_set_meta(f, "act", llfc_act_name(net->act)) || llfc_st_set_meta(f, "format", "pt"))
        goto done;
    rc = llfc_st_write(path, f);
done:
    llfc_st_free(f);
    return rc;
}

/* "784,512,10" -> widths; returns the count or -1. */
static int parse_widths(const char *s, int64_t *w, int max)
{
    int n = 0;
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || n >= max) return -1;
        w[n++] = v;
        s = end;
        while (*s == ' ') s++;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n;
}

llfc_net *llfc_net_load(const char *path)
{
    llfc_st_file *f = llfc_st_read(path);
    if (!f) return NULL;
    llfc_net *net = NULL;
    const char *arch = llfc_st_get_meta(f, "arch");
    if (arch && !strcmp(arch, "cnn")) {
        net = cnn_load(f, path);
        goto done;
    }
    if (arch && strcmp(arch, "mlp")) {
        llfc_seterr("%s: architecture '%s' is not supported (mlp, cnn)", path, arch);
        goto done;
    }
    const char *acts = llfc_st_get_meta(f, "act");
    int act = acts ? llfc_act_from_name(acts) : LLFC_ACT_RELU;
    if (act < 0) { llfc_seterr("%s: unknown activation '%s' in the metadata", path, acts); goto done; }
    /* layers from the tensor names 0.weight, 0.bias, 2.weight, ... */
    int L = 0;
    int64_t widths[1025];
    for (;;) {
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "%d.weight", 2 * L);
        snprintf(bn, sizeof bn, "%d.bias", 2 * L);
        llfc_tensor *W = llfc_st_get(f, wn), *B = llfc_st_get(f, bn);
        if (!W && !B) break;
        char sh[64];
        if (!W || !B) { llfc_seterr("%s: '%s' without '%s'", path, W ? wn : bn, W ? bn : wn); goto done; }
        if (W->ndim != 2) {
            llfc_seterr("%s: '%s' must be 2-d [out, in], got %s", path, wn, llfc_tensor_shape_str(W, sh, sizeof sh));
            goto done;
        }
        if (B->ndim != 1 || B->size[0] != W->size[0]) {
            llfc_seterr("%s: '%s' must be [%lld] to match '%s', got %s", path, bn, (long long)W->size[0], wn,
                        llfc_tensor_shape_str(B, sh, sizeof sh));
            goto done;
        }
        if (L == 0) widths[0] = W->size[1];
        else if (W->size[1] != widths[L]) {
            llfc_seterr("%s: '%s' takes %lld inputs but the previous layer has %lld outputs", path, wn,
                        (long long)W->size[1], (long long)widths[L]);
            goto done;
        }
        widths[L + 1] = W->size[0];
        if (++L >= 1024) { llfc_seterr("%s: too many layers", path); goto done; }
    }
    if (L == 0) { llfc_seterr("%s: no '0.weight' tensor: not an MLP state_dict", path); goto done; }
    if (f->n != 2 * L) {
        for (int i = 0; i < f->n; i++) {
            int k;
            char rest[16];
            if (sscanf(f->tensors[i].name, "%d.%15s", &k, rest) != 2 || k % 2 || k / 2 >= L ||
                (strcmp(rest, "weight") && strcmp(rest, "bias"))) {
                llfc_seterr("%s: unexpected tensor '%s' for an MLP of %d layers", path, f->tensors[i].name, L);
                goto done;
            }
        }
    }
    const char *ws = llfc_st_get_meta(f, "widths");
    if (ws) {
        int64_t mw[1025];
        int nm = parse_widths(ws, mw, 1025);
        if (nm < 0) { llfc_seterr("%s: bad widths '%s' in the metadata", path, ws); goto done; }
        if (nm != L + 1 || memcmp(mw, widths, (size_t)nm * sizeof *mw)) {
            llfc_seterr("%s: the metadata says widths %s but the tensors have %d layers", path, ws, L);
            for (int i = 0; nm == L + 1 && i < nm; i++)
                if (mw[i] != widths[i])
                    llfc_seterr("%s: the metadata says widths %s but width %d is %lld in the tensors", path, ws, i + 1,
                                (long long)widths[i]);
            goto done;
        }
    }
    if (!(net = llfc_mlp_new(L + 1, widths, act, LLFC_INIT_TORCH, 0))) goto done;
    for (int p = 0; p < net->nparams; p++) {
        if (llfc_tensor_copy(net->param[p], llfc_st_get(f, net->pname[p]))) {
            llfc_net_free(net);
            net = NULL;
            goto done;
        }
    }
done:
    llfc_st_free(f);
    return net;
}
