/* `glf classifier train` (the feature network of FID-clf) and `glf eval`
 * (FID-clf, precision/recall, class histogram, test recon and NLL, and the
 * real-data floor), as a table or JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "glf/classifier.h"
#include "glf/evaluate.h"

static int on_epoch_(void *user, int epoch, double loss)
{
    (void)user;
    fprintf(stderr, "glf classifier: epoch %d done, mean training loss %.4f\n", epoch, loss);
    return 0;
}

static int classifier_train_(int argc, char **argv)
{
    glf_data_source src;
    memset(&src, 0, sizeof src);
    const char *out = NULL, *spec = NULL;
    long epochs = 5, seed = 123;
    for (int i = 2; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: glf classifier train (--dataset NAME [DIR] | --data FILE) -o CLF "
                   "[--epochs 5] [--seed 123]\n\n"
                   "Trains the CNN whose 128-d feature layer glf eval measures FID-clf and\n"
                   "precision/recall in (conv 32 k3 -> conv 64 k4 s2 -> conv 128 k4 s2 -> linear\n"
                   "128 -> linear classes; Adam 1e-3, batch 128) and prints test accuracy.\n\n"
                   "data:\n%s  --device SPEC          OpenCL device\n", cli_data_source_help);
            return 0;
        }
        if ((r = cli_data_source(argc, argv, &i, &src)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "-o", &out)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt_long(argc, argv, &i, "--epochs", 1, 1000, &epochs)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt_long(argc, argv, &i, "--seed", 0, 0x7fffffffL, &seed)) != 0) {
            if (r < 0) return 2;
        } else {
            fprintf(stderr, "glf classifier train: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!out || (!src.name && !src.archive)) {
        fprintf(stderr, "glf classifier train: needs data (--dataset/--data) and -o CLF\n");
        return 2;
    }
    glf_ctx *ctx = cli_open_device("classifier", spec);
    if (!ctx)
        return 1;
    glf_dataset train, test;
    glf_classifier *c = NULL;
    double acc = -1;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    glf_status s = glf_dataset_load(&src, "train", &train);
    if (!s)
        s = glf_dataset_load(&src, "test", &test);
    if (!s)
        s = glf_classifier_create(ctx, train.channels, train.height, train.width,
                                  train.classes > 0 ? train.classes : 10, 500, &c);
    glf_clf_train_opts to = {(int)epochs, 0, 0.0f, (unsigned long long)seed, on_epoch_, NULL};
    if (!s)
        s = glf_classifier_train(c, &train, &to);
    if (!s)
        s = glf_classifier_accuracy(c, &test, &acc);
    if (!s)
        s = glf_classifier_save(c, out, acc);
    if (!s)
        printf("classifier: test accuracy %.2f%% on %zu images of '%s'; saved %s\n", 100 * acc,
               test.n, test.name, out);
    glf_classifier_destroy(c);
    glf_dataset_free(&train);
    glf_dataset_free(&test);
    glf_ctx_destroy(ctx);
    return s ? cli_error("classifier train", s) : 0;
}

int glf_cmd_classifier(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "train"))
        return classifier_train_(argc, argv);
    fprintf(stderr, "usage: glf classifier train ... (see glf classifier train --help)\n");
    return 2;
}

static void scores_json_(FILE *f, const char *name, const glf_eval_scores *s, int classes)
{
    fprintf(f, "  \"%s\": {\"n\": %zu, \"fid_clf\": %.6g, \"precision\": %.6g, \"recall\": %.6g, "
               "\"class_entropy\": %.6g, \"class_counts\": [", name, s->n, s->fid, s->precision,
            s->recall, s->entropy);
    for (int i = 0; i < classes; i++)
        fprintf(f, "%s%zu", i ? ", " : "", s->counts[i]);
    fprintf(f, "]}");
}

int glf_cmd_eval(int argc, char **argv)
{
    glf_eval_opts o;
    memset(&o, 0, sizeof o);
    o.seed = 1;
    const char *spec = NULL, *json = NULL, *v;
    long lv;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: glf eval --clf CLF (--dataset NAME [DIR] | --data FILE)\n"
                   "                [--ckpt MODEL] [--samples FILE.npy|.idx|DIR] [--n 10000]\n"
                   "                [--seed 1] [--bn running|batch] [--json OUT]\n\n"
                   "Scores samples (drawn from MODEL, or read from --samples, made by anything)\n"
                   "against the test set in the feature space of a classifier trained by\n"
                   "`glf classifier train` (FID-clf: Frechet distance of 128-d features;\n"
                   "improved precision/recall, k = 3; class histogram and its entropy), and the\n"
                   "same for N real training images (the floor). With --ckpt, also the test\n"
                   "set's reconstruction error and the NLL of its latents.\n\n"
                   "data:\n%s", cli_data_source_help);
            return 0;
        }
        if ((r = cli_data_source(argc, argv, &i, &o.data)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--clf", &o.clf)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--ckpt", &o.model)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--samples", &o.samples)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--json", &json)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--bn", &v)) != 0) {
            if (r < 0) return 2;
            if (!strcmp(v, "batch")) o.bn = GLF_BN_BATCH;
            else if (!strcmp(v, "running")) o.bn = GLF_BN_RUNNING;
            else { fprintf(stderr, "glf eval: --bn '%s': expected running or batch\n", v); return 2; }
        } else if ((r = cli_opt_long(argc, argv, &i, "--n", 4, 10000000, &lv)) != 0) {
            if (r < 0) return 2;
            o.n = (size_t)lv;
        } else if ((r = cli_opt_long(argc, argv, &i, "--seed", 0, 0x7fffffffL, &lv)) != 0) {
            if (r < 0) return 2;
            o.seed = (unsigned long long)lv;
        } else {
            fprintf(stderr, "glf eval: unknown option '%s' (see glf eval --help)\n", argv[i]);
            return 2;
        }
    }
    if (!o.clf || (!o.data.name && !o.data.archive) || (!o.model && !o.samples)) {
        fprintf(stderr, "glf eval: needs --clf, data (--dataset/--data), and --ckpt and/or "
                        "--samples (see glf eval --help)\n");
        return 2;
    }
    glf_ctx *ctx = cli_open_device("eval", spec);
    if (!ctx)
        return 1;
    glf_eval_report r;
    glf_status s = glf_evaluate(ctx, &o, &r);
    glf_ctx_destroy(ctx);
    if (s)
        return cli_error("eval", s);
    const char *src = o.samples ? o.samples : "model samples";
    char acc[32] = "unknown";
    if (r.clf_accuracy >= 0)
        snprintf(acc, sizeof acc, "%.2f%%", 100 * r.clf_accuracy);
    printf("feature space: glf classifier %s (128-d, test accuracy %s), not Inception\n", o.clf,
           acc);
    printf("%-34s %8s %10s %10s %8s %10s\n", "", "n", "FID-clf", "precision", "recall",
           "entropy");
    printf("%-34s %8zu %10.4f %10.4f %8.4f %10.4f\n", src, r.samples.n, r.samples.fid,
           r.samples.precision, r.samples.recall, r.samples.entropy);
    printf("%-34s %8zu %10.4f %10.4f %8.4f %10.4f\n", "real training images (floor)", r.floor.n,
           r.floor.fid, r.floor.precision, r.floor.recall, r.floor.entropy);
    printf("sample class counts:");
    for (int i = 0; i < r.classes; i++)
        printf(" %zu", r.samples.counts[i]);
    printf("  (entropy of a uniform histogram: %.4f)\n", log((double)r.classes));
    if (!o.samples)
        printf("sampling: seed %llu, BatchNorm %s statistics\n", o.seed,
               o.bn == GLF_BN_BATCH ? "batch" : "running");
    if (r.have_model)
        printf("test set (%zu images): reconstruction error %.4f per image, %.6f per pixel; "
               "NLL of latents %.4f nats, mean log-det %.4f\n", r.test_n, r.recon_per_image,
               r.recon_per_pixel, r.nll, r.mean_logdet);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "glf eval: cannot write %s\n", json);
            return 1;
        }
        fprintf(f, "{\n  \"feature_space\": \"glf-classifier %s\",\n  \"clf_accuracy\": %.6g,\n",
                o.clf, r.clf_accuracy);
        scores_json_(f, "samples", &r.samples, r.classes);
        fprintf(f, ",\n");
        scores_json_(f, "floor", &r.floor, r.classes);
        if (r.have_model)
            fprintf(f, ",\n  \"test\": {\"n\": %zu, \"recon_per_image\": %.6g, "
                       "\"recon_per_pixel\": %.6g, \"nll\": %.6g, \"mean_logdet\": %.6g}",
                    r.test_n, r.recon_per_image, r.recon_per_pixel, r.nll, r.mean_logdet);
        fprintf(f, "\n}\n");
        fclose(f);
    }
    return 0;
}
