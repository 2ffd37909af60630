/* NumPy .npy (format 1.0 written; 1.0-3.0 read, strictly) and uint8 IDX
 * writing, for exported samples. Only little-endian float32 and uint8 in C
 * order: anything else is refused with the field and value named. */
#include "glf/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *descr_(glf_npy_dtype t) { return t == GLF_NPY_F32 ? "<f4" : "|u1"; }
static size_t itemsize_(glf_npy_dtype t) { return t == GLF_NPY_F32 ? 4 : 1; }

static glf_status count_(const char *path, int ndim, const int64_t *shape, size_t *n)
{
    if (ndim < 0 || ndim > GLF_NPY_MAX_DIM)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: ndim %d, expected 0..%d", path, ndim,
                        GLF_NPY_MAX_DIM);
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && total > ((size_t)1 << 40) / (size_t)shape[i]))
            return glf_fail(GLF_ERR_INVALID_ARG, "%s: dim %d = %lld out of range", path, i,
                            (long long)shape[i]);
        total *= (size_t)shape[i];
    }
    *n = total;
    return GLF_OK;
}

/* Write all of buf, then close; on failure the partial file is removed. */
static glf_status write_file_(const char *path, const void *head, size_t hn, const void *data,
                              size_t dn, const char *what)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return glf_fail(GLF_ERR_IO, "%s %s: cannot create: %s", what, path, strerror(errno));
    int ok = fwrite(head, 1, hn, f) == hn && (dn == 0 || fwrite(data, 1, dn, f) == dn);
    ok &= fclose(f) == 0;
    if (!ok) {
        remove(path);
        return glf_fail(GLF_ERR_IO, "%s %s: write failed: %s", what, path, strerror(errno));
    }
    return GLF_OK;
}

static int little_endian_(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

glf_status glf_npy_write(const char *path, glf_npy_dtype dtype, const void *data, int ndim,
                         const int64_t *shape)
{
    size_t n = 0;
    GLF_TRY(count_(path, ndim, shape, &n));
    if (dtype != GLF_NPY_F32 && dtype != GLF_NPY_U8)
        return glf_fail(GLF_ERR_INVALID_ARG, "npy %s: unknown dtype %d", path, (int)dtype);
    char dict[512], sh[400];
    size_t at = (size_t)snprintf(sh, sizeof sh, "(");
    for (int i = 0; i < ndim; i++)
        at += (size_t)snprintf(sh + at, sizeof sh - at, "%s%lld", i ? ", " : "",
                               (long long)shape[i]);
    snprintf(sh + at, sizeof sh - at, ndim == 1 ? ",)" : ")");
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                      descr_(dtype), sh);
    /* As numpy: pad with spaces and a final newline to a multiple of 64. */
    size_t total = 10 + (size_t)dl + 1;
    total = (total + 63) / 64 * 64;
    unsigned char *head = malloc(total);
    if (!head)
        return glf_fail(GLF_ERR_NOMEM, "npy %s: out of memory", path);
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)((total - 10) & 0xff);
    head[9] = (unsigned char)((total - 10) >> 8);
    memcpy(head + 10, dict, (size_t)dl);
    memset(head + 10 + dl, ' ', total - 10 - (size_t)dl - 1);
    head[total - 1] = '\n';
    glf_status st;
    size_t bytes = n * itemsize_(dtype);
    if (dtype == GLF_NPY_F32 && !little_endian_()) {
        unsigned char *sw = malloc(bytes ? bytes : 1);
        if (!sw) {
            free(head);
            return glf_fail(GLF_ERR_NOMEM, "npy %s: out of memory", path);
        }
        for (size_t i = 0; i < bytes; i++)
            sw[i] = ((const unsigned char *)data)[(i & ~(size_t)3) + 3 - (i & 3)];
        st = write_file_(path, head, total, sw, bytes, "npy");
        free(sw);
    } else {
        st = write_file_(path, head, total, data, bytes, "npy");
    }
    free(head);
    return st;
}

void glf_npy_free(glf_npy *a)
{
    if (a) {
        free(a->data);
        memset(a, 0, sizeof *a);
    }
}

/* ---- strict header parser ------------------------------------------------- */

typedef struct hp_ {
    const char *s, *path;
} hp_;

static void ws_(hp_ *p)
{
    while (*p->s == ' ')
        p->s++;
}

static glf_status expect_(hp_ *p, char ch)
{
    ws_(p);
    if (*p->s != ch)
        return glf_fail(GLF_ERR_FORMAT, "npy %s: header: expected '%c' at \"%.20s\"", p->path, ch,
                        p->s);
    p->s++;
    return GLF_OK;
}

static glf_status quoted_(hp_ *p, char *out, size_t n)
{
    ws_(p);
    char q = *p->s;
    if (q != '\'' && q != '"')
        return glf_fail(GLF_ERR_FORMAT, "npy %s: header: expected a quoted string at \"%.20s\"",
                        p->path, p->s);
    const char *end = strchr(p->s + 1, q);
    if (!end || (size_t)(end - p->s - 1) >= n)
        return glf_fail(GLF_ERR_FORMAT, "npy %s: header: unterminated or long string", p->path);
    memcpy(out, p->s + 1, (size_t)(end - p->s - 1));
    out[end - p->s - 1] = '\0';
    p->s = end + 1;
    return GLF_OK;
}

static glf_status shape_(hp_ *p, glf_npy *a)
{
    GLF_TRY(expect_(p, '('));
    a->ndim = 0;
    for (;;) {
        ws_(p);
        if (*p->s == ')') {
            p->s++;
            return GLF_OK;
        }
        if (*p->s < '0' || *p->s > '9')
            return glf_fail(GLF_ERR_FORMAT,
                            "npy %s: header: shape entry \"%.20s\": expected a non-negative "
                            "integer",
                            p->path, p->s);
        if (a->ndim == GLF_NPY_MAX_DIM)
            return glf_fail(GLF_ERR_FORMAT, "npy %s: header: more than %d dimensions", p->path,
                            GLF_NPY_MAX_DIM);
        char *end;
        errno = 0;
        long long v = strtoll(p->s, &end, 10);
        if (errno || v > ((long long)1 << 40))
            return glf_fail(GLF_ERR_FORMAT, "npy %s: header: dimension %.20s is too large",
                            p->path, p->s);
        a->shape[a->ndim++] = v;
        p->s = end;
        ws_(p);
        if (*p->s == ',')
            p->s++;
        else if (*p->s != ')')
            return glf_fail(GLF_ERR_FORMAT, "npy %s: header: expected ',' or ')' in the shape",
                            p->path);
    }
}

static glf_status header_(const char *path, const char *h, glf_npy *a)
{
    hp_ p = {h, path};
    int seen[3] = {0, 0, 0};
    GLF_TRY(expect_(&p, '{'));
    for (;;) {
        ws_(&p);
        if (*p.s == '}') {
            p.s++;
            break;
        }
        char key[32], val[32];
        GLF_TRY(quoted_(&p, key, sizeof key));
        GLF_TRY(expect_(&p, ':'));
        ws_(&p);
        if (strcmp(key, "descr") == 0) {
            GLF_TRY(quoted_(&p, val, sizeof val));
            if (strcmp(val, "<f4") == 0)
                a->dtype = GLF_NPY_F32;
            else if (strcmp(val, "|u1") == 0 || strcmp(val, "<u1") == 0)
                a->dtype = GLF_NPY_U8;
            else
                return glf_fail(GLF_ERR_FORMAT,
                                "npy %s: descr '%s' is not supported: expected '<f4' "
                                "(float32) or '|u1' (uint8)",
                                path, val);
            seen[0] = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (strncmp(p.s, "False", 5) == 0)
                p.s += 5;
            else if (strncmp(p.s, "True", 4) == 0)
                return glf_fail(GLF_ERR_FORMAT,
                                "npy %s: fortran_order True is not supported: expected a "
                                "C-order array",
                                path);
            else
                return glf_fail(GLF_ERR_FORMAT, "npy %s: fortran_order \"%.10s\": expected False",
                                path, p.s);
            seen[1] = 1;
        } else if (strcmp(key, "shape") == 0) {
            GLF_TRY(shape_(&p, a));
            seen[2] = 1;
        } else {
            return glf_fail(GLF_ERR_FORMAT, "npy %s: unknown header key '%s'", path, key);
        }
        ws_(&p);
        if (*p.s == ',')
            p.s++;
        else if (*p.s != '}')
            return glf_fail(GLF_ERR_FORMAT, "npy %s: header: expected ',' or '}' after '%s'",
                            path, key);
    }
    static const char *names[3] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; i++)
        if (!seen[i])
            return glf_fail(GLF_ERR_FORMAT, "npy %s: header lacks the key '%s'", path, names[i]);
    ws_(&p);
    if (strcmp(p.s, "\n") != 0)
        return glf_fail(GLF_ERR_FORMAT,
                        "npy %s: header: expected spaces and a newline after the dict, found "
                        "\"%.20s\"",
                        path, p.s);
    return GLF_OK;
}

glf_status glf_npy_read(const char *path, glf_npy *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return glf_fail(GLF_ERR_IO, "npy %s: cannot open: %s", path, strerror(errno));
    glf_status st = GLF_OK;
    unsigned char pre[12];
    char *h = NULL;
    size_t got = fread(pre, 1, 12, f);
    size_t hlen = 0, hstart = 0;
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        st = glf_fail(GLF_ERR_FORMAT, "npy %s: bad magic: expected \"\\x93NUMPY\"", path);
    else if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
        st = glf_fail(GLF_ERR_FORMAT, "npy %s: format version %u.%u, expected 1.0, 2.0 or 3.0",
                      path, pre[6], pre[7]);
    else if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hstart = 10;
    } else if (got < 12) {
        st = glf_fail(GLF_ERR_FORMAT, "npy %s: truncated in the preamble", path);
    } else {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
        hstart = 12;
    }
    if (st == GLF_OK && (hlen == 0 || hlen > (1u << 20)))
        st = glf_fail(GLF_ERR_FORMAT, "npy %s: header length %zu, expected 1..1048576", path,
                      hlen);
    if (st == GLF_OK && !(h = malloc(hlen + 1)))
        st = glf_fail(GLF_ERR_NOMEM, "npy %s: out of memory", path);
    if (st == GLF_OK) {
        fseek(f, (long)hstart, SEEK_SET);
        if (fread(h, 1, hlen, f) != hlen)
            st = glf_fail(GLF_ERR_FORMAT, "npy %s: truncated: header of %zu bytes is cut short",
                          path, hlen);
        else {
            h[hlen] = '\0';
            if (strlen(h) != hlen)
                st = glf_fail(GLF_ERR_FORMAT, "npy %s: header contains a NUL byte", path);
            else
                st = header_(path, h, out);
        }
    }
    size_t n = 0;
    if (st == GLF_OK)
        st = count_(path, out->ndim, out->shape, &n);
    if (st == GLF_OK) {
        size_t bytes = n * itemsize_(out->dtype);
        out->data = malloc(bytes ? bytes : 1);
        if (!out->data)
            st = glf_fail(GLF_ERR_NOMEM, "npy %s: out of memory for %zu bytes", path, bytes);
        else if (fread(out->data, 1, bytes, f) != bytes)
            st = glf_fail(GLF_ERR_FORMAT,
                          "npy %s: truncated: the shape needs %zu data bytes, the file has fewer",
                          path, bytes);
        else if (fgetc(f) != EOF)
            st = glf_fail(GLF_ERR_FORMAT,
                          "npy %s: trailing bytes after the %zu data bytes the shape needs", path,
                          bytes);
        else if (out->dtype == GLF_NPY_F32 && !little_endian_()) {
            unsigned char *b = out->data;
            for (size_t i = 0; i < bytes; i += 4) {
                unsigned char t0 = b[i], t1 = b[i + 1];
                b[i] = b[i + 3], b[i + 1] = b[i + 2], b[i + 2] = t1, b[i + 3] = t0;
            }
        }
        out->n = n;
    }
    fclose(f);
    free(h);
    if (st != GLF_OK)
        glf_npy_free(out);
    return st;
}

glf_status glf_idx_write_u8(const char *path, const uint8_t *data, int ndim,
                            const int64_t *shape)
{
    size_t n = 0;
    GLF_TRY(count_(path, ndim, shape, &n));
    if (ndim < 1 || ndim > 255)
        return glf_fail(GLF_ERR_INVALID_ARG, "IDX %s: ndim %d, expected 1..255", path, ndim);
    unsigned char head[4 + 4 * GLF_NPY_MAX_DIM];
    head[0] = head[1] = 0;
    head[2] = 0x08;
    head[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] > 0xffffffffLL)
            return glf_fail(GLF_ERR_INVALID_ARG, "IDX %s: dim %d = %lld exceeds 32 bits", path,
                            i, (long long)shape[i]);
        uint32_t v = (uint32_t)shape[i];
        for (int k = 0; k < 4; k++)
            head[4 + 4 * i + k] = (unsigned char)(v >> (24 - 8 * k));
    }
    return write_file_(path, head, 4 + 4 * (size_t)ndim, data, n, "IDX");
}
