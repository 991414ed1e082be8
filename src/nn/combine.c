/* combine.c - weighted combinations of networks (see combine.h). */
#include "nn/combine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int llfc_net_combine_into(llfc_net *out, const llfc_net *const *nets, int K, const double *w)
{
    if (K < 1) return llfc_seterr("combine: no networks");
    for (int k = 0; k < K; k++) {
        if (nets[k] == out) return llfc_seterr("combine: the output is network %d", k + 1);
        if (k > 0 && llfc_net_same_arch(nets[0], nets[k])) return llfc_adderr("network %d", k + 1);
        if (!isfinite(w[k])) return llfc_seterr("combine: weight %d is %g", k + 1, w[k]);
    }
    if (llfc_net_same_arch(nets[0], out)) return llfc_adderr("the output network");
    for (int p = 0; p < out->nparams; p++) {
        float *o = llfc_tensor_data(out->param[p]);
        int64_t n = llfc_tensor_numel(out->param[p]);
        const float *x = llfc_tensor_data(nets[0]->param[p]);
        if (llfc_net_param_is_count(out, p)) { /* num_batches_tracked: the first network's */
            memcpy(o, x, (size_t)n * sizeof *o);
            continue;
        }
        float f = (float)w[0];
        for (int64_t i = 0; i < n; i++) o[i] = f * x[i];
        for (int k = 1; k < K; k++) {
            const float *y = llfc_tensor_data(nets[k]->param[p]);
            float g = (float)w[k];
            for (int64_t i = 0; i < n; i++) o[i] += g * y[i];
        }
    }
    return 0;
}

llfc_net *llfc_net_combine(const llfc_net *const *nets, int K, const double *w)
{
    if (K < 1) { llfc_seterr("combine: no networks"); return NULL; }
    llfc_net *out = llfc_net_clone(nets[0]);
    if (!out) return NULL;
    if (llfc_net_combine_into(out, nets, K, w)) { llfc_net_free(out); return NULL; }
    return out;
}

int llfc_average_weights(int K, const double *w, double *out)
{
    if (K < 1) return llfc_seterr("average: no networks");
    double s = 0.0;
    for (int k = 0; k < K; k++) {
        double v = w ? w[k] : 1.0;
        if (!(v >= 0.0) || !isfinite(v)) return llfc_seterr("average: weight %d is %g, must be finite and >= 0", k + 1, v);
        s += v;
    }
    if (!(s > 0.0)) return llfc_seterr("average: the weights sum to 0");
    for (int k = 0; k < K; k++) out[k] = (w ? w[k] : 1.0) / s;
    return 0;
}

llfc_net *llfc_net_average(const llfc_net *const *nets, int K, const double *w)
{
    double *v = llfc_mallocarray((size_t)(K > 0 ? K : 1), sizeof *v);
    if (!v) return NULL;
    llfc_net *out = NULL;
    if (!llfc_average_weights(K, w, v)) out = llfc_net_combine(nets, K, v);
    free(v);
    return out;
}
