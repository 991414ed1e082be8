/* fuzz_npy.c - libFuzzer harness for the .npy reader.
 *
 * Each input is read as a .npy stream from memory (fmemopen) through
 * llfc_npy_read, the function behind llfc_npy_load.  A successful read must
 * give a tensor whose element count matches its shape; every other input must
 * fail cleanly with a message.  Build and run: see tests/fuzz/README.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size == 0) return 0;
    llfc_seterr("%s", "");
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return 0;
    llfc_tensor *t = llfc_npy_read(f, "fuzz.npy");
    fclose(f);
    if (t) {
        int64_t n = llfc_tensor_numel(t);
        volatile float sink = 0;
        for (int64_t i = 0; i < n; i++) sink += llfc_tensor_data(t)[i]; /* touch every element */
        (void)sink;
        llfc_tensor_free(t);
    } else if (!llfc_errmsg()[0]) {
        abort(); /* a failure without a message */
    }
    return 0;
}
