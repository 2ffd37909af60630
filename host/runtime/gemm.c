/* The GEMM component's entry point (glf_gemm_run) and per-context state:
 * the operands and epilogue checked once, then glf's own kernels
 * (gemm_glf.c, the default, validated before first use on a context by
 * gemm_validate.c) or CLBlast (gemm_clblast.c, plain operands only, the
 * epilogue as one more launch). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"
#include "glf/tune.h"

glf_status glf_gemm_state_(glf_ctx *ctx, struct glf_gemm_state_ **out)
{
    if (!ctx->gemm) {
        struct glf_gemm_state_ *st = calloc(1, sizeof *st);
        if (!st)
            return glf_fail(GLF_ERR_NOMEM, "out of memory for the GEMM state");
        st->backend = ctx->opts.gemm_clblast ? GLF_GEMM_CLBLAST : GLF_GEMM_GLF;
        st->params = glf_gemm_default_params_for(glf_ctx_family(ctx));
        ctx->gemm = st; /* (before reading the store: glf_gemm_tuned uses no GEMM) */
        int found = 0;
        glf_gemm_params tuned;
        if (glf_gemm_tuned(ctx, &tuned, &found) == GLF_OK && found)
            st->params = tuned, st->tuned = 1; /* validated before first use like any set */
        glf_clear_error(); /* an unreadable store leaves the defaults */
    }
    *out = ctx->gemm;
    return GLF_OK;
}

void glf_gemm_release_(glf_ctx *ctx)
{
    if (!ctx->gemm)
        return;
    if (ctx->gemm->scratch)
        clReleaseMemObject(ctx->gemm->scratch);
    free(ctx->gemm);
    ctx->gemm = NULL;
}

static void note_(struct glf_gemm_state_ *st, const char *fmt, const char *detail)
{
    if (!st->note)
        return;
    char line[512];
    snprintf(line, sizeof line, fmt, detail);
    st->note(st->note_user, line);
}

/* Sets that passed validation in this process: the same device, tile set,
 * build options and kernel source make the same kernels, so a later
 * context on that device need not run the validation again (tests and
 * tools make many contexts). Only passes are kept. */
struct passed_ {
    cl_device_id dev;
    glf_gemm_params p;
    char opt[160];
    const char *src; /* the kernel source as loaded: embedded, or GLF_KERNEL_DIR's copy */
    size_t len;
};
static struct passed_ passed_[64];
static size_t npassed_;
static pthread_mutex_t passed_lock_ = PTHREAD_MUTEX_INITIALIZER;

static int passed_before_(glf_ctx *ctx, const glf_gemm_params *p, int add)
{
    struct passed_ k;
    memset(&k, 0, sizeof k);
    k.dev = glf_ctx_device(ctx)->id, k.p = *p;
    if (glf_gemm_options_(ctx, p, k.opt, sizeof k.opt) != GLF_OK ||
        glf_kernel_source("gemm", &k.src, &k.len) != GLF_OK) {
        glf_clear_error();
        return 0;
    }
    int found = 0;
    pthread_mutex_lock(&passed_lock_);
    for (size_t i = 0; i < npassed_ && !found; i++)
        found = !memcmp(&passed_[i], &k, sizeof k);
    if (!found && add && npassed_ < sizeof passed_ / sizeof passed_[0])
        passed_[npassed_++] = k;
    pthread_mutex_unlock(&passed_lock_);
    return found;
}

/* Validate p on this context unless it has passed before here or on this
 * device in this process (only passes are remembered, so switching between
 * validated sets is free). */
static glf_status pass_(glf_ctx *ctx, struct glf_gemm_state_ *st, const glf_gemm_params *p)
{
    for (int i = 0; i < st->npassed; i++)
        if (!memcmp(&st->passed[i], p, sizeof *p))
            return GLF_OK;
    if (!passed_before_(ctx, p, 0)) {
        GLF_TRY(glf_gemm_validate(ctx, p));
        passed_before_(ctx, p, 1);
    }
    if (st->npassed < (int)(sizeof st->passed / sizeof st->passed[0]))
        st->passed[st->npassed++] = *p;
    return GLF_OK;
}

/* First use of glf's kernels on a context: validate, else fall back. */
static glf_status ensure_checked_(glf_ctx *ctx, struct glf_gemm_state_ *st)
{
    if (st->checked)
        return GLF_OK;
    glf_status s = pass_(ctx, st, &st->params);
    if (s != GLF_OK && st->tuned) { /* a stored set that no longer passes: defaults */
        note_(st, "glf gemm: stored tuned tile set failed validation, using the defaults: %s",
              glf_last_error());
        st->params = glf_gemm_default_params_for(glf_ctx_family(ctx));
        st->tuned = 0;
        s = pass_(ctx, st, &st->params);
    }
    if (s != GLF_OK) {
        st->backend = GLF_GEMM_CLBLAST;
        note_(st, "glf gemm: own kernels failed validation, using CLBlast: %s", glf_last_error());
        glf_clear_error();
        return GLF_OK;
    }
    st->checked = 1;
    return GLF_OK;
}

/* For N below one tile, fewer vectors per row waste less work (a 16-wide
 * tile for the flow's 10-wide layers instead of 32); used only once the
 * narrower set has passed validation too. CPU family only: a SIMT tile's
 * columns are spread over its work-group. */
static const glf_gemm_params *params_for_(glf_ctx *ctx, struct glf_gemm_state_ *st, size_t N,
                                          glf_gemm_params *tmp)
{
    const glf_gemm_params *p = &st->params;
    size_t nv = (N + (size_t)p->vw - 1) / (size_t)p->vw;
    if (p->family != GLF_FAMILY_CPU || nv >= (size_t)p->nv || st->no_narrow)
        return p;
    *tmp = *p;
    tmp->nv = (int)nv;
    if (pass_(ctx, st, tmp) == GLF_OK)
        return tmp;
    note_(st, "glf gemm: narrow tile set failed validation, using the default: %s",
          glf_last_error());
    glf_clear_error();
    st->no_narrow = 1; /* say it once, do not validate again on every call */
    return p;
}

/* The epilogue after CLBlast: one more pass over C. */
static glf_status epilogue_(glf_ctx *ctx, struct glf_gemm_state_ *st, size_t M, size_t N,
                            const glf_gemm_operand *C, const glf_gemm_epilogue *ep)
{
    const int epi = (ep->bias.buf ? 1 : 0) | (ep->act == GLF_GEMM_ACT_RELU ? 2 : 0) |
                    (ep->bias.buf && ep->bias_rows ? 4 : 0);
    if (!epi || M == 0 || N == 0)
        return GLF_OK;
    char opt[160];
    GLF_TRY(glf_gemm_options_(ctx, &st->params, opt, sizeof opt));
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "gemm", "gemm_epilogue", opt, &k));
    size_t g[2] = {N, M};
    return GLF_LAUNCH(ctx, k, 2, g, NULL, GLF_I32(M), GLF_I32(N), GLF_MEM(C->buf),
                      GLF_I32(C->off), GLF_I32(C->ld), GLF_MEM(ep->bias.buf ? ep->bias.buf : C->buf),
                      GLF_I32(ep->bias.buf ? ep->bias.off : 0), GLF_I32(epi));
}

/* The state of ctx, with glf's kernels validated if they are its backend
 * (a failed validation switches it to CLBlast, see ensure_checked_). */
static glf_status ready_(glf_ctx *ctx, struct glf_gemm_state_ **st)
{
    GLF_TRY(glf_gemm_state_(ctx, st));
    if ((*st)->backend == GLF_GEMM_GLF) { /* a bad gemm_prefetch fails here, not validation */
        int pf;
        GLF_TRY(glf_gemm_prefetch_(ctx, &pf));
    }
    return (*st)->backend == GLF_GEMM_GLF ? ensure_checked_(ctx, *st) : GLF_OK;
}

/* The epilogue's arguments: a known activation, a bias that fits (N
 * floats, or M by row). */
static glf_status check_epilogue_(size_t M, size_t N, const glf_gemm_epilogue *ep)
{
    if (ep && ep->act != GLF_GEMM_ACT_NONE && ep->act != GLF_GEMM_ACT_RELU)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm: epilogue activation %d, expected "
                        "GLF_GEMM_ACT_NONE or GLF_GEMM_ACT_RELU", (int)ep->act);
    if (ep && ep->bias.buf) {
        size_t bytes = 0, n = ep->bias_rows ? M : N;
        cl_int err = clGetMemObjectInfo(ep->bias.buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
        if (err != CL_SUCCESS || ep->bias.off + n > bytes / sizeof(float))
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "glf_gemm: bias (%s = %zu floats at offset %zu) does not fit in "
                            "its buffer (%zu floats)", ep->bias_rows ? "M" : "N", n,
                            ep->bias.off, bytes / sizeof(float));
    }
    return GLF_OK;
}

glf_status glf_gemm_run(glf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                        const glf_gemm_operand *A, const glf_gemm_operand *B, float beta,
                        const glf_gemm_operand *C, const glf_gemm_epilogue *ep)
{
    struct glf_gemm_state_ *st;
    if (!A || !B || !C)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_run: operand %s is NULL",
                        !A ? "A" : !B ? "B" : "C");
    GLF_TRY(ready_(ctx, &st));
    GLF_TRY(check_epilogue_(M, N, ep));
    glf_gemm_params tmp;
    if (st->backend == GLF_GEMM_GLF)
        return glf_gemm_own_(ctx, st, params_for_(ctx, st, N, &tmp), M, N, K, alpha, A, B, beta,
                             C, ep);
    if (A->layout != GLF_GEMM_PLAIN || B->layout != GLF_GEMM_PLAIN ||
        C->layout != GLF_GEMM_PLAIN)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_run: operands in panels or as an "
                        "im2col are not available with the %s backend (glf_gemm_takes)",
                        glf_gemm_backend_name(ctx));
    GLF_TRY(glf_gemm_clblast_(ctx, M, N, K, alpha, A, B, beta, C));
    return ep ? epilogue_(ctx, st, M, N, C, ep) : GLF_OK;
}

glf_status glf_gemm(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K,
                    float alpha, cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB,
                    size_t ldb, float beta, cl_mem C, size_t offC, size_t ldc)
{
    glf_gemm_operand a = glf_gemm_plain(glf_dp(A, offA), lda, ta);
    glf_gemm_operand b = glf_gemm_plain(glf_dp(B, offB), ldb, tb);
    glf_gemm_operand c = glf_gemm_plain(glf_dp(C, offC), ldc, GLF_NO_TRANS);
    return glf_gemm_run(ctx, M, N, K, alpha, &a, &b, beta, &c, NULL);
}

int glf_gemm_takes(glf_ctx *ctx, glf_gemm_layout layout)
{
    struct glf_gemm_state_ *st;
    if (layout == GLF_GEMM_PLAIN)
        return 1;
    if (ready_(ctx, &st) != GLF_OK) {
        glf_clear_error();
        return 0;
    }
    return st->backend == GLF_GEMM_GLF && (layout == GLF_GEMM_PANELS || layout == GLF_GEMM_IM2COL);
}

size_t glf_gemm_panel_width(glf_ctx *ctx, size_t N)
{
    struct glf_gemm_state_ *st;
    if (ready_(ctx, &st) != GLF_OK) {
        glf_clear_error();
        return 0;
    }
    if (st->backend != GLF_GEMM_GLF)
        return 0;
    glf_gemm_params tmp;
    const glf_gemm_params *p = params_for_(ctx, st, N, &tmp);
    return (size_t)p->vw * (size_t)p->nv;
}

glf_status glf_gemm_set_backend(glf_ctx *ctx, glf_gemm_backend b)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(glf_gemm_state_(ctx, &st));
    if (b != GLF_GEMM_GLF && b != GLF_GEMM_CLBLAST)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_set_backend: unknown backend %d", (int)b);
    if (b == GLF_GEMM_GLF && !st->checked) {
        int pf;
        GLF_TRY(glf_gemm_prefetch_(ctx, &pf));
        GLF_TRY(pass_(ctx, st, &st->params));
        st->checked = 1;
    }
    st->backend = b;
    return GLF_OK;
}

const char *glf_gemm_backend_name(glf_ctx *ctx)
{
    struct glf_gemm_state_ *st;
    if (glf_gemm_state_(ctx, &st) != GLF_OK)
        return "invalid";
    return st->backend == GLF_GEMM_GLF ? "glf" : "clblast";
}

glf_status glf_gemm_set_params(glf_ctx *ctx, const glf_gemm_params *p)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(glf_gemm_state_(ctx, &st));
    GLF_TRY(pass_(ctx, st, p));
    st->params = *p;
    st->no_narrow = 0;
    st->checked = 1;
    return GLF_OK;
}

glf_gemm_params glf_gemm_get_params(glf_ctx *ctx)
{
    struct glf_gemm_state_ *st;
    if (glf_gemm_state_(ctx, &st) != GLF_OK)
        return glf_gemm_default_params_for(glf_ctx_family(ctx));
    return st->params;
}

void glf_gemm_set_note(glf_ctx *ctx, glf_gemm_note_fn fn, void *user)
{
    struct glf_gemm_state_ *st;
    if (glf_gemm_state_(ctx, &st) != GLF_OK)
        return;
    st->note = fn;
    st->note_user = user;
}
