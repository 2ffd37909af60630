/* Program cache: cold build writes an entry, a new context loads it, a
 * corrupt or truncated entry is rejected and rebuilt, GLF_CACHE=off writes
 * nothing, and concurrent writer processes into one folder leave valid
 * entries only. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *src_ =
    "__kernel void twice(__global float *x, int n) {\n"
    "  int i = get_global_id(0); if (i < n) x[i] = 2.0f * x[i] + OFFSET; }\n";

static int count_files_(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        if (l >= s && !strcmp(e->d_name + l - s, suffix))
            n++;
        else if (strstr(e->d_name, ".tmp."))
            n += 1000; /* a leftover temporary file is an error */
    }
    closedir(d);
    return n;
}

static char *first_entry_(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char *path = NULL;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".bin")) {
            path = malloc(strlen(dir) + strlen(e->d_name) + 2);
            sprintf(path, "%s/%s", dir, e->d_name);
            break;
        }
    closedir(d);
    assert_non_null(path);
    return path;
}

/* Build the test program with OFFSET=off and check that it runs right. */
static void build_and_run_(glf_ctx *ctx, int off)
{
    char opts[64];
    snprintf(opts, sizeof opts, "-DOFFSET=%d.0f", off);
    cl_program p;
    TU_OK(glf_program_source(ctx, "cache_test.cl", src_, strlen(src_), opts, &p));
    cl_int err;
    cl_kernel k = clCreateKernel(p, "twice", &err);
    assert_int_equal(err, CL_SUCCESS);
    float x[7] = {1, 2, 3, 4, 5, 6, 7};
    cl_mem b = tu_buf_from(ctx, x, 7);
    size_t g = 7;
    TU_OK(GLF_LAUNCH(ctx, k, 1, &g, NULL, GLF_MEM(b), GLF_I32(7)));
    float *y = tu_read(ctx, b, 7);
    for (int i = 0; i < 7; i++)
        assert_true(y[i] == 2.0f * x[i] + (float)off);
    free(y);
    glf_buf_release(b);
    clReleaseKernel(k);
}

static void test_cold_warm_corrupt(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("cache");
    setenv("GLF_CACHE_DIR", dir, 1);
    unsetenv("GLF_CACHE");

    glf_ctx *ctx = tu_ctx();
    assert_string_equal(glf_ctx_cache_dir(ctx), dir);
    build_and_run_(ctx, 1);
    glf_cache_stats s = glf_ctx_cache_stats(ctx);
    assert_int_equal(s.builds, 1);
    assert_int_equal(s.disk_writes, 1);
    build_and_run_(ctx, 1); /* second time: memory */
    s = glf_ctx_cache_stats(ctx);
    assert_int_equal(s.mem_hits, 1);
    assert_int_equal(s.builds, 1);
    glf_ctx_destroy(ctx);
    assert_int_equal(count_files_(dir, ".bin"), 1);

    /* Warm: a new context loads from disk, builds nothing. */
    ctx = tu_ctx();
    build_and_run_(ctx, 1);
    s = glf_ctx_cache_stats(ctx);
    assert_int_equal(s.disk_hits, 1);
    assert_int_equal(s.builds, 0);
    /* Other options are another entry. */
    build_and_run_(ctx, 2);
    s = glf_ctx_cache_stats(ctx);
    assert_int_equal(s.builds, 1);
    glf_ctx_destroy(ctx);
    assert_int_equal(count_files_(dir, ".bin"), 2);

    /* Corrupt one byte in the middle of every entry: rejected, rebuilt, rewritten. */
    for (int round = 0; round < 2; round++) {
        char *path = first_entry_(dir);
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        if (round == 0) {
            fseek(f, len / 2, SEEK_SET);
            int c = fgetc(f);
            fseek(f, len / 2, SEEK_SET);
            fputc(c ^ 0x5a, f);
            fclose(f);
        } else {
            fclose(f);
            assert_int_equal(truncate(path, len - 10), 0); /* truncated entry */
        }
        ctx = tu_ctx();
        build_and_run_(ctx, 1);
        build_and_run_(ctx, 2);
        s = glf_ctx_cache_stats(ctx);
        assert_true(s.disk_rejects >= 1);
        assert_int_equal(s.builds, 1);
        assert_int_equal(s.disk_hits, 1);
        assert_int_equal(s.disk_writes, 1);
        glf_ctx_destroy(ctx);
        /* The rewritten entry is valid again. */
        ctx = tu_ctx();
        build_and_run_(ctx, 1);
        build_and_run_(ctx, 2);
        s = glf_ctx_cache_stats(ctx);
        assert_int_equal(s.disk_hits, 2);
        assert_int_equal(s.disk_rejects, 0);
        glf_ctx_destroy(ctx);
        free(path);
    }

    /* Garbage of the right name: rejected. */
    {
        char *path = first_entry_(dir);
        FILE *f = fopen(path, "wb");
        fputs("not a cache entry", f);
        fclose(f);
        free(path);
        ctx = tu_ctx();
        build_and_run_(ctx, 1);
        build_and_run_(ctx, 2);
        s = glf_ctx_cache_stats(ctx);
        assert_int_equal(s.disk_rejects, 1);
        assert_int_equal(s.builds, 1);
        glf_ctx_destroy(ctx);
    }
    assert_int_equal(count_files_(dir, ".bin"), 2);
    free(dir);
}

static void test_cache_off(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("cacheoff");
    setenv("GLF_CACHE_DIR", dir, 1);
    setenv("GLF_CACHE", "off", 1);
    glf_ctx *ctx = tu_ctx();
    assert_null(glf_ctx_cache_dir(ctx));
    build_and_run_(ctx, 3);
    glf_cache_stats s = glf_ctx_cache_stats(ctx);
    assert_int_equal(s.builds, 1);
    assert_int_equal(s.disk_writes, 0);
    glf_ctx_destroy(ctx);
    assert_int_equal(count_files_(dir, ".bin"), 0);
    unsetenv("GLF_CACHE");
    free(dir);
}

/* One writer: build the three test programs into GLF_CACHE_DIR and exit.
 * Runs in a fresh process (exec'd by the test below), so PoCL is initialised
 * here, not inherited half-initialised through fork(). */
static int writer_main_(void)
{
    glf_ctx *ctx = NULL;
    if (glf_ctx_create(NULL, &ctx) != GLF_OK) {
        fprintf(stderr, "writer %ld: %s\n", (long)getpid(), glf_last_error());
        return 2;
    }
    char opts[64];
    for (int j = 0; j < 3; j++) {
        cl_program p;
        snprintf(opts, sizeof opts, "-DOFFSET=%d.0f", 10 + j);
        if (glf_program_source(ctx, "cache_test.cl", src_, strlen(src_), opts, &p) != GLF_OK) {
            fprintf(stderr, "writer %ld: %s\n", (long)getpid(), glf_last_error());
            glf_ctx_destroy(ctx);
            return 1;
        }
    }
    glf_ctx_destroy(ctx);
    return 0;
}

static void test_concurrent_writers(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("cacheconc");
    char sub[1024], pocl[1100];
    snprintf(sub, sizeof sub, "%s/not/yet/made", dir); /* created on demand */
    unsetenv("GLF_CACHE");
    enum { NPROC = 6 };
    pid_t kids[NPROC];
    int go[2];
    assert_int_equal(pipe(go), 0);
    for (int i = 0; i < NPROC; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            char buf;
            close(go[1]);
            /* Start together: block until the parent closes the pipe. */
            if (read(go[0], &buf, 1) < 0)
                _exit(3);
            close(go[0]);
            /* Every writer shares glf's cache folder (what is under test)
             * but has its own PoCL cache: several processes building into
             * one PoCL cache folder can fail inside PoCL (pocl/pocl#1480,
             * ../shared/docs/pocl-notes.md), which is not ours to test. */
            snprintf(pocl, sizeof pocl, "%s/pocl-%d", dir, i);
            setenv("GLF_CACHE_DIR", sub, 1);
            setenv("POCL_CACHE_DIR", pocl, 1);
            execl("/proc/self/exe", "test_cache", "--writer", (char *)NULL);
            _exit(4);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < NPROC; i++) {
        int st;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    /* Exactly three valid entries, no temporary files, all loadable. */
    assert_int_equal(count_files_(sub, ".bin"), 3);
    setenv("GLF_CACHE_DIR", sub, 1);
    glf_ctx *ctx = tu_ctx();
    for (int j = 0; j < 3; j++)
        build_and_run_(ctx, 10 + j);
    glf_cache_stats s = glf_ctx_cache_stats(ctx);
    assert_int_equal(s.disk_hits, 3);
    assert_int_equal(s.disk_rejects, 0);
    assert_int_equal(s.builds, 0);
    glf_ctx_destroy(ctx);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--writer"))
        return writer_main_();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cold_warm_corrupt),
        cmocka_unit_test(test_cache_off),
        cmocka_unit_test(test_concurrent_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
