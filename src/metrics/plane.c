/* plane.c - coordinates in the plane through three networks (see plane.h). */
#include "metrics/plane.h"

#include <math.h>

int llfc_plane_basis(const llfc_net *a, const llfc_net *b, const llfc_net *c, llfc_plane *pl)
{
    if (llfc_net_same_arch(a, b)) return llfc_adderr("b");
    if (llfc_net_same_arch(a, c)) return llfc_adderr("c");
    double uu = 0, vv = 0, uv = 0, ww = 0;
    for (int p = 0; p < a->nparams; p++) {
        if (llfc_net_param_is_count(a, p)) continue;
        const float *x = llfc_tensor_data(a->param[p]), *y = llfc_tensor_data(b->param[p]),
                    *z = llfc_tensor_data(c->param[p]);
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[p]); i++) {
            double u = (double)y[i] - x[i], v = (double)z[i] - x[i], w = (double)z[i] - y[i];
            uu += u * u, vv += v * v, uv += u * v, ww += w * w;
        }
    }
    if (!isfinite(uu + vv)) return llfc_seterr("the networks hold values that are not finite");
    if (uu == 0) return llfc_seterr("a and b are the same point: no plane");
    pl->ab = sqrt(uu), pl->ac = sqrt(vv), pl->bc = sqrt(ww);
    pl->bx = pl->ab;
    pl->cx = uv / pl->ab;
    double r = vv - pl->cx * pl->cx;
    pl->cy = r > 0 ? sqrt(r) : 0.0;
    if (!(pl->cy > 1e-6 * pl->ac)) /* float parameters: closer is rounding */
        return llfc_seterr("c is on the line through a and b: no plane");
    return 0;
}

void llfc_plane_weights(const llfc_plane *pl, double x, double y, double w[3])
{
    /* (x, y) = w_b (bx, 0) + w_c (cx, cy) */
    w[2] = y / pl->cy;
    w[1] = (x - w[2] * pl->cx) / pl->bx;
    w[0] = 1.0 - w[1] - w[2];
}
