/* Philox4x32-10 (Salmon et al., SC'11) and a resumable sequential generator
 * on top of it. Pure integer arithmetic: identical on every host. */
#include "glf/rng.h"

#include <math.h>

void glf_philox4x32(uint64_t key, uint64_t counter_hi, uint64_t counter_lo,
                    uint32_t out[4])
{
    uint32_t c0 = (uint32_t)counter_lo, c1 = (uint32_t)(counter_lo >> 32);
    uint32_t c2 = (uint32_t)counter_hi, c3 = (uint32_t)(counter_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void glf_rng_init(glf_rng *r, uint64_t seed, uint64_t stream)
{
    r->seed = seed;
    r->stream = stream;
    r->counter = 0;
    r->used = 4;
    for (int i = 0; i < 4; i++)
        r->buf[i] = 0;
}

uint32_t glf_rng_u32(glf_rng *r)
{
    if (r->used >= 4) {
        glf_philox4x32(r->seed, r->stream, r->counter++, r->buf);
        r->used = 0;
    }
    return r->buf[r->used++];
}

uint64_t glf_rng_u64(glf_rng *r)
{
    uint64_t hi = glf_rng_u32(r);
    return (hi << 32) | glf_rng_u32(r);
}

float glf_rng_uniform(glf_rng *r)
{
    return (float)(glf_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

double glf_rng_uniform_f64(glf_rng *r)
{
    return (double)(glf_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double glf_rng_normal(glf_rng *r)
{
    /* 1 - u lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - glf_rng_uniform_f64(r);
    double u2 = glf_rng_uniform_f64(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t glf_rng_below(glf_rng *r, uint64_t n)
{
    /* Rejection sampling: draws above the largest multiple of n are redrawn. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x;
    do {
        x = glf_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

void glf_rng_shuffle_u32(glf_rng *r, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)glf_rng_below(r, (uint64_t)i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
