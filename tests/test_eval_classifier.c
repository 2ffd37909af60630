/* The FID-clf classifier (host/eval/classifier.c) on the shipped
 * Fashion-MNIST sample (2,000 train / 500 test images): it learns (test
 * accuracy well above chance after two short epochs), training is bitwise
 * repeatable, a checkpoint round trip gives the same features, features
 * from a data set and from host images agree, bad shapes are rejected. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/classifier.h"
#include "glf/eval.h"
#include "glf/util.h"

static void load_(const char *split, glf_dataset *d)
{
    glf_data_source src;
    memset(&src, 0, sizeof src);
    src.archive = tu_src_path("data/fashion-mnist-sample.tar.zst");
    TU_OK(glf_dataset_load(&src, split, d));
}

static glf_classifier *trained_(glf_ctx *ctx, const glf_dataset *train, int epochs)
{
    glf_classifier *c = NULL;
    TU_OK(glf_classifier_create(ctx, 1, 28, 28, 10, 100, &c));
    glf_clf_train_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = epochs, o.batch = 100, o.seed = 123;
    TU_OK(glf_classifier_train(c, train, &o));
    return c;
}

static void test_learns_and_round_trips(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    glf_dataset train, test;
    load_("train", &train), load_("test", &test);
    double t0 = glf_now();
    glf_classifier *c = trained_(ctx, &train, 2);
    double t1 = glf_now();
    double acc = -1;
    TU_OK(glf_classifier_accuracy(c, &test, &acc));
    print_message("  2 epochs on 2,000 images: %.2f s, test accuracy %.4f on %zu images\n",
                  t1 - t0, acc, test.n);
    assert_true(acc > 0.65); /* chance is 0.1 */

    /* Same seed and data: the same parameter bits (on the first 500 images,
     * one epoch, to keep the test short; the data set stays owned by train). */
    glf_dataset sub = train;
    sub.n = 500;
    glf_classifier *c2 = trained_(ctx, &sub, 1), *c4 = trained_(ctx, &sub, 1);
    size_t np = glf_classifier_param_count(c);
    float *p1 = malloc(np * sizeof *p1), *p2 = malloc(np * sizeof *p2);
    TU_OK(glf_classifier_get_params(c4, p1));
    TU_OK(glf_classifier_get_params(c2, p2));
    assert_memory_equal(p1, p2, np * sizeof *p1);
    TU_OK(glf_classifier_get_params(c, p1)); /* and a longer run did change them */
    assert_true(memcmp(p1, p2, np * sizeof *p1) != 0);

    /* Checkpoint round trip and the two feature paths. */
    char *dir = tu_tmpdir("clf");
    char path[600];
    snprintf(path, sizeof path, "%s/clf.ckpt", dir);
    TU_OK(glf_classifier_save(c, path, acc));
    glf_classifier *c3 = NULL;
    double acc3 = -2;
    TU_OK(glf_classifier_load(ctx, path, 37, &c3, &acc3));
    assert_true(fabs(acc3 - acc) < 1e-6);
    const size_t n = 123;
    float *f1 = malloc(n * GLF_CLF_FEATURES * sizeof *f1);
    float *f3 = malloc(n * GLF_CLF_FEATURES * sizeof *f3);
    int pred1[123], pred3[123], lab[123];
    TU_OK(glf_classifier_dataset_features(c, &test, n, f1, pred1, lab));
    float *img = malloc(n * 784 * sizeof *img);
    for (size_t i = 0; i < n * 784; i++)
        img[i] = test.images[i] / 255.0f;
    TU_OK(glf_classifier_features(c3, img, n, f3, pred3));
    assert_memory_equal(pred1, pred3, sizeof pred1);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lab[i], test.labels[i]);
    /* Batch sizes differ (100 vs 37): allow GEMM blocking to change bits. */
    double *want = malloc(n * GLF_CLF_FEATURES * sizeof *want);
    for (size_t i = 0; i < n * GLF_CLF_FEATURES; i++)
        want[i] = f1[i];
    assert_int_equal(tu_compare("features after reload", f3, want, n * GLF_CLF_FEATURES, 1e-4,
                                1e-4), 0);
    /* FID of the test features against themselves is 0; the histogram covers
     * the classes. */
    double fid = NAN, h = NAN;
    TU_OK(glf_fid(f1, n, f1, n, GLF_CLF_FEATURES, &fid));
    assert_true(fabs(fid) < 1e-3);
    size_t counts[10];
    TU_OK(glf_class_histogram(pred1, n, 10, counts, &h));
    assert_true(h > 1.5);

    /* Wrong shapes are refused with a message. */
    glf_classifier *bad = NULL;
    assert_int_equal(glf_classifier_create(ctx, 1, 30, 30, 10, 8, &bad), GLF_ERR_INVALID_ARG);
    glf_classifier *rgb = NULL;
    TU_OK(glf_classifier_create(ctx, 3, 32, 32, 10, 8, &rgb));
    assert_int_equal(glf_classifier_accuracy(rgb, &test, &acc), GLF_ERR_MISMATCH);
    assert_non_null(strstr(glf_last_error(), "28x28"));

    glf_classifier_destroy(c), glf_classifier_destroy(c2), glf_classifier_destroy(c3);
    glf_classifier_destroy(c4);
    glf_classifier_destroy(rgb);
    free(p1), free(p2), free(f1), free(f3), free(img), free(want), free(dir);
    glf_dataset_free(&train), glf_dataset_free(&test);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_and_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
