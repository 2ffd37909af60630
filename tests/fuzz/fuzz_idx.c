/* libFuzzer harness of the IDX reader: the bytes as an IDX file, and the
 * bytes through libarchive's filters (gzip, ...) and then as IDX. Any
 * crash, leak or undefined behaviour is a bug; errors are fine. */
#include <stdint.h>
#include <stdlib.h>

#include "glf/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out, *raw;
    int nd;
    uint32_t dims[4];
    size_t n;
    if (glf_idx_parse("fuzz", data, size, &out, &nd, dims) == GLF_OK)
        free(out);
    if (glf_read_decompressed("fuzz", NULL, data, size, &raw, &n) == GLF_OK) {
        if (glf_idx_parse("fuzz", raw, n, &out, &nd, dims) == GLF_OK)
            free(out);
        free(raw);
    }
    return 0;
}
