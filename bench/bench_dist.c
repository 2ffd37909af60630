/* What data parallelism costs per training step: run under mpirun -np N
 * (or alone for 1 rank), trains the 28x28 model (batch 256 global unless
 * given) for warm-up + timed steps and reports, as medians over the timed
 * steps and the largest over ranks: the step's wall time, the compute (the
 * rest), the gradient sum (device-host copies and the collective), the
 * BatchNorm sums, and the floats, bytes and collectives per step and rank.
 * Ranks on one machine share its cores: read the communication cost, not
 * a speed-up. Rank 0 prints one markdown row (--header: the header first).
 * Data: Fashion-MNIST (the shipped sample when the Debian package is absent)
 * or --data FILE.tar.zst. The run's checkpoint and log go to a temporary
 * folder that is removed at the end.
 * usage: mpirun -np N bench_dist [--data FILE] [--batch B] [--steps N]
 *        [--warmup N] [--bn-stats sync|local] [--header] [--json FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glf/dist.h"
#include "glf/train.h"
#include "glf/util.h"

#define MAXSTEPS 256

typedef struct rec_ {
    int warmup, steps, n;
    double last; /* elapsed at the previous step */
    double step[MAXSTEPS], sync[MAXSTEPS], copy[MAXSTEPS], bn[MAXSTEPS], floats;
} rec_;

static void progress_(void *user, const glf_progress *p, int end_of_epoch)
{
    rec_ *r = user;
    if (end_of_epoch)
        return;
    double dt = p->elapsed_s - r->last;
    r->last = p->elapsed_s;
    if (p->t <= r->warmup || r->n >= MAXSTEPS)
        return;
    r->step[r->n] = dt; /* taking the batch, the step, Adam, the log: the loop's period */
    r->sync[r->n] = p->sync_s;
    r->copy[r->n] = p->sync_copy_s;
    r->bn[r->n] = p->bn_sync_s;
    r->floats = p->sync_floats;
    r->n++;
}

static int cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_);
    return n ? (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : 0;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *json = NULL;
    int batch = 256, steps = 10, warmup = 3, bn_local = 0, header = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bn-stats") && i + 1 < argc)
            bn_local = !strcmp(argv[++i], "local");
        else if (!strcmp(argv[i], "--header"))
            header = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else {
            fprintf(stderr, "usage: [mpirun -np N] bench_dist [--data FILE] "
                            "[--batch B] [--steps N] [--warmup N] [--bn-stats sync|local] "
                            "[--header] [--json FILE]\n");
            return 2;
        }
    }
    if (steps < 1 || steps > MAXSTEPS || warmup < 1) {
        fprintf(stderr, "bench_dist: expected 1 <= --steps <= %d and --warmup >= 1\n", MAXSTEPS);
        return 2;
    }
    glf_dist *d;
    glf_ctx *ctx = NULL;
    char spec[256];
    if (glf_dist_init(&argc, &argv, 600, &d) ||
        glf_dist_device_spec(NULL, glf_dist_local_rank(d), spec, sizeof spec) ||
        glf_ctx_create(spec, &ctx)) {
        fprintf(stderr, "bench_dist: %s\n", glf_last_error());
        return 1;
    }
    int rank = glf_dist_rank(d), ranks = glf_dist_size(d);
    rec_ r;
    memset(&r, 0, sizeof r);
    r.warmup = warmup;
    char out[256];
    snprintf(out, sizeof out, "%s/glf-bench-dist-%ld", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    float shared[256] = {0}; /* rank 0's folder name for every rank */
    for (size_t i = 0; rank == 0 && out[i]; i++)
        shared[i] = (float)(unsigned char)out[i];
    glf_dist_sum(d, shared, 256);
    for (size_t i = 0; i < 255; i++)
        out[i] = (char)(int)shared[i];
    out[255] = '\0';

    glf_train_opts o;
    memset(&o, 0, sizeof o);
    if (data)
        o.data.archive = data;
    else
        o.data.name = "fashion-mnist";
    o.out_dir = out;
    o.cfg.batch = batch;
    o.cfg.epochs = 1000; /* max_steps ends the run */
    o.max_steps = warmup + steps;
    o.images_per_epoch = 0;
    o.progress = progress_;
    o.user = &r;
    glf_comm comm = glf_dist_comm(d, bn_local);
    o.comm = &comm;
    glf_dist_stats s0 = glf_dist_get_stats(d);
    glf_status s = glf_train(ctx, &o);
    glf_dist_stats s1 = glf_dist_get_stats(d);
    if (s) {
        fprintf(stderr, "bench_dist rank %d: %s\n", rank, glf_last_error());
        glf_dist_abort(d, 1);
        return 1;
    }
    int n = r.n;
    /* Per-step medians of this rank, then the largest over ranks. */
    double sync = median_(r.sync, n), copy = median_(r.copy, n), bn = median_(r.bn, n);
    double step = median_(r.step, n);
    double all = (double)(warmup + steps);
    float v[6] = {(float)step, (float)sync, (float)copy, (float)bn,
                  (float)((s1.bytes_sent - s0.bytes_sent) / all),
                  (float)((double)(s1.calls - s0.calls) / all)};
    float mx[6 * 64] = {0};
    if (ranks <= 64) { /* the largest over ranks: every rank's values side by side */
        memcpy(mx + 6 * rank, v, sizeof v);
        glf_dist_sum(d, mx, (size_t)6 * ranks);
        for (int k = 0; k < 6; k++)
            for (int q = 0; q < ranks; q++)
                v[k] = mx[6 * q + k] > v[k] ? mx[6 * q + k] : v[k];
    }
    if (rank == 0) {
        double comp = v[0] - v[1] - v[3];
        if (header)
            printf("| ranks | images per rank | BatchNorm | step ms | compute ms | gradient sum ms "
                   "(copies + collective) | BatchNorm sums ms | floats summed per step | MB sent "
                   "per rank per step | sums per step |\n"
                   "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        printf("| %d | %d | %s | %.1f | %.1f | %.1f (%.1f + %.1f) | %.1f | %.0f | %.1f | %.0f |\n",
               ranks, batch / ranks, ranks > 1 ? (bn_local ? "local" : "sync") : "-", 1e3 * v[0],
               1e3 * comp, 1e3 * v[1], 1e3 * v[2], 1e3 * (v[1] - v[2]), 1e3 * v[3], r.floats,
               v[4] / 1e6, v[5]);
        if (json) {
            FILE *f = fopen(json, "w");
            if (f) {
                fprintf(f, "{\"ranks\": %d, \"batch\": %d, \"bn_stats\": \"%s\", \"steps\": %d, "
                           "\"step_ms\": %.3f, \"compute_ms\": %.3f, \"grad_sum_ms\": %.3f, "
                           "\"grad_copy_ms\": %.3f, \"bn_sum_ms\": %.3f, \"floats_per_step\": "
                           "%.0f, \"bytes_sent_per_rank_per_step\": %.0f, "
                           "\"sums_per_step\": %.1f}\n",
                        ranks, batch, bn_local ? "local" : "sync", n, 1e3 * v[0], 1e3 * comp,
                        1e3 * v[1], 1e3 * v[2], 1e3 * v[3], r.floats, v[4], v[5]);
                fclose(f);
            }
        }
    }
    if (rank == 0) { /* the run's files */
        char p[400];
        snprintf(p, sizeof p, "%s/checkpoint.glf", out);
        unlink(p);
        snprintf(p, sizeof p, "%s/log.csv", out);
        unlink(p);
        rmdir(out);
    }
    glf_ctx_destroy(ctx);
    glf_dist_finalize(d);
    return 0;
}
