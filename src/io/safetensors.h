/* safetensors.h - reading and writing safetensors model files.
 *
 * Format (https://github.com/huggingface/safetensors): 8-byte little-endian
 * unsigned header length N, then N bytes of JSON, then the data buffer.  The
 * JSON object maps each tensor name to {"dtype": "F32", "shape": [..],
 * "data_offsets": [begin, end]} (byte offsets into the data buffer, end
 * exclusive) and may hold "__metadata__": {string: string}.
 *
 * Reading (llfc_st_read / llfc_st_parse) converts every tensor to float32:
 *   F32, F64, F16, BF16, I64, I32, I16, I8, U8 and BOOL are accepted (F64 and
 *   the integer types are rounded to the nearest float); any other dtype is an
 *   error naming it.  A file is rejected with a message naming the file, the
 *   tensor and the numbers when: it is shorter than 8 bytes; N is beyond the
 *   file or above 100 MB; the JSON is invalid or not an object; an entry is not
 *   an object or lacks dtype/shape/data_offsets of the right types; a shape
 *   has more than 8 dimensions or negative or fractional sizes; the byte count
 *   (end - begin) disagrees with shape and dtype; offsets are out of range,
 *   overlap, leave gaps, or do not cover the data buffer exactly (as the
 *   reference implementation validates); a name repeats; __metadata__ is not
 *   an object of strings.  Tensors keep the file's header order.
 *
 * Writing (llfc_st_write) stores every tensor as F32 (little-endian; I64 for
 * those added with llfc_st_add_i64, values rounded to integers), names
 * in the order given, data packed in that order, the header padded with
 * spaces to a multiple of 8 bytes (as the reference implementation does),
 * metadata under "__metadata__".  The file is written to a temporary file in
 * the same directory and renamed over `path`, so readers never see a partial
 * file.
 */
#ifndef LLFC_SAFETENSORS_H
#define LLFC_SAFETENSORS_H

#include "core/tensor.h"

typedef struct {
    char *name;
    llfc_tensor *t;     /* owned by the file object */
    int i64;            /* writing: store as I64 (llfc_st_add_i64); 0 after reading */
} llfc_st_tensor;

typedef struct {
    int n;                      /* tensors */
    llfc_st_tensor *tensors;
    int nmeta;                  /* __metadata__ entries */
    char **meta_keys;
    char **meta_values;
} llfc_st_file;

/* Largest header accepted when reading. */
#define LLFC_ST_MAX_HEADER (100 * 1024 * 1024)

/* Read a file.  NULL + error (llfc_errmsg) on failure. */
llfc_st_file *llfc_st_read(const char *path);
/* Parse a file already in memory; name is used in messages. */
llfc_st_file *llfc_st_parse(const unsigned char *buf, size_t len, const char *name);
/* Write atomically (temp file + rename).  0 or -1 + error. */
int llfc_st_write(const char *path, const llfc_st_file *f);
/* Free everything (tensors, names, metadata).  NULL is fine. */
void llfc_st_free(llfc_st_file *f);

/* Building a file to write: */
llfc_st_file *llfc_st_new(void);
/* Add a tensor under `name` (copied string).  The file keeps a shared view
 * of t (llfc_tensor_share): no data copy; free t as usual.  Errors on an
 * empty or duplicate name or "__metadata__". */
int llfc_st_add(llfc_st_file *f, const char *name, const llfc_tensor *t);
/* The same for a tensor written as I64 (counts such as BatchNorm's
 * num_batches_tracked); the values are rounded to the nearest integer. */
int llfc_st_add_i64(llfc_st_file *f, const char *name, const llfc_tensor *t);
/* Set metadata key = value (both copied; replaces an existing key). */
int llfc_st_set_meta(llfc_st_file *f, const char *key, const char *value);

/* Lookups (NULL when absent). */
llfc_tensor *llfc_st_get(const llfc_st_file *f, const char *name);
const char *llfc_st_get_meta(const llfc_st_file *f, const char *key);

#endif
