/* `glf train`: options into a glf_train_opts, a progress line (in place on a
 * terminal, plain lines otherwise), and Ctrl-C handling: the first finishes
 * the step and checkpoints, the second exits at once. Under an MPI launcher
 * every rank runs this: it joins the job (glf/dist.h), opens its device,
 * and after an error on any rank stops the whole job. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "glf/dist.h"
#include "glf/train.h"
#include "glf/util.h"

static volatile sig_atomic_t stop_;

static void on_sigint_(int sig)
{
    (void)sig;
    if (stop_)
        _exit(130); /* second Ctrl-C: at once */
    stop_ = 1;
}

struct prog_ {
    int tty, quiet; /* quiet: ranks other than 0 */
    double last;
};

static void fmt_time_(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0)
        s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

static void progress_(void *user, const glf_progress *p, int end_of_epoch)
{
    struct prog_ *pg = user;
    char eta[32], el[32];
    if (pg->quiet)
        return;
    fmt_time_(p->eta_s, eta, sizeof eta);
    fmt_time_(p->elapsed_s, el, sizeof el);
    if (end_of_epoch) {
        fprintf(stderr, "%sepoch %d/%d done in %s: recon %.3f nll %.3f logdet %.3f |z| %.3f "
                        "(%.0f img/s); checkpoint and grids written\n",
                pg->tty ? "\r\033[K" : "", p->epoch + 1, p->epochs, el, p->losses.recon,
                p->losses.nll, p->losses.mean_logdet, p->losses.mean_abs_z, p->images_per_s);
        return;
    }
    double now = glf_now();
    int last_step = p->step + 1 == p->steps_per_epoch;
    if (!pg->tty && now - pg->last < 10.0 && !last_step && p->t > 1)
        return; /* plain lines: about one every 10 s */
    pg->last = now;
    fprintf(stderr, "%sepoch %d/%d step %d/%d  %.0f img/s  ETA %s  recon %.3f nll %.3f "
                    "logdet %.3f |z| %.3f%s",
            pg->tty ? "\r\033[K" : "", p->epoch + 1, p->epochs, p->step + 1, p->steps_per_epoch,
            p->images_per_s, eta, p->losses.recon, p->losses.nll, p->losses.mean_logdet,
            p->losses.mean_abs_z, pg->tty ? "" : "\n");
    fflush(stderr);
}

static void usage_(void)
{
    printf("usage: glf train (--dataset NAME [DIR] | --data FILE.tar.zst) [options]\n\n"
           "Trains a GLF model; writes OUT/log.csv (every step), OUT/checkpoint.glf, and per\n"
           "epoch OUT/samples_eNNNN.png (8x8 samples) and OUT/recon_eNNNN.png (test images,\n"
           "each row followed by its reconstructions).\n\n"
           "data:\n%s\n"
           "model (defaults: the preset of the data's shape, glf-method.md):\n"
           "  --mode M           glf (stop-gradient, default) | regularized | vae-flow | ae-gauss\n"
           "  --beta B           recon weight: regularized (B/2)*recon + nll (default 1);\n"
           "                     vae-flow B*recon + nll + entropy (default 400)\n"
           "  --recon R          mse (default) | bce\n"
           "  --latent D         latent size (28x28: 20; 32x32 and 64x64: 64)\n"
           "  --flow-width H     flow MLP width (64 / 256)\n"
           "  --flow-blocks K    coupling blocks (4)\n"
           "  --conv1 C --conv2 C --fc F   auto-encoder widths (64, 128, 1024)\n"
           "training:\n"
           "  --epochs N         (preset: 100 for 28x28)\n"
           "  --batch N          (256; the last partial batch is dropped)\n"
           "  --lr-ae X --lr-flow X   (1e-3 each, halved every --lr-step epochs, default 50)\n"
           "  --seed N           (123; N >= 1)\n"
           "  --max-steps N      stop (with a checkpoint) after N optimizer steps in all\n"
           "  --out DIR          output folder (default out)\n"
           "  --resume CKPT      continue exactly where CKPT stopped (same data)\n"
           "  --no-images        skip the per-epoch sample and reconstruction grids\n"
           "  --device SPEC      OpenCL device (see glf devices); several ranks: a list\n"
           "                     A,B,... maps node-local rank r to element r mod its length\n"
           "several ranks (mpirun -np N glf train ...; README \"Several devices and machines\"):\n"
           "  --bn-stats S       sync (default): BatchNorm statistics over the global batch,\n"
           "                     summed across ranks; local: over each rank's part only\n"
           "  --dist-timeout S   a rank that waits S seconds for the others fails and stops\n"
           "                     the job (600)\n\n"
           "Ctrl-C finishes the current step, writes a checkpoint and exits 0; a second\n"
           "Ctrl-C exits at once. A NaN/Inf loss stops with a message naming the step and\n"
           "the term, keeping the last good checkpoint (exit 1).\n\n"
           "On N ranks --batch is the global batch (a multiple of N), split evenly; the data\n"
           "order and the model are those of one process. Each rank drives one device: by\n"
           "default the GPU (else CPU device) of its node-local index, all sharing one if\n"
           "there is one. Rank 0 writes the log, checkpoints and grids (their sampling runs\n"
           "on rank 0 alone). SIGINT or SIGTERM on any rank stops all at the same step with\n"
           "a checkpoint; an error on any rank stops the job (exit non-zero).\n",
           cli_data_source_help);
}

/* This rank's context on its device (glf_dist_device_spec), announced with
 * its rank, pid and host on one line. */
static glf_ctx *open_rank_device_(glf_dist *d, const char *spec)
{
    char one[512], line[1024];
    int rank = glf_dist_rank(d), ranks = glf_dist_size(d);
    glf_ctx *ctx = NULL;
    glf_status s = glf_dist_device_spec(spec, glf_dist_local_rank(d), one, sizeof one);
    if (!s)
        s = glf_ctx_create(one, &ctx);
    if (s) {
        fprintf(stderr, "glf train: rank %d/%d: error (%s): %s\n", rank, ranks,
                glf_status_str(s), glf_last_error());
        return NULL;
    }
    glf_ctx_describe(ctx, line, sizeof line);
    fprintf(stderr, "glf train: rank %d/%d (pid %ld, %s, local rank %d/%d): using %s\n", rank,
            ranks, (long)getpid(), glf_dist_host(d), glf_dist_local_rank(d),
            glf_dist_local_size(d), line);
    return ctx;
}

int glf_cmd_train(int argc, char **argv)
{
    glf_train_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = "out";
    o.images_per_epoch = 1;
    const char *spec = NULL, *v;
    long lv;
    double dv, timeout = 600;
    int bn_local = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage_();
            return 0;
        }
        if ((r = cli_data_source(argc, argv, &i, &o.data)) != 0) {
            if (r < 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--out", &o.out_dir)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--resume", &o.resume)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--mode", &v)) != 0) {
            if (r < 0) return 2;
            if (glf_mode_parse(v, &o.cfg.mode) != GLF_OK)
                return cli_error("train", GLF_ERR_INVALID_ARG);
        } else if ((r = cli_opt(argc, argv, &i, "--recon", &v)) != 0) {
            if (r < 0) return 2;
            if (glf_recon_parse(v, &o.cfg.recon) != GLF_OK)
                return cli_error("train", GLF_ERR_INVALID_ARG);
        } else if ((r = cli_opt_double(argc, argv, &i, "--beta", &dv)) != 0) {
            if (r < 0 || !(dv > 0)) { fprintf(stderr, "glf train: --beta must be > 0\n"); return 2; }
            o.cfg.beta = (float)dv;
        } else if ((r = cli_opt_double(argc, argv, &i, "--lr-ae", &dv)) != 0) {
            if (r < 0 || !(dv > 0)) { fprintf(stderr, "glf train: --lr-ae must be > 0\n"); return 2; }
            o.cfg.lr_ae = (float)dv;
        } else if ((r = cli_opt_double(argc, argv, &i, "--lr-flow", &dv)) != 0) {
            if (r < 0 || !(dv > 0)) { fprintf(stderr, "glf train: --lr-flow must be > 0\n"); return 2; }
            o.cfg.lr_flow = (float)dv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--lr-step", 1, 100000, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.lr_step_epochs = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--latent", 2, 1024, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.latent = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--flow-width", 1, 65536, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.flow_width = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--flow-blocks", 1, 16, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.flow_blocks = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--conv1", 1, 4096, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.conv1 = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--conv2", 1, 4096, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.conv2 = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--fc", 1, 65536, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.fc = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--epochs", 1, 100000, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.epochs = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--batch", 2, 65536, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.batch = (int)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--seed", 1, 0x7fffffffL, &lv)) != 0) {
            if (r < 0) return 2;
            o.cfg.seed = (unsigned long long)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--max-steps", 1, 0x7fffffffL, &lv)) != 0) {
            if (r < 0) return 2;
            o.max_steps = lv;
        } else if (!strcmp(argv[i], "--no-images")) {
            o.images_per_epoch = 0;
        } else if ((r = cli_opt(argc, argv, &i, "--bn-stats", &v)) != 0) {
            if (r < 0) return 2;
            if (strcmp(v, "sync") && strcmp(v, "local")) {
                fprintf(stderr, "glf train: --bn-stats '%s': expected sync or local\n", v);
                return 2;
            }
            bn_local = !strcmp(v, "local");
        } else if ((r = cli_opt_double(argc, argv, &i, "--dist-timeout", &dv)) != 0) {
            if (r < 0 || !(dv > 0)) {
                fprintf(stderr, "glf train: --dist-timeout must be > 0 seconds\n");
                return 2;
            }
            timeout = dv;
        } else {
            fprintf(stderr, "glf train: unknown option '%s' (see glf train --help)\n", argv[i]);
            return 2;
        }
    }
    if (!o.data.name && !o.data.archive) {
        fprintf(stderr, "glf train: no data: give --dataset NAME [DIR] or --data FILE "
                        "(see glf train --help)\n");
        return 2;
    }
    glf_dist *dist;
    glf_status s = glf_dist_init(NULL, NULL, timeout, &dist);
    if (s != GLF_OK)
        return cli_error("train", s);
    int rank = glf_dist_rank(dist), ranks = glf_dist_size(dist);
    glf_comm comm = glf_dist_comm(dist, bn_local);
    glf_ctx *ctx = ranks > 1 || (spec && strchr(spec, ',')) ? open_rank_device_(dist, spec)
                                                            : cli_open_device("train", spec);
    if (!ctx) {
        if (ranks > 1)
            glf_dist_abort(dist, 1);
        glf_dist_finalize(dist);
        return 1;
    }
    struct prog_ pg = {isatty(2) && rank == 0, rank != 0, 0.0};
    o.progress = progress_;
    o.user = &pg;
    o.stop = &stop_;
    o.comm = &comm;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint_;
    sigaction(SIGINT, &sa, NULL);
    if (ranks > 1) /* what mpirun sends every rank on a Ctrl-C at its terminal */
        sigaction(SIGTERM, &sa, NULL);
    s = glf_train(ctx, &o);
    glf_ctx_destroy(ctx);
    if (pg.tty)
        fprintf(stderr, "\n");
    int rc = 0;
    if (s == GLF_ERR_INTERRUPTED) {
        if (rank == 0)
            fprintf(stderr, "glf train: %s\n", glf_last_error());
    } else if (s != GLF_OK && ranks > 1 && comm.failed_together) {
        /* Every rank knows and returns: one message each where they differ. */
        if (rank == 0 || (s != GLF_ERR_COMM && comm.failed_together < ranks))
            fprintf(stderr, "glf train: rank %d/%d: error (%s): %s\n", rank, ranks,
                    glf_status_str(s), glf_last_error());
        rc = 1;
    } else if (s != GLF_OK && ranks > 1) {
        /* The others may be waiting for this rank: stop them all. */
        fprintf(stderr, "glf train: rank %d/%d: error (%s): %s\n", rank, ranks,
                glf_status_str(s), glf_last_error());
        glf_dist_abort(dist, 1);
        rc = 1;
    } else if (s != GLF_OK) {
        rc = cli_error("train", s);
    } else if (rank == 0) {
        fprintf(stderr, "glf train: done; checkpoint %s/checkpoint.glf\n", o.out_dir);
    }
    glf_dist_finalize(dist);
    return rc;
}
