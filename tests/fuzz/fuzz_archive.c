/* libFuzzer harness of the archive reader: the bytes as a glf data archive
 * (any libarchive filter, so plain tar seeds reach the manifest parser),
 * both splits. Any crash, leak or undefined behaviour is a bug. */
#include <stdint.h>
#include <stdlib.h>

#include "glf/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const splits[2] = {"train", "test"};
    for (int k = 0; k < 2; k++) {
        glf_dataset d;
        if (glf_archive_load_memory("fuzz", data, size, splits[k], &d) == GLF_OK)
            glf_dataset_free(&d);
    }
    return 0;
}
