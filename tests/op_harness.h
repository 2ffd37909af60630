/* One table-driven harness for the op tests, as ggml's test-backend-ops: an
 * op is a row (its shapes, how to make its tensors, how to run it on the
 * device, its double-precision reference, a tolerance per output), and the
 * harness does the rest, once for all ops.
 *
 * For every shape of a row, and every variant that shape runs under, the
 * harness places each tensor at its float offset in a buffer of its own:
 * a prefix before the offset and TU_GUARD guard words after the data, both
 * the NaN sentinel for outputs and another NaN (OH_IN_SENTINEL_BITS) for
 * inputs, so that a value read past an input and stored past an output
 * does not pass for the sentinel; an input marked poison has the finite
 * OH_POISON there instead (a read past the end then shows as a wrong value
 * even where NaN would vanish, as in fmax).
 * Then:
 *   run 1  outputs NaN-filled (state and accumulating outputs as below);
 *          forward, then backward with accumulate 0; every output compared
 *          with the reference within its tolerance (atol + rtol * |want|,
 *          NaN must meet NaN); an output the row skips must stay untouched;
 *          prefixes and guards of every tensor, workspaces included, intact;
 *          then the row's own checks (row->check).
 *   run 2  the same on fresh buffers: the same bits (one device, one
 *          context: repeatable to the bit).
 *   run 3  (rows with OH_ACC outputs) accumulate 1 onto initial values:
 *          each OH_ACC output must equal init + the reference within its
 *          accumulate tolerance; every other output must have run 1's bits
 *          (overwritten, not accumulated).
 *   twins  other ways to compute the same outputs (in place, fused against
 *          unfused, without optional outputs): the outputs a twin writes
 *          must have run 1's bits, the others must stay untouched.
 *   and    every input must come back bit-identical, prefix and guard too.
 *
 * Variants. Every row runs under the device's own kernel family (a plain
 * tu_ctx(): the base variant, every shape) and under the other family
 * (GLF_FAMILY set to the family glf_ctx_family of the base is not; the
 * shapes tagged OH_X2, or every shape if a row tags none). A row may add
 * variants: option overrides applied to the context's options
 * (glf_options_set on glf_ctx_options, restored after the case) and/or a
 * setup function (e.g. the GEMM backend); a variant runs on the shapes that
 * carry every bit of its tag (0: all). row->ctx_setup runs before every
 * case, so what a variant's setup changes beyond the options is reset. A
 * variant marked same_bits must reproduce the base variant's runs 1 and 3
 * bit for bit (e.g. GLF_COL2IM=generic against the fixed col2im): two
 * settings of one device that promise the same bits. Across families and
 * devices only the tolerances hold.
 *
 * Sizes. GLF_TEST_SIZE=small (read once, tu_small) drops the shapes tagged
 * OH_LARGE, for slow devices; every other shape (the odd ones), every guard,
 * NaN fill and check stays. The default (unset or "all") runs every shape.
 *
 * Messages name the op, the variant, the shape and the output:
 * "conv2d [simt family] B=3 Cin=3 7x9 ... : dw (run 3, accumulate 1): ...".
 * Each shape struct of a row begins with `unsigned tags`. */
#ifndef GLF_OP_HARNESS_H
#define GLF_OP_HARNESS_H

#include "testutil.h"

#define OH_MAX_T 16       /* tensors of one case */
#define OH_MAX_VARIANTS 8 /* a row's own variants, beyond the two families */
#define OH_MAX_TWINS 3
#define OH_POISON (-3.5e7f)
#define OH_IN_SENTINEL_BITS 0x7fc0beef /* quiet NaN around inputs */

typedef enum oh_role {
    OH_IN,    /* input: host data, must come back bit-identical */
    OH_OUT,   /* output, NaN-filled before every run; overwritten under accumulate 1 */
    OH_ACC,   /* output that honours accumulate: NaN-filled for 0, holds init for 1 */
    OH_INOUT, /* state updated in place (running statistics, Adam's moments): init every run */
    OH_WORK   /* workspace: NaN-filled, prefix and guard checked, contents not compared */
} oh_role;

/* Shape tags. */
enum {
    OH_LARGE = 1u << 0, /* dropped with GLF_TEST_SIZE=small */
    OH_X2 = 1u << 1,    /* also under the other kernel family */
    OH_TAG1 = 1u << 2,  /* the rest are for a row's own variants */
    OH_TAG2 = 1u << 3,
    OH_TAG3 = 1u << 4,
    OH_TAG4 = 1u << 5,
    OH_TAG5 = 1u << 6
};

/* oh_case.vindex of the two family variants. */
enum { OH_BASE = -2, OH_OTHER_FAMILY = -1 };

typedef struct oh_tensor {
    const char *name;
    oh_role role;
    size_t n, off;     /* floats (or 32-bit words), and where they start in the buffer */
    int i32;           /* 32-bit integers (labels, permutations, argmax): compared exactly */
    int skip;          /* output not requested: oh_dp gives buf NULL; must stay untouched */
    int poison;        /* input: prefix and guard hold OH_POISON instead of the sentinel */
    float *host;       /* OH_IN, OH_INOUT: the data; OH_ACC: the values under accumulate 1 */
    double *want;      /* the reference fills n values (set up for c->accumulate) */
    double atol, rtol; /* tolerance of runs 1 and 2 */
    double acc_atol, acc_rtol; /* of run 3 (oh_acc sets them to atol, rtol) */
    /* the harness's own */
    double *want0, *want1;
    cl_mem buf;
    float *img;   /* the words written into the buffer (prefix, data, guard) */
    float *got;   /* run 1 of the current variant */
    float *base;  /* run 1 of the base variant */
    float *base3; /* run 3 of the base variant */
} oh_tensor;

struct oh_row;

typedef struct oh_case {
    const struct oh_row *row;
    const void *shape; /* the row's shape struct */
    size_t index;      /* of the shape in the row */
    unsigned tags;
    glf_ctx *ctx;        /* the current variant's context */
    const char *variant; /* its name */
    int vindex;          /* OH_BASE, OH_OTHER_FAMILY or the index in row->variants */
    int accumulate;      /* 1 in run 3 (and in the reference's second call) */
    int nt;              /* tensors in use: t[0 .. nt-1] */
    oh_tensor t[OH_MAX_T];
    void *user; /* the row's own per-shape data (allocate it with oh_keep) */
    char label[320];
    /* the harness's own */
    uint64_t seed;
    unsigned nrand;
    void **keep;
    size_t nkeep, capkeep;
} oh_case;

typedef struct oh_variant {
    const char *name;                /* NULL ends a row's list */
    const char *opt[7];              /* (variable, value) pairs for glf_options_set, NULL-ended */
    glf_status (*setup)(oh_case *c); /* more settings of c->ctx (after row->ctx_setup) */
    unsigned tag;                    /* 0: every shape; else the shapes with all these tags */
    int same_bits;                   /* runs 1 and 3 must have the base variant's bits */
} oh_variant;

typedef struct oh_twin {
    const char *name;              /* NULL: none */
    glf_status (*run)(oh_case *c); /* on fresh outputs (as for run 1) */
    unsigned writes;               /* 1u << i for each output i it writes */
} oh_twin;

typedef struct oh_row {
    const char *name;
    const void *shapes;
    size_t nshapes, shape_size;
    void (*describe)(const void *shape, char *buf, size_t n);
    /* Declare the tensors (oh_in, oh_out, ...) and make their data. */
    void (*setup)(oh_case *c);
    /* Fill t[i].want of every output for c->accumulate. Called with 0, then
     * (rows with OH_ACC outputs) with 1, every want then already holding
     * the accumulate-0 values: add the initial values where the op adds
     * (oh_add_init). */
    void (*reference)(oh_case *c);
    glf_status (*forward)(oh_case *c);
    glf_status (*backward)(oh_case *c);  /* NULL: none */
    void (*check)(oh_case *c);           /* more checks on run 1 (t[i].got); NULL: none */
    glf_status (*ctx_setup)(oh_case *c); /* settings of c->ctx before every case; NULL: none */
    oh_twin twins[OH_MAX_TWINS];
    oh_variant variants[OH_MAX_VARIANTS];
} oh_row;

#define OH_SHAPES(a)                                                                               \
    .shapes = (a), .nshapes = sizeof(a) / sizeof((a)[0]), .shape_size = sizeof((a)[0])

/* Run every shape of row under its variants (fails the running test). */
void oh_run_row(const oh_row *row);

/* ---- for a row's setup ----------------------------------------------------- */
/* Tensor i (an index the row chooses, < OH_MAX_T). host/init pointers are not
 * taken over: make them with oh_rand or keep them with oh_keep. */
oh_tensor *oh_in(oh_case *c, int i, const char *name, size_t n, size_t off, float *host);
/* n 32-bit integers at word 0 (the ops take such buffers whole). */
oh_tensor *oh_in_i32(oh_case *c, int i, const char *name, size_t n, const int *host);
oh_tensor *oh_out(oh_case *c, int i, const char *name, size_t n, size_t off, double atol,
                  double rtol);
oh_tensor *oh_out_i32(oh_case *c, int i, const char *name, size_t n, size_t off);
/* init NULL: uniform in [-0.1, 0.1), small against the outputs so that the
 * accumulate check's tolerance stays that of run 1. */
oh_tensor *oh_acc(oh_case *c, int i, const char *name, size_t n, size_t off, float *init,
                  double atol, double rtol);
oh_tensor *oh_inout(oh_case *c, int i, const char *name, size_t n, size_t off, float *init,
                    double atol, double rtol);
oh_tensor *oh_work(oh_case *c, int i, const char *name, size_t n, size_t off);

/* n floats uniform in [lo, hi), deterministic in the row, the shape and the
 * call's order; freed with the case. */
float *oh_rand(oh_case *c, size_t n, float lo, float hi);
/* A double copy of tensor i's host data (freed with the case). */
double *oh_f64(oh_case *c, int i);
/* n zeroed doubles (freed with the case). */
double *oh_zeros(oh_case *c, size_t n);
/* Free p with the case; returns p. */
void *oh_keep(oh_case *c, void *p);
/* want[k] += host[k] over tensor i (the reference's accumulate-1 call). */
void oh_add_init(oh_case *c, int i);

/* ---- for forward, backward and twins ---------------------------------------- */
glf_dptr oh_dp(const oh_case *c, int i);              /* buf NULL when skipped */
glf_dptr oh_dpat(const oh_case *c, int i, size_t at); /* at floats into tensor i */
cl_mem oh_mem(const oh_case *c, int i);
/* Write tensor j's host data into tensor i's place (in-place twins). */
glf_status oh_copy_in(oh_case *c, int i, int j);
/* Write n host floats into tensor i's place. */
glf_status oh_write(oh_case *c, int i, const float *host, size_t n);

/* Fail with c's label unless got and want (n words) have the same bits. */
void oh_same_bits(const oh_case *c, const char *what, const float *got, const float *want,
                  size_t n);
/* Fail with c's label unless got is within atol + rtol*|want|. */
void oh_close(const oh_case *c, const char *what, const float *got, const double *want, size_t n,
              double atol, double rtol);

#endif
