/* Shared test helpers: a device context that FAILS when no device exists,
 * device buffers with a guard region after the data, NaN pre-fill, a mixed
 * absolute/relative comparison that prints at most 10 mismatches, and the
 * test size: GLF_TEST_SIZE=small (for slow devices) makes the op tests
 * (tests/op_harness.h) drop their large shapes and keep every odd one;
 * unset or "all" runs every shape. */
#ifndef GLF_TESTUTIL_H
#define GLF_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <cmocka.h>

#include "glf/gemm.h"
#include "glf/rng.h"
#include "glf/runtime.h"
#include "glf/status.h"

/* Floats of guard after every test buffer; must stay bit-identical. */
#define TU_GUARD 67
/* The guard/pre-fill pattern: a quiet NaN with a recognisable payload. */
#define TU_SENTINEL_BITS 0x7fc0dead

/* Context on GLF_DEVICE (or the default device); fails the test if none. */
glf_ctx *tu_ctx(void);
/* The same with the options of the environment changed by pairs of
 * (variable, value) strings, NULL-terminated: tu_ctx_with("GLF_PANELS",
 * "off", NULL). */
glf_ctx *tu_ctx_with(const char *var, ...);

/* Fail the running test with the library's last error if s != GLF_OK. */
#define TU_OK(expr)                                                           \
    do {                                                                      \
        glf_status tu_s_ = (expr);                                            \
        if (tu_s_ != GLF_OK)                                                  \
            fail_msg("%s -> %s: %s", #expr, glf_status_str(tu_s_),            \
                     glf_last_error());                                       \
    } while (0)

/* 1 with GLF_TEST_SIZE=small, 0 when it is unset or "all" (read once; any
 * other value fails the running test): tests leave out their largest
 * shapes, for slow devices, and keep every odd one, guard and NaN fill. */
int tu_small(void);

float tu_sentinel(void);
/* n floats + TU_GUARD guard, all set to the sentinel NaN. */
cl_mem tu_buf_nan(glf_ctx *ctx, size_t n);
/* n floats copied from host (NULL: sentinel), followed by the guard. */
cl_mem tu_buf_from(glf_ctx *ctx, const float *host, size_t n);
/* A tensor at float offset off: off sentinel floats (a prefix that must stay
 * untouched), n floats from host (NULL: sentinel), then the guard. */
cl_mem tu_buf_at(glf_ctx *ctx, const float *host, size_t n, size_t off);
/* Read the n floats at off into a malloc'd copy, failing the test if the
 * prefix before off or the guard after the data was written. */
float *tu_read_at(glf_ctx *ctx, cl_mem buf, size_t n, size_t off, const char *what);
/* A device tensor with its offset and size, for tests that place tensors
 * at offsets (tu_buf_at / tu_read_at underneath). */
typedef struct tu_dev {
    cl_mem buf;
    size_t off, n;
} tu_dev;
tu_dev tu_dev_new(glf_ctx *ctx, const float *host, size_t n, size_t off);
glf_dptr tu_dp(tu_dev d);
float *tu_dev_read(glf_ctx *ctx, tu_dev d, const char *what);
/* Fail the test unless got ~ scale*want within an fp32 tolerance for sums of
 * `red` terms of magnitude <= 1 (error grows like sqrt(red)). */
void tu_expect_close(const char *tag, const char *what, const float *got, const double *want,
                     size_t n, double red, double scale);
/* malloc'd double copy of n floats. */
double *tu_f64(const float *x, size_t n);
/* Read n floats back into a malloc'd array (caller frees). */
float *tu_read(glf_ctx *ctx, cl_mem buf, size_t n);
/* Assert the guard after n floats is untouched. */
void tu_check_guard(glf_ctx *ctx, cl_mem buf, size_t n, const char *what);

/* malloc'd n floats, uniform in [lo, hi), deterministic in seed. */
float *tu_rand(size_t n, uint64_t seed, float lo, float hi);
double *tu_rand_f64(size_t n, uint64_t seed, double lo, double hi);

/* Count elements with |got - want| > atol + rtol*|want| (NaN must match
 * NaN); prints the first 10 with `what`. Returns the mismatch count. */
size_t tu_compare(const char *what, const float *got, const double *want, size_t n,
                  double atol, double rtol);
/* Normalised error ||got - want|| / max(||want||, tiny). */
double tu_norm_err(const float *got, const double *want, size_t n);

/* Fail unless s == want and the last error contains each non-NULL fragment. */
void tu_expect_status(glf_status s, glf_status want, const char *frag1, const char *frag2);

/* Path under the source tree (GLF_SOURCE_DIR), in a static buffer. */
const char *tu_src_path(const char *rel);
/* A fresh empty temporary folder (malloc'd path). */
char *tu_tmpdir(const char *tag);
/* A fresh folder (tu_tmpdir(tag)) holding a copy of every cl/ source, in
 * which the one occurrence of needle in cl/<file> is replaced: a deliberately broken
 * kernel source for GLF_KERNEL_DIR. Fails the test if needle is not there
 * (the test must notice when the kernel changes shape). */
char *tu_broken_kernel_dir(const char *tag, const char *file, const char *needle,
                           const char *replacement);

#endif
