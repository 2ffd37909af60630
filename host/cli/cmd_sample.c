/* `glf sample`, `glf reconstruct` and `glf interpolate`: load a checkpoint,
 * run the model, write .npy / .idx / PNG folders and grids. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "glf/image.h"
#include "glf/train.h"

static int ends_with_(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int parse_bn_(const char *v, glf_bn_mode *bn)
{
    if (!strcmp(v, "running"))
        *bn = GLF_BN_RUNNING;
    else if (!strcmp(v, "batch"))
        *bn = GLF_BN_BATCH;
    else {
        fprintf(stderr, "glf: --bn '%s': expected 'running' or 'batch'\n", v);
        return -1;
    }
    return 0;
}

/* Images (n, C, H, W) in [0, 1] to .npy (float32), .idx (uint8) or a folder of PNGs. */
static glf_status write_images_(const char *path, const float *x, size_t n, int c, int h, int w)
{
    if (ends_with_(path, ".npy")) {
        int64_t shape[4] = {(int64_t)n, c, h, w};
        return glf_npy_write(path, GLF_NPY_F32, x, 4, shape);
    }
    size_t total = n * (size_t)c * h * w;
    if (ends_with_(path, ".idx")) {
        uint8_t *u = malloc(total ? total : 1);
        if (!u)
            return glf_fail(GLF_ERR_NOMEM, "out of memory writing %s", path);
        glf_status s = glf_to_u8(u, x, total);
        int64_t dims4[4] = {(int64_t)n, c, h, w};
        int64_t dims3[3] = {(int64_t)n, h, w};
        if (!s)
            s = c == 1 ? glf_idx_write_u8(path, u, 3, dims3) : glf_idx_write_u8(path, u, 4, dims4);
        free(u);
        return s;
    }
    return glf_png_write_each(path, "sample_", x, (int)n, c, h, w);
}

static const char bn_help_[] =
    "  --bn running|batch  BatchNorm statistics: running (eval mode, default) or batch\n"
    "                      (the authors' sampling: batch statistics, in batches of --batch)\n";

int glf_cmd_sample(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *grid = NULL, *spec = NULL, *v;
    long n = 64, seed = 1, batch = 500;
    double temp = 1.0;
    glf_bn_mode bn = GLF_BN_RUNNING;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: glf sample --ckpt CKPT [-o OUT] [--grid PNG] [options]\n\n"
                   "Draws noise ~ N(0, T^2 I), inverts the flow and decodes (ae-gauss models\n"
                   "draw from their fitted Gaussian). OUT by extension: .npy (float32 NCHW in\n"
                   "[0,1]), .idx (uint8 IDX), anything else a folder of PNGs.\n\n"
                   "  --n N               number of samples (default 64)\n"
                   "  --grid PNG          also write the first 64 (or fewer) as a square grid\n"
                   "  --seed N            noise seed (default 1); image i depends on (seed, i) only\n"
                   "  --temperature T     noise scale (default 1)\n"
                   "  --batch N           images per device batch (default 500)\n%s"
                   "  --device SPEC       OpenCL device\n", bn_help_);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "--ckpt", &ckpt)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "-o", &out)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--grid", &grid)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(argc, argv, &i, "--bn", &v)) != 0) {
            if (r < 0 || parse_bn_(v, &bn)) return 2;
        } else if ((r = cli_opt_long(argc, argv, &i, "--n", 1, 10000000, &n)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt_long(argc, argv, &i, "--seed", 0, 0x7fffffffL, &seed)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt_long(argc, argv, &i, "--batch", 1, 65536, &batch)) != 0) {
            if (r < 0) return 2;
        } else if ((r = cli_opt_double(argc, argv, &i, "--temperature", &temp)) != 0) {
            if (r < 0 || !(temp >= 0)) { fprintf(stderr, "glf sample: --temperature must be >= 0\n"); return 2; }
        } else {
            fprintf(stderr, "glf sample: unknown option '%s' (see glf sample --help)\n", argv[i]);
            return 2;
        }
    }
    if (!ckpt || (!out && !grid)) {
        fprintf(stderr, "glf sample: needs --ckpt CKPT and -o OUT and/or --grid PNG\n");
        return 2;
    }
    glf_ctx *ctx = cli_open_device("sample", spec);
    if (!ctx)
        return 1;
    glf_net *net = NULL;
    float *x = NULL;
    glf_status s = glf_net_load(ctx, ckpt, (int)batch, &net, NULL, NULL);
    if (!s) {
        const glf_config *c = glf_net_config(net);
        size_t N = (size_t)c->channels * c->height * c->width;
        x = malloc((size_t)n * N * sizeof *x);
        if (!x)
            s = glf_fail(GLF_ERR_NOMEM, "out of memory for %ld samples", n);
        if (!s)
            s = glf_sample(net, (size_t)n, (float)temp, (unsigned long long)seed, bn, (int)batch, x);
        if (!s && out)
            s = write_images_(out, x, (size_t)n, c->channels, c->height, c->width);
        if (!s && grid) {
            int k = n < 64 ? (int)n : 64, side = (int)sqrt((double)k);
            s = glf_png_write_grid(grid, x, side * side, c->channels, c->height, c->width, side,
                                   side);
        }
        if (!s)
            fprintf(stderr, "glf sample: %ld samples (BatchNorm: %s statistics)%s%s%s%s\n", n,
                    bn == GLF_BN_BATCH ? "batch" : "running", out ? " -> " : "", out ? out : "",
                    grid ? ", grid " : "", grid ? grid : "");
    }
    free(x);
    glf_net_destroy(net);
    glf_ctx_destroy(ctx);
    return s ? cli_error("sample", s) : 0;
}

/* Test images of the data given (or the training split if it has none). */
static glf_status test_images_(const glf_data_source *src, const glf_config *c, size_t want,
                               size_t first, float **x, size_t *got)
{
    glf_dataset d;
    glf_status s = glf_dataset_load(src, "test", &d);
    if (s) {
        glf_clear_error();
        GLF_TRY(glf_dataset_load(src, "train", &d));
    }
    if (d.channels != c->channels || d.height != c->height || d.width != c->width) {
        s = glf_fail(GLF_ERR_MISMATCH,
                     "the model takes %dx%dx%d images, the data set '%s' has %dx%dx%d",
                     c->channels, c->height, c->width, d.name, d.channels, d.height, d.width);
        glf_dataset_free(&d);
        return s;
    }
    if (first >= d.n) {
        s = glf_fail(GLF_ERR_INVALID_ARG, "--first %zu: the data set has %zu images", first, d.n);
        glf_dataset_free(&d);
        return s;
    }
    *got = d.n - first < want ? d.n - first : want;
    *x = glf_dataset_floats(&d, first, *got);
    glf_dataset_free(&d);
    if (!*x)
        return glf_fail(GLF_ERR_NOMEM, "out of memory reading images");
    return GLF_OK;
}

/* Shared by reconstruct and interpolate: --ckpt, data, -o, --bn, --device. */
struct model_opts_ {
    const char *ckpt, *out, *spec;
    glf_data_source data;
    glf_bn_mode bn;
    long count, steps, first;
    int in_noise;
};

static int parse_model_opts_(const char *cmd, int argc, char **argv, struct model_opts_ *o,
                             const char *help)
{
    const char *v;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\ndata:\n%s%s  --device SPEC       OpenCL device\n", help,
                   cli_data_source_help, bn_help_);
            return 1;
        }
        if ((r = cli_data_source(argc, argv, &i, &o->data)) != 0) {
            if (r < 0) return -1;
        } else if ((r = cli_opt(argc, argv, &i, "--ckpt", &o->ckpt)) != 0) {
            if (r < 0) return -1;
        } else if ((r = cli_opt(argc, argv, &i, "-o", &o->out)) != 0) {
            if (r < 0) return -1;
        } else if ((r = cli_opt(argc, argv, &i, "--device", &o->spec)) != 0) {
            if (r < 0) return -1;
        } else if ((r = cli_opt(argc, argv, &i, "--bn", &v)) != 0) {
            if (r < 0 || parse_bn_(v, &o->bn)) return -1;
        } else if ((r = cli_opt(argc, argv, &i, "--space", &v)) != 0) {
            if (r < 0) return -1;
            if (!strcmp(v, "noise")) o->in_noise = 1;
            else if (!strcmp(v, "z")) o->in_noise = 0;
            else { fprintf(stderr, "glf %s: --space '%s': expected 'noise' or 'z'\n", cmd, v); return -1; }
        } else if ((r = cli_opt_long(argc, argv, &i, "--n", 1, 4096, &o->count)) != 0 ||
                   (r = cli_opt_long(argc, argv, &i, "--pairs", 1, 4096, &o->count)) != 0) {
            if (r < 0) return -1;
        } else if ((r = cli_opt_long(argc, argv, &i, "--steps", 2, 64, &o->steps)) != 0) {
            if (r < 0) return -1;
        } else if ((r = cli_opt_long(argc, argv, &i, "--first", 0, 100000000, &o->first)) != 0) {
            if (r < 0) return -1;
        } else {
            fprintf(stderr, "glf %s: unknown option '%s' (see glf %s --help)\n", cmd, argv[i], cmd);
            return -1;
        }
    }
    if (!o->ckpt || !o->out || (!o->data.name && !o->data.archive)) {
        fprintf(stderr, "glf %s: needs --ckpt CKPT, data (--dataset/--data) and -o PNG\n", cmd);
        return -1;
    }
    return 0;
}

int glf_cmd_reconstruct(int argc, char **argv)
{
    struct model_opts_ o;
    memset(&o, 0, sizeof o);
    o.count = 32;
    int r = parse_model_opts_("reconstruct", argc, argv, &o,
                              "usage: glf reconstruct --ckpt CKPT (--dataset NAME [DIR] | --data "
                              "FILE) -o GRID.png [--n 32] [--first 0]\n\n"
                              "Test images (rows of 8) each followed by a row of their "
                              "reconstructions.");
    if (r)
        return r > 0 ? 0 : 2;
    glf_ctx *ctx = cli_open_device("reconstruct", o.spec);
    if (!ctx)
        return 1;
    glf_net *net = NULL;
    float *x = NULL, *y = NULL, *grid = NULL;
    size_t n = 0;
    glf_status s = glf_net_load(ctx, o.ckpt, 64, &net, NULL, NULL);
    if (!s) {
        const glf_config *c = glf_net_config(net);
        size_t N = (size_t)c->channels * c->height * c->width;
        s = test_images_(&o.data, c, (size_t)o.count, (size_t)o.first, &x, &n);
        n -= n % 8; /* whole rows */
        if (!s && n == 0)
            s = glf_fail(GLF_ERR_INVALID_ARG, "need at least 8 images for a row");
        if (!s && (!(y = malloc(n * N * sizeof *y)) || !(grid = malloc(2 * n * N * sizeof *grid))))
            s = glf_fail(GLF_ERR_NOMEM, "out of memory");
        if (!s)
            s = glf_reconstruct(net, x, n, o.bn, y);
        for (size_t i = 0; !s && i < n; i++) {
            size_t row = i / 8, col = i % 8;
            memcpy(grid + (2 * row * 8 + col) * N, x + i * N, N * sizeof *grid);
            memcpy(grid + ((2 * row + 1) * 8 + col) * N, y + i * N, N * sizeof *grid);
        }
        if (!s)
            s = glf_png_write_grid(o.out, grid, (int)(2 * n), c->channels, c->height, c->width,
                                   (int)(2 * n / 8), 8);
    }
    free(x), free(y), free(grid);
    glf_net_destroy(net);
    glf_ctx_destroy(ctx);
    if (s)
        return cli_error("reconstruct", s);
    fprintf(stderr, "glf reconstruct: %zu images -> %s\n", n, o.out);
    return 0;
}

int glf_cmd_interpolate(int argc, char **argv)
{
    struct model_opts_ o;
    memset(&o, 0, sizeof o);
    o.count = 6;
    o.steps = 10;
    o.in_noise = 1;
    int r = parse_model_opts_("interpolate", argc, argv, &o,
                              "usage: glf interpolate --ckpt CKPT (--dataset NAME [DIR] | --data "
                              "FILE) -o GRID.png [--pairs 6] [--steps 10] [--space noise|z]\n\n"
                              "Each row goes from one test image to another, interpolating "
                              "linearly in the flow's noise space (default) or in the latent "
                              "space z (--space z).");
    if (r)
        return r > 0 ? 0 : 2;
    glf_ctx *ctx = cli_open_device("interpolate", o.spec);
    if (!ctx)
        return 1;
    glf_net *net = NULL;
    float *x = NULL, *y = NULL;
    size_t n = 0;
    int pairs = (int)o.count, steps = (int)o.steps, mb = 2 * pairs > pairs * steps ? 2 * pairs
                                                                                    : pairs * steps;
    glf_status s = glf_net_load(ctx, o.ckpt, mb, &net, NULL, NULL);
    if (!s) {
        const glf_config *c = glf_net_config(net);
        size_t N = (size_t)c->channels * c->height * c->width;
        s = test_images_(&o.data, c, (size_t)(2 * pairs), (size_t)o.first, &x, &n);
        if (!s && n < (size_t)(2 * pairs))
            s = glf_fail(GLF_ERR_INVALID_ARG, "need %d images for %d pairs, the data has %zu",
                         2 * pairs, pairs, n);
        if (!s && !(y = malloc((size_t)pairs * steps * N * sizeof *y)))
            s = glf_fail(GLF_ERR_NOMEM, "out of memory");
        if (!s)
            s = glf_interpolate(net, x, x + (size_t)pairs * N, pairs, steps, o.in_noise, o.bn, y);
        if (!s)
            s = glf_png_write_grid(o.out, y, pairs * steps, c->channels, c->height, c->width, pairs,
                                   steps);
    }
    free(x), free(y);
    glf_net_destroy(net);
    glf_ctx_destroy(ctx);
    if (s)
        return cli_error("interpolate", s);
    fprintf(stderr, "glf interpolate: %d rows of %d (%s space) -> %s\n", pairs, steps,
            o.in_noise ? "noise" : "latent", o.out);
    return 0;
}
