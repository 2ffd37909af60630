/* Training end to end on the shipped Fashion-MNIST sample with a tiny
 * model: two straight runs give identical bits; N steps straight equal K
 * steps + resume + (N - K) steps bit for bit (also across an epoch
 * boundary); a diverging run stops with a message naming the step and the
 * term; bad checkpoints and mismatched data give clear errors; the queued
 * step gives the bits of the blocking one. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "glf/checkpoint.h"
#include "glf/net.h"
#include "glf/train.h"

static glf_train_opts opts_(const char *out)
{
    glf_train_opts o;
    memset(&o, 0, sizeof o);
    o.data.archive = strdup(tu_src_path("data/fashion-mnist-sample.tar.zst"));
    o.out_dir = out;
    /* tiny widths; everything else from the 28x28 preset */
    o.cfg.conv1 = 4;
    o.cfg.conv2 = 8;
    o.cfg.fc = 32;
    o.cfg.latent = 4;
    o.cfg.flow_width = 8;
    o.cfg.batch = 400; /* 5 steps per epoch on the 2,000 training images */
    o.cfg.epochs = 3;
    return o;
}

/* Every float of the checkpoint's parameters, BN state and Adam moments. */
static float *load_all_(glf_ctx *ctx, const char *path, size_t *n, glf_train_pos *pos)
{
    glf_net *net;
    TU_OK(glf_net_load(ctx, path, 64, &net, pos, NULL));
    size_t P = glf_net_param_layout(net)->total, S = glf_net_state_layout(net)->total;
    float *all = malloc((3 * P + S) * sizeof *all);
    TU_OK(glf_buf_read(ctx, glf_net_params(net), 0, P * 4, all));
    TU_OK(glf_buf_read(ctx, glf_net_adam_m(net), 0, P * 4, all + P));
    TU_OK(glf_buf_read(ctx, glf_net_adam_v(net), 0, P * 4, all + 2 * P));
    TU_OK(glf_buf_read(ctx, glf_net_state(net), 0, S * 4, all + 3 * P));
    *n = 3 * P + S;
    glf_net_destroy(net);
    return all;
}

static void train_(glf_ctx *ctx, const char *out, long max_steps, const char *resume)
{
    glf_train_opts o = opts_(out);
    o.max_steps = max_steps;
    o.resume = resume;
    TU_OK(glf_train(ctx, &o));
    free((char *)o.data.archive);
}

static char *ckpt_path_(const char *dir)
{
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/checkpoint.glf", dir);
    return p;
}

static void test_repeatable_and_exact_resume(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    char *a = tu_tmpdir("trainA"), *b = tu_tmpdir("trainB"), *r1 = tu_tmpdir("trainR1"),
         *r2 = tu_tmpdir("trainR2");
    char *ca = ckpt_path_(a), *cb = ckpt_path_(b), *c1 = ckpt_path_(r1), *c2 = ckpt_path_(r2);
    const long N = 8;
    train_(ctx, a, N, NULL);
    train_(ctx, b, N, NULL);
    /* K = 3 (inside epoch 1) and K = 5 (exactly at the epoch boundary) */
    train_(ctx, r1, 3, NULL);
    train_(ctx, r1, N, c1);
    train_(ctx, r2, 5, NULL);
    train_(ctx, r2, N, c2);

    size_t na, nb, n1, n2;
    glf_train_pos pa, pb, p1, p2;
    float *A = load_all_(ctx, ca, &na, &pa), *Bv = load_all_(ctx, cb, &nb, &pb);
    float *R1 = load_all_(ctx, c1, &n1, &p1), *R2 = load_all_(ctx, c2, &n2, &p2);
    assert_int_equal(pa.t, N);
    assert_int_equal(p1.t, N);
    assert_int_equal(p2.t, N);
    assert_int_equal(pa.epoch, 1); /* 8 steps at 5 per epoch: epoch 2, step 3 next */
    assert_int_equal(pa.step, 3);
    assert_int_equal(na, nb);
    assert_int_equal(na, n1);
    assert_int_equal(na, n2);
    assert_memory_equal(A, Bv, na * sizeof *A); /* same seed, same device: same bits */
    assert_memory_equal(A, R1, na * sizeof *A); /* resume inside an epoch */
    assert_memory_equal(A, R2, na * sizeof *A); /* resume at an epoch boundary */
    /* and training did move the parameters */
    int moved = 0;
    glf_ckpt *ck;
    TU_OK(glf_ckpt_read(ca, &ck));
    glf_ckpt_free(ck);
    for (size_t i = 0; i < na / 4 && !moved; i++)
        moved = A[i] != 0.0f;
    assert_true(moved);

    /* the log has one line per step, plus its header */
    char logp[1024];
    snprintf(logp, sizeof logp, "%s/log.csv", r1);
    FILE *f = fopen(logp, "r");
    assert_non_null(f);
    int lines = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        lines += ch == '\n';
    fclose(f);
    assert_int_equal(lines, 1 + N);
    free(A), free(Bv), free(R1), free(R2);
    free(ca), free(cb), free(c1), free(c2), free(a), free(b), free(r1), free(r2);
    glf_ctx_destroy(ctx);
}

static void test_epoch_outputs_and_sampling(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    char *out = tu_tmpdir("trainE");
    glf_train_opts o = opts_(out);
    o.cfg.epochs = 1;
    o.images_per_epoch = 1;
    TU_OK(glf_train(ctx, &o));
    free((char *)o.data.archive);
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/samples_e0001.png", out);
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/recon_e0001.png", out);
    assert_int_equal(stat(p, &st), 0);
    /* sampling is deterministic in the seed and independent of the batch size */
    char *ck = ckpt_path_(out);
    glf_net *net;
    TU_OK(glf_net_load(ctx, ck, 64, &net, NULL, NULL));
    float *s1 = malloc(10 * 784 * sizeof *s1), *s2 = malloc(10 * 784 * sizeof *s2);
    TU_OK(glf_sample(net, 10, 1.0f, 7, GLF_BN_RUNNING, 10, s1));
    TU_OK(glf_sample(net, 10, 1.0f, 7, GLF_BN_RUNNING, 3, s2));
    /* sampling never changes the model: train-mode BatchNorm is refused */
    assert_int_equal(glf_sample(net, 10, 1.0f, 7, GLF_BN_TRAIN, 10, s2), GLF_ERR_INVALID_ARG);
    for (int i = 0; i < 10 * 784; i++) {
        assert_true(s1[i] >= 0.0f && s1[i] <= 1.0f);
        assert_true(fabsf(s1[i] - s2[i]) <= 1e-5f);
    }
    glf_net_destroy(net);
    free(s1), free(s2), free(ck), free(out);
    glf_ctx_destroy(ctx);
}

static void test_ae_gauss_baseline(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    char *out = tu_tmpdir("trainAG");
    glf_train_opts o = opts_(out);
    o.cfg.mode = GLF_MODE_AE_GAUSS;
    o.cfg.epochs = 1;
    o.images_per_epoch = 1; /* the sample grid draws from the fitted Gaussian */
    TU_OK(glf_train(ctx, &o));
    free((char *)o.data.archive);
    char *ck = ckpt_path_(out);
    glf_net *net;
    TU_OK(glf_net_load(ctx, ck, 64, &net, NULL, NULL));
    const double *mean, *chol;
    assert_true(glf_net_gaussian(net, &mean, &chol));
    int d = glf_net_config(net)->latent;
    for (int j = 0; j < d; j++) {
        assert_true(chol[j * d + j] > 0); /* a real Cholesky factor */
        for (int k = j + 1; k < d; k++)
            assert_true(chol[j * d + k] == 0);
    }
    float *s = malloc(16 * 784 * sizeof *s);
    TU_OK(glf_sample(net, 16, 1.0f, 3, GLF_BN_RUNNING, 16, s));
    for (int i = 0; i < 16 * 784; i++)
        assert_true(s[i] >= 0.0f && s[i] <= 1.0f);
    /* no flow: interpolation in its noise space is refused with a message */
    float *y = malloc(2 * 2 * 784 * sizeof *y);
    assert_int_equal(glf_interpolate(net, s, s + 784, 1, 2, 1, GLF_BN_RUNNING, y),
                     GLF_ERR_INVALID_ARG);
    TU_OK(glf_interpolate(net, s, s + 784, 1, 2, 0, GLF_BN_RUNNING, y));
    free(s), free(y);
    glf_net_destroy(net);
    free(ck), free(out);
    glf_ctx_destroy(ctx);
}

static void test_nan_stops_with_message(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    char *out = tu_tmpdir("trainNaN");
    train_(ctx, out, 2, NULL);
    char *ck = ckpt_path_(out);
    /* A checkpoint whose decoder weights hold a NaN, as a diverged run's would. */
    glf_ckpt *c;
    TU_OK(glf_ckpt_read(ck, &c));
    float w[8 * 4 * 4 * 4];
    int sh[4] = {8, 4, 4, 4}; /* (conv2, conv1, 4, 4) of the tiny model */
    TU_OK(glf_ckpt_get_f32(c, "dec.deconv1.weight", w, 4, sh));
    w[5] = NAN;
    TU_OK(glf_ckpt_set_f32(c, "dec.deconv1.weight", w, 4, sh));
    char bad[1024];
    snprintf(bad, sizeof bad, "%s/bad.glf", out);
    TU_OK(glf_ckpt_write(c, bad));
    glf_ckpt_free(c);
    struct stat before, after;
    assert_int_equal(stat(ck, &before), 0);

    glf_train_opts o = opts_(out);
    o.resume = bad;
    glf_status s = glf_train(ctx, &o);
    free((char *)o.data.archive);
    assert_int_equal(s, GLF_ERR_NUMERIC);
    const char *m = glf_last_error();
    print_message("  message: %s\n", m);
    assert_non_null(strstr(m, "recon loss is nan"));
    assert_non_null(strstr(m, "optimizer step 3"));
    /* the last good checkpoint is kept as it was */
    assert_int_equal(stat(ck, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mtime, after.st_mtime);
    free(ck), free(out);
    glf_ctx_destroy(ctx);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    char *dir = tu_tmpdir("trainBad");
    char p[1024];
    glf_net *net;
    /* missing checkpoint */
    snprintf(p, sizeof p, "%s/none.glf", dir);
    assert_int_not_equal(glf_net_load(ctx, p, 8, &net, NULL, NULL), GLF_OK);
    assert_non_null(strstr(glf_last_error(), "none.glf"));
    /* corrupt checkpoint: a real one with a flipped byte */
    char *out = tu_tmpdir("trainBad2");
    train_(ctx, out, 1, NULL);
    char *ck = ckpt_path_(out);
    FILE *f = fopen(ck, "r+b");
    assert_non_null(f);
    fseek(f, 200, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    assert_int_equal(glf_net_load(ctx, ck, 8, &net, NULL, NULL), GLF_ERR_FORMAT);
    print_message("  corrupt: %s\n", glf_last_error());
    /* resuming on other data is refused: the CIFAR-10 subset is 3x32x32 */
    train_(ctx, out, 1, NULL);
    glf_train_opts o = opts_(dir);
    free((char *)o.data.archive);
    o.data.archive = NULL;
    o.data.name = "cifar10";
    o.data.dir = strdup(tu_src_path("../shared/data/cifar10-subset"));
    o.resume = ck;
    o.max_steps = 2;
    glf_status s = glf_train(ctx, &o);
    print_message("  other data: %s\n", glf_last_error());
    assert_int_equal(s, GLF_ERR_MISMATCH);
    /* options that contradict the checkpoint being resumed */
    glf_train_opts o2 = opts_(dir);
    o2.resume = ck;
    o2.cfg.latent = 6;
    s = glf_train(ctx, &o2);
    print_message("  other latent: %s\n", glf_last_error());
    assert_int_equal(s, GLF_ERR_MISMATCH);
    assert_non_null(strstr(glf_last_error(), "latent"));
    o2.cfg.latent = 0;
    o2.cfg.batch = 200;
    s = glf_train(ctx, &o2);
    print_message("  other batch: %s\n", glf_last_error());
    assert_int_equal(s, GLF_ERR_MISMATCH);
    free((char *)o2.data.archive);
    /* a model for 28x28 images given 3x32x32 data */
    o.resume = NULL;
    o.cfg.channels = 1, o.cfg.height = 28, o.cfg.width = 28;
    TU_OK(glf_config_preset(&o.cfg, 1, 28, 28));
    s = glf_train(ctx, &o);
    print_message("  wrong shape: %s\n", glf_last_error());
    assert_int_equal(s, GLF_ERR_MISMATCH);
    free((char *)o.data.dir);
    free(ck), free(out), free(dir);
    glf_ctx_destroy(ctx);
}

/* The queued step (glf_net_step_enqueue, Adam, glf_net_step_losses, as
 * glf_train runs it) gives the bits of glf_net_forward_backward + Adam;
 * misuse is refused; a net destroyed with a read-back in flight is fine. */
static void test_queued_step_same_bits(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    for (int mode = 0; mode < 2; mode++) {
        glf_config c;
        TU_OK(glf_config_preset(&c, 1, 28, 28));
        c.conv1 = 4, c.conv2 = 8, c.fc = 32, c.latent = 4, c.flow_width = 8;
        c.mode = mode ? GLF_MODE_VAE_FLOW : GLF_MODE_GLF;
        const int B = 9;
        glf_net *a, *b;
        TU_OK(glf_net_create(ctx, &c, B, &a));
        TU_OK(glf_net_create(ctx, &c, B, &b));
        TU_OK(glf_net_init(a, 7));
        TU_OK(glf_net_init(b, 7));
        float *x = tu_rand((size_t)B * 784, 11, 0, 1), *eps = tu_rand((size_t)B * 4, 12, -1, 1);
        cl_mem dx = tu_buf_from(ctx, x, (size_t)B * 784);
        for (int t = 1; t <= 3; t++) {
            glf_losses la, lb;
            TU_OK(glf_net_forward_backward(a, glf_dp(dx, 0), B, mode ? eps : NULL, &la));
            TU_OK(glf_net_adam(a, 0, t));
            TU_OK(glf_net_step_enqueue(b, glf_dp(dx, 0), B, mode ? eps : NULL));
            TU_OK(glf_net_adam(b, 0, t));
            TU_OK(glf_net_step_losses(b, &lb));
            assert_memory_equal(&la, &lb, sizeof la);
        }
        size_t n = glf_net_param_layout(a)->total;
        float *pa = tu_read(ctx, glf_net_params(a), n), *pb = tu_read(ctx, glf_net_params(b), n);
        assert_memory_equal(pa, pb, n * sizeof(float));
        glf_losses l;
        tu_expect_status(glf_net_step_losses(b, &l), GLF_ERR_INVALID_ARG, "no step queued", NULL);
        TU_OK(glf_net_step_enqueue(b, glf_dp(dx, 0), B, mode ? eps : NULL));
        tu_expect_status(glf_net_step_enqueue(b, glf_dp(dx, 0), B, mode ? eps : NULL),
                         GLF_ERR_INVALID_ARG, "not collected", NULL);
        glf_net_destroy(b); /* with the read-back in flight */
        glf_net_destroy(a);
        glf_buf_release(dx);
        free(x), free(eps), free(pa), free(pb);
    }
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_step_same_bits),
        cmocka_unit_test(test_repeatable_and_exact_resume),
        cmocka_unit_test(test_epoch_outputs_and_sampling),
        cmocka_unit_test(test_ae_gauss_baseline),
        cmocka_unit_test(test_nan_stops_with_message),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
