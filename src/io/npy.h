/* npy.h - NumPy .npy files (format versions 1.0, 2.0 and 3.0).
 *
 * Reading accepts little-endian, C-order arrays of float32, float64, int64,
 * int32, int16, int8, uint8 and bool and converts them to float32; every other
 * file (Fortran order, big-endian, object or other dtypes, a bad header, a
 * truncated file) fails with a message naming the file and the problem.
 * Writing produces a version 1.0 '<f4' C-order file, atomically (a temporary
 * file in the same directory, then rename).
 */
#ifndef LLFC_NPY_H
#define LLFC_NPY_H

#include <stdio.h>

#include "core/tensor.h"

/* Load path as a new contiguous float32 tensor (NULL + error on failure). */
llfc_tensor *llfc_npy_load(const char *path);
/* Save t (any strides) as float32.  0 or -1 + error. */
int llfc_npy_save(const char *path, const llfc_tensor *t);

/* Read a .npy stream from f (positioned at the magic string); name is used
 * in error messages.  The stream must be seekable (its size bounds the data
 * the header may claim). */
llfc_tensor *llfc_npy_read(FILE *f, const char *name);

#endif
