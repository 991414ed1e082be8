/* fuzz_safetensors.c - libFuzzer harness for the safetensors reader: parse
 * arbitrary bytes; when they parse, write the result and read it back, and
 * check the round trip is exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    llfc_st_file *f = llfc_st_parse(data, size, "fuzz");
    if (!f) return 0;
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-st-%d.safetensors", (int)getpid());
    if (llfc_st_write(path, f) == 0) {
        llfc_st_file *g = llfc_st_read(path);
        if (!g || g->n != f->n || g->nmeta != f->nmeta) abort();
        for (int i = 0; i < f->n; i++) {
            llfc_tensor *a = f->tensors[i].t, *b = llfc_st_get(g, f->tensors[i].name);
            if (!b || !llfc_tensor_same_shape(a, b)) abort();
            if (memcmp(llfc_tensor_data(a), llfc_tensor_data(b), (size_t)llfc_tensor_numel(a) * 4)) abort();
        }
        llfc_st_free(g);
        unlink(path);
    }
    llfc_st_free(f);
    return 0;
}
