/* Row-major single-precision GEMM on device buffers:
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
 * Offsets and leading dimensions are in floats (elements), as in BLAS. */
#ifndef GLF_GEMM_H
#define GLF_GEMM_H

#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum glf_trans { GLF_NO_TRANS = 0, GLF_TRANS = 1 } glf_trans;

/* With beta == 0, C is overwritten (NaN in C does not propagate).
 * lda is the row stride of A as stored: >= K (no trans) or >= M (trans). */
glf_status glf_gemm(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M,
                    size_t N, size_t K, float alpha, cl_mem A, size_t offA,
                    size_t lda, cl_mem B, size_t offB, size_t ldb, float beta,
                    cl_mem C, size_t offC, size_t ldc);

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

/* glf_gemm with an epilogue (ep NULL: none). */
glf_status glf_gemm_ex(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K,
                       float alpha, cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB,
                       size_t ldb, float beta, cl_mem C, size_t offC, size_t ldc,
                       const glf_gemm_epilogue *ep);

/* op(B) as the im2col matrix of an image, never materialised: col[r][n],
 * r = (c*K + kh)*K + kw over R = C*K*K rows and n = (b*Ho + oh)*Wo + ow
 * over B*Ho*Wo columns, is img[b][c][oh*S - P + kh][ow*S - P + kw] (0
 * outside the image; img (B, C, H, W) at float offset off). op(B) is col
 * (R x N of the GEMM, K = R) or, with transposed = 1, its transpose (K = the
 * pixels). glf's kernels write their packed panels of op(B) straight from
 * the image (one pass instead of im2col + packing). Only with glf's own
 * kernels: glf_gemm_has_im2col says whether ctx can. */
typedef struct glf_gemm_im2col {
    cl_mem img;
    size_t off;
    int B, C, H, W, K, S, P, Ho, Wo;
    int transposed;
} glf_gemm_im2col;
int glf_gemm_has_im2col(glf_ctx *ctx);
glf_status glf_gemm_im2col_b(glf_ctx *ctx, glf_trans ta, size_t M, size_t N, size_t K,
                             float alpha, cl_mem A, size_t offA, size_t lda,
                             const glf_gemm_im2col *b, float beta, cl_mem C, size_t offC,
                             size_t ldc);

/* A matrix stored in column panels: rows x cols (cols a multiple of tn),
 * panel q (columns q*tn .. q*tn + tn - 1) a row-major rows x tn block at
 * float offset off + q*rows*tn. A (batch, C, L) tensor is the C x batch*L
 * matrix in panels L wide, and the convolutions' backward passes have
 * im2col_t write their N x R column matrix in panels too. glf's kernels
 * read panels where they are:
 * - as op(B) untransposed (K = rows, N = cols): panels
 *   glf_gemm_panel_width(ctx, N) wide are the packed panels the GEMM would
 *   otherwise make from a row-major B, read in place; other widths are
 *   packed from the panels;
 * - as op(B) transposed (K = cols, N = rows): the panels' matrix becomes
 *   the A of C^T = op(B)^T op(A)^T, read a panel at a time;
 * - as op(A) untransposed (M = rows, K = cols): read (or packed) a panel at
 *   a time;
 * - as C (M = rows, N = cols): written element by element where it lies. */
typedef struct glf_gemm_panels {
    cl_mem buf;
    size_t off;
    size_t rows, cols, tn; /* the matrix's shape, the panel width */
} glf_gemm_panels;
/* The panel width glf's kernels take in place for an op(B) N columns wide
 * (the tile set's columns per work-item); 0 when ctx's GEMM runs on CLBlast,
 * where glf_gemm_panels_ex is not available. */
size_t glf_gemm_panel_width(glf_ctx *ctx, size_t N);
/* glf_gemm_ex with op(A) from the panels pa (NULL: A, offA, lda as in
 * glf_gemm; pa untransposed), op(B) from the panels pb (NULL: B, offB, ldb)
 * or their transpose (tb), and C in the panels pc (NULL: C, offC, ldc).
 * Not pa with pb transposed. */
glf_status glf_gemm_panels_ex(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N,
                              size_t K, float alpha, cl_mem A, size_t offA, size_t lda,
                              const glf_gemm_panels *pa, cl_mem B, size_t offB, size_t ldb,
                              const glf_gemm_panels *pb, float beta, cl_mem C, size_t offC,
                              size_t ldc, const glf_gemm_panels *pc,
                              const glf_gemm_epilogue *ep);

/* Where convolutions use the implicit operand instead of a materialised
 * column matrix (im2col + packing), per orientation of op(B): use[0] for
 * K = the window taps (Conv2d forward, ConvTranspose2d input gradient),
 * use[1] for K = the pixels (both weight gradients). Only with glf's own
 * kernels (glf_gemm_has_im2col); CLBlast always gets a column matrix. The
 * safe default is {0, 0} (what measured faster on PoCL's CPU device);
 * glf_conv_tune (ops_conv.h) times both per orientation and stores the
 * winners beside the tile set, and contexts made later on that device start
 * from them (an unreadable file leaves the defaults). */
void glf_gemm_im2col_policy(glf_ctx *ctx, int use[2]);
/* "implicit" (use != 0) or "materialised", as tune files and reports say. */
const char *glf_gemm_im2col_word(int use);
glf_status glf_gemm_set_im2col_policy(glf_ctx *ctx, const int use[2]);
/* The stored policy of ctx's device: *found = 0 when untuned. */
glf_status glf_gemm_im2col_tuned(glf_ctx *ctx, int use[2], int *found);
/* Store use as ctx's device's policy (temp file + rename), score in seconds. */
glf_status glf_gemm_im2col_store(glf_ctx *ctx, const int use[2], double score);

/* The same on glf_dptr tensors (buffer + float offset), as the ops pass them. */
static inline glf_status glf_gemm_dp(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M,
                                     size_t N, size_t K, float alpha, glf_dptr A, size_t lda,
                                     glf_dptr B, size_t ldb, float beta, glf_dptr C, size_t ldc)
{
    return glf_gemm(ctx, ta, tb, M, N, K, alpha, A.buf, A.off, lda, B.buf, B.off, ldb, beta, C.buf,
                    C.off, ldc);
}

/* ---- backends ------------------------------------------------------------
 * GLF_GEMM_GLF: glf's own register-blocked kernels (cl/gemm.cl), the
 * default. GLF_GEMM_CLBLAST: CLBlast with its parameters. The environment
 * variable GLF_GEMM=clblast|glf, read when a context first uses GEMM, picks
 * the default. Before glf's kernels run on a context they are checked at a
 * few odd shapes against a host reference; if that fails, the context falls
 * back to CLBlast and the note callback (if set) gets one line saying why. */
typedef enum glf_gemm_backend { GLF_GEMM_GLF = 0, GLF_GEMM_CLBLAST = 1 } glf_gemm_backend;

/* Tunables of glf's kernels; they become -D build options. */
typedef struct glf_gemm_params {
    int rm; /* rows of C per work-item (1..16) */
    int vw; /* vector width along N: 1, 2, 4, 8 or 16 */
    int nv; /* vectors per row per work-item (1..8) */
    int lx; /* work-group size along column tiles (1..256) */
    int ly; /* work-group size along row blocks (1..256) */
} glf_gemm_params;

/* "rm=8 vw=16 nv=2 lx=1 ly=16": how tune files, progress lines and reports
 * write a tile set. */
void glf_gemm_params_format(const glf_gemm_params *p, char *buf, size_t n);

/* The safe defaults: 8 rows x 2 float16 per work-item, work-group 16 x 1. */
glf_gemm_params glf_gemm_default_params(void);

/* Select the backend of ctx. Selecting GLF_GEMM_GLF runs the validation now
 * and fails (GLF_ERR_NUMERIC, the backend left unchanged) if it does not pass. */
glf_status glf_gemm_set_backend(glf_ctx *ctx, glf_gemm_backend b);
/* "glf" or "clblast": what glf_gemm on ctx uses now. */
const char *glf_gemm_backend_name(glf_ctx *ctx);

/* Use params for glf's kernels on ctx after validating them (GLF_ERR_NUMERIC
 * or the build error if they fail; the old parameters stay then). */
glf_status glf_gemm_set_params(glf_ctx *ctx, const glf_gemm_params *p);
glf_gemm_params glf_gemm_get_params(glf_ctx *ctx);
/* Check p against the host reference at a few odd shapes, all transposes;
 * changes nothing. */
glf_status glf_gemm_validate(glf_ctx *ctx, const glf_gemm_params *p);

/* Search tile sets for ctx's device at GLF's shapes (quick: 3 candidates,
 * one small shape, for tests), validating each before timing it; store the
 * winner in the cache folder keyed by device, driver and platform, and use
 * it on ctx. Contexts created later on that device start from it (after
 * validating it). Progress lines go to the note callback. */
glf_status glf_gemm_tune(glf_ctx *ctx, int quick, glf_gemm_params *best);

/* A workload for glf_gemm_tune_ex: runs GEMMs through glf_gemm on ctx with
 * the tile set in use and puts the seconds it took (or per unit of work:
 * only comparisons matter) into *seconds. */
typedef glf_status (*glf_gemm_workload_fn)(glf_ctx *ctx, void *user, double *seconds);

/* glf_gemm_tune, then, with work != NULL, a second stage on the workload:
 * the default set and the fastest others of the first stage (3; quick: 1)
 * are timed on it in alternated rounds (3; quick: 1; a set's time is its
 * best round), and the default stays unless another is faster by 3%
 * there. The first stage's plain products are not the workload's
 * (glf_bench_tune_gemm times training steps). A failing workload fails the
 * tuning with its status, storing nothing and leaving ctx's tile set as
 * it was. */
glf_status glf_gemm_tune_ex(glf_ctx *ctx, int quick, glf_gemm_workload_fn work, void *user,
                            glf_gemm_params *best);
/* The stored tile set of ctx's device: *found = 0 when untuned. */
glf_status glf_gemm_tuned(glf_ctx *ctx, glf_gemm_params *out, int *found);

/* ---- CLBlast's own parameters --------------------------------------------
 * CLBlast takes its Xgemm kernel's parameters from a database; on devices it
 * does not list (PoCL's CPU device among them) it uses generic defaults.
 * These calls search parameter sets for a device, validate each against the
 * host reference and hand the winner to CLBlast (CLBlastOverrideParameters).
 * CLBlast keeps one setting per device for the whole process and has no way
 * back to its defaults, so applying a set affects every context on that
 * device until another is applied. A glf set also pins CLBlast's switch from
 * its direct to its indirect GEMM (XGEMM_MIN_INDIRECT_SIZE) at 384, the
 * value of CLBlast's database for most devices (validation uses shapes
 * above it, where the tuned kernel runs). */
#define GLF_CLBLAST_NPARAM 16
typedef struct glf_clblast_params {
    int v[GLF_CLBLAST_NPARAM]; /* in the order of glf_clblast_param_name */
} glf_clblast_params;

/* "GEMMK", "KREG", "KWG", ... "VWN" (CLBlast 1.5's Xgemm parameters). */
const char *glf_clblast_param_name(int i);
/* "GEMMK=0 KREG=1 ..." */
void glf_clblast_format(const glf_clblast_params *p, char *buf, size_t n);
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
/* Search the candidates (quick: 2, one shape) at GLF's large shapes,
 * validating each before timing it; store the winner next to glf's tuned
 * set (cache folder, keyed by device, driver and platform) and apply it. */
glf_status glf_clblast_tune(glf_ctx *ctx, int quick, glf_clblast_params *best);
/* The stored set of ctx's device: *found = 0 when none. */
glf_status glf_clblast_tuned(glf_ctx *ctx, glf_clblast_params *out, int *found);

/* One-line notes from the GEMM layer (e.g. a fallback to CLBlast). */
typedef void (*glf_gemm_note_fn)(void *user, const char *line);
void glf_gemm_set_note(glf_ctx *ctx, glf_gemm_note_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
