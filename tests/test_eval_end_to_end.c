/* glf_evaluate end to end on the shipped sample: a briefly trained tiny
 * model and classifier; the same seed gives the same numbers; samples read
 * from a .npy score exactly as the same samples drawn from the model; a
 * barely trained model scores worse than real images (the floor); test
 * recon and NLL are finite; malformed sample files are refused. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/classifier.h"
#include "glf/evaluate.h"
#include "glf/image.h"
#include "glf/train.h"

static void test_evaluate(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    char *dir = tu_tmpdir("evale2e");
    char ck[1024], clfp[1024], npy[1024], bad[1024];
    snprintf(ck, sizeof ck, "%s/checkpoint.glf", dir);
    snprintf(clfp, sizeof clfp, "%s/clf.ckpt", dir);
    snprintf(npy, sizeof npy, "%s/s.npy", dir);
    snprintf(bad, sizeof bad, "%s/bad.npy", dir);
    char *archive = strdup(tu_src_path("data/fashion-mnist-sample.tar.zst"));

    glf_train_opts o;
    memset(&o, 0, sizeof o);
    o.data.archive = archive;
    o.out_dir = dir;
    o.cfg.conv1 = 4, o.cfg.conv2 = 8, o.cfg.fc = 32, o.cfg.latent = 4, o.cfg.flow_width = 8;
    o.cfg.batch = 100, o.cfg.epochs = 1;
    o.max_steps = 10;
    TU_OK(glf_train(ctx, &o));

    glf_dataset train;
    TU_OK(glf_dataset_load(&o.data, "train", &train));
    glf_classifier *clf;
    TU_OK(glf_classifier_create(ctx, 1, 28, 28, 10, 500, &clf));
    glf_clf_train_opts to = {1, 0, 0.0f, 5, NULL, NULL};
    TU_OK(glf_classifier_train(clf, &train, &to));
    TU_OK(glf_classifier_save(clf, clfp, -1.0));
    glf_classifier_destroy(clf);
    glf_dataset_free(&train);

    glf_eval_opts e;
    memset(&e, 0, sizeof e);
    e.model = ck, e.clf = clfp, e.data.archive = archive, e.n = 200, e.seed = 9;
    glf_eval_report r1, r2;
    TU_OK(glf_evaluate(ctx, &e, &r1));
    TU_OK(glf_evaluate(ctx, &e, &r2));
    print_message("  samples: FID-clf %.3f P %.3f R %.3f H %.3f; floor: FID-clf %.3f P %.3f "
                  "R %.3f; test recon %.2f/image, NLL %.3f, logdet %.3f\n",
                  r1.samples.fid, r1.samples.precision, r1.samples.recall, r1.samples.entropy,
                  r1.floor.fid, r1.floor.precision, r1.floor.recall, r1.recon_per_image, r1.nll,
                  r1.mean_logdet);
    assert_memory_equal(&r1.samples, &r2.samples, sizeof r1.samples);
    assert_memory_equal(&r1.floor, &r2.floor, sizeof r1.floor);
    assert_true(r1.recon_per_image == r2.recon_per_image && r1.nll == r2.nll);
    assert_int_equal(r1.samples.n, 200);
    size_t total = 0;
    for (int i = 0; i < r1.classes; i++)
        total += r1.samples.counts[i];
    assert_int_equal(total, 200);
    assert_true(r1.samples.precision >= 0 && r1.samples.precision <= 1);
    assert_true(r1.samples.recall >= 0 && r1.samples.recall <= 1);
    assert_true(r1.samples.entropy >= 0 && r1.samples.entropy <= log(10.0) + 1e-9);
    assert_true(r1.have_model && r1.test_n == 500);
    assert_true(isfinite(r1.nll) && isfinite(r1.mean_logdet) && r1.recon_per_image > 0);
    assert_true(fabs(r1.recon_per_pixel * 784 - r1.recon_per_image) < 1e-6 * r1.recon_per_image);
    /* ten steps of training are far from real images */
    assert_true(r1.samples.fid > r1.floor.fid);

    /* the same samples through a file score the same */
    glf_net *net;
    TU_OK(glf_net_load(ctx, ck, 500, &net, NULL, NULL));
    float *x = malloc(200 * 784 * sizeof *x);
    TU_OK(glf_sample(net, 200, 1.0f, 9, GLF_BN_RUNNING, 500, x));
    glf_net_destroy(net);
    int64_t shape[4] = {200, 1, 28, 28};
    TU_OK(glf_npy_write(npy, GLF_NPY_F32, x, 4, shape));
    glf_eval_opts ef = e;
    ef.model = NULL;
    ef.samples = npy;
    glf_eval_report rf;
    TU_OK(glf_evaluate(ctx, &ef, &rf));
    assert_memory_equal(&rf.samples, &r1.samples, sizeof rf.samples);
    assert_false(rf.have_model);

    /* malformed sample files */
    int64_t wrong[4] = {10, 1, 14, 14};
    TU_OK(glf_npy_write(bad, GLF_NPY_F32, x, 4, wrong));
    ef.samples = bad;
    assert_int_equal(glf_evaluate(ctx, &ef, &rf), GLF_ERR_MISMATCH);
    print_message("  %s\n", glf_last_error());
    assert_non_null(strstr(glf_last_error(), "bad.npy"));
    x[3] = 7.0f; /* not a pixel value */
    TU_OK(glf_npy_write(bad, GLF_NPY_F32, x, 4, shape));
    assert_int_equal(glf_evaluate(ctx, &ef, &rf), GLF_ERR_FORMAT);
    print_message("  %s\n", glf_last_error());
    ef.samples = dir; /* a folder with no PNGs */
    assert_int_not_equal(glf_evaluate(ctx, &ef, &rf), GLF_OK);
    print_message("  %s\n", glf_last_error());

    free(x), free(archive), free(dir);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evaluate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
