/* The small CNN whose 128-d feature layer defines "FID-clf": trained by glf
 * itself on the labelled data set (Inception weights are not available
 * offline). conv 32 k3 s1 p1 -> ReLU -> conv 64 k4 s2 p1 -> ReLU -> conv 128
 * k4 s2 p1 -> ReLU -> flatten -> linear 128 (features) -> ReLU -> linear
 * classes; softmax cross-entropy; Adam. Built only from libglf's ops. */
#ifndef GLF_CLASSIFIER_H
#define GLF_CLASSIFIER_H

#include <stddef.h>

#include "glf/data.h"
#include "glf/runtime.h"
#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Width of the feature layer (the space FID-clf and precision/recall use). */
#define GLF_CLF_FEATURES 128
/* Checkpoint record naming the format ("glf-classifier-1"). */
#define GLF_CLF_KIND "glf-classifier-1"

typedef struct glf_classifier glf_classifier;

/* Device buffers for images (channels, height, width), height and width
 * divisible by 4, `classes` outputs, batches of at most max_batch. The
 * parameters are left uninitialised: call glf_classifier_init or _load. */
glf_status glf_classifier_create(glf_ctx *ctx, int channels, int height, int width, int classes,
                                 int max_batch, glf_classifier **out);
void glf_classifier_destroy(glf_classifier *c);

/* PyTorch's default initialisation (weights and biases U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in))), drawn on the host from a counter-based RNG: the same
 * for any device. Also zeroes Adam's moments and step. */
glf_status glf_classifier_init(glf_classifier *c, unsigned long long seed);

size_t glf_classifier_param_count(const glf_classifier *c);
/* Parameters as one flat float array in PyTorch state_dict order:
 * conv1.weight, conv1.bias, conv2.*, conv3.*, fc1.*, fc2.* (blocking copies). */
glf_status glf_classifier_get_params(glf_classifier *c, float *host);
glf_status glf_classifier_set_params(glf_classifier *c, const float *host);

/* Forward pass on x (B, C, H, W), B <= max_batch. features (B, 128): the
 * feature layer before its ReLU; logits (B, classes). Either may have buf
 * NULL (not wanted). Enqueue only. */
glf_status glf_classifier_forward(glf_classifier *c, glf_dptr features, glf_dptr logits,
                                  glf_dptr x, int B);

/* One Adam step (t >= 1, lr, betas 0.9/0.999, eps 1e-8) on the mean
 * cross-entropy of x (B, C, H, W) with labels (B cl_int on the device).
 * loss (1 float, device) receives the batch loss (buf NULL: not wanted). */
glf_status glf_classifier_train_step(glf_classifier *c, glf_dptr loss, glf_dptr x,
                                     cl_mem labels, int B, float lr, long t);

typedef struct glf_clf_train_opts {
    int epochs;              /* 0: 5 */
    int batch;               /* 0: 128 (<= max_batch) */
    float lr;                /* 0: 1e-3 */
    unsigned long long seed; /* initialisation and shuffling */
    /* Called after each epoch (1-based) with its mean training loss; non-zero stops
     * with GLF_ERR_INTERRUPTED. May be NULL. */
    int (*on_epoch)(void *user, int epoch, double mean_loss);
    void *user;
} glf_clf_train_opts;

/* Initialise from opts->seed and train on a labelled data set (shuffled
 * each epoch, last partial batch dropped). Same seed, same data: same bits. */
glf_status glf_classifier_train(glf_classifier *c, const glf_dataset *train,
                                const glf_clf_train_opts *opts);

/* Features (n, 128) and predicted classes (n) of the first n images of a
 * data set in order (n 0: all). features, pred and labels (the data set's
 * own labels; needs a labelled set) may each be NULL. */
glf_status glf_classifier_dataset_features(glf_classifier *c, const glf_dataset *d, size_t n,
                                           float *features, int *pred, int *labels);

/* Features and predicted classes of n host images (n, C, H, W) in [0, 1]. */
glf_status glf_classifier_features(glf_classifier *c, const float *images, size_t n,
                                   float *features, int *pred);

/* Accuracy on a labelled data set, in [0, 1]. */
glf_status glf_classifier_accuracy(glf_classifier *c, const glf_dataset *d, double *accuracy);

/* Checkpoint (glf_ckpt container): "kind", "clf.shape" = {C, H, W, classes},
 * parameters as "clf.<state_dict name>", "clf.test_accuracy" in ppm when
 * known (< 0: not stored). load creates the classifier from the file. */
glf_status glf_classifier_save(glf_classifier *c, const char *path, double test_accuracy);
glf_status glf_classifier_load(glf_ctx *ctx, const char *path, int max_batch,
                               glf_classifier **out, double *test_accuracy);

#ifdef __cplusplus
}
#endif
#endif
