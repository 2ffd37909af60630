/* Training, checkpoints of a network, and what a trained model is used for:
 * sampling, reconstruction and interpolation. The CLI only parses options
 * and prints; everything a library user needs is here. */
#ifndef GLF_TRAIN_H
#define GLF_TRAIN_H

#include <signal.h>

#include "glf/data.h"
#include "glf/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where training stands: the next step to run is `step` of `epoch`
 * (0-based); t optimizer steps have been taken in all. */
typedef struct glf_train_pos {
    int epoch;
    int step;
    long t;
} glf_train_pos;

typedef struct glf_progress {
    int epoch, epochs;         /* 0-based epoch of the step just done */
    int step, steps_per_epoch; /* 0-based step within the epoch */
    long t;                    /* optimizer steps done */
    double images_per_s, eta_s, elapsed_s;
    glf_losses losses;         /* of the global batch */
    /* Data parallelism (a comm of size > 1), the step just done on this rank: */
    double step_s;      /* wall time, from taking the batch to Adam queued */
    double sync_s;      /* summing the gradients: device-host copies and the collective */
    double sync_copy_s; /*   of which the copies between device and host */
    double bn_sync_s;   /* BatchNorm's statistics summed across ranks (collectives only) */
    double sync_floats; /* floats summed across ranks (gradients, losses, statistics) */
} glf_progress;

/* Data parallelism: glf_train on each of `size` processes ("ranks"), each
 * with its own context. Rank r trains on part r of every batch of the
 * single-process data order (cfg.batch stays the global batch and must
 * divide by size); gradients, losses and the stop flag are summed through
 * `sum` once per step, and BatchNorm's statistics through it too (set on
 * the context as its allreduce hook during the step) unless bn_local.
 * Rank 0 writes the log, the checkpoints and the images; every rank calls
 * the progress callback with the global losses. */
typedef struct glf_comm {
    int rank, size;
    glf_allreduce_fn sum; /* fixed-order in-place sum over the ranks, the same bits on each */
    void *user;
    int bn_local; /* BatchNorm statistics of each rank's part instead of the global batch */
    /* Out: when glf_train fails, the number of ranks that had failed at a
     * point where all of them compare notes (then every rank returns an
     * error and none waits for another); 0 when the failure left the
     * others waiting, so that the caller must stop the job (glf_dist_abort). */
    int failed_together;
} glf_comm;

/* Called after every step (end_of_epoch = 0) and after every epoch's
 * checkpoint and images are written (end_of_epoch = 1). */
typedef void (*glf_progress_fn)(void *user, const glf_progress *p, int end_of_epoch);

typedef struct glf_train_opts {
    glf_config cfg;          /* model + optimisation; shape filled from the data */
    glf_data_source data;
    const char *out_dir;     /* created if missing */
    const char *resume;      /* checkpoint to continue from, or NULL */
    long max_steps;          /* stop after this many optimizer steps in all (0: run all epochs) */
    int images_per_epoch;    /* write sample and reconstruction grids per epoch (default on) */
    volatile sig_atomic_t *stop; /* set (e.g. by SIGINT): finish the step, checkpoint, return */
    glf_progress_fn progress;
    void *user;
    glf_comm *comm; /* NULL: one process */
} glf_train_opts;

/* Trains as configured. Writes OUT/log.csv (one line per step),
 * OUT/checkpoint.glf (atomic, every epoch and when stopped), and per epoch
 * OUT/samples_eEEE.png (8x8) and OUT/recon_eEEE.png. Returns
 * GLF_ERR_INTERRUPTED when *stop was set (after checkpointing), and
 * GLF_ERR_NUMERIC naming the step and the term if a loss is NaN/Inf (the
 * last good checkpoint is kept). */
glf_status glf_train(glf_ctx *ctx, const glf_train_opts *o);

/* ---- checkpoints of a network ---- */
glf_status glf_net_save(glf_net *net, const char *path, const glf_train_pos *pos,
                        const char *data_hash);
/* Creates the network described by the checkpoint (max_batch as given) and
 * loads everything; pos and data_hash (65 bytes) may be NULL. */
glf_status glf_net_load(glf_ctx *ctx, const char *path, int max_batch, glf_net **net,
                        glf_train_pos *pos, char *data_hash);

/* ---- the ae-gauss baseline: a full-covariance Gaussian over latents ---- */
/* Encode every image of d (running BN statistics) and fit mean and
 * covariance; stored in the network (and so in its checkpoints). */
glf_status glf_net_fit_gaussian(glf_net *net, const glf_dataset *d);

/* ---- using a model ---- */
/* n images (n, C, H, W) in [0, 1] into out: noise ~ N(0, T^2 I) (seeded),
 * inverse flow (or the fitted Gaussian in ae-gauss mode), decode; in
 * batches of `batch` (<= the network's maximum). */
glf_status glf_sample(glf_net *net, size_t n, float temperature, unsigned long long seed,
                      glf_bn_mode bn, int batch, float *out);
/* Encode and decode n host images (floats in [0, 1]). */
glf_status glf_reconstruct(glf_net *net, const float *x, size_t n, glf_bn_mode bn, float *out);
/* For each of `pairs` pairs (a_i, b_i) of host images, `steps` images
 * between them (ends included), interpolated linearly in the flow's noise
 * space (in_noise = 1) or in the latent space. out: pairs*steps images. */
glf_status glf_interpolate(glf_net *net, const float *a, const float *b, int pairs, int steps,
                           int in_noise, glf_bn_mode bn, float *out);

/* Float copy of n images of a data set (uint8 -> [0, 1]). */
float *glf_dataset_floats(const glf_dataset *d, size_t first, size_t n);

#ifdef __cplusplus
}
#endif
#endif
