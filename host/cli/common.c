/* Helpers shared by the subcommands: error printing, device opening and a
 * minimal long-option matcher. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
