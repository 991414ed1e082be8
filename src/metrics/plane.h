/* plane.h - the plane through three networks (Garipov et al. 2018).
 *
 * Origin a, u = (b - a)/|b - a|, v = the part of c - a orthogonal to u,
 * normalised: the point (x, y) of the plane is a + x u + y v, which is the
 * combination w_a a + w_b b + w_c c with barycentric weights summing to 1
 * (negative outside the triangle).  a is at (0, 0), b at (|b - a|, 0), c at
 * (<c - a, u>, |v|).  Norms and inner products are over every value a
 * combination combines (combine.h: all tensors but counts), in double.
 */
#ifndef LLFC_PLANE_H
#define LLFC_PLANE_H

#include "nn/nn.h"

typedef struct {
    double ab, ac, bc;   /* |b - a|, |c - a|, |c - b| */
    double bx;           /* b = (bx, 0) */
    double cx, cy;       /* c = (cx, cy), cy > 0 */
} llfc_plane;

/* The basis of a, b, c (one layout); -1 with a message when b = a or c is
 * on the line through a and b (cy <= 1e-6 |c - a|, within float rounding). */
int llfc_plane_basis(const llfc_net *a, const llfc_net *b, const llfc_net *c, llfc_plane *pl);
/* The weights (w_a, w_b, w_c) of the point (x, y). */
void llfc_plane_weights(const llfc_plane *pl, double x, double y, double w[3]);

#endif
