/* Helpers shared by the subcommands: error printing, device opening and a
 * minimal long-option matcher. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "glf/data.h"

int cli_error(const char *cmd, glf_status s)
{
    fprintf(stderr, "glf %s: error (%s): %s\n", cmd, glf_status_str(s), glf_last_error());
    return 1;
}

glf_ctx *cli_open_device(const char *cmd, const char *spec)
{
    glf_ctx *ctx;
    glf_status s = glf_ctx_create(spec, &ctx);
    if (s != GLF_OK) {
        cli_error(cmd, s);
        return NULL;
    }
    char line[1024];
    glf_ctx_describe(ctx, line, sizeof line);
    fprintf(stderr, "glf %s: using %s\n", cmd, line);
    return ctx;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "glf: option %s needs a value\n", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_opt_long(int argc, char **argv, int *i, const char *name, long lo, long hi, long *value)
{
    const char *v;
    int r = cli_opt(argc, argv, i, name, &v);
    if (r <= 0)
        return r;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "glf: option %s: '%s' is not an integer in [%ld, %ld]\n", name, v, lo, hi);
        return -1;
    }
    *value = x;
    return 1;
}

int cli_opt_double(int argc, char **argv, int *i, const char *name, double *value)
{
    const char *v;
    int r = cli_opt(argc, argv, i, name, &v);
    if (r <= 0)
        return r;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v) {
        fprintf(stderr, "glf: option %s: '%s' is not a number\n", name, v);
        return -1;
    }
    *value = x;
    return 1;
}

const char cli_data_source_help[] =
    "data source (one of):\n"
    "  --dataset NAME [DIR]   fashion-mnist (default folder /usr/share/datasets/fashion-mnist,\n"
    "                         or GLF_DATA_DIR; the shipped sample when neither exists),\n"
    "                         mnist DIR, cifar10 DIR, images DIR (a folder of PNG files)\n"
    "  --data FILE.tar.zst    an archive written by `glf pack`\n"
    "  --max-memory BYTES     stream archives larger than this through a shuffle buffer\n"
    "                         (suffix K, M or G; default: no limit)\n"
    "  --crop N --size S      PNG folders: centre crop to NxN, then area-average to SxS\n";

static int parse_bytes_(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    double mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024.0, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1024.0 * 1024 * 1024, end++;
    if (errno || *end || end == v || x < 0 || x * mul > 1e18)
        return -1;
    *out = (size_t)(x * mul);
    return 0;
}

int cli_data_source(int argc, char **argv, int *i, struct glf_data_source *src)
{
    const char *v;
    long n;
    int r;
    if (!strcmp(argv[*i], "--dataset") || !strncmp(argv[*i], "--dataset=", 10)) {
        if ((r = cli_opt(argc, argv, i, "--dataset", &v)) <= 0)
            return r;
        src->name = v;
        if (*i + 1 < argc && argv[*i + 1][0] != '-')
            src->dir = argv[++*i];
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--data", &v)) != 0) {
        if (r > 0)
            src->archive = v;
        return r;
    }
    if ((r = cli_opt(argc, argv, i, "--max-memory", &v)) != 0) {
        if (r > 0 && parse_bytes_(v, &src->max_memory) != 0) {
            fprintf(stderr, "glf: option --max-memory: '%s' is not a byte count (e.g. 512M)\n",
                    v);
            return -1;
        }
        return r;
    }
    if ((r = cli_opt_long(argc, argv, i, "--crop", 0, 1 << 16, &n)) != 0) {
        if (r > 0)
            src->crop = (int)n;
        return r;
    }
    if ((r = cli_opt_long(argc, argv, i, "--size", 0, 1 << 16, &n)) != 0) {
        if (r > 0)
            src->size = (int)n;
        return r;
    }
    return 0;
}
