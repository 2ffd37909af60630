/* An independent check of the FMA peak that `glf bench` divides by: the
 * same measurement (independent FMA chains, one thread per core) in plain
 * C, compiled by bench/peak_check.sh with -march=native so the compiler uses
 * the widest vectors the CPU has (GCC vector extensions, 64 bytes). Each
 * thread runs CHAINS chains that start from different values (identical
 * chains would be merged by the compiler, and the figure would be
 * CHAINS times too high), and the result is stored so the work is kept.
 *   usage: fma_peak THREADS CHAINS   (CHAINS: 8, 12 or 16) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64)));

static volatile float sink_[64];
static long iters_ = 20000000;
static int chains_ = 16;

static double now_(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define STEP_(x) x = x * a + c
static void *run_(void *arg)
{
    long id = (long)arg;
    v16 a = (v16){0} + 0.999f, c = (v16){0} + 0.5f, x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (v16){0} + (float)id + 0.1f * (float)(i + 1);
    v16 x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3], x4 = x[4], x5 = x[5], x6 = x[6], x7 = x[7];
    v16 x8 = x[8], x9 = x[9], x10 = x[10], x11 = x[11], x12 = x[12], x13 = x[13], x14 = x[14],
        x15 = x[15];
    for (long i = 0; i < iters_; i++) {
        STEP_(x0), STEP_(x1), STEP_(x2), STEP_(x3), STEP_(x4), STEP_(x5), STEP_(x6), STEP_(x7);
        if (chains_ > 8)
            STEP_(x8), STEP_(x9), STEP_(x10), STEP_(x11);
        if (chains_ > 12)
            STEP_(x12), STEP_(x13), STEP_(x14), STEP_(x15);
    }
    v16 s = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11 + x12 + x13 + x14 + x15;
    float t = 0;
    for (int i = 0; i < 16; i++)
        t += s[i];
    sink_[id % 64] = t;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    chains_ = argc > 2 ? atoi(argv[2]) : 16;
    if (threads < 1 || threads > 64 || (chains_ != 8 && chains_ != 12 && chains_ != 16)) {
        fprintf(stderr, "usage: fma_peak THREADS(1..64) CHAINS(8|12|16)\n");
        return 2;
    }
    pthread_t th[64];
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_();
        for (long i = 0; i < threads; i++)
            pthread_create(&th[i], NULL, run_, (void *)i);
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
        double g = 2.0 * 16 * chains_ * (double)iters_ * threads / (now_() - t0) * 1e-9;
        best = g > best ? g : best;
    }
    printf("%.1f\n", best);
    return 0;
}
