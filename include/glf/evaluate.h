/* `glf eval` as a library call: sample quality in the feature space of a
 * classifier trained by glf (FID-clf, improved precision/recall, class
 * histogram), the test set's reconstruction error and NLL, and the same
 * statistics for real training images (the floor). No Python. */
#ifndef GLF_EVALUATE_H
#define GLF_EVALUATE_H

#include "glf/data.h"
#include "glf/net.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GLF_EVAL_MAX_CLASSES 64

typedef struct glf_eval_opts {
    const char *model;     /* GLF checkpoint; NULL when only --samples are scored */
    const char *clf;       /* classifier checkpoint (glf classifier train) */
    glf_data_source data;  /* test split: reference features, recon, NLL; train: the floor */
    const char *samples;   /* .npy (float in [0,1] or uint8), .idx (uint8) or a PNG folder;
                              NULL: draw from the model */
    size_t n;              /* samples (0: 10000) */
    size_t floor_n;        /* real training images for the floor (0: n) */
    unsigned long long seed;
    glf_bn_mode bn;        /* BatchNorm statistics when sampling */
    int k;                 /* precision/recall neighbours (0: 3) */
} glf_eval_opts;

typedef struct glf_eval_scores {
    size_t n;
    double fid, precision, recall, entropy;
    size_t counts[GLF_EVAL_MAX_CLASSES];
} glf_eval_scores;

typedef struct glf_eval_report {
    int classes, feature_dim;
    double clf_accuracy;       /* stored with the classifier (< 0: unknown) */
    glf_eval_scores samples;   /* samples vs the test set */
    glf_eval_scores floor;     /* real training images vs the test set */
    int have_model;            /* the test-set fields below are set */
    size_t test_n;
    double recon_per_image;    /* sum of squared errors per image */
    double recon_per_pixel;
    double nll;                /* mean NLL of the test latents (flow, or the ae-gauss Gaussian) */
    double mean_logdet;        /* mean log-det of the flow on the test latents */
} glf_eval_report;

glf_status glf_evaluate(glf_ctx *ctx, const glf_eval_opts *o, glf_eval_report *r);

/* Images from a file made anywhere: .npy (n,C,H,W) or (n,H,W) float32 in
 * [0,1] or uint8; .idx uint8 (n,H,W) or (n,C,H,W); a folder of PNGs (sorted
 * by name). Shape must be C x H x W; at most max_n images (0: all). */
glf_status glf_load_images(const char *path, int C, int H, int W, size_t max_n, float **x,
                           size_t *n);

#ifdef __cplusplus
}
#endif
#endif
