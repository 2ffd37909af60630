/* Checkpoint files (format in include/glf/checkpoint.h): an in-memory set
 * of named records, streamed to disk little-endian with a SHA-256 trailer,
 * and read back with every length checked before it is trusted. */
#include "glf/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { K_F32 = 1, K_I32 = 2, K_STR = 3, K_I64 = 4 };
#define HEADER_ 24
#define NAME_MAX_ 255

typedef struct rec_ {
    char *name;
    int kind;
    int ndim;
    int shape[GLF_CKPT_MAX_DIM];
    size_t n;     /* elements (f32/i32) or bytes (str) */
    void *data;   /* float*, int32_t*, or char* (NUL-terminated) */
    int64_t ival;
} rec_;

struct glf_ckpt {
    rec_ *r;
    int n, cap;
    char source[512];
};

glf_ckpt *glf_ckpt_new(void)
{
    glf_ckpt *ck = calloc(1, sizeof *ck);
    if (ck)
        snprintf(ck->source, sizeof ck->source, "(memory)");
    return ck;
}

void glf_ckpt_free(glf_ckpt *ck)
{
    if (!ck)
        return;
    for (int i = 0; i < ck->n; i++)
        free(ck->r[i].name), free(ck->r[i].data);
    free(ck->r);
    free(ck);
}

const char *glf_ckpt_source(const glf_ckpt *ck) { return ck->source; }
int glf_ckpt_count(const glf_ckpt *ck) { return ck->n; }

const char *glf_ckpt_name(const glf_ckpt *ck, int i)
{
    return i >= 0 && i < ck->n ? ck->r[i].name : NULL;
}

static rec_ *find_(const glf_ckpt *ck, const char *name)
{
    for (int i = 0; i < ck->n; i++)
        if (strcmp(ck->r[i].name, name) == 0)
            return &ck->r[i];
    return NULL;
}

int glf_ckpt_has(const glf_ckpt *ck, const char *name) { return find_(ck, name) != NULL; }

/* A fresh or replaced record for name, data freed; NULL on failure. */
static rec_ *slot_(glf_ckpt *ck, const char *name, glf_status *st)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > NAME_MAX_) {
        *st = glf_fail(GLF_ERR_INVALID_ARG, "checkpoint record name '%s': expected 1..%d bytes",
                       name ? name : "(null)", NAME_MAX_);
        return NULL;
    }
    rec_ *r = find_(ck, name);
    if (r) {
        free(r->data);
        r->data = NULL;
        return r;
    }
    if (ck->n == ck->cap) {
        int cap = ck->cap ? 2 * ck->cap : 64;
        rec_ *nr = realloc(ck->r, (size_t)cap * sizeof *nr);
        if (!nr) {
            *st = glf_fail(GLF_ERR_NOMEM, "checkpoint: out of memory for %d records", cap);
            return NULL;
        }
        ck->r = nr, ck->cap = cap;
    }
    r = &ck->r[ck->n];
    memset(r, 0, sizeof *r);
    r->name = strdup(name);
    if (!r->name) {
        *st = glf_fail(GLF_ERR_NOMEM, "checkpoint: out of memory for a name");
        return NULL;
    }
    ck->n++;
    return r;
}

/* Store a copy of bytes (plus a NUL for strings) into r. */
static glf_status fill_(rec_ *r, int kind, const void *data, size_t n, size_t elem)
{
    r->kind = kind;
    r->n = n;
    r->data = malloc(n * elem + 1);
    if (!r->data)
        return glf_fail(GLF_ERR_NOMEM, "checkpoint record '%s': out of memory for %zu bytes",
                        r->name, n * elem);
    if (n)
        memcpy(r->data, data, n * elem);
    ((char *)r->data)[n * elem] = '\0';
    return GLF_OK;
}

glf_status glf_ckpt_set_f32(glf_ckpt *ck, const char *name, const float *data, int ndim,
                            const int *shape)
{
    glf_status st = GLF_OK;
    if (ndim < 0 || ndim > GLF_CKPT_MAX_DIM)
        return glf_fail(GLF_ERR_INVALID_ARG, "checkpoint tensor '%s': ndim %d, expected 0..%d",
                        name, ndim, GLF_CKPT_MAX_DIM);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return glf_fail(GLF_ERR_INVALID_ARG, "checkpoint tensor '%s': dim %d is %d", name, i,
                            shape[i]);
        n *= (size_t)shape[i];
    }
    rec_ *r = slot_(ck, name, &st);
    if (!r)
        return st;
    r->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        r->shape[i] = shape[i];
    return fill_(r, K_F32, data, n, sizeof(float));
}

glf_status glf_ckpt_set_i32(glf_ckpt *ck, const char *name, const int32_t *data, size_t n)
{
    glf_status st = GLF_OK;
    rec_ *r = slot_(ck, name, &st);
    return r ? fill_(r, K_I32, data, n, sizeof(int32_t)) : st;
}

glf_status glf_ckpt_set_str(glf_ckpt *ck, const char *name, const char *value)
{
    glf_status st = GLF_OK;
    rec_ *r = slot_(ck, name, &st);
    return r ? fill_(r, K_STR, value, strlen(value), 1) : st;
}

glf_status glf_ckpt_set_int(glf_ckpt *ck, const char *name, int64_t value)
{
    glf_status st = GLF_OK;
    rec_ *r = slot_(ck, name, &st);
    if (!r)
        return st;
    r->kind = K_I64;
    r->ival = value;
    return GLF_OK;
}

static const char *kind_name_(int k)
{
    return k == K_F32 ? "float tensor" : k == K_I32 ? "int32 array" : k == K_STR ? "string"
                                                                                 : "integer";
}

static glf_status get_(const glf_ckpt *ck, const char *name, int kind, const rec_ **out)
{
    const rec_ *r = find_(ck, name);
    if (!r)
        return glf_fail(GLF_ERR_MISMATCH,
                        "checkpoint %s has no %s '%s' (a checkpoint of another architecture "
                        "or program?)",
                        ck->source, kind_name_(kind), name);
    if (r->kind != kind)
        return glf_fail(GLF_ERR_FORMAT, "checkpoint %s: record '%s' is a %s, expected a %s",
                        ck->source, name, kind_name_(r->kind), kind_name_(kind));
    *out = r;
    return GLF_OK;
}

const float *glf_ckpt_f32(const glf_ckpt *ck, const char *name, int *ndim,
                          int shape[GLF_CKPT_MAX_DIM])
{
    const rec_ *r = find_(ck, name);
    if (!r || r->kind != K_F32)
        return NULL;
    if (ndim)
        *ndim = r->ndim;
    if (shape)
        for (int i = 0; i < r->ndim; i++)
            shape[i] = r->shape[i];
    return r->data;
}

static void shape_str_(char *buf, size_t n, int ndim, const int *shape)
{
    size_t at = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, i ? ", %d" : "%d", shape[i]);
    if (at < n)
        snprintf(buf + at, n - at, ")");
}

glf_status glf_ckpt_get_f32(const glf_ckpt *ck, const char *name, float *dst, int ndim,
                            const int *shape)
{
    const rec_ *r;
    GLF_TRY(get_(ck, name, K_F32, &r));
    int same = r->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = r->shape[i] == shape[i];
    if (!same) {
        char got[160], want[160];
        shape_str_(got, sizeof got, r->ndim, r->shape);
        shape_str_(want, sizeof want, ndim, shape);
        return glf_fail(GLF_ERR_MISMATCH,
                        "checkpoint %s: tensor '%s' has shape %s, the model expects %s (a "
                        "checkpoint of another architecture)",
                        ck->source, name, got, want);
    }
    if (r->n)
        memcpy(dst, r->data, r->n * sizeof(float));
    return GLF_OK;
}

glf_status glf_ckpt_get_i32(const glf_ckpt *ck, const char *name, int32_t *dst, size_t n)
{
    const rec_ *r;
    GLF_TRY(get_(ck, name, K_I32, &r));
    if (r->n != n)
        return glf_fail(GLF_ERR_MISMATCH, "checkpoint %s: int32 array '%s' has %zu elements, "
                        "expected %zu", ck->source, name, r->n, n);
    if (n)
        memcpy(dst, r->data, n * sizeof(int32_t));
    return GLF_OK;
}

glf_status glf_ckpt_get_str(const glf_ckpt *ck, const char *name, const char **out)
{
    const rec_ *r;
    GLF_TRY(get_(ck, name, K_STR, &r));
    *out = r->data;
    return GLF_OK;
}

glf_status glf_ckpt_get_int(const glf_ckpt *ck, const char *name, int64_t *out)
{
    const rec_ *r;
    GLF_TRY(get_(ck, name, K_I64, &r));
    *out = r->ival;
    return GLF_OK;
}

glf_status glf_ckpt_set_layout(glf_ckpt *ck, const char *prefix, const glf_layout *l,
                               const float *host)
{
    char name[320];
    for (int i = 0; i < l->n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", l->t[i].name);
        GLF_TRY(glf_ckpt_set_f32(ck, name, host + l->t[i].off, l->t[i].ndim, l->t[i].shape));
    }
    return GLF_OK;
}

glf_status glf_ckpt_get_layout(const glf_ckpt *ck, const char *prefix, const glf_layout *l,
                               float *host)
{
    char name[320];
    for (int i = 0; i < l->n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", l->t[i].name);
        GLF_TRY(glf_ckpt_get_f32(ck, name, host + l->t[i].off, l->t[i].ndim, l->t[i].shape));
    }
    return GLF_OK;
}

glf_status glf_ckpt_set_config(glf_ckpt *ck, const glf_config *c)
{
    char buf[4096];
    int n = glf_config_to_json(c, buf, sizeof buf);
    if (n < 0 || (size_t)n >= sizeof buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "checkpoint: config cannot be written as JSON");
    return glf_ckpt_set_str(ck, "config", buf);
}

glf_status glf_ckpt_get_config(const glf_ckpt *ck, glf_config *out)
{
    const char *json;
    GLF_TRY(glf_ckpt_get_str(ck, "config", &json));
    glf_config c;
    memset(&c, 0, sizeof c);
    glf_status st = glf_config_from_json(&c, json);
    if (st == GLF_OK)
        st = glf_config_validate(&c);
    if (st != GLF_OK)
        return glf_fail_context(st, "checkpoint %s: config", ck->source);
    *out = c;
    return GLF_OK;
}

glf_status glf_ckpt_set_rng(glf_ckpt *ck, const char *name, const glf_rng *r)
{
    char k[300];
    int32_t buf[4];
    for (int i = 0; i < 4; i++)
        buf[i] = (int32_t)r->buf[i];
    snprintf(k, sizeof k, "%s.seed", name);
    GLF_TRY(glf_ckpt_set_int(ck, k, (int64_t)r->seed));
    snprintf(k, sizeof k, "%s.stream", name);
    GLF_TRY(glf_ckpt_set_int(ck, k, (int64_t)r->stream));
    snprintf(k, sizeof k, "%s.counter", name);
    GLF_TRY(glf_ckpt_set_int(ck, k, (int64_t)r->counter));
    snprintf(k, sizeof k, "%s.used", name);
    GLF_TRY(glf_ckpt_set_int(ck, k, (int64_t)r->used));
    snprintf(k, sizeof k, "%s.buf", name);
    return glf_ckpt_set_i32(ck, k, buf, 4);
}

glf_status glf_ckpt_get_rng(const glf_ckpt *ck, const char *name, glf_rng *r)
{
    char k[300];
    int64_t seed, stream, counter, used;
    int32_t buf[4];
    snprintf(k, sizeof k, "%s.seed", name);
    GLF_TRY(glf_ckpt_get_int(ck, k, &seed));
    snprintf(k, sizeof k, "%s.stream", name);
    GLF_TRY(glf_ckpt_get_int(ck, k, &stream));
    snprintf(k, sizeof k, "%s.counter", name);
    GLF_TRY(glf_ckpt_get_int(ck, k, &counter));
    snprintf(k, sizeof k, "%s.used", name);
    GLF_TRY(glf_ckpt_get_int(ck, k, &used));
    snprintf(k, sizeof k, "%s.buf", name);
    GLF_TRY(glf_ckpt_get_i32(ck, k, buf, 4));
    if (used < 0 || used > 4)
        return glf_fail(GLF_ERR_FORMAT, "checkpoint %s: %s.used = %" PRId64 ", expected 0..4",
                        ck->source, name, used);
    r->seed = (uint64_t)seed, r->stream = (uint64_t)stream, r->counter = (uint64_t)counter;
    r->used = (uint32_t)used;
    for (int i = 0; i < 4; i++)
        r->buf[i] = (uint32_t)buf[i];
    return GLF_OK;
}

/* ---- writing ------------------------------------------------------------ */

static void le32_(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void le64_(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t rd32_(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64_(const unsigned char *p)
{
    return (uint64_t)rd32_(p) | (uint64_t)rd32_(p + 4) << 32;
}

/* Bytes of a record's head (kind, name, dims/length) and of its data. */
static size_t head_bytes_(const rec_ *r)
{
    size_t h = 8 + strlen(r->name);
    switch (r->kind) {
    case K_F32: return h + 4 + 8 * (size_t)r->ndim;
    case K_I32:
    case K_STR: return h + 8;
    default: return h;
    }
}

static size_t data_bytes_(const rec_ *r)
{
    return r->kind == K_STR ? r->n : r->kind == K_I64 ? 8 : 4 * r->n;
}

typedef struct writer_ {
    FILE *f;
    struct sha256_ctx sha;
    int err;
} writer_;

static void put_(writer_ *w, const void *p, size_t n)
{
    if (w->err || n == 0)
        return;
    sha256_update(&w->sha, n, p);
    if (fwrite(p, 1, n, w->f) != n)
        w->err = errno ? errno : EIO;
}

static void put_record_(writer_ *w, const rec_ *r)
{
    unsigned char h[8 + NAME_MAX_ + 4 + 8 * GLF_CKPT_MAX_DIM];
    size_t len = strlen(r->name), at = 8 + len;
    le32_(h, (uint32_t)r->kind);
    le32_(h + 4, (uint32_t)len);
    memcpy(h + 8, r->name, len);
    if (r->kind == K_F32) {
        le32_(h + at, (uint32_t)r->ndim);
        at += 4;
        for (int i = 0; i < r->ndim; i++, at += 8)
            le64_(h + at, (uint64_t)r->shape[i]);
    } else if (r->kind == K_I32 || r->kind == K_STR) {
        le64_(h + at, (uint64_t)r->n);
        at += 8;
    }
    put_(w, h, at);
    if (r->kind == K_I64) {
        unsigned char v[8];
        le64_(v, (uint64_t)r->ival);
        put_(w, v, 8);
    } else if (r->kind == K_STR) {
        put_(w, r->data, r->n);
    } else {
        /* f32 / i32: 4-byte words, converted in chunks so any host writes LE. */
        const uint32_t *src = r->data;
        unsigned char chunk[4096];
        for (size_t i = 0; i < r->n; i += sizeof chunk / 4) {
            size_t m = r->n - i < sizeof chunk / 4 ? r->n - i : sizeof chunk / 4;
            for (size_t j = 0; j < m; j++)
                le32_(chunk + 4 * j, src[i + j]);
            put_(w, chunk, 4 * m);
        }
    }
}

glf_status glf_ckpt_write(const glf_ckpt *ck, const char *path)
{
    return glf_ckpt_write_as(ck, path, GLF_CKPT_MAGIC);
}

glf_status glf_ckpt_write_as(const glf_ckpt *ck, const char *path, const char *magic)
{
    if (!magic || strlen(magic) != 8)
        return glf_fail(GLF_ERR_INVALID_ARG, "checkpoint %s: magic must be 8 characters", path);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return glf_fail(GLF_ERR_NOMEM, "checkpoint %s: out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        glf_status st = glf_fail(GLF_ERR_IO, "checkpoint %s: cannot create a temporary file %s: %s",
                                 path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    /* mkstemp makes 0600; a checkpoint is an ordinary file: honour the umask. */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    writer_ w;
    memset(&w, 0, sizeof w);
    w.f = fdopen(fd, "wb");
    if (!w.f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return glf_fail(GLF_ERR_IO, "checkpoint %s: fdopen failed", path);
    }
    sha256_init(&w.sha);
    uint64_t payload = 0;
    for (int i = 0; i < ck->n; i++)
        payload += head_bytes_(&ck->r[i]) + data_bytes_(&ck->r[i]);
    unsigned char head[HEADER_];
    memcpy(head, magic, 8);
    le32_(head + 8, GLF_CKPT_VERSION);
    le32_(head + 12, (uint32_t)ck->n);
    le64_(head + 16, payload);
    put_(&w, head, HEADER_);
    for (int i = 0; i < ck->n; i++)
        put_record_(&w, &ck->r[i]);
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_digest(&w.sha, SHA256_DIGEST_SIZE, digest);
    if (!w.err && fwrite(digest, 1, sizeof digest, w.f) != sizeof digest)
        w.err = errno ? errno : EIO;
    if (!w.err && fflush(w.f) != 0)
        w.err = errno ? errno : EIO;
    if (!w.err && fsync(fileno(w.f)) != 0)
        w.err = errno ? errno : EIO;
    if (fclose(w.f) != 0 && !w.err)
        w.err = errno ? errno : EIO;
    if (!w.err && rename(tmp, path) != 0)
        w.err = errno ? errno : EIO;
    if (w.err) {
        unlink(tmp);
        free(tmp);
        return glf_fail(GLF_ERR_IO, "checkpoint %s: write failed: %s", path, strerror(w.err));
    }
    free(tmp);
    /* Make the rename itself durable. */
    char *dir = strdup(path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
        int dfd = open(d, O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return GLF_OK;
}

/* ---- reading ------------------------------------------------------------ */

static void hex_(char *out, const unsigned char *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Parse records from p[0, n); every length is checked against what is left. */
static glf_status parse_(glf_ckpt *ck, const unsigned char *p, size_t n, uint32_t count,
                         const char *path)
{
    size_t at = 0;
#define NEED_(k, what)                                                                   \
    do {                                                                                 \
        if ((k) > n - at)                                                                \
            return glf_fail(GLF_ERR_FORMAT,                                              \
                            "checkpoint %s: record %u ('%s'): %s needs %llu bytes at "   \
                            "payload offset %zu, only %zu left",                         \
                            path, i, name, what, (unsigned long long)(k), at, n - at);   \
    } while (0)
    for (uint32_t i = 0; i < count; i++) {
        char name[NAME_MAX_ + 1] = "?";
        NEED_(8, "kind and name length");
        uint32_t kind = rd32_(p + at), len = rd32_(p + at + 4);
        at += 8;
        if (kind < K_F32 || kind > K_I64)
            return glf_fail(GLF_ERR_FORMAT, "checkpoint %s: record %u: kind %u, expected 1..4",
                            path, i, kind);
        if (len < 1 || len > NAME_MAX_)
            return glf_fail(GLF_ERR_FORMAT,
                            "checkpoint %s: record %u: name length %u, expected 1..%d", path, i,
                            len, NAME_MAX_);
        NEED_(len, "name");
        memcpy(name, p + at, len);
        name[len] = '\0';
        at += len;
        if (strlen(name) != len)
            return glf_fail(GLF_ERR_FORMAT, "checkpoint %s: record %u: name contains a NUL",
                            path, i);
        if (find_(ck, name))
            return glf_fail(GLF_ERR_FORMAT, "checkpoint %s: record %u: name '%s' appears twice",
                            path, i, name);
        glf_status st = GLF_OK;
        if (kind == K_I64) {
            NEED_(8, "integer value");
            GLF_TRY(glf_ckpt_set_int(ck, name, (int64_t)rd64_(p + at)));
            at += 8;
            continue;
        }
        int ndim = 0, shape[GLF_CKPT_MAX_DIM];
        uint64_t count_el;
        if (kind == K_F32) {
            NEED_(4, "ndim");
            uint32_t nd = rd32_(p + at);
            at += 4;
            if (nd > GLF_CKPT_MAX_DIM)
                return glf_fail(GLF_ERR_FORMAT,
                                "checkpoint %s: tensor '%s': ndim %u, expected 0..%d", path, name,
                                nd, GLF_CKPT_MAX_DIM);
            ndim = (int)nd;
            NEED_(8 * (uint64_t)nd, "dims");
            count_el = 1;
            for (int k = 0; k < ndim; k++, at += 8) {
                uint64_t dim = rd64_(p + at);
                if (dim > INT32_MAX || (dim && count_el > n / dim))
                    return glf_fail(GLF_ERR_FORMAT,
                                    "checkpoint %s: tensor '%s': dim %d = %llu is larger than "
                                    "the file",
                                    path, name, k, (unsigned long long)dim);
                shape[k] = (int)dim;
                count_el *= dim;
            }
        } else {
            NEED_(8, "length");
            count_el = rd64_(p + at);
            at += 8;
        }
        uint64_t bytes = kind == K_STR ? count_el : 4 * count_el;
        if (count_el > n)
            bytes = (uint64_t)n + 1; /* certainly too long; avoids overflow */
        NEED_(bytes, "data");
        rec_ *r = slot_(ck, name, &st);
        if (!r)
            return st;
        r->ndim = ndim;
        memcpy(r->shape, shape, sizeof shape);
        if (kind == K_STR) {
            if (memchr(p + at, 0, (size_t)bytes))
                return glf_fail(GLF_ERR_FORMAT, "checkpoint %s: string '%s' contains a NUL",
                                path, name);
            GLF_TRY(fill_(r, K_STR, p + at, (size_t)bytes, 1));
        } else {
            GLF_TRY(fill_(r, (int)kind, p + at, (size_t)count_el, 4));
            uint32_t *w = r->data;
            for (size_t j = 0; j < (size_t)count_el; j++)
                w[j] = rd32_(p + at + 4 * j);
        }
        at += (size_t)bytes;
    }
#undef NEED_
    if (at != n)
        return glf_fail(GLF_ERR_FORMAT,
                        "checkpoint %s: %zu bytes of payload left after the last record",
                        path, n - at);
    return GLF_OK;
}

glf_status glf_ckpt_read(const char *path, glf_ckpt **out)
{
    return glf_ckpt_read_as(path, GLF_CKPT_MAGIC, out);
}

glf_status glf_ckpt_read_as(const char *path, const char *magic, glf_ckpt **out)
{
    *out = NULL;
    if (!magic || strlen(magic) != 8)
        return glf_fail(GLF_ERR_INVALID_ARG, "checkpoint %s: magic must be 8 characters", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return glf_fail(GLF_ERR_IO, "checkpoint %s: cannot open: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t size = 0, cap = 0, got;
    do {
        if (size == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return glf_fail(GLF_ERR_NOMEM, "checkpoint %s: out of memory", path);
            }
            buf = nb;
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
    } while (got > 0);
    int rerr = ferror(f);
    fclose(f);
    glf_status st = GLF_OK;
    if (rerr)
        st = glf_fail(GLF_ERR_IO, "checkpoint %s: read error", path);
    else if (size < HEADER_)
        st = glf_fail(GLF_ERR_FORMAT,
                      "checkpoint %s: truncated: file has %zu bytes, a header needs %d", path,
                      size, HEADER_);
    else if (memcmp(buf, magic, 8) != 0) {
        char m[40];
        hex_(m, buf, 8);
        st = glf_fail(GLF_ERR_FORMAT,
                      "checkpoint %s: bad magic: bytes %s, expected \"%s\" (not a glf %s file)",
                      path, m, magic, strcmp(magic, GLF_CKPT_MAGIC) ? magic : "checkpoint");
    } else if (rd32_(buf + 8) != GLF_CKPT_VERSION)
        st = glf_fail(GLF_ERR_FORMAT,
                      "checkpoint %s: unknown version %u, this build reads version %u", path,
                      rd32_(buf + 8), GLF_CKPT_VERSION);
    else {
        uint64_t payload = rd64_(buf + 16);
        uint64_t want = (uint64_t)HEADER_ + payload + SHA256_DIGEST_SIZE;
        if (payload > size || want != size)
            st = glf_fail(GLF_ERR_FORMAT,
                          "checkpoint %s: %s: file has %zu bytes, its header says %llu (24 "
                          "header + %llu payload + 32 checksum)",
                          path, want > size ? "truncated" : "trailing bytes", size,
                          (unsigned long long)want, (unsigned long long)payload);
        else {
            unsigned char digest[SHA256_DIGEST_SIZE];
            struct sha256_ctx sha;
            sha256_init(&sha);
            sha256_update(&sha, HEADER_ + (size_t)payload, buf);
            sha256_digest(&sha, SHA256_DIGEST_SIZE, digest);
            if (memcmp(digest, buf + HEADER_ + payload, SHA256_DIGEST_SIZE) != 0) {
                char a[65], b[65];
                hex_(a, buf + HEADER_ + payload, SHA256_DIGEST_SIZE);
                hex_(b, digest, SHA256_DIGEST_SIZE);
                st = glf_fail(GLF_ERR_FORMAT,
                              "checkpoint %s: checksum mismatch: stored sha256 %s, content "
                              "hashes to %s (the file is corrupt)",
                              path, a, b);
            } else {
                glf_ckpt *ck = glf_ckpt_new();
                if (!ck)
                    st = glf_fail(GLF_ERR_NOMEM, "checkpoint %s: out of memory", path);
                else {
                    snprintf(ck->source, sizeof ck->source, "%s", path);
                    st = parse_(ck, buf + HEADER_, (size_t)payload, rd32_(buf + 12), path);
                    if (st == GLF_OK)
                        *out = ck;
                    else
                        glf_ckpt_free(ck);
                }
            }
        }
    }
    free(buf);
    return st;
}
