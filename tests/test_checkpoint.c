/* Checkpoints: exact round trip of every record kind (layouts, Adam moments,
 * permutations, RNG state, strings, integers), byte-identical rewrites, every
 * kind of corruption rejected with a message naming it, architecture
 * mismatches naming the tensor, and atomic writes leaving no temp file. */
#include "testutil.h"

#include <dirent.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "glf/checkpoint.h"

static glf_config tiny_(int latent)
{
    glf_config c;
    TU_OK(glf_config_preset(&c, 1, 8, 8));
    c.latent = latent, c.flow_width = 8, c.conv1 = 4, c.conv2 = 8, c.fc = 32, c.batch = 8;
    return c;
}

static unsigned char *slurp_(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spit_(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static int count_entries_(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A checkpoint like the trainer's; *params_out gets the parameter values. */
static glf_ckpt *make_(const glf_config *c, float **params_out, glf_layout *lp)
{
    glf_layout ls;
    TU_OK(glf_layout_params(c, lp));
    TU_OK(glf_layout_state(c, &ls));
    float *p = malloc(lp->total * sizeof *p), *s = malloc(ls.total * sizeof *s);
    float *m = tu_rand(lp->total, 5, -1, 1), *v = tu_rand(lp->total, 6, 0, 1);
    TU_OK(glf_init_params(lp, 7, p));
    TU_OK(glf_init_state(&ls, s));
    int32_t perm[4 * 64];
    glf_flow_permutations(c, perm);
    glf_rng r;
    glf_rng_init(&r, 99, 3);
    (void)glf_rng_u32(&r); /* leave 3 words buffered */
    glf_ckpt *ck = glf_ckpt_new();
    assert_non_null(ck);
    TU_OK(glf_ckpt_set_config(ck, c));
    TU_OK(glf_ckpt_set_layout(ck, "", lp, p));
    TU_OK(glf_ckpt_set_layout(ck, "", &ls, s));
    TU_OK(glf_ckpt_set_layout(ck, GLF_CKPT_ADAM_M, lp, m));
    TU_OK(glf_ckpt_set_layout(ck, GLF_CKPT_ADAM_V, lp, v));
    TU_OK(glf_ckpt_set_i32(ck, "flow.perm", perm, (size_t)c->flow_blocks * c->latent));
    TU_OK(glf_ckpt_set_int(ck, "step", 1234567890123LL));
    TU_OK(glf_ckpt_set_int(ck, "epoch", -3));
    TU_OK(glf_ckpt_set_str(ck, "data.manifest", "sha256:abcdef"));
    TU_OK(glf_ckpt_set_str(ck, "empty", ""));
    TU_OK(glf_ckpt_set_rng(ck, "rng.data", &r));
    float scalar = 2.5f;
    TU_OK(glf_ckpt_set_f32(ck, "scalar", &scalar, 0, NULL));
    int zshape[2] = {0, 3};
    TU_OK(glf_ckpt_set_f32(ck, "nothing", NULL, 2, zshape));
    free(s), free(m), free(v);
    glf_layout_free(&ls);
    *params_out = p;
    return ck;
}

static void test_round_trip(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ckpt");
    char path[1024], path2[1024];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    snprintf(path2, sizeof path2, "%s/b.ckpt", dir);
    glf_config c = tiny_(5);
    glf_layout l;
    float *p;
    glf_ckpt *ck = make_(&c, &p, &l);
    /* Replacing a record keeps one copy. */
    int before = glf_ckpt_count(ck);
    TU_OK(glf_ckpt_set_int(ck, "epoch", 4));
    assert_int_equal(glf_ckpt_count(ck), before);
    TU_OK(glf_ckpt_write(ck, path));
    assert_int_equal(count_entries_(dir), 1); /* no temporary file left */

    glf_ckpt *rd;
    TU_OK(glf_ckpt_read(path, &rd));
    assert_string_equal(glf_ckpt_source(rd), path);
    assert_int_equal(glf_ckpt_count(rd), before);
    for (int i = 0; i < before; i++)
        assert_string_equal(glf_ckpt_name(rd, i), glf_ckpt_name(ck, i));
    glf_config c2;
    TU_OK(glf_ckpt_get_config(rd, &c2));
    assert_memory_equal(&c, &c2, sizeof c);
    float *p2 = malloc(l.total * sizeof *p2);
    TU_OK(glf_ckpt_get_layout(rd, "", &l, p2));
    assert_memory_equal(p, p2, l.total * sizeof *p);
    TU_OK(glf_ckpt_get_layout(rd, GLF_CKPT_ADAM_V, &l, p2));
    float *v = tu_rand(l.total, 6, 0, 1);
    assert_memory_equal(v, p2, l.total * sizeof *p);
    int32_t perm[5 * 4], want[5 * 4];
    glf_flow_permutations(&c, want);
    TU_OK(glf_ckpt_get_i32(rd, "flow.perm", perm, 20));
    assert_memory_equal(perm, want, sizeof perm);
    int64_t iv;
    TU_OK(glf_ckpt_get_int(rd, "step", &iv));
    assert_true(iv == 1234567890123LL);
    TU_OK(glf_ckpt_get_int(rd, "epoch", &iv));
    assert_true(iv == 4);
    const char *sv;
    TU_OK(glf_ckpt_get_str(rd, "data.manifest", &sv));
    assert_string_equal(sv, "sha256:abcdef");
    TU_OK(glf_ckpt_get_str(rd, "empty", &sv));
    assert_string_equal(sv, "");
    int nd, sh[GLF_CKPT_MAX_DIM];
    const float *sc = glf_ckpt_f32(rd, "scalar", &nd, sh);
    assert_non_null(sc);
    assert_int_equal(nd, 0);
    assert_true(*sc == 2.5f);
    assert_non_null(glf_ckpt_f32(rd, "nothing", &nd, sh));
    assert_int_equal(nd, 2);
    assert_int_equal(sh[1], 3);
    /* The RNG continues exactly where it was saved. */
    glf_rng a, b;
    glf_rng_init(&a, 99, 3);
    (void)glf_rng_u32(&a);
    TU_OK(glf_ckpt_get_rng(rd, "rng.data", &b));
    for (int i = 0; i < 11; i++)
        assert_int_equal(glf_rng_u32(&a), glf_rng_u32(&b));
    /* Wrong kinds and missing names are reported by name. */
    assert_int_equal(glf_ckpt_get_int(rd, "data.manifest", &iv), GLF_ERR_FORMAT);
    assert_non_null(strstr(glf_last_error(), "data.manifest"));
    assert_int_equal(glf_ckpt_get_int(rd, "nope", &iv), GLF_ERR_MISMATCH);
    assert_non_null(strstr(glf_last_error(), "'nope'"));
    assert_int_equal(glf_ckpt_get_i32(rd, "flow.perm", perm, 19), GLF_ERR_MISMATCH);

    /* Writing what was read gives the same bytes; rewriting replaces. */
    TU_OK(glf_ckpt_write(rd, path2));
    size_t n1, n2;
    unsigned char *b1 = slurp_(path, &n1), *b2 = slurp_(path2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    assert_memory_equal(b1, "GLFCKPT1\x01\x00\x00\x00", 12);
    TU_OK(glf_ckpt_write(ck, path2));
    assert_int_equal(count_entries_(dir), 2);
    free(b1), free(b2), free(p), free(p2), free(v);
    glf_ckpt_free(ck), glf_ckpt_free(rd);
    glf_layout_free(&l);
    free(dir);
}

/* Read must fail with `st` and a message containing every `want` string. */
static void expect_bad_(const char *path, glf_status st, const char *want1, const char *want2)
{
    glf_ckpt *ck = (glf_ckpt *)0x1;
    glf_status got = glf_ckpt_read(path, &ck);
    if (got != st || !strstr(glf_last_error(), want1) ||
        (want2 && !strstr(glf_last_error(), want2)))
        fail_msg("reading %s: got %s '%s', expected %s with '%s'", path, glf_status_str(got),
                 glf_last_error(), glf_status_str(st), want1);
    assert_null(ck);
    assert_non_null(strstr(glf_last_error(), path));
}

static void rehash_(unsigned char *b, size_t n)
{
    struct sha256_ctx sha;
    sha256_init(&sha);
    sha256_update(&sha, n - 32, b);
    sha256_digest(&sha, 32, b + n - 32);
}

static void test_corruption(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ckpt-bad");
    char path[1024], bad[1024];
    snprintf(path, sizeof path, "%s/good.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    glf_config c = tiny_(4);
    glf_layout l;
    float *p;
    glf_ckpt *ck = make_(&c, &p, &l);
    TU_OK(glf_ckpt_write(ck, path));
    size_t n;
    unsigned char *b = slurp_(path, &n);
    unsigned char *w = malloc(n + 8);

    expect_bad_("/nonexistent/x.ckpt", GLF_ERR_IO, "cannot open", NULL);
    spit_(bad, b, 0);
    expect_bad_(bad, GLF_ERR_FORMAT, "truncated", "has 0 bytes");
    spit_(bad, b, 10);
    expect_bad_(bad, GLF_ERR_FORMAT, "truncated", "has 10 bytes");
    spit_(bad, b, n - 1);
    expect_bad_(bad, GLF_ERR_FORMAT, "truncated", NULL);
    spit_(bad, b, n / 2);
    expect_bad_(bad, GLF_ERR_FORMAT, "truncated", NULL);
    memcpy(w, b, n);
    memcpy(w + n, "junk", 4);
    spit_(bad, w, n + 4);
    expect_bad_(bad, GLF_ERR_FORMAT, "trailing bytes", NULL);

    memcpy(w, b, n);
    memcpy(w, "\x89PNG\r\n\x1a\n", 8);
    spit_(bad, w, n);
    expect_bad_(bad, GLF_ERR_FORMAT, "bad magic", "89504e470d0a1a0a");
    memcpy(w, b, n);
    w[8] = 2;
    spit_(bad, w, n);
    expect_bad_(bad, GLF_ERR_FORMAT, "unknown version 2", "reads version 1");
    /* One flipped bit anywhere after the header: the checksum catches it. */
    const size_t spots[] = {24, 40, n / 2, n - 33, n - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        memcpy(w, b, n);
        w[spots[i]] ^= 0x10;
        spit_(bad, w, n);
        expect_bad_(bad, GLF_ERR_FORMAT, "checksum mismatch", NULL);
    }
    /* Structurally bad records behind a valid checksum (a buggy writer). */
    memcpy(w, b, n);
    w[24] = 9; /* first record's kind */
    rehash_(w, n);
    spit_(bad, w, n);
    expect_bad_(bad, GLF_ERR_FORMAT, "record 0: kind 9", NULL);
    memcpy(w, b, n);
    w[12] += 1; /* one record more than there is */
    rehash_(w, n);
    spit_(bad, w, n);
    expect_bad_(bad, GLF_ERR_FORMAT, "kind and name length", NULL);
    memcpy(w, b, n);
    w[12] -= 1; /* one record less: payload left over */
    rehash_(w, n);
    spit_(bad, w, n);
    expect_bad_(bad, GLF_ERR_FORMAT, "left after the last record", NULL);
    /* First record is "config" (string): make its length absurd. */
    memcpy(w, b, n);
    assert_memory_equal(w + 32, "config", 6);
    w[38 + 5] = 0x7f;
    rehash_(w, n);
    spit_(bad, w, n);
    expect_bad_(bad, GLF_ERR_FORMAT, "'config'", "data needs") ;
    free(b), free(w), free(p);
    glf_ckpt_free(ck);
    glf_layout_free(&l);
    free(dir);
}

static void test_wrong_architecture(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ckpt-arch");
    char path[1024];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    glf_config c = tiny_(4), other = tiny_(6);
    glf_layout l, lo;
    float *p;
    glf_ckpt *ck = make_(&c, &p, &l);
    TU_OK(glf_ckpt_write(ck, path));
    glf_ckpt *rd;
    TU_OK(glf_ckpt_read(path, &rd));
    glf_config got;
    TU_OK(glf_ckpt_get_config(rd, &got));
    assert_int_equal(glf_config_same_arch(&other, &got, path), GLF_ERR_MISMATCH);
    assert_non_null(strstr(glf_last_error(), "latent = 4, expected 6"));
    TU_OK(glf_layout_params(&other, &lo));
    float *q = malloc(lo.total * sizeof *q);
    assert_int_equal(glf_ckpt_get_layout(rd, "", &lo, q), GLF_ERR_MISMATCH);
    assert_non_null(strstr(glf_last_error(), "'enc.fc2.weight' has shape (4, 32), the model "
                                             "expects (6, 32)"));
    assert_non_null(strstr(glf_last_error(), path));
    glf_layout_free(&lo);
    /* A flow tensor a model needs but the checkpoint lacks (ae-gauss ckpt). */
    glf_ckpt *ae = glf_ckpt_new();
    glf_config cg = c;
    cg.mode = GLF_MODE_AE_GAUSS;
    glf_layout lg;
    TU_OK(glf_layout_params(&cg, &lg));
    TU_OK(glf_ckpt_set_layout(ae, "", &lg, p));
    assert_int_equal(glf_ckpt_get_layout(ae, "", &l, q), GLF_ERR_MISMATCH);
    assert_non_null(strstr(glf_last_error(), "no float tensor 'flow.blocks.0.s1.fc1.weight'"));
    /* A config that does not validate is refused. */
    TU_OK(glf_ckpt_set_str(ae, "config", "{\"latent\": 4}"));
    assert_int_equal(glf_ckpt_get_config(ae, &got), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "config"));
    free(p), free(q);
    glf_ckpt_free(ck), glf_ckpt_free(rd), glf_ckpt_free(ae);
    glf_layout_free(&l), glf_layout_free(&lg);
    free(dir);
}

static void test_atomic_failure(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ckpt-io");
    char path[1024];
    glf_ckpt *ck = glf_ckpt_new();
    TU_OK(glf_ckpt_set_int(ck, "step", 1));
    snprintf(path, sizeof path, "%s/missing/a.ckpt", dir);
    assert_int_equal(glf_ckpt_write(ck, path), GLF_ERR_IO);
    assert_non_null(strstr(glf_last_error(), path));
    assert_int_equal(count_entries_(dir), 0);
    /* A bad name is refused before anything reaches the disk. */
    assert_int_equal(glf_ckpt_set_int(ck, "", 1), GLF_ERR_INVALID_ARG);
    glf_ckpt_free(ck);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_wrong_architecture),
        cmocka_unit_test(test_atomic_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
