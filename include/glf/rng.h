/* Counter-based random numbers (Philox4x32-10): a value depends only on
 * (seed, stream, counter), never on call order or thread timing, so data
 * shuffles, initialisation and sampling are reproducible and resumable. */
#ifndef GLF_RNG_H
#define GLF_RNG_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Four 32-bit random words for (key, counter). */
void glf_philox4x32(uint64_t key, uint64_t counter_hi, uint64_t counter_lo,
                    uint32_t out[4]);

/* A sequential generator on top of Philox: state is (seed, stream, counter)
 * and can be saved and restored exactly (checkpoints). */
typedef struct glf_rng {
    uint64_t seed;
    uint64_t stream;
    uint64_t counter; /* number of 128-bit blocks consumed */
    uint32_t buf[4];
    uint32_t used;    /* words of buf already returned (4 = empty) */
} glf_rng;

void glf_rng_init(glf_rng *r, uint64_t seed, uint64_t stream);
uint32_t glf_rng_u32(glf_rng *r);
uint64_t glf_rng_u64(glf_rng *r);
/* Uniform in [0, 1) with 24 random bits (float) / 53 bits (double). */
float glf_rng_uniform(glf_rng *r);
double glf_rng_uniform_f64(glf_rng *r);
/* Standard normal (Box-Muller, both outputs used in turn is NOT done:
 * one normal per two uniforms, so the sequence is position-independent). */
double glf_rng_normal(glf_rng *r);
/* Uniform integer in [0, n) without modulo bias. n > 0. */
uint64_t glf_rng_below(glf_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n) driven by r. */
void glf_rng_shuffle_u32(glf_rng *r, uint32_t *idx, size_t n);

#ifdef __cplusplus
}
#endif
#endif
