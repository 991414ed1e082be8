/* modelfile.c - model files: networks as safetensors with PyTorch
 * state_dict names, the config that rebuilds them and the builder's own keys
 * in __metadata__ (see nn.h). */
#include "nn/modelfile.h"
#include "nn/build.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* names->to of name (or name itself), with a check that the map is one to one */
static const char *renamed(const llfc_names *names, const char *name)
{
    for (int i = 0; names && i < names->n; i++)
        if (!strcmp(names->from[i], name)) return names->to[i];
    return name;
}

int llfc_names_check(const llfc_names *names)
{
    for (int i = 0; names && i < names->n; i++) {
        if (!names->from[i][0] || !names->to[i][0]) return llfc_seterr("names: an empty tensor name");
        for (int j = 0; j < i; j++) {
            if (!strcmp(names->from[i], names->from[j]))
                return llfc_seterr("names: '%s' is renamed twice", names->from[i]);
            if (!strcmp(names->to[i], names->to[j]))
                return llfc_seterr("names: '%s' and '%s' both become '%s'", names->from[j], names->from[i], names->to[i]);
        }
    }
    return 0;
}

int llfc_net_to_st(const llfc_net *net, llfc_st_file *f, const char *prefix, const llfc_names *names)
{
    char name[256];
    for (int p = 0; p < net->nparams; p++) {
        snprintf(name, sizeof name, "%s%s", prefix, renamed(names, net->pname[p]));
        if (llfc_net_param_is_count(net, p)) { /* an I64 scalar, as PyTorch writes it */
            llfc_tensor *t = llfc_tensor_new(0, NULL);
            if (!t) return -1;
            llfc_tensor_data(t)[0] = llfc_tensor_data(net->param[p])[0];
            int e = llfc_st_add_i64(f, name, t);
            llfc_tensor_free(t);
            if (e) return -1;
        } else if (llfc_st_add(f, name, net->param[p])) {
            return -1;
        }
    }
    return 0;
}

int llfc_net_save(const llfc_net *net, const char *path) { return llfc_net_save_named(net, path, NULL); }

int llfc_net_save_named(const llfc_net *net, const char *path, const llfc_names *names)
{
    if (llfc_names_check(names)) return -1;
    if (!net->config[0]) return llfc_seterr("the network has no description to save");
    const char *keys[8], *vals[8];
    char buf[1024];
    int nm = llfc_net_file_meta(net, keys, vals, buf, sizeof buf, 8);
    if (nm < 0) return -1;
    llfc_st_file *f = llfc_st_new();
    if (!f) return -1;
    int rc = -1;
    if (llfc_net_to_st(net, f, "", names)) goto done;
    for (int i = 0; i < nm; i++)
        if (llfc_st_set_meta(f, keys[i], vals[i])) goto done;
    if (llfc_st_set_meta(f, "config", net->config) || llfc_st_set_meta(f, "format", "pt")) goto done;
    rc = llfc_st_write(path, f);
done:
    llfc_st_free(f);
    return rc;
}

int llfc_net_from_st(llfc_net *net, const llfc_st_file *f, const char *prefix, const char *path, const char *cfg,
                     int allow_nonfinite)
{
    char name[256];
    for (int p = 0; p < net->nparams; p++) {
        snprintf(name, sizeof name, "%s%s", prefix, net->pname[p]);
        llfc_tensor *t = llfc_st_get(f, name);
        char sa[64], sb[64];
        if (!t) return llfc_seterr("%s: missing tensor '%s' for the net of config '%s'", path, name, cfg);
        int count_ok = llfc_net_param_is_count(net, p) && llfc_tensor_numel(t) == 1 && t->ndim <= 1;
        if (!count_ok && !llfc_tensor_same_shape(t, net->param[p]))
            return llfc_seterr("%s: '%s' is %s, the config '%s' needs %s", path, name,
                               llfc_tensor_shape_str(t, sa, sizeof sa), cfg,
                               llfc_tensor_shape_str(net->param[p], sb, sizeof sb));
        if (llfc_tensor_copy(net->param[p], t)) return -1;
        const float *d = llfc_tensor_data(net->param[p]);
        for (int64_t i = 0, m = llfc_tensor_numel(net->param[p]); !allow_nonfinite && i < m; i++)
            if (!isfinite(d[i]))
                return llfc_seterr("%s: tensor '%s' holds %s (element %lld of %lld); load it with allow_nonfinite to keep it",
                                   path, name, isnan(d[i]) ? "NaN" : "an infinity", (long long)i + 1, (long long)m);
    }
    return 0;
}

static const char *file_meta(void *ud, const char *key) { return llfc_st_get_meta(ud, key); }
static const llfc_tensor *file_tensor(void *ud, const char *name) { return llfc_st_get(ud, name); }

llfc_net *llfc_net_load(const char *path) { return llfc_net_load_opts(path, NULL, 0); }

llfc_net *llfc_net_load_opts(const char *path, const llfc_names *names, int allow_nonfinite)
{
    if (llfc_names_check(names)) return NULL;
    llfc_st_file *f = llfc_st_read(path);
    if (!f) return NULL;
    llfc_net *net = NULL;
    for (int i = 0; i < f->n; i++) {
        const char *to = renamed(names, f->tensors[i].name);
        if (to == f->tensors[i].name) continue;
        size_t len = strlen(to) + 1;
        char *c = llfc_malloc(len);
        if (!c) goto done;
        memcpy(c, to, len);
        free(f->tensors[i].name);
        f->tensors[i].name = c;
    }
    for (int i = 0; i < f->n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(f->tensors[i].name, f->tensors[j].name)) {
                llfc_seterr("%s: two tensors are named '%s' after renaming", path, f->tensors[i].name);
                goto done;
            }
    char cfg[sizeof net->config];
    if (llfc_net_file_config(file_meta, file_tensor, f, cfg, sizeof cfg)) {
        llfc_adderr("%s", path);
        goto done;
    }
    if (!(net = llfc_net_build(cfg, 1))) {
        llfc_adderr("%s: config '%s'", path, cfg);
        goto done;
    }
    if (llfc_net_from_st(net, f, "", path, cfg, allow_nonfinite)) goto fail;
    for (int i = 0; i < f->n; i++) {
        int known = 0;
        for (int p = 0; p < net->nparams && !known; p++) known = !strcmp(f->tensors[i].name, net->pname[p]);
        if (!known) {
            llfc_seterr("%s: unexpected tensor '%s' for the net of config '%s'", path, f->tensors[i].name, cfg);
            goto fail;
        }
    }
    goto done;
fail:
    llfc_net_free(net);
    net = NULL;
done:
    llfc_st_free(f);
    return net;
}
