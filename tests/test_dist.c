/* Data-parallel training on MPI, run by ctest under mpirun -np 2 and -np 3
 * (each rank with its own kernel caches), on the shipped sample with a
 * tiny model. 2 ranks: two runs give identical checkpoint bytes; 2 ranks
 * and 1 process with the same global batch give the same losses to 1e-4
 * over 10 steps with synchronised BatchNorm, and measurably different ones
 * with per-rank statistics; resuming continues across rank counts (2 -> 1,
 * 1 -> 2) and bit for bit with the same count. 3 ranks: a batch divisible
 * by 3 trains as one process does; one that is not is an error naming the
 * numbers on every rank. The 1-process runs happen on rank 0 while the
 * others wait. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "glf/dist.h"
#include "glf/train.h"

#define STEPS 10
#define BATCH 24 /* divides by 2 and 3 */

static glf_dist *dist_;
static glf_ctx *ctx_;
static int rank_, ranks_;

/* Losses of optimizer steps 1..STEPS as the progress callback saw them. */
typedef struct run_log {
    float recon[STEPS + 1], nll[STEPS + 1], total[STEPS + 1];
} run_log;

static void progress_(void *user, const glf_progress *p, int end_of_epoch)
{
    run_log *lg = user;
    if (end_of_epoch || p->t < 1 || p->t > STEPS)
        return;
    lg->recon[p->t] = p->losses.recon;
    lg->nll[p->t] = p->losses.nll;
    lg->total[p->t] = p->losses.total;
}

/* Every rank gets rank 0's n floats. */
static void bcast0_(float *x, size_t n)
{
    if (rank_ != 0)
        memset(x, 0, n * sizeof *x);
    TU_OK(glf_dist_sum(dist_, x, n));
}

static void barrier_(void)
{
    float f = 0;
    TU_OK(glf_dist_sum(dist_, &f, 1));
}

/* A fresh folder, the same path on every rank (rank 0 makes it). */
static char *shared_dir_(const char *tag)
{
    float buf[512];
    memset(buf, 0, sizeof buf);
    char *d = NULL;
    if (rank_ == 0) {
        d = tu_tmpdir(tag);
        for (size_t i = 0; d[i] && i < sizeof buf / sizeof buf[0] - 1; i++)
            buf[i] = (float)(unsigned char)d[i];
    }
    bcast0_(buf, sizeof buf / sizeof buf[0]);
    if (rank_ != 0) {
        d = calloc(sizeof buf / sizeof buf[0], 1);
        for (size_t i = 0; buf[i] != 0; i++)
            d[i] = (char)(int)buf[i];
    }
    return d;
}

static char *ckpt_(const char *dir)
{
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/checkpoint.glf", dir);
    return p;
}

/* One training run: on every rank (all = 1, the comm of all ranks) or as
 * one process on rank 0 (all = 0; the others wait). Returns the status
 * (every rank's own); the losses of steps 1..max_steps in lg. */
static glf_status train_(int all, const char *out, long max_steps, const char *resume,
                         int batch, int bn_local, run_log *lg)
{
    glf_train_opts o;
    memset(&o, 0, sizeof o);
    memset(lg, 0, sizeof *lg);
    char *sample = strdup(tu_src_path("data/fashion-mnist-sample.tar.zst"));
    o.data.archive = sample;
    o.out_dir = out;
    o.cfg.conv1 = 4, o.cfg.conv2 = 8, o.cfg.fc = 32, o.cfg.latent = 4, o.cfg.flow_width = 8;
    o.cfg.batch = batch;
    o.cfg.epochs = 2;
    o.max_steps = max_steps;
    o.resume = resume;
    o.images_per_epoch = 0;
    o.progress = progress_;
    o.user = lg;
    glf_comm comm = glf_dist_comm(dist_, bn_local);
    o.comm = all ? &comm : NULL;
    glf_status s = GLF_OK;
    if (all || rank_ == 0)
        s = glf_train(ctx_, &o);
    if (!all)
        barrier_();
    free(sample);
    return s;
}

/* Whether two files have the same bytes (decided on rank 0, known to all). */
static int same_bytes_(const char *a, const char *b)
{
    float same = 0;
    if (rank_ == 0) {
        FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
        int ca = 0, cb = 0;
        same = fa && fb;
        while (same && ca != EOF) {
            ca = fgetc(fa), cb = fgetc(fb);
            same = ca == cb;
        }
        if (fa)
            fclose(fa);
        if (fb)
            fclose(fb);
    }
    bcast0_(&same, 1);
    return same > 0.5f;
}

/* Largest relative difference of recon, nll and total over steps lo..hi. */
static double max_rel_(const run_log *a, const run_log *b, int lo, int hi)
{
    double m = 0;
    for (int t = lo; t <= hi; t++) {
        const float x[3] = {a->recon[t], a->nll[t], a->total[t]};
        const float y[3] = {b->recon[t], b->nll[t], b->total[t]};
        for (int k = 0; k < 3; k++)
            m = fmax(m, fabs((double)x[k] - y[k]) / fmax(fabs((double)y[k]), 1.0));
    }
    return m;
}

static run_log ref_; /* one process, STEPS steps: every rank holds rank 0's */

static void reference_(void)
{
    static int done;
    if (done)
        return;
    char *d = shared_dir_("dist-ref");
    memset(&ref_, 0, sizeof ref_);
    TU_OK(train_(0, d, STEPS, NULL, BATCH, 0, &ref_));
    bcast0_((float *)&ref_, sizeof ref_ / sizeof(float));
    assert_true(ref_.recon[STEPS] > 0);
    done = 1;
    free(d);
}

static void test_two_runs_same_bytes(void **state)
{
    (void)state;
    char *a = shared_dir_("dist-a"), *b = shared_dir_("dist-b");
    run_log la, lb;
    TU_OK(train_(1, a, STEPS, NULL, BATCH, 0, &la));
    TU_OK(train_(1, b, STEPS, NULL, BATCH, 0, &lb));
    char *ca = ckpt_(a), *cb = ckpt_(b);
    assert_true(same_bytes_(ca, cb));
    assert_memory_equal(&la, &lb, sizeof la);
    free(ca), free(cb), free(a), free(b);
}

static void test_same_losses_as_one_process(void **state)
{
    (void)state;
    reference_();
    char *d = shared_dir_("dist-eq"), *dl = shared_dir_("dist-local");
    run_log sync, local;
    TU_OK(train_(1, d, STEPS, NULL, BATCH, 0, &sync));
    TU_OK(train_(1, dl, STEPS, NULL, BATCH, 1, &local));
    double e_sync = max_rel_(&sync, &ref_, 1, STEPS), e_local = max_rel_(&local, &ref_, 1, STEPS);
    print_message("  rank %d: %d ranks vs 1 process over %d steps, largest relative difference "
                  "of recon/nll/total: synchronised BatchNorm %.2e, per-rank %.2e\n",
                  rank_, ranks_, STEPS, e_sync, e_local);
    assert_true(e_sync <= 1e-4);
    assert_true(e_local >= 1e-3); /* per-rank statistics: another model, 10x the tolerance */
    free(d), free(dl);
}

static void test_resume_across_rank_counts(void **state)
{
    (void)state;
    reference_();
    const long K = 5;
    /* 2 -> 1: K steps on all ranks, the rest as one process. */
    char *a = shared_dir_("dist-r21"), *ca = ckpt_(a);
    run_log l1, l2;
    TU_OK(train_(1, a, K, NULL, BATCH, 0, &l1));
    TU_OK(train_(0, a, STEPS, ca, BATCH, 0, &l2));
    bcast0_((float *)&l2, sizeof l2 / sizeof(float));
    double e21 = max_rel_(&l2, &ref_, (int)K + 1, STEPS);
    /* 1 -> 2: K steps as one process, the rest on all ranks. */
    char *b = shared_dir_("dist-r12"), *cb = ckpt_(b);
    TU_OK(train_(0, b, K, NULL, BATCH, 0, &l1));
    TU_OK(train_(1, b, STEPS, cb, BATCH, 0, &l2));
    double e12 = max_rel_(&l2, &ref_, (int)K + 1, STEPS);
    print_message("  rank %d: resumed after %ld steps, %d ranks -> 1: %.2e, 1 -> %d ranks: "
                  "%.2e (largest relative difference to 1 process)\n",
                  rank_, K, ranks_, e21, ranks_, e12);
    assert_true(e21 <= 1e-4);
    assert_true(e12 <= 1e-4);
    /* Same rank count: K steps + resume = STEPS straight, bit for bit. */
    char *c = shared_dir_("dist-rsame"), *s = shared_dir_("dist-straight");
    char *cc = ckpt_(c), *cs = ckpt_(s);
    TU_OK(train_(1, s, STEPS, NULL, BATCH, 0, &l1));
    TU_OK(train_(1, c, K, NULL, BATCH, 0, &l2));
    TU_OK(train_(1, c, STEPS, cc, BATCH, 0, &l2));
    assert_true(same_bytes_(cs, cc));
    free(a), free(ca), free(b), free(cb), free(c), free(s), free(cc), free(cs);
}

/* A batch that does not divide over the ranks: every rank fails, naming it. */
static void test_indivisible_batch(void **state)
{
    (void)state;
    int bad = ranks_ == 3 ? 16 : 23;
    char *d = shared_dir_("dist-bad");
    run_log lg;
    char want[128], parts[64];
    snprintf(want, sizeof want, "batch %d does not divide evenly over %d ranks", bad, ranks_);
    snprintf(parts, sizeof parts, "(%d = %d x %d + %d)", bad, ranks_, bad / ranks_, bad % ranks_);
    tu_expect_status(train_(1, d, STEPS, NULL, bad, 0, &lg), GLF_ERR_INVALID_ARG, want, parts);
    struct stat st;
    char *c = ckpt_(d);
    assert_true(stat(c, &st) != 0); /* nothing trained, nothing written */
    free(c), free(d);
}

/* 3 ranks, a batch of 24 = 3 x 8: the losses of one process. */
static void test_three_ranks_train(void **state)
{
    (void)state;
    reference_();
    char *d = shared_dir_("dist-3");
    run_log lg;
    TU_OK(train_(1, d, STEPS, NULL, BATCH, 0, &lg));
    double e = max_rel_(&lg, &ref_, 1, STEPS);
    print_message("  rank %d: 3 ranks vs 1 process over %d steps: %.2e\n", rank_, STEPS, e);
    assert_true(e <= 1e-4);
    free(d);
}

/* Each rank's own PoCL and glf kernel caches, below the folders ctest
 * gives, starting as copies of the warm ones (GLF_WARM_CACHE/pocl, /glf). */
static int rank_caches_(const char *rank)
{
    const char *vars[] = {"POCL_CACHE_DIR", "GLF_CACHE_DIR"}, *sub[] = {"pocl", "glf"};
    const char *warm = getenv("GLF_WARM_CACHE");
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(vars[i]);
        if (!v)
            continue;
        char buf[2048], cmd[8192];
        snprintf(buf, sizeof buf, "%s/rank%s", v, rank);
        if (warm) {
            int len = snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && "
                               "cp -a '%s/%s/.' '%s/'", buf, buf, warm, sub[i], buf);
            if (len < 0 || len >= (int)sizeof cmd || system(cmd) != 0) {
                fprintf(stderr, "test_dist rank %s: cannot copy the warm cache: %s\n", rank,
                        cmd);
                return -1;
            }
        }
        setenv(vars[i], buf, 1);
    }
    return 0;
}

int main(void)
{
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    if (!r)
        r = getenv("PMI_RANK");
    if (!r || glf_dist_env_size() < 2) {
        fprintf(stderr, "test_dist runs under an MPI launcher with 2 or 3 ranks "
                        "(mpirun -np 2 test_dist); it was started as one process\n");
        return 1;
    }
    if (rank_caches_(r) != 0)
        return 1;
    if (glf_dist_init(NULL, NULL, 120, &dist_) != GLF_OK) {
        fprintf(stderr, "test_dist: %s\n", glf_last_error());
        return 1;
    }
    rank_ = glf_dist_rank(dist_), ranks_ = glf_dist_size(dist_);
    if (glf_ctx_create(NULL, &ctx_) != GLF_OK) {
        fprintf(stderr, "test_dist rank %d: no usable OpenCL device (this test needs one and "
                        "fails without it): %s\n", rank_, glf_last_error());
        glf_dist_abort(dist_, 1);
        return 1;
    }
    int rc;
    if (ranks_ == 2) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_two_runs_same_bytes),
            cmocka_unit_test(test_same_losses_as_one_process),
            cmocka_unit_test(test_resume_across_rank_counts),
            cmocka_unit_test(test_indivisible_batch),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    } else if (ranks_ == 3) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_three_ranks_train),
            cmocka_unit_test(test_indivisible_batch),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    } else {
        fprintf(stderr, "test_dist: %d ranks; expected 2 or 3\n", ranks_);
        rc = 1;
    }
    glf_ctx_destroy(ctx_);
    /* A rank whose test failed may leave the others waiting: stop them. */
    float failed = rc != 0;
    if (glf_dist_sum(dist_, &failed, 1) != GLF_OK || failed > 0) {
        fprintf(stderr, "test_dist rank %d: %.0f rank(s) failed\n", rank_, (double)failed);
        rc = rc ? rc : 1;
    }
    glf_dist_finalize(dist_);
    return rc;
}
