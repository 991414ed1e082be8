/* fuzz_cifar.c - libFuzzer harness for the CIFAR-10 batch reader. */
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "../c/dataset_valid.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    unsigned char *b = malloc(size ? size : 1);
    memcpy(b, data, size);
    llfc_dataset *ds = llfc_cifar_parse(b, size, "fuzz");
    if (ds && (ds->n * 3073 != (int64_t)size || dataset_valid(ds) != 0)) abort();
    llfc_dataset_release(ds);
    free(b);
    return 0;
}
