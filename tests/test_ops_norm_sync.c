/* BatchNorm with statistics summed across processes (the context's
 * allreduce hook), with threads standing in for processes: each holds a
 * part of one batch on its own context, and a hook that sums in rank order
 * joins them. The parts together must give what one call on the whole
 * batch gives (against the double reference), the same bits on every
 * part, and the same bits as no hook when there is one part. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "glf/ops_norm.h"
#include "ref_norm.h"

#define MOM 0.1f
#define EPS 1e-5f
#define MAXP 3

/* The stand-in communicator: every part copies its floats into its slot,
 * all wait, each sums the slots in rank order, all wait again. A part that
 * waits 20 s fails (another one failed before reaching the sum). */
typedef struct comm_ {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;
    unsigned gen;
    int P;
    float *slot[MAXP];
    size_t n[MAXP];
    int calls, fail_at; /* fail_at > 0: that call of part 0 fails */
} comm_;

typedef struct part_ {
    comm_ *cm;
    int rank;
} part_;

static glf_status wait_all_(comm_ *cm)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    int ok = 1;
    pthread_mutex_lock(&cm->mu);
    unsigned g = cm->gen;
    if (++cm->arrived == cm->P) {
        cm->arrived = 0;
        cm->gen++;
        pthread_cond_broadcast(&cm->cv);
    }
    while (ok && g == cm->gen)
        ok = pthread_cond_timedwait(&cm->cv, &cm->mu, &dl) == 0 || g != cm->gen;
    pthread_mutex_unlock(&cm->mu);
    return ok ? GLF_OK : glf_fail(GLF_ERR_INTERNAL, "stand-in communicator: a part never came");
}

static glf_status sum_(void *user, float *data, size_t n)
{
    part_ *p = user;
    comm_ *cm = p->cm;
    if (p->rank == 0 && ++cm->calls == cm->fail_at)
        return glf_fail(GLF_ERR_IO, "stand-in communicator fails call %d", cm->calls);
    cm->slot[p->rank] = malloc(n * sizeof(float));
    memcpy(cm->slot[p->rank], data, n * sizeof(float));
    cm->n[p->rank] = n;
    glf_status st = wait_all_(cm);
    for (size_t i = 0; !st && i < n; i++) {
        float s = cm->slot[0][i];
        for (int r = 1; r < cm->P; r++)
            s += cm->slot[r][i];
        data[i] = s;
    }
    if (!st)
        st = wait_all_(cm);
    free(cm->slot[p->rank]);
    return st;
}

/* One part's forward + backward on its own context; outputs read back. */
typedef struct job_ {
    glf_ctx *ctx;
    part_ part;
    int hook;
    int B, C, L;
    const float *x, *params, *run0, *dy; /* x, dy: this part's rows */
    float *y, *save, *run, *dx, *grads;  /* outputs, malloc'd by the job */
    glf_status st;
    char err[512];
} job_;

static glf_status job_body_(job_ *j)
{
    glf_ctx *ctx = j->ctx;
    size_t n = (size_t)j->B * j->C * j->L, c2 = 2 * (size_t)j->C;
    cl_mem dX, dP, dR, dY, dS, dDY, dDX, dG;
    GLF_TRY(glf_buf_create(ctx, n * 4, &dX));
    GLF_TRY(glf_buf_create(ctx, c2 * 4, &dP));
    GLF_TRY(glf_buf_create(ctx, c2 * 4, &dR));
    GLF_TRY(glf_buf_create(ctx, n * 4, &dY));
    GLF_TRY(glf_buf_create(ctx, c2 * 4, &dS));
    GLF_TRY(glf_buf_create(ctx, n * 4, &dDY));
    GLF_TRY(glf_buf_create(ctx, n * 4, &dDX));
    GLF_TRY(glf_buf_create(ctx, c2 * 4, &dG));
    GLF_TRY(glf_buf_write(ctx, dX, 0, n * 4, j->x));
    GLF_TRY(glf_buf_write(ctx, dP, 0, c2 * 4, j->params));
    GLF_TRY(glf_buf_write(ctx, dR, 0, c2 * 4, j->run0));
    GLF_TRY(glf_buf_write(ctx, dDY, 0, n * 4, j->dy));
    GLF_TRY(glf_buf_fill_f32(ctx, dY, 0, n, NAN));
    GLF_TRY(glf_buf_fill_f32(ctx, dDX, 0, n, NAN));
    GLF_TRY(glf_buf_fill_f32(ctx, dS, 0, c2, NAN));
    GLF_TRY(glf_buf_fill_f32(ctx, dG, 0, c2, NAN));
    glf_ctx_set_allreduce(ctx, j->hook ? sum_ : NULL, &j->part);
    int C = j->C;
    glf_dptr mean = glf_dp(dS, 0), invstd = glf_dp(dS, C);
    GLF_TRY(glf_batchnorm_forward_train(ctx, glf_dp(dY, 0), mean, invstd, glf_dp(dR, 0),
                                        glf_dp(dR, C), glf_dp(dX, 0), glf_dp(dP, 0),
                                        glf_dp(dP, C), j->B, C, j->L, MOM, EPS));
    GLF_TRY(glf_batchnorm_backward(ctx, glf_dp(dDX, 0), glf_dp(dG, 0), glf_dp(dG, C),
                                   glf_dp(dDY, 0), glf_dp(dX, 0), mean, invstd, glf_dp(dP, 0),
                                   j->B, C, j->L, 0));
    glf_ctx_set_allreduce(ctx, NULL, NULL);
    j->y = malloc(n * 4), j->dx = malloc(n * 4);
    j->save = malloc(c2 * 4), j->run = malloc(c2 * 4), j->grads = malloc(c2 * 4);
    GLF_TRY(glf_buf_read(ctx, dY, 0, n * 4, j->y));
    GLF_TRY(glf_buf_read(ctx, dDX, 0, n * 4, j->dx));
    GLF_TRY(glf_buf_read(ctx, dS, 0, c2 * 4, j->save));
    GLF_TRY(glf_buf_read(ctx, dR, 0, c2 * 4, j->run));
    GLF_TRY(glf_buf_read(ctx, dG, 0, c2 * 4, j->grads));
    cl_mem all[] = {dX, dP, dR, dY, dS, dDY, dDX, dG};
    for (int i = 0; i < 8; i++)
        glf_buf_release(all[i]);
    return GLF_OK;
}

static void *job_run_(void *arg)
{
    job_ *j = arg;
    j->st = job_body_(j);
    if (j->st)
        snprintf(j->err, sizeof j->err, "%s", glf_last_error());
    return NULL;
}

static void job_free_(job_ *j)
{
    free(j->y), free(j->dx), free(j->save), free(j->run), free(j->grads);
}

/* Split the batch B into P parts of the given sizes; run them at once. */
static void run_parts_(glf_ctx **ctx, job_ *jobs, comm_ *cm, const int *sizes, int P, int hook,
                       int C, int L, const float *x, const float *params, const float *run0,
                       const float *dy)
{
    memset(cm, 0, sizeof *cm);
    cm->P = P;
    pthread_mutex_init(&cm->mu, NULL);
    pthread_cond_init(&cm->cv, NULL);
    pthread_t th[MAXP];
    size_t row = (size_t)C * L, first = 0;
    for (int r = 0; r < P; r++) {
        job_ *j = &jobs[r];
        memset(j, 0, sizeof *j);
        j->ctx = ctx[r];
        j->part.cm = cm;
        j->part.rank = r;
        j->hook = hook;
        j->B = sizes[r], j->C = C, j->L = L;
        j->x = x + first * row, j->dy = dy + first * row;
        j->params = params, j->run0 = run0;
        first += (size_t)sizes[r];
        assert_int_equal(pthread_create(&th[r], NULL, job_run_, j), 0);
    }
    for (int r = 0; r < P; r++)
        pthread_join(th[r], NULL);
    pthread_mutex_destroy(&cm->mu);
    pthread_cond_destroy(&cm->cv);
    for (int r = 0; r < P; r++)
        if (jobs[r].st)
            fail_msg("part %d: %s: %s", r, glf_status_str(jobs[r].st), jobs[r].err);
}

/* The parts against the reference on the whole batch. */
static void sync_case_(glf_ctx **ctx, const int *sizes, int P, int C, int L, uint64_t seed)
{
    int B = 0;
    for (int r = 0; r < P; r++)
        B += sizes[r];
    size_t n = (size_t)B * C * L, c2 = 2 * (size_t)C, row = (size_t)C * L;
    float *x = tu_rand(n, seed, -2.0f, 3.0f);
    for (size_t i = 0; i < n; i++)
        x[i] += (float)((i / L) % C % 8) * 0.5f;
    float *params = tu_rand(c2, seed + 1, -1.5f, 1.5f);
    float *run0 = tu_rand(c2, seed + 2, 0.5f, 2.0f);
    float *dy = tu_rand(n, seed + 3, -1.0f, 1.0f);
    double *xd = tu_f64(x, n), *pd = tu_f64(params, c2), *rd = tu_f64(run0, c2);
    double *dyd = tu_f64(dy, n), *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
    double *save = malloc(c2 * sizeof *save), *grads = malloc(c2 * sizeof *grads);
    ref_bn_forward_train(y, save, save + C, rd, rd + C, xd, pd, pd + C, B, C, L, MOM, EPS);
    ref_bn_backward(dx, grads, grads + C, dyd, xd, save, save + C, pd, B, C, L);

    job_ jobs[MAXP];
    comm_ cm;
    run_parts_(ctx, jobs, &cm, sizes, P, 1, C, L, x, params, run0, dy);
    char what[96];
    snprintf(what, sizeof what, "%d parts, B=%d C=%d L=%d", P, B, C, L);
    /* Every part holds the global statistics, the same bits. */
    for (int r = 1; r < P; r++) {
        assert_memory_equal(jobs[r].save, jobs[0].save, c2 * 4);
        assert_memory_equal(jobs[r].run, jobs[0].run, c2 * 4);
    }
    float *yall = malloc(n * 4), *dxall = malloc(n * 4), *gsum = calloc(c2, 4);
    size_t first = 0;
    for (int r = 0; r < P; r++) {
        memcpy(yall + first * row, jobs[r].y, (size_t)sizes[r] * row * 4);
        memcpy(dxall + first * row, jobs[r].dx, (size_t)sizes[r] * row * 4);
        first += (size_t)sizes[r];
        for (size_t i = 0; i < c2; i++) /* dgamma, dbeta: shares that sum to the whole */
            gsum[i] += jobs[r].grads[i];
    }
    double npc = (double)B * L, mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(dx[i]));
    printf("%s\n", what);
    assert_int_equal(tu_compare("mean|invstd", jobs[0].save, save, c2, 1e-5, 1e-4), 0);
    assert_int_equal(tu_compare("y", yall, y, n, 1e-5, 1e-4), 0);
    assert_int_equal(tu_compare("running mean|var (global n)", jobs[0].run, rd, c2, 1e-6, 1e-5),
                     0);
    assert_int_equal(tu_compare("dx", dxall, dx, n, 1e-5 * (1 + mx), 1e-4), 0);
    assert_int_equal(tu_compare("sum of dgamma|dbeta", gsum, grads, c2, 1e-6 * npc, 1e-4), 0);

    /* The same parts again: the same bits. */
    job_ again[MAXP];
    run_parts_(ctx, again, &cm, sizes, P, 1, C, L, x, params, run0, dy);
    for (int r = 0; r < P; r++) {
        size_t nr = (size_t)sizes[r] * row;
        assert_memory_equal(again[r].y, jobs[r].y, nr * 4);
        assert_memory_equal(again[r].dx, jobs[r].dx, nr * 4);
        assert_memory_equal(again[r].grads, jobs[r].grads, c2 * 4);
        job_free_(&again[r]);
    }
    /* Statistics per part (no hook) differ from the global ones: the test
     * sees the difference. */
    run_parts_(ctx, again, &cm, sizes, P, 0, C, L, x, params, run0, dy);
    assert_true(tu_compare("local statistics (expected to differ)", again[0].save, save, c2,
                           1e-5, 1e-4) > 0);
    for (int r = 0; r < P; r++)
        job_free_(&again[r]), job_free_(&jobs[r]);
    free(yall), free(dxall), free(gsum);
    free(x), free(params), free(run0), free(dy), free(xd), free(pd), free(rd), free(dyd);
    free(y), free(dx), free(save), free(grads);
}

static void ctxs_(glf_ctx **ctx, int P)
{
    for (int r = 0; r < P; r++)
        ctx[r] = tu_ctx();
}

static void ctxs_free_(glf_ctx **ctx, int P)
{
    for (int r = 0; r < P; r++)
        glf_ctx_destroy(ctx[r]);
}

static void test_two_and_three_parts(void **state)
{
    (void)state;
    glf_ctx *ctx[MAXP];
    ctxs_(ctx, MAXP);
    /* BatchNorm1d (L = 1; the backward's sums at dx[c], dx[C + c]) and 2d
     * (L > 1: at dx[c*L], dx[c*L + 1]); odd C and L; unequal parts, with
     * L > 1 one of a single row (the backward's raw path there). */
    const int two[] = {5, 4}, three[] = {4, 2, 6}, three1[] = {4, 1, 6}, even[] = {8, 8};
    sync_case_(ctx, two, 2, 37, 1, 11);
    sync_case_(ctx, three, 3, 37, 1, 12);
    sync_case_(ctx, two, 2, 5, 15, 13);
    sync_case_(ctx, three1, 3, 7, 9, 14);
    sync_case_(ctx, even, 2, 128, 49, 15); /* enc.bn2's shape */
    ctxs_free_(ctx, MAXP);
}

/* One part with the hook: the same bits as the op without it. */
static void test_one_part_same_bits(void **state)
{
    (void)state;
    glf_ctx *ctx[1];
    ctxs_(ctx, 1);
    const int shapes[][3] = {{9, 37, 1}, {3, 5, 15}, {1, 7, 9}};
    for (int s = 0; s < 3; s++) {
        int B = shapes[s][0], C = shapes[s][1], L = shapes[s][2];
        size_t n = (size_t)B * C * L, c2 = 2 * (size_t)C;
        float *x = tu_rand(n, 40 + s, -2.0f, 3.0f), *dy = tu_rand(n, 50 + s, -1.0f, 1.0f);
        float *params = tu_rand(c2, 60 + s, -1.5f, 1.5f), *run0 = tu_rand(c2, 70 + s, 0.5f, 2.0f);
        job_ a[1], b[1];
        comm_ cm;
        run_parts_(ctx, a, &cm, &B, 1, 1, C, L, x, params, run0, dy);
        assert_int_equal(cm.calls, 3); /* the forward's two sums, the backward's */
        run_parts_(ctx, b, &cm, &B, 1, 0, C, L, x, params, run0, dy);
        assert_int_equal(cm.calls, 0);
        assert_memory_equal(a[0].y, b[0].y, n * 4);
        assert_memory_equal(a[0].dx, b[0].dx, n * 4);
        assert_memory_equal(a[0].save, b[0].save, c2 * 4);
        assert_memory_equal(a[0].run, b[0].run, c2 * 4);
        assert_memory_equal(a[0].grads, b[0].grads, c2 * 4);
        job_free_(a), job_free_(b);
        free(x), free(dy), free(params), free(run0);
    }
    ctxs_free_(ctx, 1);
}

/* A failing hook: the op returns its status and message. */
static void test_hook_failure(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    part_ p;
    comm_ cm;
    memset(&cm, 0, sizeof cm);
    cm.P = 1;
    pthread_mutex_init(&cm.mu, NULL);
    pthread_cond_init(&cm.cv, NULL);
    p.cm = &cm;
    p.rank = 0;
    int B = 4, C = 3, L = 2;
    size_t n = (size_t)B * C * L;
    float *x = tu_rand(n, 5, -1, 1);
    cl_mem dX = tu_buf_from(ctx, x, n), dY = tu_buf_nan(ctx, n), dS = tu_buf_nan(ctx, 4 * C);
    for (int at = 1; at <= 3; at++) { /* the forward's two sums, the backward's */
        cm.calls = 0;
        cm.fail_at = at;
        glf_ctx_set_allreduce(ctx, sum_, &p);
        glf_status s = glf_batchnorm_forward_train(ctx, glf_dp(dY, 0), glf_dp(dS, 0),
                                                   glf_dp(dS, C), glf_dp(dS, 2 * C),
                                                   glf_dp(dS, 3 * C), glf_dp(dX, 0),
                                                   glf_dp(dS, 0), glf_dp(dS, C), B, C, L, MOM,
                                                   EPS);
        if (at == 3) {
            assert_int_equal(s, GLF_OK);
            s = glf_batchnorm_backward(ctx, glf_dp(dY, 0), glf_dp(dS, 2 * C), glf_dp(dS, 3 * C),
                                       glf_dp(dX, 0), glf_dp(dX, 0), glf_dp(dS, 0), glf_dp(dS, C),
                                       glf_dp(dS, 0), B, C, L, 0);
        }
        glf_ctx_set_allreduce(ctx, NULL, NULL);
        tu_expect_status(s, GLF_ERR_IO, "stand-in communicator fails call", NULL);
    }
    pthread_mutex_destroy(&cm.mu);
    pthread_cond_destroy(&cm.cv);
    glf_buf_release(dX), glf_buf_release(dY), glf_buf_release(dS);
    free(x);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_and_three_parts),
        cmocka_unit_test(test_one_part_same_bits),
        cmocka_unit_test(test_hook_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
