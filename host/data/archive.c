/* The glf data archive: a tar compressed with zstd (libarchive) holding
 * manifest.json first, then per split and chunk a labels and an images
 * member (uint8, NCHW). Read as a stream, never extracted; every member's
 * SHA-256 is checked against the manifest before its bytes are used. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/internal.h"
#include "data/json.h"

#define MANIFEST_NAME_ "manifest.json"
#define MANIFEST_MAX_ ((size_t)64 << 20)
static const char *const splits_[2] = {"train", "test"};

int glf_split_index_(const char *split)
{
    return !strcmp(split, "train") ? 0 : !strcmp(split, "test") ? 1 : -1;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct writer_ {
    struct archive *a;
    const char *path;
} writer_;

static glf_status writer_open_(writer_ *w, const char *path, int level)
{
    w->path = path;
    w->a = archive_write_new();
    if (!w->a)
        return glf_fail(GLF_ERR_NOMEM, "%s: cannot create a libarchive writer", path);
    char lv[16];
    snprintf(lv, sizeof lv, "%d", level);
    if (archive_write_add_filter_zstd(w->a) != ARCHIVE_OK ||
        archive_write_set_filter_option(w->a, "zstd", "compression-level", lv) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
        archive_write_open_filename(w->a, path) != ARCHIVE_OK) {
        glf_status s = glf_fail(GLF_ERR_IO, "%s: cannot open for writing (%s)", path,
                                archive_error_string(w->a));
        archive_write_free(w->a);
        w->a = NULL;
        return s;
    }
    return GLF_OK;
}

static glf_status writer_add_(writer_ *w, const char *name, const void *data, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return glf_fail(GLF_ERR_NOMEM, "%s: out of memory", w->path);
    /* Fixed metadata: the same data always gives the same archive bytes. */
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 0, 0);
    glf_status s = GLF_OK;
    if (archive_write_header(w->a, e) != ARCHIVE_OK)
        s = glf_fail(GLF_ERR_IO, "%s: writing member %s: %s", w->path, name,
                     archive_error_string(w->a));
    const uint8_t *p = data;
    while (s == GLF_OK && n > 0) {
        la_ssize_t put = archive_write_data(w->a, p, n);
        if (put <= 0)
            s = glf_fail(GLF_ERR_IO, "%s: writing member %s: %s", w->path, name,
                         archive_error_string(w->a));
        else
            p += put, n -= (size_t)put;
    }
    archive_entry_free(e);
    return s;
}

static glf_status writer_close_(writer_ *w, int ok)
{
    glf_status s = GLF_OK;
    if (w->a) {
        if (ok && archive_write_close(w->a) != ARCHIVE_OK)
            s = glf_fail(GLF_ERR_IO, "%s: closing: %s", w->path, archive_error_string(w->a));
        archive_write_free(w->a);
        w->a = NULL;
    }
    return s;
}

glf_status glf_archive_write_members(const char *path, int level, size_t n,
                                     const char *const *names, const void *const *data,
                                     const size_t *sizes)
{
    writer_ w;
    GLF_TRY(writer_open_(&w, path, level > 0 ? level : 3));
    glf_status s = GLF_OK;
    for (size_t i = 0; i < n && s == GLF_OK; i++)
        s = writer_add_(&w, names[i], data[i], sizes[i]);
    glf_status c = writer_close_(&w, s == GLF_OK);
    return s != GLF_OK ? s : c;
}

/* ---- manifest --------------------------------------------------------------------- */

static void member_name_(char *buf, size_t n, int split, size_t chunk, int labels)
{
    snprintf(buf, n, "%s/%s-%06zu.u8", splits_[split], labels ? "labels" : "images", chunk);
}

/* Build the member table implied by the header fields (names and sizes). */
static glf_status manifest_layout_(glf_manifest_ *m, const char *label)
{
    m->image_bytes = glf_image_bytes_(m->channels, m->height, m->width);
    if (!m->image_bytes || m->chunk == 0 || m->chunk > 10000000)
        return glf_fail(GLF_ERR_FORMAT, "%s: manifest image shape %dx%dx%d / chunk %zu; expected "
                        "positive sizes (chunk <= 1e7)", label, m->channels, m->height, m->width,
                        m->chunk);
    if (m->image_bytes > ((size_t)1 << 40) / m->chunk)
        return glf_fail(GLF_ERR_FORMAT, "%s: manifest chunk of %zu images of %zu bytes is too "
                        "large", label, m->chunk, m->image_bytes);
    size_t total = 0;
    for (int s = 0; s < 2; s++) {
        if (m->count[s] > ((size_t)1 << 40))
            return glf_fail(GLF_ERR_FORMAT, "%s: manifest %s count %zu is too large", label,
                            splits_[s], m->count[s]);
        m->chunks[s] = (m->count[s] + m->chunk - 1) / m->chunk;
        total += m->chunks[s] * (m->labelled ? 2 : 1);
    }
    m->nmembers = total;
    m->members = calloc(total ? total : 1, sizeof *m->members);
    if (!m->members)
        return glf_fail(GLF_ERR_NOMEM, "%s: out of memory for %zu members", label, total);
    size_t i = 0;
    for (int s = 0; s < 2; s++)
        for (size_t k = 0; k < m->chunks[s]; k++) {
            size_t cnt = k + 1 < m->chunks[s] ? m->chunk : m->count[s] - k * m->chunk;
            for (int lab = m->labelled ? 1 : 0; lab >= 0; lab--, i++) {
                struct glf_member_ *e = &m->members[i];
                member_name_(e->name, sizeof e->name, s, k, lab);
                e->bytes = lab ? cnt : cnt * m->image_bytes;
                e->split = s;
                e->chunk = (int)k;
                e->is_labels = lab;
            }
        }
    return GLF_OK;
}

static glf_status num_field_(const glf_json *root, const char *key, const char *label,
                             double lo, double hi, double *v)
{
    const glf_json *j = glf_json_get(root, key);
    if (!j || j->type != GLF_JSON_NUM || j->num < lo || j->num > hi || j->num != (long long)j->num)
        return glf_fail(GLF_ERR_FORMAT, "%s: manifest field '%s' is missing or not an integer "
                        "in [%.0f, %.0f]", label, key, lo, hi);
    *v = j->num;
    return GLF_OK;
}

static void manifest_free_(glf_manifest_ *m)
{
    free(m->members);
    free(m->text);
    memset(m, 0, sizeof *m);
}

static glf_status manifest_parse_(glf_manifest_ *m, const char *label, const char *text,
                                  size_t len)
{
    char err[256];
    glf_json *root = glf_json_parse(text, len, err, sizeof err);
    if (!root)
        return glf_fail(GLF_ERR_FORMAT, "%s: invalid manifest.json (%s)", label, err);
    glf_status s = GLF_OK;
    const glf_json *fmt = glf_json_get(root, "format");
    double v = 0;
    if (root->type != GLF_JSON_OBJ || !fmt || fmt->type != GLF_JSON_STR ||
        strcmp(fmt->str, "glf-data"))
        s = glf_fail(GLF_ERR_FORMAT, "%s: invalid manifest.json: expected an object with "
                     "\"format\": \"glf-data\"", label);
    if (s == GLF_OK)
        s = num_field_(root, "version", label, 0, 1e9, &v);
    if (s == GLF_OK && v != GLF_DATA_FORMAT_VERSION)
        s = glf_fail(GLF_ERR_FORMAT, "%s: unknown archive format version %.0f; this glf reads "
                     "version %d (repack with this glf's `glf pack`)", label, v,
                     GLF_DATA_FORMAT_VERSION);
    m->version = (int)v;
    const glf_json *name = glf_json_get(root, "name");
    if (s == GLF_OK && (!name || name->type != GLF_JSON_STR))
        s = glf_fail(GLF_ERR_FORMAT, "%s: manifest field 'name' is missing", label);
    if (s == GLF_OK)
        snprintf(m->name, sizeof m->name, "%s", name->str);
    const char *ints[] = {"channels", "height", "width", "classes", "chunk_images"};
    double iv[5] = {0};
    for (int k = 0; k < 5 && s == GLF_OK; k++)
        s = num_field_(root, ints[k], label, k == 3 ? 0 : 1, k == 4 ? 1e7 : 65536, &iv[k]);
    m->channels = (int)iv[0], m->height = (int)iv[1], m->width = (int)iv[2];
    m->classes = (int)iv[3], m->chunk = (size_t)iv[4];
    const glf_json *lab = glf_json_get(root, "labelled");
    if (s == GLF_OK && (!lab || lab->type != GLF_JSON_BOOL))
        s = glf_fail(GLF_ERR_FORMAT, "%s: manifest field 'labelled' is missing or not a "
                     "boolean", label);
    if (s == GLF_OK)
        m->labelled = lab->num != 0;
    const glf_json *sp = glf_json_get(root, "splits");
    for (int k = 0; k < 2 && s == GLF_OK; k++) {
        const glf_json *o = glf_json_get(sp, splits_[k]);
        if (!o)
            s = glf_fail(GLF_ERR_FORMAT, "%s: manifest has no splits.%s", label, splits_[k]);
        else if ((s = num_field_(o, "count", label, 0, 1e12, &v)) == GLF_OK)
            m->count[k] = (size_t)v;
    }
    if (s == GLF_OK)
        s = manifest_layout_(m, label);
    const glf_json *mem = glf_json_get(root, "members");
    if (s == GLF_OK && (!mem || mem->type != GLF_JSON_ARR || glf_json_count(mem) != m->nmembers))
        s = glf_fail(GLF_ERR_FORMAT, "%s: manifest 'members' lists %zu entries; expected %zu "
                     "(from the split counts and chunk size)", label, glf_json_count(mem),
                     m->nmembers);
    size_t i = 0;
    for (const glf_json *e = mem ? mem->child : NULL; e && s == GLF_OK; e = e->next, i++) {
        struct glf_member_ *x = &m->members[i];
        const glf_json *n = glf_json_get(e, "name"), *h = glf_json_get(e, "sha256");
        const glf_json *b = glf_json_get(e, "bytes");
        if (!n || n->type != GLF_JSON_STR || strcmp(n->str, x->name) || !b ||
            b->type != GLF_JSON_NUM || b->num != (double)x->bytes)
            s = glf_fail(GLF_ERR_FORMAT, "%s: manifest member %zu; expected name \"%s\" with "
                         "%zu bytes", label, i, x->name, x->bytes);
        else if (!h || h->type != GLF_JSON_STR || strlen(h->str) != 64 ||
                 strspn(h->str, "0123456789abcdef") != 64)
            s = glf_fail(GLF_ERR_FORMAT, "%s: manifest member %s: 'sha256' is not 64 lower-case "
                         "hex digits", label, x->name);
        else
            memcpy(x->sha256, h->str, 65);
    }
    glf_json_free(root);
    return s;
}

/* ---- reading ---------------------------------------------------------------------- */

struct glf_areader_ {
    struct archive *a;
    char label[4096];
    glf_manifest_ m;
    size_t next;       /* index of the next member expected */
    uint8_t *buf[2];   /* [0] images, [1] labels */
    size_t cap[2];
};

/* Read the current member into buf (grown as data arrives, so a lying
 * header cannot make us allocate more than the stream really holds). */
static glf_status read_member_(glf_areader_ *r, const char *name, size_t limit, int slot,
                               size_t *len)
{
    *len = 0;
    for (;;) {
        if (*len == r->cap[slot]) {
            size_t nc = r->cap[slot] ? 2 * r->cap[slot] : 1 << 16;
            if (nc > limit + 1)
                nc = limit + 1;
            if (nc <= *len)
                return glf_fail(GLF_ERR_FORMAT, "%s: member %s is larger than the %zu bytes the "
                                "manifest says", r->label, name, limit);
            uint8_t *nb = realloc(r->buf[slot], nc);
            if (!nb)
                return glf_fail(GLF_ERR_NOMEM, "%s: out of memory reading %s", r->label, name);
            r->buf[slot] = nb;
            r->cap[slot] = nc;
        }
        la_ssize_t got = archive_read_data(r->a, r->buf[slot] + *len, r->cap[slot] - *len);
        if (got < 0)
            return glf_fail(GLF_ERR_FORMAT, "%s: corrupt or truncated archive while reading "
                            "member %s (libarchive: %s)", r->label, name,
                            archive_error_string(r->a));
        if (got == 0)
            return GLF_OK;
        *len += (size_t)got;
        if (*len > limit)
            return glf_fail(GLF_ERR_FORMAT, "%s: member %s is larger than the %zu bytes the "
                            "manifest says", r->label, name, limit);
    }
}

static glf_status next_header_(glf_areader_ *r, struct archive_entry **e, int *eof,
                               const char *expect)
{
    int rc = archive_read_next_header(r->a, e);
    *eof = rc == ARCHIVE_EOF;
    if (rc == ARCHIVE_OK || rc == ARCHIVE_EOF)
        return GLF_OK;
    if (rc == ARCHIVE_WARN)
        return GLF_OK;
    return glf_fail(GLF_ERR_FORMAT, "%s: corrupt or truncated archive before member %s "
                    "(libarchive: %s); expected a tar compressed with zstd", r->label, expect,
                    archive_error_string(r->a));
}

glf_status glf_areader_open_(const char *label, const char *path, const void *mem, size_t len,
                             glf_areader_ **out)
{
    *out = NULL;
    if (path)
        GLF_TRY(glf_check_file_(path));
    glf_areader_ *r = calloc(1, sizeof *r);
    if (!r)
        return glf_fail(GLF_ERR_NOMEM, "%s: out of memory", label);
    snprintf(r->label, sizeof r->label, "%s", label);
    r->a = archive_read_new();
    glf_status s = r->a ? GLF_OK : glf_fail(GLF_ERR_NOMEM, "%s: no libarchive reader", label);
    if (s == GLF_OK) {
        archive_read_support_filter_all(r->a);
        archive_read_support_format_tar(r->a);
        int rc = path ? archive_read_open_filename(r->a, path, 1 << 16)
                      : archive_read_open_memory(r->a, mem, len);
        if (rc != ARCHIVE_OK)
            s = glf_fail(GLF_ERR_FORMAT, "%s: not a readable archive: corrupt, truncated or "
                         "another format (libarchive: %s); expected a tar compressed with zstd",
                         label, archive_error_string(r->a));
    }
    struct archive_entry *e;
    int eof = 0;
    if (s == GLF_OK)
        s = next_header_(r, &e, &eof, MANIFEST_NAME_);
    if (s == GLF_OK && eof)
        s = glf_fail(GLF_ERR_FORMAT, "%s: archive has no members; expected %s first", label,
                     MANIFEST_NAME_);
    if (s == GLF_OK && strcmp(archive_entry_pathname(e) ? archive_entry_pathname(e) : "",
                              MANIFEST_NAME_))
        s = glf_fail(GLF_ERR_FORMAT, "%s: missing manifest: first member is '%s'; expected %s",
                     label, archive_entry_pathname(e) ? archive_entry_pathname(e) : "",
                     MANIFEST_NAME_);
    size_t n = 0;
    if (s == GLF_OK)
        s = read_member_(r, MANIFEST_NAME_, MANIFEST_MAX_, 0, &n);
    if (s == GLF_OK) {
        r->m.text = malloc(n + 1);
        if (!r->m.text)
            s = glf_fail(GLF_ERR_NOMEM, "%s: out of memory", label);
    }
    if (s == GLF_OK) {
        memcpy(r->m.text, r->buf[0], n);
        r->m.text[n] = '\0';
        r->m.text_len = n;
        glf_sha256_hex_(r->m.text, n, r->m.sha256);
        s = manifest_parse_(&r->m, label, r->m.text, n);
    }
    if (s != GLF_OK) {
        glf_areader_close_(r);
        return s;
    }
    *out = r;
    return GLF_OK;
}

const glf_manifest_ *glf_areader_manifest_(const glf_areader_ *r)
{
    return &r->m;
}

static glf_status read_checked_(glf_areader_ *r, const struct glf_member_ *x, int slot)
{
    struct archive_entry *e;
    int eof;
    GLF_TRY(next_header_(r, &e, &eof, x->name));
    if (eof)
        return glf_fail(GLF_ERR_FORMAT, "%s: archive ends before member %s (%zu of %zu members "
                        "read); expected the full archive (truncated?)", r->label, x->name,
                        r->next, r->m.nmembers);
    const char *pn = archive_entry_pathname(e);
    if (!pn || strcmp(pn, x->name))
        return glf_fail(GLF_ERR_FORMAT, "%s: member '%s' found where %s was expected (manifest "
                        "order)", r->label, pn ? pn : "", x->name);
    size_t n;
    GLF_TRY(read_member_(r, x->name, x->bytes, slot, &n));
    if (n != x->bytes)
        return glf_fail(GLF_ERR_FORMAT, "%s: member %s has %zu bytes; expected %zu (truncated?)",
                        r->label, x->name, n, x->bytes);
    char h[65];
    glf_sha256_hex_(r->buf[slot], n, h);
    if (strcmp(h, x->sha256))
        return glf_fail(GLF_ERR_MISMATCH, "%s: member %s hash mismatch: sha256 %s; the manifest "
                        "expects %s (corrupt archive)", r->label, x->name, h, x->sha256);
    r->next++;
    return GLF_OK;
}

glf_status glf_areader_next_(glf_areader_ *r, int *split, const uint8_t **images,
                             const uint8_t **labels, size_t *count, int *done)
{
    *done = 0;
    if (r->next >= r->m.nmembers) {
        struct archive_entry *e;
        int eof;
        GLF_TRY(next_header_(r, &e, &eof, "(end of archive)"));
        if (!eof)
            return glf_fail(GLF_ERR_FORMAT, "%s: unexpected extra member '%s' after the %zu "
                            "listed in the manifest", r->label, archive_entry_pathname(e),
                            r->m.nmembers);
        *done = 1;
        return GLF_OK;
    }
    const struct glf_member_ *x = &r->m.members[r->next];
    *labels = NULL;
    if (x->is_labels) {
        GLF_TRY(read_checked_(r, x, 1));
        x = &r->m.members[r->next];
        *labels = r->buf[1];
    }
    GLF_TRY(read_checked_(r, x, 0));
    *split = x->split;
    *images = r->buf[0];
    *count = x->bytes / r->m.image_bytes;
    return GLF_OK;
}

void glf_areader_close_(glf_areader_ *r)
{
    if (!r)
        return;
    if (r->a)
        archive_read_free(r->a);
    free(r->buf[0]);
    free(r->buf[1]);
    manifest_free_(&r->m);
    free(r);
}

static void fill_meta_(glf_dataset *out, const glf_manifest_ *m, int sp)
{
    snprintf(out->name, sizeof out->name, "%s", m->name);
    out->channels = m->channels;
    out->height = m->height;
    out->width = m->width;
    out->classes = m->classes;
    out->labelled = m->labelled;
    out->n = m->count[sp];
    memcpy(out->manifest_sha256, m->sha256, 65);
    snprintf(out->split, sizeof out->split, "%s", splits_[sp]);
}

/* Read a whole split into memory, checking every member of the archive. */
static glf_status load_all_(glf_areader_ *r, int sp, glf_dataset *out)
{
    const glf_manifest_ *m = &r->m;
    if (m->count[sp] == 0)
        return glf_fail(GLF_ERR_FORMAT, "%s: empty data set: split %s has 0 images; expected at "
                        "least one", r->label, splits_[sp]);
    size_t want = m->count[sp] * m->image_bytes, at = 0, cap = 0;
    uint8_t *img = NULL, *lab = m->labelled ? malloc(m->count[sp]) : NULL;
    glf_status s = (m->labelled && !lab) ? glf_fail(GLF_ERR_NOMEM, "out of memory") : GLF_OK;
    for (;;) {
        int split, done;
        const uint8_t *ci, *cl;
        size_t cnt;
        if (s == GLF_OK)
            s = glf_areader_next_(r, &split, &ci, &cl, &cnt, &done);
        if (s != GLF_OK || done)
            break;
        if (split != sp)
            continue;
        size_t need = (at + cnt) * m->image_bytes;
        if (need > cap) {
            size_t nc = cap * 2 > need ? cap * 2 : need;
            nc = nc < want ? nc : want;
            uint8_t *nb = realloc(img, nc);
            if (!nb) {
                s = glf_fail(GLF_ERR_NOMEM, "%s: out of memory for %zu bytes", r->label, nc);
                break;
            }
            img = nb, cap = nc;
        }
        memcpy(img + at * m->image_bytes, ci, cnt * m->image_bytes);
        if (lab) {
            for (size_t i = 0; i < cnt && s == GLF_OK; i++)
                if (m->classes > 0 && cl[i] >= m->classes)
                    s = glf_fail(GLF_ERR_FORMAT, "%s: %s label %u of image %zu; expected 0..%d",
                                 r->label, splits_[sp], cl[i], at + i, m->classes - 1);
            memcpy(lab + at, cl, cnt);
        }
        at += cnt;
    }
    if (s != GLF_OK) {
        free(img);
        free(lab);
        return s;
    }
    fill_meta_(out, m, sp);
    out->images = img;
    out->labels = lab;
    return GLF_OK;
}

static glf_status load_from_(const char *label, const char *path, const void *mem, size_t len,
                             const char *split, size_t max_memory, glf_dataset *out)
{
    int sp = split ? glf_split_index_(split) : -1;
    if (sp < 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "split '%s'; expected 'train' or 'test'",
                        split ? split : "(null)");
    glf_areader_ *r;
    GLF_TRY(glf_areader_open_(label, path, mem, len, &r));
    const glf_manifest_ *m = &r->m;
    glf_status s = GLF_OK;
    if (max_memory && path && m->count[sp] * m->image_bytes > max_memory) {
        /* Too big to hold: the batcher streams it through a shuffle buffer. */
        if (m->count[sp] == 0)
            s = glf_fail(GLF_ERR_FORMAT, "%s: empty data set: split %s has 0 images", label,
                         splits_[sp]);
        size_t chunk = m->chunk < m->count[sp] ? m->chunk : m->count[sp];
        /* The reader holds one chunk; the shuffle buffer gets the rest. */
        if (s == GLF_OK && max_memory < (chunk + 1) * (m->image_bytes + 1))
            s = glf_fail(GLF_ERR_INVALID_ARG, "%s: --max-memory %zu bytes is less than one "
                         "chunk (%zu images of %zu bytes) plus one image; expected at least "
                         "%zu", label, max_memory, chunk, m->image_bytes + 1,
                         (chunk + 1) * (m->image_bytes + 1));
        if (s == GLF_OK) {
            fill_meta_(out, m, sp);
            out->chunk = chunk;
            out->streamed = 1;
            out->max_memory = max_memory;
            snprintf(out->archive, sizeof out->archive, "%s", path);
        }
    } else {
        s = load_all_(r, sp, out);
    }
    glf_areader_close_(r);
    return s;
}

glf_status glf_archive_load_(const char *path, const char *split, size_t max_memory,
                             glf_dataset *out)
{
    return load_from_(path, path, NULL, 0, split, max_memory, out);
}

glf_status glf_archive_load_memory(const char *label, const void *buf, size_t len,
                                   const char *split, glf_dataset *out)
{
    memset(out, 0, sizeof *out);
    return load_from_(label, NULL, buf, len, split, 0, out);
}

glf_status glf_archive_stream(const char *path, const char *split, glf_chunk_fn fn, void *user)
{
    int sp = split ? glf_split_index_(split) : -1;
    if (sp < 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "split '%s'; expected 'train' or 'test'",
                        split ? split : "(null)");
    glf_areader_ *r;
    GLF_TRY(glf_areader_open_(path, path, NULL, 0, &r));
    glf_status s = GLF_OK;
    for (;;) {
        int split_i, done;
        const uint8_t *ci, *cl;
        size_t cnt;
        s = glf_areader_next_(r, &split_i, &ci, &cl, &cnt, &done);
        if (s != GLF_OK || done)
            break;
        if (split_i == sp && fn(user, ci, cl, cnt))
            break;
    }
    glf_areader_close_(r);
    return s;
}

glf_status glf_archive_info_read(const char *path, int verify, glf_archive_info *out)
{
    memset(out, 0, sizeof *out);
    glf_areader_ *r;
    GLF_TRY(glf_areader_open_(path, path, NULL, 0, &r));
    const glf_manifest_ *m = &r->m;
    glf_status s = GLF_OK;
    while (verify && s == GLF_OK) {
        int sp, done;
        const uint8_t *ci, *cl;
        size_t cnt;
        s = glf_areader_next_(r, &sp, &ci, &cl, &cnt, &done);
        if (done)
            break;
    }
    if (s == GLF_OK) {
        snprintf(out->name, sizeof out->name, "%s", m->name);
        out->version = m->version;
        out->channels = m->channels, out->height = m->height, out->width = m->width;
        out->classes = m->classes, out->labelled = m->labelled, out->chunk = (int)m->chunk;
        out->count[0] = m->count[0], out->count[1] = m->count[1];
        out->members = m->nmembers;
        for (size_t i = 0; i < m->nmembers; i++)
            out->bytes += m->members[i].bytes;
        memcpy(out->manifest_sha256, m->sha256, 65);
        out->manifest = strdup(m->text);
        if (!out->manifest)
            s = glf_fail(GLF_ERR_NOMEM, "out of memory");
    }
    glf_areader_close_(r);
    return s;
}

void glf_archive_info_free(glf_archive_info *info)
{
    free(info->manifest);
    info->manifest = NULL;
}

/* ---- packing ---------------------------------------------------------------------------- */

static glf_status json_append_(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static glf_status json_append_(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return glf_fail(GLF_ERR_INTERNAL, "manifest formatting failed");
        if (*buf && *len + (size_t)k < *cap) {
            *len += (size_t)k;
            return GLF_OK;
        }
        size_t nc = (*cap ? *cap * 2 : 4096) + (size_t)k;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return glf_fail(GLF_ERR_NOMEM, "out of memory for the manifest");
        *buf = nb, *cap = nc;
    }
}

glf_status glf_pack(const glf_data_source *src, const char *out_path, const glf_pack_opts *o)
{
    glf_pack_opts def = {0};
    if (!o)
        o = &def;
    int level = o->level ? o->level : 9;
    size_t chunk = o->chunk > 0 ? (size_t)o->chunk : GLF_DATA_CHUNK_DEFAULT;
    if (level < 1 || level > 22)
        return glf_fail(GLF_ERR_INVALID_ARG, "--level %d; expected 1..22", level);
    glf_dataset d[2];
    memset(d, 0, sizeof d);
    glf_data_source s0 = *src;
    s0.max_memory = 0;
    glf_status s = glf_dataset_load(&s0, "train", &d[0]);
    if (s == GLF_OK) {
        s = glf_dataset_load(&s0, "test", &d[1]);
        /* A PNG folder without train/ and test/ has only a train split. */
        if (s == GLF_ERR_IO && s0.name && !strcmp(s0.name, "images") &&
            strstr(glf_last_error(), "only a train split")) {
            s = GLF_OK;
            d[1] = d[0];
            d[1].n = 0;
            d[1].images = d[1].labels = NULL;
        }
    }
    if (s == GLF_OK && (d[1].n && (d[0].channels != d[1].channels ||
                                   d[0].height != d[1].height || d[0].width != d[1].width)))
        s = glf_fail(GLF_ERR_MISMATCH, "train and test images differ in shape");
    size_t lim[2] = {o->limit_train, o->limit_test};
    for (int k = 0; k < 2; k++)
        if (lim[k] && lim[k] < d[k].n)
            d[k].n = lim[k];
    glf_manifest_ m;
    memset(&m, 0, sizeof m);
    if (s == GLF_OK) {
        snprintf(m.name, sizeof m.name, "%s", d[0].name);
        /* The name goes into JSON unescaped: keep it to safe characters. */
        for (char *c = m.name; *c; c++)
            if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                *c = '_';
        m.channels = d[0].channels, m.height = d[0].height, m.width = d[0].width;
        m.classes = d[0].classes, m.labelled = d[0].labels != NULL, m.chunk = chunk;
        m.count[0] = d[0].n, m.count[1] = d[1].n;
        s = manifest_layout_(&m, out_path);
    }
    /* Hash every member first: the manifest leads the archive. */
    char *js = NULL;
    size_t jl = 0, jc = 0;
    if (s == GLF_OK)
        s = json_append_(&js, &jl, &jc,
                         "{\n  \"format\": \"glf-data\",\n  \"version\": %d,\n  \"name\": \"%s\",\n"
                         "  \"channels\": %d,\n  \"height\": %d,\n  \"width\": %d,\n"
                         "  \"classes\": %d,\n  \"labelled\": %s,\n  \"chunk_images\": %zu,\n"
                         "  \"layout\": \"uint8 NCHW per images member; one uint8 label per "
                         "image per labels member\",\n"
                         "  \"source_sha256\": {\"train\": \"%s\", \"test\": \"%s\"},\n"
                         "  \"splits\": {\"train\": {\"count\": %zu}, \"test\": {\"count\": "
                         "%zu}},\n  \"members\": [",
                         GLF_DATA_FORMAT_VERSION, m.name, m.channels, m.height, m.width,
                         m.classes, m.labelled ? "true" : "false", chunk, d[0].manifest_sha256,
                         d[1].n ? d[1].manifest_sha256 : "", m.count[0], m.count[1]);
    const void **ptr = calloc(m.nmembers + 1, sizeof *ptr);
    if (s == GLF_OK && !ptr)
        s = glf_fail(GLF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m.nmembers && s == GLF_OK; i++) {
        struct glf_member_ *x = &m.members[i];
        size_t first = (size_t)x->chunk * chunk;
        ptr[i] = x->is_labels ? (const void *)(d[x->split].labels + first)
                              : (const void *)(d[x->split].images + first * m.image_bytes);
        glf_sha256_hex_(ptr[i], x->bytes, x->sha256);
        s = json_append_(&js, &jl, &jc, "%s\n    {\"name\": \"%s\", \"bytes\": %zu, \"sha256\": "
                         "\"%s\"}", i ? "," : "", x->name, x->bytes, x->sha256);
    }
    if (s == GLF_OK)
        s = json_append_(&js, &jl, &jc, "\n  ]\n}\n");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
    writer_ w = {0};
    int opened = 0;
    if (s == GLF_OK && (s = writer_open_(&w, tmp, level)) == GLF_OK)
        opened = 1;
    if (s == GLF_OK)
        s = writer_add_(&w, MANIFEST_NAME_, js, jl);
    for (size_t i = 0; i < m.nmembers && s == GLF_OK; i++) {
        s = writer_add_(&w, m.members[i].name, ptr[i], m.members[i].bytes);
        if (s == GLF_OK && o->progress && o->progress(o->user, m.members[i].name, i + 1,
                                                      m.nmembers))
            s = glf_fail(GLF_ERR_INTERRUPTED, "%s: pack interrupted after member %s; nothing "
                         "written", out_path, m.members[i].name);
    }
    glf_status c = opened ? writer_close_(&w, s == GLF_OK) : GLF_OK;
    if (s == GLF_OK)
        s = c;
    if (s == GLF_OK && rename(tmp, out_path) != 0)
        s = glf_fail(GLF_ERR_IO, "%s: cannot rename %s to it (%s)", out_path, tmp,
                     strerror(errno));
    if (s != GLF_OK && opened)
        unlink(tmp);
    free(ptr);
    free(js);
    free(m.members);
    glf_dataset_free(&d[0]);
    glf_dataset_free(&d[1]);
    return s;
}
