/* The tuning store (store.h): one text file per device, read whole, one
 * key replaced per write, written to a temporary file and renamed. */
#include "tune/store.h"

#include "runtime/internal.h"

#include <nettle/sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC_ "glf tune store 1"
#define MAXLINES_ 64

glf_status glf_tune_path(glf_ctx *ctx, char *buf, size_t n)
{
    const char *dir = glf_ctx_cache_dir(ctx);
    if (!dir)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "tuning needs the disk cache, which is off (GLF_CACHE=off?)");
    const glf_device_info *d = glf_ctx_device(ctx);
    const char *parts[] = {d->name, d->vendor, d->driver, d->version, d->platform,
                           d->platform_version};
    struct sha256_ctx h;
    uint8_t sum[SHA256_DIGEST_SIZE];
    sha256_init(&h);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        sha256_update(&h, strlen(parts[i]) + 1, (const uint8_t *)parts[i]);
    sha256_digest(&h, sizeof sum, sum);
    char hex[17];
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", sum[i]);
    if (snprintf(buf, n, "%s/tune-%s.txt", dir, hex) >= (int)n)
        return glf_fail(GLF_ERR_INVALID_ARG, "cache folder path too long: %s", dir);
    return GLF_OK;
}

/* The store's key lines (malloc'd each; *n of them); *exists = 0 without a file. */
static glf_status read_(const char *path, char **lines, int *n, int *exists)
{
    *n = 0;
    *exists = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return GLF_OK;
    *exists = 1;
    char line[1024];
    int no = 0;
    glf_status s = GLF_OK;
    while (fgets(line, sizeof line, f)) {
        no++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\n')
            line[--l] = '\0';
        if (no == 1 && strcmp(line, MAGIC_) != 0) {
            s = glf_fail(GLF_ERR_FORMAT, "%s: line 1 is '%.60s', expected '%s'", path, line,
                         MAGIC_);
            break;
        }
        if (no <= 2) /* the magic; the device, for people reading it */
            continue;
        if (!strstr(line, " = ") || line[0] == ' ') {
            s = glf_fail(GLF_ERR_FORMAT, "%s: line %d is '%.60s', expected 'key = value'",
                         path, no, line);
            break;
        }
        if (*n == MAXLINES_ || !(lines[*n] = strdup(line))) {
            s = glf_fail(GLF_ERR_FORMAT, "%s: more than %d lines", path, MAXLINES_);
            break;
        }
        (*n)++;
    }
    fclose(f);
    if (s == GLF_OK && no < 2)
        s = glf_fail(GLF_ERR_FORMAT, "%s: expected '%s' and a device line", path, MAGIC_);
    if (s != GLF_OK) {
        for (int i = 0; i < *n; i++)
            free(lines[i]);
        *n = 0;
    }
    return s;
}

static int is_key_(const char *line, const char *key)
{
    size_t k = strlen(key);
    return !strncmp(line, key, k) && !strncmp(line + k, " = ", 3);
}

glf_status glf_tune_get(glf_ctx *ctx, const char *key, char *value, size_t n, int *found)
{
    char path[4096];
    char *lines[MAXLINES_];
    int nl, exists;
    *found = 0;
    GLF_TRY(glf_tune_path(ctx, path, sizeof path));
    GLF_TRY(read_(path, lines, &nl, &exists));
    for (int i = 0; i < nl; i++) {
        if (!*found && is_key_(lines[i], key)) {
            snprintf(value, n, "%s", lines[i] + strlen(key) + 3);
            *found = 1;
        }
        free(lines[i]);
    }
    return GLF_OK;
}

static glf_status put_line_(char **lines, int *n, const char *key, const char *value)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s = %s", key, value);
    for (int i = 0; i < *n; i++)
        if (is_key_(lines[i], key)) {
            free(lines[i]);
            lines[i] = NULL;
            return (lines[i] = strdup(buf)) ? GLF_OK
                                             : glf_fail(GLF_ERR_NOMEM, "out of memory");
        }
    if (*n == MAXLINES_ || !(lines[*n] = strdup(buf)))
        return glf_fail(GLF_ERR_NOMEM, "tune store: too many keys");
    (*n)++;
    return GLF_OK;
}

glf_status glf_tune_put(glf_ctx *ctx, const char *key, const char *value, double score_s)
{
    char path[4096], tmp[4200], score[64], skey[128];
    char *lines[MAXLINES_];
    int nl = 0, exists;
    GLF_TRY(glf_tune_path(ctx, path, sizeof path));
    glf_status s = read_(path, lines, &nl, &exists);
    if (s == GLF_ERR_FORMAT) /* a file that is not a store is replaced */
        glf_clear_error(), s = GLF_OK, nl = 0;
    GLF_TRY(s);
    s = put_line_(lines, &nl, key, value);
    if (s == GLF_OK && score_s >= 0) {
        snprintf(score, sizeof score, "%.3f", score_s * 1e3);
        snprintf(skey, sizeof skey, "%s.score_ms", key);
        s = put_line_(lines, &nl, skey, score);
    }
    FILE *f = NULL;
    if (s == GLF_OK) {
        glf_mkdirs_(glf_ctx_cache_dir(ctx)); /* may exist; fopen reports real failures */
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
        f = fopen(tmp, "w");
        if (!f)
            s = glf_fail(GLF_ERR_IO, "%s: cannot create", tmp);
    }
    if (f) {
        const glf_device_info *d = glf_ctx_device(ctx);
        int ok = fprintf(f, "%s\ndevice %s | %s | %s | %s\n", MAGIC_, d->name, d->driver,
                         d->platform, d->platform_version) > 0;
        for (int i = 0; i < nl && ok; i++)
            ok = fprintf(f, "%s\n", lines[i]) > 0;
        if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
            remove(tmp);
            s = glf_fail(GLF_ERR_IO, "%s: cannot write", path);
        }
    }
    for (int i = 0; i < nl; i++)
        free(lines[i]);
    return s;
}
