/* Times FID-clf and improved precision/recall at evaluation size (default
 * 10,000 x 128 features per set, Gaussian): `bench_eval [n] [D]`. */
#include <stdio.h>
#include <stdlib.h>

#include "glf/eval.h"
#include "glf/rng.h"
#include "glf/util.h"

static float *gauss_(size_t n, int d, uint64_t seed, double shift)
{
    glf_rng r;
    glf_rng_init(&r, seed, 1);
    float *x = malloc(n * (size_t)d * sizeof *x);
    for (size_t i = 0; x && i < n * (size_t)d; i++)
        x[i] = (float)(shift + glf_rng_normal(&r));
    return x;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000;
    int d = argc > 2 ? atoi(argv[2]) : 128;
    glf_ctx *ctx = NULL;
    if (glf_ctx_create(NULL, &ctx) != GLF_OK) {
        fprintf(stderr, "bench_eval: %s\n", glf_last_error());
        return 1;
    }
    float *a = gauss_(n, d, 1, 0.0), *b = gauss_(n, d, 2, 0.1);
    if (!a || !b)
        return 1;
    double fid, t0 = glf_now();
    glf_prd p;
    if (glf_fid(a, n, b, n, d, &fid) != GLF_OK)
        goto fail;
    double t1 = glf_now();
    /* Warm-up on a small set: CLBlast compiles its kernels on first use. */
    if (glf_prd_compute(ctx, a, 64, b, 64, d, 3, 0, &p) != GLF_OK)
        goto fail;
    double t2 = glf_now();
    if (glf_prd_compute(ctx, a, n, b, n, d, 3, 0, &p) != GLF_OK)
        goto fail;
    double t3 = glf_now();
    printf("n = %zu per set, D = %d\n", n, d);
    printf("FID %.4f in %.3f s (host, double, LAPACKE)\n", fid, t1 - t0);
    printf("precision %.4f recall %.4f (k = 3) in %.3f s (after %.3f s warm-up)\n",
           p.precision, p.recall, t3 - t2, t2 - t1);
    glf_ctx_destroy(ctx);
    free(a), free(b);
    return 0;
fail:
    fprintf(stderr, "bench_eval: %s\n", glf_last_error());
    return 1;
}
