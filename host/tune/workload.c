/* The training-step workload (workload.h), and glf tune's choice of glf's
 * tile set made on it (glf_tune_gemm_on_steps). */
#include "tune/workload.h"

#include <stdlib.h>

#include "glf/rng.h"
#include "glf/tune.h"
#include "glf/util.h"

glf_status glf_step_work_make(glf_ctx *ctx, int B, glf_step_work *w)
{
    glf_config c;
    w->net = NULL, w->x = NULL, w->B = B, w->t = 1;
    GLF_TRY(glf_config_preset(&c, 1, 28, 28));
    c.batch = B;
    size_t n = (size_t)B * 784;
    float *h = malloc(n * sizeof *h);
    if (!h)
        return glf_fail(GLF_ERR_NOMEM, "out of memory for the workload's batch");
    glf_rng rng;
    glf_rng_init(&rng, 1, 0);
    for (size_t i = 0; i < n; i++)
        h[i] = glf_rng_uniform(&rng);
    glf_status s = glf_net_create(ctx, &c, B, &w->net);
    if (!s)
        s = glf_net_init(w->net, 123);
    if (!s)
        s = glf_buf_create(ctx, n * 4, &w->x);
    if (!s)
        s = glf_buf_write(ctx, w->x, 0, n * 4, h);
    free(h);
    if (s)
        glf_step_work_free(w);
    return s;
}

glf_status glf_step_work_run(glf_step_work *w)
{
    glf_losses l;
    GLF_TRY(glf_net_forward_backward(w->net, glf_dp(w->x, 0), w->B, NULL, &l));
    GLF_TRY(glf_net_adam(w->net, 0, w->t++));
    return glf_finish(glf_net_ctx(w->net));
}

void glf_step_work_free(glf_step_work *w)
{
    glf_buf_release(w->x);
    glf_net_destroy(w->net);
    w->x = NULL, w->net = NULL;
}

struct tune_work_ {
    glf_step_work w;
    int steps;
};

/* One step to settle (scratch sizes, caches after the switch of tile
 * set), then the mean of the timed ones. */
static glf_status tune_work_(glf_ctx *ctx, void *user, double *seconds)
{
    struct tune_work_ *tw = user;
    (void)ctx;
    GLF_TRY(glf_step_work_run(&tw->w));
    double t0 = glf_now();
    for (int i = 0; i < tw->steps; i++)
        GLF_TRY(glf_step_work_run(&tw->w));
    *seconds = (glf_now() - t0) / tw->steps;
    return GLF_OK;
}

glf_status glf_tune_gemm_on_steps(glf_ctx *ctx, int quick, int both_families,
                                  glf_gemm_params *best)
{
    struct tune_work_ tw;
    tw.steps = quick ? 1 : 3;
    GLF_TRY(glf_step_work_make(ctx, quick ? 16 : 256, &tw.w));
    glf_gemm_tune_opts o = {quick, both_families, tune_work_, &tw};
    glf_status s = glf_gemm_tune_ex(ctx, &o, best);
    glf_step_work_free(&tw.w);
    return s;
}
