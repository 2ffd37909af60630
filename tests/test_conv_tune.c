/* Convolution variants (materialised or implicit im2col operand, per
 * orientation): every combination passes validation against the reference;
 * a quick tune stores its choice and later contexts start from it; a
 * corrupt stored choice is a format error and leaves the defaults; with
 * CLBlast there is nothing to tune; without a disk cache every tuner fails
 * before it starts; and an implicit operand that is wrong
 * (a deliberately broken cl/gemm.cl through GLF_KERNEL_DIR) is rejected by
 * validation and never chosen. The broken-kernel case runs last: sources
 * from GLF_KERNEL_DIR stay loaded for the whole process. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/gemm.h"
#include "glf/ops_conv.h"
#include "glf/tune.h"

struct notes_ {
    int count, rejected;
    char all[4096];
};

static void note_(void *user, const char *line)
{
    struct notes_ *n = user;
    n->count++;
    if (strstr(line, "rejected"))
        n->rejected++;
    size_t l = strlen(n->all);
    snprintf(n->all + l, sizeof n->all - l, "%s\n", line);
}

/* The device's tuning store (the one tune-*.txt in the cache folder). */
static char *stored_path_(glf_ctx *ctx)
{
    const char *dir = glf_ctx_cache_dir(ctx);
    assert_non_null(dir);
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    struct dirent *e;
    char *path = NULL;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 9 && !strncmp(e->d_name, "tune-", 5) && !strcmp(e->d_name + l - 4, ".txt")) {
            assert_null(path); /* one device, one file */
            path = malloc(strlen(dir) + l + 2);
            sprintf(path, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    return path;
}

static void test_every_variant_validates(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    int before[2], after[2];
    glf_conv_im2col_policy(ctx, before);
    assert_int_equal(before[0], 0); /* the safe defaults of an untuned device */
    assert_int_equal(before[1], 0);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            int use[2] = {a, b};
            TU_OK(glf_conv_validate(ctx, use));
        }
    glf_conv_im2col_policy(ctx, after);
    assert_memory_equal(before, after, sizeof before); /* validation changes nothing */
    int bad[2] = {2, 0};
    tu_expect_status(glf_conv_set_im2col_policy(ctx, bad), GLF_ERR_INVALID_ARG, "{2, 0}",
                     "expected 0 or 1");
    tu_expect_status(glf_conv_validate(ctx, bad), GLF_ERR_INVALID_ARG, "{2, 0}", NULL);
    glf_ctx_destroy(ctx);
}

static void test_tune_stores_and_reuses(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    int best[2] = {-1, -1}, got[2] = {-1, -1}, found = 1;
    TU_OK(glf_conv_tuned(ctx, got, &found));
    assert_int_equal(found, 0);
    struct notes_ notes = {0, 0, ""};
    TU_OK(glf_conv_tune(ctx, 1, best, note_, &notes));
    assert_true(best[0] == 0 || best[0] == 1);
    assert_true(best[1] == 0 || best[1] == 1);
    assert_int_equal(notes.rejected, 0);
    assert_int_equal(notes.count, 4); /* the four combinations timed */
    TU_OK(glf_conv_tuned(ctx, got, &found));
    assert_int_equal(found, 1);
    assert_memory_equal(got, best, sizeof got);
    glf_conv_im2col_policy(ctx, got);
    assert_memory_equal(got, best, sizeof got); /* in use on ctx */
    glf_ctx_destroy(ctx);

    ctx = tu_ctx(); /* a later context on the device starts from it */
    glf_conv_im2col_policy(ctx, got);
    assert_memory_equal(got, best, sizeof got);
    char *path = stored_path_(ctx);
    assert_non_null(path);
    glf_ctx_destroy(ctx);

    /* Every other choice, written by hand, is read back as written. */
    for (int v = 0; v < 4; v++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "glf tune store 1\ndevice some device\nconv = taps=%s pixels=%s\n"
                "conv.score_ms = 1.0\n",
                v & 1 ? "implicit" : "materialised", v & 2 ? "implicit" : "materialised");
        fclose(f);
        ctx = tu_ctx();
        glf_conv_im2col_policy(ctx, got);
        assert_int_equal(got[0], v & 1);
        assert_int_equal(got[1], (v & 2) >> 1);
        glf_ctx_destroy(ctx);
    }
    remove(path);
    free(path);
}

static void test_corrupt_store_leaves_defaults(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    int best[2];
    TU_OK(glf_conv_tune(ctx, 1, best, NULL, NULL));
    char *path = stored_path_(ctx);
    assert_non_null(path);
    glf_ctx_destroy(ctx);
    /* a bad value, a file that is not a store, an empty file: each an error
     * naming the file, and the context runs on the defaults */
    static const char *bad_[][2] = {
        {"glf tune store 1\ndevice x\nconv = taps=implicit pixels=sideways\n",
         "'taps=W pixels=W'"},
        {"glf-gemm-tune 1\nx\ntaps=implicit pixels=implicit\n", "expected 'glf tune store 1'"},
        {"glf tune store 1\ndevice x\ntaps=implicit pixels=implicit\n", "'key = value'"},
        {"", "expected 'glf tune store 1'"}};
    for (size_t i = 0; i < sizeof bad_ / sizeof bad_[0]; i++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(bad_[i][0], f);
        fclose(f);
        ctx = tu_ctx();
        int got[2], found = 1;
        tu_expect_status(glf_conv_tuned(ctx, got, &found), GLF_ERR_FORMAT, path, bad_[i][1]);
        assert_int_equal(found, 0);
        glf_conv_im2col_policy(ctx, got); /* the context runs on the defaults */
        assert_int_equal(got[0], 0);
        assert_int_equal(got[1], 0);
        glf_ctx_destroy(ctx);
    }
    /* a store without the key: untuned, no error */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("glf tune store 1\ndevice x\ngemm = rm=8 vw=16 nv=2 lx=1 ly=16\n", f);
    fclose(f);
    ctx = tu_ctx();
    int got[2] = {-1, -1}, found = 1;
    TU_OK(glf_conv_tuned(ctx, got, &found));
    assert_int_equal(found, 0);
    glf_conv_im2col_policy(ctx, got);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 0);
    glf_ctx_destroy(ctx);
    remove(path);
    free(path);
}

/* Without a disk cache there is nowhere to store a choice: every tuner
 * says so before doing any work. */
static void test_no_cache_fails_first(void **state)
{
    (void)state;
    assert_int_equal(setenv("GLF_CACHE", "off", 1), 0);
    glf_ctx *ctx = tu_ctx();
    struct notes_ notes = {0, 0, ""};
    int best[2];
    tu_expect_status(glf_conv_tune(ctx, 1, best, note_, &notes), GLF_ERR_INVALID_ARG,
                     "disk cache", "GLF_CACHE=off");
    assert_int_equal(notes.count, 0); /* nothing validated or timed */
    glf_gemm_params p;
    tu_expect_status(glf_gemm_tune(ctx, 1, &p), GLF_ERR_INVALID_ARG, "disk cache", NULL);
    glf_clblast_params cb;
    tu_expect_status(glf_clblast_tune(ctx, 1, &cb), GLF_ERR_INVALID_ARG, "disk cache", NULL);
    glf_ctx_destroy(ctx);
    unsetenv("GLF_CACHE");
}

static void test_clblast_has_nothing_to_tune(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    TU_OK(glf_gemm_set_backend(ctx, GLF_GEMM_CLBLAST));
    assert_int_equal(glf_gemm_takes(ctx, GLF_GEMM_IM2COL), 0);
    struct notes_ notes = {0, 0, ""};
    int best[2] = {-1, -1};
    TU_OK(glf_conv_tune(ctx, 1, best, note_, &notes));
    assert_int_equal(notes.count, 1);
    assert_non_null(strstr(notes.all, "nothing to choose"));
    char *path = stored_path_(ctx);
    assert_null(path); /* nothing stored */
    /* The materialised path is what runs, whatever the policy says. */
    int use[2] = {1, 1};
    TU_OK(glf_conv_validate(ctx, use));
    glf_ctx_destroy(ctx);
}

static void test_wrong_implicit_operand_is_rejected(void **state)
{
    (void)state;
    /* cl/gemm.cl with the implicit operand off by one part in a thousand */
    char *dir = tu_broken_kernel_dir("conv-broken", "gemm.cl",
                                     "Bp[cc] = ok ? plane[ih * W + iw] : 0.0f;",
                                     "Bp[cc] = ok ? 1.001f * plane[ih * W + iw] : 0.0f;");
    assert_int_equal(setenv("GLF_KERNEL_DIR", dir, 1), 0);
    glf_ctx *ctx = tu_ctx();
    int mat[2] = {0, 0}, taps[2] = {1, 0}, pix[2] = {0, 1};
    TU_OK(glf_conv_validate(ctx, mat));
    assert_string_equal(glf_gemm_backend_name(ctx), "glf"); /* the GEMM itself passed */
    tu_expect_status(glf_conv_validate(ctx, taps), GLF_ERR_NUMERIC, "taps implicit",
                     "differs from the double reference");
    tu_expect_status(glf_conv_validate(ctx, pix), GLF_ERR_NUMERIC, "pixels implicit",
                     "differs from the double reference");
    struct notes_ notes = {0, 0, ""};
    int best[2] = {-1, -1};
    TU_OK(glf_conv_tune(ctx, 1, best, note_, &notes));
    assert_int_equal(best[0], 0); /* only the materialised operand is valid */
    assert_int_equal(best[1], 0);
    assert_int_equal(notes.rejected, 3);
    glf_ctx_destroy(ctx);
    unsetenv("GLF_KERNEL_DIR");
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_validates),
        cmocka_unit_test(test_tune_stores_and_reuses),
        cmocka_unit_test(test_corrupt_store_leaves_defaults),
        cmocka_unit_test(test_no_cache_fails_first),
        cmocka_unit_test(test_clblast_has_nothing_to_tune),
        cmocka_unit_test(test_wrong_implicit_operand_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
