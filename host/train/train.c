/* The training loop: epochs of shuffled batches, one forward/backward and
 * Adam step each, a CSV log line per step, and per epoch an atomic
 * checkpoint plus sample and reconstruction grids. Stopping (SIGINT via
 * opts->stop, or max_steps) checkpoints the exact position, so a resumed
 * run continues bit for bit. On several ranks (opts->comm) each runs this
 * loop on its part of every batch (train_dp.c); rank 0 writes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "glf/image.h"
#include "glf/ops_flow.h"
#include "glf/rng.h"
#include "glf/train.h"
#include "glf/util.h"
#include "train/train_internal.h"

#define GRID_SEED_ 20260101ull

static glf_status mkdir_p_(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return glf_fail(GLF_ERR_INVALID_ARG, "output folder path too long: %s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return glf_fail(GLF_ERR_IO, "%s: cannot create folder: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return glf_fail(GLF_ERR_IO, "%s: cannot create folder: %s", tmp, strerror(errno));
    return GLF_OK;
}

static const char *bad_term_(const glf_losses *l)
{
    if (!isfinite(l->recon)) return "recon";
    if (!isfinite(l->nll)) return "nll";
    if (!isfinite(l->entropy)) return "entropy";
    if (!isfinite(l->total)) return "total";
    return NULL;
}

/* Per-epoch images: 64 samples and 32 test images beside their
 * reconstructions, with running BatchNorm statistics. */
static glf_status epoch_images_(glf_net *n, const glf_train_opts *o, const glf_dataset *test,
                                int epoch)
{
    const glf_config *c = glf_net_config(n);
    size_t N = (size_t)c->channels * c->height * c->width;
    char path[4400];
    glf_status s = GLF_OK;
    float *x = malloc(64 * N * sizeof *x), *r = malloc(32 * N * sizeof *r), *pairs = NULL;
    if (!x || !r) {
        free(x), free(r);
        return glf_fail(GLF_ERR_NOMEM, "out of memory writing epoch images");
    }
    s = glf_sample(n, 64, 1.0f, GRID_SEED_, GLF_BN_RUNNING, 64, x);
    snprintf(path, sizeof path, "%s/samples_e%04d.png", o->out_dir, epoch + 1);
    if (!s)
        s = glf_png_write_grid(path, x, 64, c->channels, c->height, c->width, 8, 8);
    size_t nt = test->n < 32 ? test->n : 32;
    float *tx = s ? NULL : glf_dataset_floats(test, 0, nt);
    if (!s && !tx)
        s = glf_fail(GLF_ERR_NOMEM, "out of memory writing epoch images");
    if (!s)
        s = glf_reconstruct(n, tx, nt, GLF_BN_RUNNING, r);
    if (!s) {
        /* rows of 8 originals followed by a row of their reconstructions */
        pairs = malloc(2 * nt * N * sizeof *pairs);
        if (!pairs)
            s = glf_fail(GLF_ERR_NOMEM, "out of memory writing epoch images");
        for (size_t i = 0; !s && i < nt; i++) {
            size_t row = i / 8, col = i % 8;
            memcpy(pairs + ((2 * row) * 8 + col) * N, tx + i * N, N * sizeof *pairs);
            memcpy(pairs + ((2 * row + 1) * 8 + col) * N, r + i * N, N * sizeof *pairs);
        }
        snprintf(path, sizeof path, "%s/recon_e%04d.png", o->out_dir, epoch + 1);
        if (!s && nt % 8 == 0)
            s = glf_png_write_grid(path, pairs, (int)(2 * nt), c->channels, c->height, c->width,
                                   (int)(2 * nt / 8), 8);
    }
    free(tx), free(x), free(r), free(pairs);
    return s;
}

/* The preset of the data's shape, then every field the caller set
 * (non-zero) on top. */
static glf_status merge_config_(glf_config *c, const glf_config *o, const glf_dataset *d)
{
    GLF_TRY(glf_config_preset(c, d->channels, d->height, d->width));
#define TAKE_(f) if (o->f) c->f = o->f
    TAKE_(latent); TAKE_(flow_width); TAKE_(flow_blocks); TAKE_(conv1); TAKE_(conv2); TAKE_(fc);
    TAKE_(mode); TAKE_(recon); TAKE_(batch); TAKE_(epochs); TAKE_(seed); TAKE_(lr_ae);
    TAKE_(lr_flow); TAKE_(lr_step_epochs);
#undef TAKE_
    if (o->lr_gamma > 0)
        c->lr_gamma = o->lr_gamma;
    /* beta: as given, else the paper's value for the mode */
    c->beta = o->beta > 0 ? o->beta : c->mode == GLF_MODE_VAE_FLOW ? 400.0f : 1.0f;
    return glf_config_validate(c);
}

/* Rank 0's work at the end of an epoch: the ae-gauss Gaussian, the
 * checkpoint, the grids. */
static glf_status end_of_epoch_(glf_net *net, const glf_train_opts *o, const glf_config *cfg,
                                const glf_dataset *train, const glf_dataset *test,
                                const char *ckpt, const glf_train_pos *pos, int epoch, FILE *log)
{
    fflush(log);
    if (cfg->mode == GLF_MODE_AE_GAUSS) {
        /* The baseline's Gaussian: on the whole set at the end, on a
         * subset for the per-epoch grids. */
        glf_dataset sub = *train;
        if (epoch + 1 < cfg->epochs && sub.n > 4096)
            sub.n = 4096;
        GLF_TRY(glf_net_fit_gaussian(net, &sub));
    }
    GLF_TRY(glf_net_save(net, ckpt, pos, train->manifest_sha256));
    return o->images_per_epoch ? epoch_images_(net, o, test, epoch) : GLF_OK;
}

/* The batch B must divide evenly over the ranks, at least 2 images each
 * (BatchNorm's backward needs 2 values per channel on each rank). */
static glf_status rank_batch_(int B, int ranks)
{
    if (B % ranks != 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "batch %d does not divide evenly over %d ranks "
                        "(%d = %d x %d + %d): the batch is the global one, split evenly; "
                        "expected a multiple of %d such as %d or %d", B, ranks, B, ranks,
                        B / ranks, B % ranks, ranks,
                        B / ranks >= 2 ? B / ranks * ranks : 2 * ranks,
                        B / ranks >= 2 ? (B / ranks + 1) * ranks : 3 * ranks);
    if (B / ranks < 2)
        return glf_fail(GLF_ERR_INVALID_ARG, "batch %d over %d ranks gives %d image per rank; "
                        "expected at least 2 (a batch of %d or more)", B, ranks, B / ranks,
                        2 * ranks);
    return GLF_OK;
}

glf_status glf_train(glf_ctx *ctx, const glf_train_opts *o)
{
    glf_dataset train, test;
    glf_net *net = NULL;
    glf_batcher *bat = NULL;
    cl_mem xb = NULL;
    FILE *log = NULL;
    float *eps = NULL;
    glf_train_pos pos = {0, 0, 0};
    glf_config cfg = o->cfg;
    char ckpt[4400], tmp[4400];
    glf_status s;
    /* Data parallelism: rank of ranks, each on B/ranks images of a batch B. */
    glf_comm *cm = o->comm && o->comm->size > 1 ? o->comm : NULL;
    int rank = cm ? cm->rank : 0, ranks = cm ? cm->size : 1, root = rank == 0, agreed = 0;
    glf_dp_ dp;
    memset(&dp, 0, sizeof dp);
    if (cm)
        cm->failed_together = 0;

    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    int own_test = 0;
    if ((s = glf_dataset_load(&o->data, "train", &train)))
        goto done;
    if ((s = glf_dataset_load(&o->data, "test", &test)) != GLF_OK) {
        /* A data set without a test split shows training images instead. */
        glf_clear_error();
        memset(&test, 0, sizeof test);
        test = train;
        test.images = train.images;
        test.labels = NULL;
        test.n = train.n;
        s = GLF_OK;
    }
    own_test = test.images != train.images;
    if (cfg.channels == 0 && (s = merge_config_(&cfg, &o->cfg, &train)))
        goto done;
    if (root && (s = mkdir_p_(o->out_dir)))
        goto done;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.glf", o->out_dir);

    /* The batch of each rank; the network holds it (and the 64 images of
     * the per-epoch grids). */
    if (cm && (s = rank_batch_(cfg.batch, ranks)))
        goto done;
    int local_batch = cfg.batch / ranks;
    int max_batch = local_batch > 64 ? local_batch : 64;
    if (o->resume) {
        char hash[65];
        int epochs = cfg.epochs;
        if ((s = glf_net_load(ctx, o->resume, max_batch, &net, &pos, hash)))
            goto done;
        cfg = *glf_net_config(net);
        cfg.epochs = epochs;
        /* Options given with --resume must agree with the checkpoint. */
        glf_config want = cfg;
#define OVR_(f) if (o->cfg.f) want.f = o->cfg.f
        OVR_(latent); OVR_(flow_width); OVR_(flow_blocks); OVR_(conv1); OVR_(conv2); OVR_(fc);
        OVR_(mode);
#undef OVR_
        if ((s = glf_config_same_arch(&cfg, &want, "the options given with --resume")))
            goto done;
        if (o->cfg.batch && o->cfg.batch != cfg.batch) {
            s = glf_fail(GLF_ERR_MISMATCH, "%s was trained with batch %d, --batch %d given: an "
                         "exact resume needs the same batch", o->resume, cfg.batch, o->cfg.batch);
            goto done;
        }
        if (hash[0] && strcmp(hash, train.manifest_sha256) != 0) {
            s = glf_fail(GLF_ERR_MISMATCH,
                         "%s was trained on data with sha256 %s, but the data given has %s: "
                         "expected the same data set to resume", o->resume, hash,
                         train.manifest_sha256);
            goto done;
        }
        if (cm && (s = rank_batch_(cfg.batch, ranks)))
            goto done;
        if (cfg.batch / ranks > max_batch) {
            s = glf_fail(GLF_ERR_INVALID_ARG, "%s was trained with batch %d: give --batch %d to "
                         "resume it", o->resume, cfg.batch, cfg.batch);
            goto done;
        }
        local_batch = cfg.batch / ranks;
    } else {
        if (cfg.channels != train.channels || cfg.height != train.height ||
            cfg.width != train.width) {
            s = glf_fail(GLF_ERR_MISMATCH,
                         "model expects %dx%dx%d images, the data set '%s' has %dx%dx%d",
                         cfg.channels, cfg.height, cfg.width, train.name, train.channels,
                         train.height, train.width);
            goto done;
        }
        if ((s = glf_net_create(ctx, &cfg, max_batch, &net)) || (s = glf_net_init(net, cfg.seed)))
            goto done;
    }
    size_t N = (size_t)cfg.channels * cfg.height * cfg.width;
    if ((s = glf_batcher_create(ctx, &train, cfg.batch, cfg.seed, 1, 1, &bat)))
        goto done;
    if (cm && ((s = glf_batcher_shard(bat, rank, ranks)) ||
               (s = glf_net_set_loss_batch(net, cfg.batch)) || (s = glf_dp_init_(&dp, cm, net))))
        goto done;
    int spe = glf_batcher_steps_per_epoch(bat);
    if (spe < 1) {
        s = glf_fail(GLF_ERR_INVALID_ARG, "data set '%s' has %zu images, fewer than one batch "
                     "of %d", train.name, train.n, cfg.batch);
        goto done;
    }
    if (pos.step >= spe) { /* a checkpoint taken at the very end of an epoch */
        pos.epoch++;
        pos.step = 0;
    }
    if ((s = glf_batcher_seek(bat, pos.epoch, pos.step)) ||
        (s = glf_buf_create(ctx, (size_t)local_batch * N * 4, &xb)))
        goto done;
    if (cfg.mode == GLF_MODE_VAE_FLOW &&
        !(eps = malloc((size_t)cfg.batch * cfg.latent * sizeof *eps))) {
        s = glf_fail(GLF_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(tmp, sizeof tmp, "%s/log.csv", o->out_dir);
    log = root ? fopen(tmp, o->resume ? "a" : "w") : NULL;
    if (root && !log) {
        s = glf_fail(GLF_ERR_IO, "%s: cannot open for writing: %s", tmp, strerror(errno));
        goto done;
    }
    /* Every rank set up (or none goes on). */
    agreed = 1;
    if ((s = glf_dp_agree_(cm, GLF_OK, "to set up")))
        goto done;
    if (root && !o->resume)
        fprintf(log, "epoch,step,t,recon,nll,entropy,total,mean_logdet,mean_abs_z,images_per_s,"
                     "lr_ae,lr_flow\n");

    double t0 = glf_now();
    long steps_run = 0, total_steps = (long)cfg.epochs * spe;
    glf_progress pr;
    memset(&pr, 0, sizeof pr);
    for (int epoch = pos.epoch; epoch < cfg.epochs; epoch++) {
        for (int step = (epoch == pos.epoch ? pos.step : 0); step < spe; step++) {
            int e, st;
            if ((s = glf_batcher_next(bat, glf_dp(xb, 0), NULL, &e, &st)))
                goto done;
            if (e != epoch || st != step) {
                s = glf_fail(GLF_ERR_INTERNAL, "batcher at epoch %d step %d, expected %d/%d", e,
                             st, epoch, step);
                goto done;
            }
            if (eps) { /* reparameterisation noise of optimizer step t: resumable */
                glf_rng r;
                glf_rng_init(&r, cfg.seed ^ 0x9e3779b97f4a7c15ull, (uint64_t)pos.t);
                for (size_t i = 0; i < (size_t)cfg.batch * cfg.latent; i++)
                    eps[i] = (float)glf_rng_normal(&r);
            }
            /* Forward, backward and Adam are queued before the host waits for
             * the losses, so the device works through Adam while the host
             * logs and fetches the next batch. A NaN is caught after Adam
             * ran on it; nothing is saved then (the last good checkpoint
             * stays), so that costs nothing. */
            glf_losses l;
            int stop = o->stop && *o->stop;
            double ts = glf_now();
            if (cm) { /* the step, then one sum of gradients, losses and stop flags */
                const float *my_eps = eps ? eps + (size_t)rank * local_batch * cfg.latent : NULL;
                if ((s = glf_dp_step_(&dp, net, glf_dp(xb, 0), local_batch, my_eps, stop, &l,
                                      &stop, &pr)) ||
                    (s = glf_net_adam(net, epoch, pos.t + 1)))
                    goto done;
                pr.step_s = glf_now() - ts;
            } else {
                if ((s = glf_net_step_enqueue(net, glf_dp(xb, 0), cfg.batch, eps)))
                    goto done;
                glf_status sa = glf_net_adam(net, epoch, pos.t + 1);
                if ((s = glf_net_step_losses(net, &l)) || (s = sa))
                    goto done;
            }
            const char *bad = bad_term_(&l);
            if (bad) {
                s = glf_fail(GLF_ERR_NUMERIC,
                             "the %s loss is %g at epoch %d step %d (optimizer step %ld); "
                             "stopping, the last good checkpoint is %s", bad,
                             !strcmp(bad, "recon") ? l.recon : !strcmp(bad, "nll") ? l.nll
                                                                                  : l.total,
                             epoch + 1, step, pos.t + 1, ckpt);
                goto done;
            }
            pos.t++;
            pos.epoch = epoch;
            pos.step = step + 1;
            steps_run++;
            double el = glf_now() - t0;
            pr.epoch = epoch, pr.epochs = cfg.epochs, pr.step = step, pr.steps_per_epoch = spe;
            pr.t = pos.t;
            pr.elapsed_s = el;
            pr.images_per_s = (double)steps_run * cfg.batch / (el > 0 ? el : 1e-9);
            pr.eta_s = (double)(total_steps - ((long)epoch * spe + step + 1)) * el /
                       (double)steps_run;
            pr.losses = l;
            if (log)
                fprintf(log, "%d,%d,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.1f,%.6g,%.6g\n",
                        epoch + 1, step, pos.t, l.recon, l.nll, l.entropy, l.total,
                        l.mean_logdet, l.mean_abs_z, pr.images_per_s,
                        glf_steplr(cfg.lr_ae, epoch, cfg.lr_step_epochs, cfg.lr_gamma),
                        glf_steplr(cfg.lr_flow, epoch, cfg.lr_step_epochs, cfg.lr_gamma));
            if (o->progress)
                o->progress(o->user, &pr, 0);
            if (!cm)
                stop = o->stop && *o->stop;
            if (stop || (o->max_steps > 0 && pos.t >= o->max_steps)) {
                if (log)
                    fflush(log);
                s = root ? glf_net_save(net, ckpt, &pos, train.manifest_sha256) : GLF_OK;
                if ((s = glf_dp_agree_(cm, s, "to write the checkpoint")))
                    goto done;
                s = stop ? glf_fail(GLF_ERR_INTERRUPTED,
                                    "stopped at epoch %d step %d; checkpoint %s (resume with "
                                    "--resume %s)", epoch + 1, step + 1, ckpt, ckpt)
                         : GLF_OK;
                goto done;
            }
        }
        pos.epoch = epoch + 1;
        pos.step = 0;
        s = root ? end_of_epoch_(net, o, &cfg, &train, &test, ckpt, &pos, epoch, log) : GLF_OK;
        if ((s = glf_dp_agree_(cm, s, "at the end of the epoch (checkpoint, grids)")))
            goto done;
        if (o->progress)
            o->progress(o->user, &pr, 1);
    }
done:
    if (cm && !agreed) /* failed before the set-up's agreement: the others learn it there */
        s = glf_dp_agree_(cm, s, "to set up");
    glf_dp_free_(&dp);
    if (log)
        fclose(log);
    free(eps);
    glf_buf_release(xb);
    glf_batcher_destroy(bat);
    glf_net_destroy(net);
    if (own_test)
        glf_dataset_free(&test);
    glf_dataset_free(&train);
    return s;
}
