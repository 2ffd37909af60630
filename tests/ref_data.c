/* References for the data pipeline: byte -> float conversion and the
 * per-epoch order, written independently of host/data/batcher.c. */
#include "ref_data.h"

#include "glf/rng.h"

void ref_u8_to_f32(const uint8_t *x, size_t n, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (double)x[i] / 255.0;
}

void ref_epoch_order(size_t n, unsigned long long seed, int epoch, int shuffle, uint32_t *perm)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    if (!shuffle)
        return;
    glf_rng r;
    glf_rng_init(&r, seed, (0xDA7AULL << 48) | (uint32_t)epoch);
    /* Fisher-Yates from the top, as glf_rng_shuffle_u32 documents. */
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)glf_rng_below(&r, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
