/* modelfile.h - the pieces of model files (modelfile.c) that files holding
 * several networks share (curves, curve.h): a network's tensors under a name
 * prefix, written as llfc_net_save writes them and read back with the checks
 * of llfc_net_load. */
#ifndef LLFC_MODELFILE_H
#define LLFC_MODELFILE_H

#include "io/safetensors.h"
#include "nn/nn.h"

/* Add every tensor of net to f as prefix + its state_dict name (renamed by
 * names, which may be NULL); counts as I64 scalars.  f shares the data. */
int llfc_net_to_st(const llfc_net *net, llfc_st_file *f, const char *prefix, const llfc_names *names);
/* Copy the tensors prefix + name of f into the tensors of net, made from the
 * config cfg; -1 naming path, the tensor and the shapes when one is missing
 * or of another shape, or holds NaN or an infinity (unless allow_nonfinite). */
int llfc_net_from_st(llfc_net *net, const llfc_st_file *f, const char *prefix, const char *path, const char *cfg,
                     int allow_nonfinite);

#endif
