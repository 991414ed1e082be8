/* permspec.h - the permutation spec of a network (Git Re-Basin's PermutationSpec).
 *
 * Named groups of hidden units (one per hidden width, one per residual stream),
 * and for every parameter tensor of the network, for each axis, the index of
 * the group that permutes that axis or -1.  Weight matching, activation
 * matching and Perm:apply work from this data alone, never from
 * architecture-specific code.
 */
#ifndef LLFC_PERMSPEC_H
#define LLFC_PERMSPEC_H

#include "core/tensor.h"

typedef struct llfc_permspec {
    int ngroups;
    char **gname;        /* "P1", "P2", ... */
    int64_t *gsize;      /* units in each group */
    int nparams;         /* == net->nparams */
    int (*axis)[LLFC_MAXDIM]; /* axis[p][d]: group permuting axis d of param p, or -1 */
    /* For activation matching: which feature layer (index into the net's
     * feature list, see nn.h) carries each group's units, or -1 if none. */
    int *gfeat;
} llfc_permspec;

llfc_permspec *llfc_permspec_new(int ngroups, int nparams);
void llfc_permspec_free(llfc_permspec *s);
llfc_permspec *llfc_permspec_clone(const llfc_permspec *s);
int llfc_permspec_group(const llfc_permspec *s, const char *name); /* index or -1 */

#endif
