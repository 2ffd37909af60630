/* Runtime: device listing and the spec language, launches with counted
 * arguments at odd sizes, error messages for bad specs and bad kernels. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_devices_listed(void **state)
{
    (void)state;
    glf_device_info *l;
    int n;
    TU_OK(glf_devices_list(&l, &n));
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        assert_int_equal(l[i].index, i);
        assert_true(strlen(l[i].name) > 0);
        assert_true(l[i].compute_units >= 1);
        assert_true(l[i].max_work_group >= 1);
        assert_true(l[i].global_mem > 0);
    }
    free(l);
}

static void test_spec_forms(void **state)
{
    (void)state;
    glf_device_info a, b;
    TU_OK(glf_device_select("0", &a));
    TU_OK(glf_device_select("0:0", &b));
    assert_string_equal(a.name, b.name);
    /* A name substring, in another case, finds the same device. */
    char sub[8] = {0};
    for (int i = 0; i < 4 && a.name[i]; i++)
        sub[i] = (char)((a.name[i] >= 'a' && a.name[i] <= 'z') ? a.name[i] - 32 : a.name[i]);
    TU_OK(glf_device_select(sub, &b));
    TU_OK(glf_device_select(glf_device_type_str(a.type), &b));
    assert_true(b.type & a.type);
}

static void test_unknown_spec_lists_devices(void **state)
{
    (void)state;
    glf_device_info d, first;
    TU_OK(glf_device_select("0", &first));
    assert_int_equal(glf_device_select("nonsense-device-xyz", &d), GLF_ERR_NO_DEVICE);
    const char *msg = glf_last_error();
    assert_non_null(strstr(msg, "nonsense-device-xyz"));
    assert_non_null(strstr(msg, first.name));
    assert_int_equal(glf_device_select("99", &d), GLF_ERR_NO_DEVICE);
    assert_int_equal(glf_device_select("7:3", &d), GLF_ERR_NO_DEVICE);
}

static void test_env_spec(void **state)
{
    (void)state;
    glf_device_info d;
    setenv("GLF_DEVICE", "no-such-device-from-env", 1);
    assert_int_equal(glf_device_select(NULL, &d), GLF_ERR_NO_DEVICE);
    assert_non_null(strstr(glf_last_error(), "GLF_DEVICE"));
    unsetenv("GLF_DEVICE");
    TU_OK(glf_device_select(NULL, &d));
}

static void test_launch_odd_sizes(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int sizes[] = {1, 3, 17, 255, 1001};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int n = sizes[t];
        float *x = tu_rand((size_t)n, 1 + t, -1, 1);
        float *y0 = tu_rand((size_t)n, 100 + t, -1, 1);
        cl_mem X = tu_buf_from(ctx, x, (size_t)n), Y = tu_buf_from(ctx, y0, (size_t)n);
        cl_kernel k;
        TU_OK(glf_kernel(ctx, "util", "axpy_f32", NULL, &k));
        size_t g = (size_t)n, l = 16;
        TU_OK(GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_MEM(Y), GLF_I32(0), GLF_MEM(X), GLF_I32(0),
                         GLF_I32(n), GLF_F32(0.5f)));
        float *y = tu_read(ctx, Y, (size_t)n);
        double *want = malloc((size_t)n * sizeof *want);
        for (int i = 0; i < n; i++)
            want[i] = (double)y0[i] + 0.5 * (double)x[i];
        assert_int_equal(tu_compare("axpy", y, want, (size_t)n, 1e-6, 1e-6), 0);
        tu_check_guard(ctx, Y, (size_t)n, "axpy y");
        free(x), free(y0), free(y), free(want);
        glf_buf_release(X), glf_buf_release(Y);
    }
    glf_ctx_destroy(ctx);
}

static void test_kernel_objects_cached(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_kernel a, b, c;
    TU_OK(glf_kernel(ctx, "util", "fill_f32", NULL, &a));
    TU_OK(glf_kernel(ctx, "util", "fill_f32", "", &b));
    assert_ptr_equal(a, b);
    TU_OK(glf_kernel(ctx, "util", "fill_f32", "-DUNUSED_OPTION=1", &c));
    assert_ptr_not_equal(a, c);
    glf_ctx_destroy(ctx);
}

static void test_errors_named(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_kernel k;
    assert_int_equal(glf_kernel(ctx, "no_such_file", "k", NULL, &k), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "cl/no_such_file.cl"));
    assert_int_equal(glf_kernel(ctx, "util", "no_such_kernel", NULL, &k), GLF_ERR_OPENCL);
    assert_non_null(strstr(glf_last_error(), "CL_INVALID_KERNEL_NAME"));
    /* A broken program reports the label, the options and the build log. */
    const char *bad = "__kernel void broken(__global float *x) { x[0] = undefined_name; }";
    cl_program p;
    assert_int_equal(glf_program_source(ctx, "broken.cl", bad, strlen(bad), "-DFOO=1", &p),
                     GLF_ERR_BUILD);
    const char *msg = glf_last_error();
    assert_non_null(strstr(msg, "broken.cl"));
    assert_non_null(strstr(msg, "-DFOO=1"));
    assert_non_null(strstr(msg, "undefined_name"));
    assert_non_null(strstr(msg, glf_ctx_device(ctx)->name));
    /* A launch the driver refuses (a work-group above the device's maximum)
     * names the kernel, the sizes and the device. */
    cl_kernel kf;
    TU_OK(glf_kernel(ctx, "util", "fill_f32", NULL, &kf));
    cl_mem buf = tu_buf_nan(ctx, 16);
    size_t local = glf_ctx_device(ctx)->max_work_group + 1, global = local;
    tu_expect_status(GLF_LAUNCH(ctx, kf, 1, &global, &local, GLF_MEM(buf), GLF_I32(0),
                                GLF_I32(16), GLF_F32(1.0f)),
                     GLF_ERR_OPENCL, "fill_f32", glf_ctx_device(ctx)->name);
    glf_buf_release(buf);
    assert_string_equal(glf_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    assert_string_equal(glf_status_str(GLF_ERR_IO), "GLF_ERR_IO");
    glf_ctx_destroy(ctx);
}

static void test_kernel_dir_override(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("kdir");
    char path[1024];
    snprintf(path, sizeof path, "%s/util.cl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("__kernel void only_on_disk(__global float *x) { x[get_global_id(0)] = 42.0f; }\n", f);
    fclose(f);
    setenv("GLF_KERNEL_DIR", dir, 1);
    glf_ctx *ctx = tu_ctx();
    cl_kernel k;
    TU_OK(glf_kernel(ctx, "util", "only_on_disk", NULL, &k));
    cl_mem b = tu_buf_nan(ctx, 5);
    size_t g = 5;
    TU_OK(GLF_LAUNCH(ctx, k, 1, &g, NULL, GLF_MEM(b)));
    float *h = tu_read(ctx, b, 5);
    for (int i = 0; i < 5; i++)
        assert_true(h[i] == 42.0f);
    free(h);
    glf_buf_release(b);
    glf_ctx_destroy(ctx);
    unsetenv("GLF_KERNEL_DIR");
    remove(path);
    rmdir(dir);
    free(dir);
}

/* Options: defaults, every variable read once at context creation, bad
 * values named with what was expected, unknown names refused. */
static void test_options(void **state)
{
    (void)state;
    static const char *const vars[] = {"GLF_GEMM",   "GLF_GEMM_PREFETCH", "GLF_NT_STORES",
                                       "GLF_PANELS", "GLF_COL2IM",        "GLF_FAMILY",
                                       "GLF_VERBOSE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        assert_int_equal(unsetenv(vars[i]), 0);
    glf_options o;
    TU_OK(glf_options_from_env(&o));
    assert_int_equal(o.gemm_clblast, 0);
    assert_int_equal(o.gemm_prefetch, -1);
    assert_int_equal(o.nt_stores, GLF_NT_AUTO);
    assert_int_equal(o.panels, 1);
    assert_int_equal(o.col2im_fixed, 1);
    assert_int_equal(o.family, GLF_FAMILY_AUTO);
    assert_int_equal(o.verbose, 0);
    static const char *const bad[][3] = {
        {"GLF_GEMM", "cublas", "'glf' or 'clblast'"},
        {"GLF_GEMM_PREFETCH", "257", "0..256"},
        {"GLF_GEMM_PREFETCH", "8x", "0..256"},
        {"GLF_NT_STORES", "some", "'off', 'all'"},
        {"GLF_PANELS", "no", "'off'"},
        {"GLF_COL2IM", "fast", "'generic'"},
        {"GLF_FAMILY", "gpu", "'cpu', 'simt'"},
        {"GLF_VERBOSE", "yes", "'0' or '1'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(setenv(bad[i][0], bad[i][1], 1), 0);
        glf_ctx *ctx = NULL;
        tu_expect_status(glf_ctx_create(NULL, &ctx), GLF_ERR_INVALID_ARG, bad[i][0], bad[i][2]);
        assert_null(ctx);
        assert_int_equal(unsetenv(bad[i][0]), 0);
    }
    assert_int_equal(setenv("GLF_PANELS", "off", 1), 0);
    assert_int_equal(setenv("GLF_GEMM_PREFETCH", "3", 1), 0);
    assert_int_equal(setenv("GLF_FAMILY", "simt", 1), 0);
    glf_ctx *ctx = tu_ctx();
    assert_int_equal(unsetenv("GLF_PANELS"), 0);
    assert_int_equal(unsetenv("GLF_GEMM_PREFETCH"), 0);
    assert_int_equal(unsetenv("GLF_FAMILY"), 0);
    /* read when the context was made, not since */
    assert_int_equal(glf_ctx_options(ctx)->panels, 0);
    assert_int_equal(glf_ctx_options(ctx)->gemm_prefetch, 3);
    assert_int_equal(glf_ctx_family(ctx), GLF_FAMILY_SIMT);
    glf_ctx_destroy(ctx);
    tu_expect_status(glf_options_set(&o, "GLF_NO_SUCH", "1"), GLF_ERR_INVALID_ARG,
                     "GLF_NO_SUCH", "GLF_PANELS");
    TU_OK(glf_options_set(&o, "GLF_NT_STORES", "off"));
    assert_int_equal(o.nt_stores, GLF_NT_OFF);
    TU_OK(glf_options_set(&o, "GLF_NT_STORES", NULL)); /* back to the default */
    assert_int_equal(o.nt_stores, GLF_NT_AUTO);
    /* explicit options, no environment; a family out of range is refused */
    assert_int_equal(setenv("GLF_PANELS", "off", 1), 0);
    TU_OK(glf_ctx_create_opts(NULL, NULL, &ctx));
    assert_int_equal(glf_ctx_options(ctx)->panels, 1);
    glf_ctx_destroy(ctx);
    assert_int_equal(unsetenv("GLF_PANELS"), 0);
    o.family = (glf_family)7;
    ctx = NULL;
    tu_expect_status(glf_ctx_create_opts(NULL, &o, &ctx), GLF_ERR_INVALID_ARG, "family 7",
                     NULL);
    assert_null(ctx);
}

/* The family rule on device properties: a CPU whose driver compiles a
 * work-item to vector code (native float width > 1) is CPU-like; a CPU
 * driver with width 1 (SIMD lanes: llvmpipe), a GPU and an accelerator are
 * SIMT-like. */
static void test_family_rule(void **state)
{
    (void)state;
    glf_device_info d;
    memset(&d, 0, sizeof d);
    d.type = CL_DEVICE_TYPE_CPU, d.native_float_width = 16;
    assert_int_equal(glf_device_family(&d), GLF_FAMILY_CPU);
    d.native_float_width = 8;
    assert_int_equal(glf_device_family(&d), GLF_FAMILY_CPU);
    d.native_float_width = 1;
    assert_int_equal(glf_device_family(&d), GLF_FAMILY_SIMT);
    d.type = CL_DEVICE_TYPE_GPU, d.native_float_width = 4;
    assert_int_equal(glf_device_family(&d), GLF_FAMILY_SIMT);
    d.type = CL_DEVICE_TYPE_ACCELERATOR;
    assert_int_equal(glf_device_family(&d), GLF_FAMILY_SIMT);
    assert_string_equal(glf_family_name(GLF_FAMILY_CPU), "cpu");
    assert_string_equal(glf_family_name(GLF_FAMILY_SIMT), "simt");
    glf_ctx *ctx = tu_ctx();
    assert_int_equal(glf_ctx_family(ctx), glf_device_family(glf_ctx_device(ctx)));
    glf_ctx_destroy(ctx);
}

/* Feature probes: asked of the device in a child process (this process
 * survives whatever the driver does), stored beside the program cache and
 * read back from there; a corrupt stored result is probed again. On PoCL
 * both builtins are accepted; on rusticl the prefetch is not (its SPIR-V
 * translator ends the process on llvm.prefetch). */
static void test_feature_probes(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("features");
    assert_int_equal(setenv("GLF_CACHE_DIR", dir, 1), 0);
    glf_ctx *ctx = tu_ctx();
    glf_features f = glf_ctx_features(ctx);
    assert_true(f.prefetch == 0 || f.prefetch == 1);
    assert_true(f.nt_store == 0 || f.nt_store == 1);
    const glf_device_info *d = glf_ctx_device(ctx);
    if (strstr(d->platform, "Portable Computing Language"))
        assert_true(f.prefetch && f.nt_store);
    if (strstr(d->platform, "rusticl"))
        assert_false(f.prefetch);
    glf_ctx_destroy(ctx);
    char cmd[4300], path[4200] = "";
    snprintf(cmd, sizeof cmd, "ls %s/features-*.txt", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(path, sizeof path, p));
    pclose(p);
    path[strcspn(path, "\n")] = '\0';
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char text[256] = "";
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    char want[128];
    snprintf(want, sizeof want, "glf features 1\nprefetch %d\nnt_store %d\n", f.prefetch,
             f.nt_store);
    assert_string_equal(text, want);
    fp = fopen(path, "w"); /* corrupt: probed again and rewritten */
    assert_non_null(fp);
    fputs("glf features 1\nprefetch 7\n", fp);
    fclose(fp);
    ctx = tu_ctx();
    glf_features g = glf_ctx_features(ctx);
    assert_int_equal(g.prefetch, f.prefetch);
    assert_int_equal(g.nt_store, f.nt_store);
    glf_ctx_destroy(ctx);
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_string_equal(text, want);
    assert_int_equal(unsetenv("GLF_CACHE_DIR"), 0);
    free(dir);
}

/* What fd 2 receives while fn runs. */
static char *stderr_of_(void (*fn)(glf_ctx *), glf_ctx *ctx)
{
    char *dir = tu_tmpdir("stderr");
    char path[4200];
    snprintf(path, sizeof path, "%s/err.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    assert_true(saved >= 0 && dup2(fileno(f), 2) >= 0);
    fn(ctx);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long n = ftell(f);
    char *text = calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    rewind(f);
    if (n > 0)
        assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    free(dir);
    return text;
}

static void build_warning_(glf_ctx *ctx)
{
    /* a fresh source each call (a counter and the process in the text): never
     * a hit in glf's cache or the driver's */
    static int seq;
    char src[256];
    snprintf(src, sizeof src, "#warning glf-test-warning\n__kernel void k%d_%ld(__global float *x) "
             "{ x[get_global_id(0)] += 1.0f; }\n", seq++, (long)getpid());
    cl_program p;
    TU_OK(glf_program_source(ctx, "warning.cl", src, strlen(src), NULL, &p));
}

/* A successful build prints nothing, whatever its diagnostics (PoCL puts
 * them in the build log; rusticl's compiler writes "1 warning generated."
 * to the process's stderr); with the option verbose they are printed. */
static void test_build_quiet(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    char *quiet = stderr_of_(build_warning_, ctx);
    assert_string_equal(quiet, "");
    glf_ctx_options(ctx)->verbose = 1;
    char *loud = stderr_of_(build_warning_, ctx);
    if (strstr(glf_ctx_device(ctx)->platform, "Portable Computing Language")) {
        /* PoCL's build log holds the warning (rusticl's is empty, and what its
         * compiler prints, if anything, comes at no fixed moment) */
        if (!strstr(loud, "glf-test-warning"))
            fail_msg("verbose build printed [%s]", loud);
        assert_non_null(strstr(loud, "warning.cl"));
    }
    free(quiet), free(loud);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_listed),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_family_rule),
        cmocka_unit_test(test_feature_probes),
        cmocka_unit_test(test_spec_forms),
        cmocka_unit_test(test_unknown_spec_lists_devices),
        cmocka_unit_test(test_env_spec),
        cmocka_unit_test(test_launch_odd_sizes),
        cmocka_unit_test(test_kernel_objects_cached),
        cmocka_unit_test(test_errors_named),
        cmocka_unit_test(test_build_quiet),
        cmocka_unit_test(test_kernel_dir_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
