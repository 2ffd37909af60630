/* The training loop: epochs of shuffled batches, one forward/backward and
 * Adam step each, a CSV log line per step, and per epoch an atomic
 * checkpoint plus sample and reconstruction grids. Stopping (SIGINT via
 * opts->stop, or max_steps) checkpoints the exact position, so a resumed
 * run continues bit for bit. */
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

    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    GLF_TRY(glf_dataset_load(&o->data, "train", &train));
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
    int own_test = test.images != train.images;
    if (cfg.channels == 0 && (s = merge_config_(&cfg, &o->cfg, &train)))
        goto done;
    if ((s = mkdir_p_(o->out_dir)))
        goto done;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.glf", o->out_dir);

    int max_batch = cfg.batch > 64 ? cfg.batch : 64;
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
        if (cfg.batch > max_batch) {
            s = glf_fail(GLF_ERR_INTERNAL, "batch of the checkpoint exceeds the network's");
            goto done;
        }
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
        (s = glf_buf_create(ctx, (size_t)cfg.batch * N * 4, &xb)))
        goto done;
    if (cfg.mode == GLF_MODE_VAE_FLOW &&
        !(eps = malloc((size_t)cfg.batch * cfg.latent * sizeof *eps))) {
        s = glf_fail(GLF_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(tmp, sizeof tmp, "%s/log.csv", o->out_dir);
    log = fopen(tmp, o->resume ? "a" : "w");
    if (!log) {
        s = glf_fail(GLF_ERR_IO, "%s: cannot open for writing: %s", tmp, strerror(errno));
        goto done;
    }
    if (!o->resume)
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
            if ((s = glf_net_step_enqueue(net, glf_dp(xb, 0), cfg.batch, eps)))
                goto done;
            glf_status sa = glf_net_adam(net, epoch, pos.t + 1);
            if ((s = glf_net_step_losses(net, &l)) || (s = sa))
                goto done;
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
            fprintf(log, "%d,%d,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.1f,%.6g,%.6g\n", epoch + 1,
                    step, pos.t, l.recon, l.nll, l.entropy, l.total, l.mean_logdet, l.mean_abs_z,
                    pr.images_per_s, glf_steplr(cfg.lr_ae, epoch, cfg.lr_step_epochs, cfg.lr_gamma),
                    glf_steplr(cfg.lr_flow, epoch, cfg.lr_step_epochs, cfg.lr_gamma));
            if (o->progress)
                o->progress(o->user, &pr, 0);
            int stop = o->stop && *o->stop;
            if (stop || (o->max_steps > 0 && pos.t >= o->max_steps)) {
                fflush(log);
                if ((s = glf_net_save(net, ckpt, &pos, train.manifest_sha256)))
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
        fflush(log);
        if (cfg.mode == GLF_MODE_AE_GAUSS) {
            /* The baseline's Gaussian: on the whole set at the end, on a
             * subset for the per-epoch grids. */
            glf_dataset sub = train;
            if (epoch + 1 < cfg.epochs && sub.n > 4096)
                sub.n = 4096;
            if ((s = glf_net_fit_gaussian(net, &sub)))
                goto done;
        }
        if ((s = glf_net_save(net, ckpt, &pos, train.manifest_sha256)))
            goto done;
        if (o->images_per_epoch && (s = epoch_images_(net, o, &test, epoch)))
            goto done;
        if (o->progress)
            o->progress(o->user, &pr, 1);
    }
done:
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
