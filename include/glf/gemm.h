/* Row-major single-precision GEMM on device buffers:
 *   C[M,N] = act(alpha * op(A)[M,K] * op(B)[K,N] + beta * C + bias)
 * One entry point, glf_gemm_run, takes each operand as a glf_gemm_operand:
 * a plain matrix, a matrix in column panels, or (op(B) only) the implicit
 * im2col of an image. glf_gemm is the BLAS-style shorthand for plain
 * matrices. Offsets and leading dimensions are in floats, as in BLAS. */
#ifndef GLF_GEMM_H
#define GLF_GEMM_H

#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum glf_trans { GLF_NO_TRANS = 0, GLF_TRANS = 1 } glf_trans;

/* How an operand is stored. */
typedef enum glf_gemm_layout {
    /* A row-major matrix with row stride ld (>= its row length). */
    GLF_GEMM_PLAIN = 0,
    /* A rows x cols matrix in column panels tn wide (cols a multiple of tn):
     * panel q (columns q*tn .. q*tn + tn - 1) is a row-major rows x tn block
     * at float offset off + q*rows*tn. A (batch, C, L) tensor is the
     * C x batch*L matrix in panels L wide; the convolutions' backward passes
     * write their column matrix in panels too. glf's kernels read panels
     * where they are (panels glf_gemm_panel_width wide as op(B) untransposed
     * are the very panels the GEMM would pack). */
    GLF_GEMM_PANELS = 1,
    /* op(B) only: the column matrix col of an image, never materialised:
     * col[r][n], r = (c*K + kh)*K + kw over R = C*K*K rows and
     * n = (b*Ho + oh)*Wo + ow over B*Ho*Wo columns, is
     * img[b][c][oh*S - P + kh][ow*S - P + kw] (0 outside the image; img
     * (B, C, H, W) at float offset off). op(B) = col (K = R) or, transposed,
     * col^T (K = the pixels). glf's kernels write their packed panels of
     * op(B) straight from the image. */
    GLF_GEMM_IM2COL = 2
} glf_gemm_layout;

typedef struct glf_gemm_im2col {
    int B, C, H, W, K, S, P, Ho, Wo;
} glf_gemm_im2col;

/* One operand: op(X) = X as stored, or its transpose (trans). For PANELS
 * the stored matrix is op(X) or op(X)^T in panels; A in panels is taken
 * untransposed only, and not together with B in panels transposed. C is
 * PLAIN or PANELS, untransposed. */
typedef struct glf_gemm_operand {
    glf_gemm_layout layout;
    glf_trans trans;
    cl_mem buf;
    size_t off;         /* in floats */
    size_t ld;          /* PLAIN: the row stride as stored */
    size_t tn;          /* PANELS: the panel width */
    glf_gemm_im2col im; /* IM2COL: the image's geometry (buf, off: the image) */
} glf_gemm_operand;

static inline glf_gemm_operand glf_gemm_plain(glf_dptr m, size_t ld, glf_trans t)
{
    glf_gemm_operand o = {GLF_GEMM_PLAIN, t, m.buf, m.off, ld, 0, {0, 0, 0, 0, 0, 0, 0, 0, 0}};
    return o;
}

static inline glf_gemm_operand glf_gemm_panels(glf_dptr m, size_t tn, glf_trans t)
{
    glf_gemm_operand o = {GLF_GEMM_PANELS, t, m.buf, m.off, 0, tn, {0, 0, 0, 0, 0, 0, 0, 0, 0}};
    return o;
}

static inline glf_gemm_operand glf_gemm_image(glf_dptr img, glf_gemm_im2col g, glf_trans t)
{
    glf_gemm_operand o = {GLF_GEMM_IM2COL, t, img.buf, img.off, 0, 0, g};
    return o;
}

/* An epilogue applied to C as it is written, after alpha and beta:
 *   C[i][j] = act(alpha * (op(A) op(B))[i][j] + beta * C[i][j] + bias[j])
 * bias: N floats (bias.buf NULL: none), or with bias_rows != 0 M floats
 * added by row (bias[i]); act: GLF_GEMM_ACT_RELU as glf_act_forward's ReLU
 * (v < 0 ? 0 : v). glf's kernels apply it in their store (one pass over C,
 * no extra launch); with CLBlast it is one more launch after the product. */
typedef enum glf_gemm_act { GLF_GEMM_ACT_NONE = 0, GLF_GEMM_ACT_RELU = 1 } glf_gemm_act;
typedef struct glf_gemm_epilogue {
    glf_dptr bias;
    glf_gemm_act act;
    int bias_rows;
} glf_gemm_epilogue;

/* C = act(alpha op(A) op(B) + beta C + bias) (ep NULL: no epilogue). With
 * beta == 0, C is overwritten (NaN in C does not propagate). Every operand
 * is checked against its buffer; an error names the operand at fault. */
glf_status glf_gemm_run(glf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                        const glf_gemm_operand *A, const glf_gemm_operand *B, float beta,
                        const glf_gemm_operand *C, const glf_gemm_epilogue *ep);

/* glf_gemm_run on plain matrices, BLAS-style. lda is the row stride of A as
 * stored: >= K (no trans) or >= M (trans). */
glf_status glf_gemm(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K,
                    float alpha, cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB,
                    size_t ldb, float beta, cl_mem C, size_t offC, size_t ldc);

/* Whether ctx's GEMM takes operands laid out so (PLAIN always; PANELS and
 * IM2COL with glf's own kernels, not with CLBlast). */
int glf_gemm_takes(glf_ctx *ctx, glf_gemm_layout layout);
/* The panel width glf's kernels take in place for an op(B) N columns wide
 * (the tile set's columns per tile); 0 when ctx's GEMM runs on CLBlast. */
size_t glf_gemm_panel_width(glf_ctx *ctx, size_t N);

/* ---- backends ------------------------------------------------------------
 * GLF_GEMM_GLF: glf's own kernels (cl/gemm.cl), the default, in the
 * context's kernel family (glf_ctx_family: register-blocked for CPU-like
 * devices, local-memory tiles for SIMT-like ones). GLF_GEMM_CLBLAST:
 * CLBlast with its parameters. The option gemm_clblast (GLF_GEMM) picks the
 * context's first backend. Before glf's kernels run on a context they are
 * checked at odd shapes against a host reference (gemm_validate.c); if that
 * fails, the context falls back to CLBlast and the note callback (if set)
 * gets one line saying why. */
typedef enum glf_gemm_backend { GLF_GEMM_GLF = 0, GLF_GEMM_CLBLAST = 1 } glf_gemm_backend;

/* Tunables of glf's kernels; they become -D build options. A tile is the
 * rm x (vw*nv) block of C that one work-item (CPU family) or one
 * work-group (SIMT family) computes; its operands are packed in panels of
 * that height and width. */
typedef struct glf_gemm_params {
    glf_family family; /* GLF_FAMILY_CPU or GLF_FAMILY_SIMT */
    int rm; /* rows of a tile: CPU 1..16; SIMT 8..128 */
    int vw; /* vector width along N: 1, 2, 4, 8 or 16 */
    int nv; /* vectors per row of a tile: CPU 1..8; SIMT vw*nv 8..128 */
    int lx; /* work-group size along N (CPU: column tiles; SIMT: work-items of a tile) */
    int ly; /* work-group size along M (CPU: row blocks; SIMT: work-items of a tile) */
    int tk; /* SIMT: steps of k staged in local memory at a time (4..64); CPU: 0 */
} glf_gemm_params;

/* "rm=8 vw=16 nv=2 lx=1 ly=16" (CPU) or "simt rm=32 vw=4 nv=8 lx=8 ly=8
 * tk=16": how tune files, progress lines and reports write a tile set. */
void glf_gemm_params_format(const glf_gemm_params *p, char *buf, size_t n);
/* The reverse; GLF_ERR_FORMAT naming the text when it is not one. */
glf_status glf_gemm_params_parse(const char *text, glf_gemm_params *p);

/* The default tile set of a family: CPU 8 rows x 2 float16 per work-item,
 * work-group 1 x 16; SIMT a 32 x 32 tile per work-group of 8 x 8
 * work-items (4 x 4 each), 16 steps of k in local memory. */
glf_gemm_params glf_gemm_default_params_for(glf_family f);
/* The CPU family's (the tile set of a context: glf_gemm_get_params). */
glf_gemm_params glf_gemm_default_params(void);

/* Select the backend of ctx. Selecting GLF_GEMM_GLF runs the validation now
 * and fails (GLF_ERR_NUMERIC, the backend left unchanged) if it does not pass. */
glf_status glf_gemm_set_backend(glf_ctx *ctx, glf_gemm_backend b);
/* "glf" or "clblast": what glf_gemm on ctx uses now. */
const char *glf_gemm_backend_name(glf_ctx *ctx);

/* Use params for glf's kernels on ctx after validating them (GLF_ERR_NUMERIC
 * or the build error if they fail; the old parameters stay then). A set of
 * either family may be used on any device (the other family's kernels are
 * correct everywhere, only slower). */
glf_status glf_gemm_set_params(glf_ctx *ctx, const glf_gemm_params *p);
glf_gemm_params glf_gemm_get_params(glf_ctx *ctx);
/* Check p against the host reference at odd shapes, all transposes,
 * operand layouts and epilogues; changes nothing. */
glf_status glf_gemm_validate(glf_ctx *ctx, const glf_gemm_params *p);

/* One-line notes from the GEMM layer (e.g. a fallback to CLBlast). */
typedef void (*glf_gemm_note_fn)(void *user, const char *line);
void glf_gemm_set_note(glf_ctx *ctx, glf_gemm_note_fn fn, void *user);

/* ---- CLBlast's own parameters --------------------------------------------
 * CLBlast takes its Xgemm kernel's parameters from a database; on devices it
 * does not list (PoCL's CPU device among them) it uses generic defaults.
 * glf_clblast_tune (glf/tune.h) searches sets for a device; these calls
 * validate a set against the host reference and hand it to CLBlast
 * (CLBlastOverrideParameters). CLBlast keeps one setting per device for the
 * whole process and has no way back to its defaults, so applying a set
 * affects every context on that device until another is applied. A glf set
 * also pins CLBlast's switch from its direct to its indirect GEMM
 * (XGEMM_MIN_INDIRECT_SIZE) at 384, the value of CLBlast's database for
 * most devices (validation uses shapes above it, where the tuned kernel
 * runs). */
#define GLF_CLBLAST_NPARAM 16
typedef struct glf_clblast_params {
    int v[GLF_CLBLAST_NPARAM]; /* in the order of glf_clblast_param_name */
} glf_clblast_params;

/* "GEMMK", "KREG", "KWG", ... "VWN" (CLBlast 1.5's Xgemm parameters). */
const char *glf_clblast_param_name(int i);
/* "GEMMK=0 KREG=1 ..." */
void glf_clblast_format(const glf_clblast_params *p, char *buf, size_t n);
/* The reverse; GLF_ERR_FORMAT naming the parameter at fault. */
glf_status glf_clblast_parse(const char *text, glf_clblast_params *p);
/* The candidate sets glf_clblast_tune tries (*n of them). */
const glf_clblast_params *glf_clblast_candidates(size_t *n);
/* Apply p to CLBlast for ctx's device and check CLBlast's GEMM against the
 * host reference at odd shapes, all transposes. On failure the last set
 * that passed on ctx is applied again (if none has, CLBlast keeps the
 * failing set: apply a good one before using CLBlast on that device) and
 * the error names the failing case. */
glf_status glf_clblast_validate(glf_ctx *ctx, const glf_clblast_params *p);
/* Validate p, then leave it applied. */
glf_status glf_clblast_apply(glf_ctx *ctx, const glf_clblast_params *p);

#ifdef __cplusplus
}
#endif
#endif
