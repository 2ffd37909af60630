/* Plain-C references of cl/data.cl and of the batcher's epoch order. */
#ifndef GLF_REF_DATA_H
#define GLF_REF_DATA_H

#include <stddef.h>
#include <stdint.h>

/* y[i] = x[i] / 255 in double. */
void ref_u8_to_f32(const uint8_t *x, size_t n, double *y);
/* The image order of an in-memory epoch: identity, Fisher-Yates shuffled
 * by glf_rng(seed, 0xDA7A << 48 | epoch) when shuffle != 0. */
void ref_epoch_order(size_t n, unsigned long long seed, int epoch, int shuffle, uint32_t *perm);

#endif
