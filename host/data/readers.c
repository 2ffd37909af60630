/* Readers of the original data formats: IDX (raw or compressed, through
 * libarchive's raw format and filters), CIFAR-10 binary batches and folders
 * of PNG images, plus the named data sets that pick their files. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <glob.h>
#include <nettle/sha2.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/internal.h"

#ifndef GLF_SOURCE_DATA_DIR
#define GLF_SOURCE_DATA_DIR "data"
#endif

void glf_sha256_hex_(const void *data, size_t n, char out[65])
{
    struct sha256_ctx c;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, n, data);
    sha256_digest(&c, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

size_t glf_image_bytes_(int c, int h, int w)
{
    if (c <= 0 || h <= 0 || w <= 0 || c > 4096 || h > 65536 || w > 65536)
        return 0;
    return (size_t)c * (size_t)h * (size_t)w;
}

/* A regular, readable file: clear messages for a missing path or a folder. */
glf_status glf_check_file_(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return glf_fail(GLF_ERR_IO, "%s: cannot open (%s); expected an existing file", path,
                        strerror(errno));
    if (!S_ISREG(st.st_mode))
        return glf_fail(GLF_ERR_IO, "%s: is not a regular file (a folder?); expected a data file",
                        path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return glf_fail(GLF_ERR_IO, "%s: cannot read (%s)", path, strerror(errno));
    fclose(f);
    return GLF_OK;
}

glf_status glf_read_decompressed(const char *label, const char *path, const void *mem,
                                 size_t mem_len, uint8_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (path)
        GLF_TRY(glf_check_file_(path));
    struct archive *a = archive_read_new();
    if (!a)
        return glf_fail(GLF_ERR_NOMEM, "%s: cannot create a libarchive reader", label);
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    int r = path ? archive_read_open_filename(a, path, 1 << 16)
                 : archive_read_open_memory(a, mem, mem_len);
    struct archive_entry *e;
    if (r == ARCHIVE_OK)
        r = archive_read_next_header(a, &e);
    if (r != ARCHIVE_OK) {
        glf_status s = glf_fail(GLF_ERR_FORMAT, "%s: cannot read (%s); expected a raw or "
                                "gzip-compressed file", label,
                                r == ARCHIVE_EOF ? "the file is empty" : archive_error_string(a));
        archive_read_free(a);
        return s;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    glf_status s = buf ? GLF_OK : glf_fail(GLF_ERR_NOMEM, "%s: out of memory", label);
    while (s == GLF_OK) {
        if (len == cap) {
            uint8_t *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                s = glf_fail(GLF_ERR_NOMEM, "%s: out of memory after %zu bytes", label, len);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        la_ssize_t got = archive_read_data(a, buf + len, cap - len);
        if (got < 0)
            s = glf_fail(GLF_ERR_FORMAT, "%s: corrupt or truncated after %zu bytes (%s)", label,
                         len, archive_error_string(a));
        else if (got == 0)
            break;
        else
            len += (size_t)got;
    }
    archive_read_free(a);
    if (s != GLF_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    *n = len;
    return GLF_OK;
}

static uint32_t be32_(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

glf_status glf_idx_parse(const char *label, const uint8_t *buf, size_t len, uint8_t **data,
                         int *ndim, uint32_t dims[4])
{
    *data = NULL;
    if (len < 4)
        return glf_fail(GLF_ERR_FORMAT, "%s: %zu bytes, too short for an IDX header (4 bytes "
                        "of magic expected)", label, len);
    uint32_t magic = be32_(buf);
    int nd = buf[3];
    if (buf[0] != 0 || buf[1] != 0 || buf[2] != 0x08 || nd < 1 || nd > 4)
        return glf_fail(GLF_ERR_FORMAT, "%s: wrong IDX magic 0x%08x; expected 0x00000801.."
                        "0x00000804 (unsigned bytes, 1 to 4 dimensions)", label, magic);
    size_t hdr = 4 + 4 * (size_t)nd;
    if (len < hdr)
        return glf_fail(GLF_ERR_FORMAT, "%s: %zu bytes, too short for the %zu-byte IDX header "
                        "of %d dimensions", label, len, hdr, nd);
    size_t prod = 1;
    for (int k = 0; k < nd; k++) {
        dims[k] = be32_(buf + 4 + 4 * k);
        if (dims[k] != 0 && prod > SIZE_MAX / dims[k])
            return glf_fail(GLF_ERR_FORMAT, "%s: IDX dimensions overflow (dimension %d is %u); "
                            "expected a product that fits the file", label, k, dims[k]);
        prod *= dims[k];
    }
    if (prod != len - hdr)
        return glf_fail(GLF_ERR_FORMAT, "%s: IDX header dimensions need %zu data bytes but the "
                        "file has %zu after the header; expected them to match", label, prod,
                        len - hdr);
    /* prod <= len here: the allocation is bounded by real data. */
    *data = malloc(prod ? prod : 1);
    if (!*data)
        return glf_fail(GLF_ERR_NOMEM, "%s: out of memory for %zu bytes", label, prod);
    memcpy(*data, buf + hdr, prod);
    *ndim = nd;
    return GLF_OK;
}

glf_status glf_idx_read(const char *path, uint8_t **data, int *ndim, uint32_t dims[4])
{
    uint8_t *raw;
    size_t n;
    GLF_TRY(glf_read_decompressed(path, path, NULL, 0, &raw, &n));
    glf_status s = glf_idx_parse(path, raw, n, data, ndim, dims);
    free(raw);
    return s;
}

/* ---- named IDX sets ------------------------------------------------------- */

/* snprintf into a path buffer; a path that does not fit is an error. */
#define PATHF_(buf, ...)                                                                \
    do {                                                                                \
        int pathf_n_ = snprintf((buf), sizeof(buf), __VA_ARGS__);                      \
        if (pathf_n_ < 0 || (size_t)pathf_n_ >= sizeof(buf))                            \
            return glf_fail(GLF_ERR_INVALID_ARG, "path too long: %s...", (buf));        \
    } while (0)

static int exists_(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The first existing spelling of an IDX file (".gz" or not, "-idx" or ".idx"). */
static glf_status find_idx_(const char *dir, const char *prefix, const char *kind, int nd,
                            char *path, size_t n)
{
    const char *forms[] = {"%s/%s-%s-idx%d-ubyte.gz", "%s/%s-%s-idx%d-ubyte",
                           "%s/%s-%s.idx%d-ubyte.gz", "%s/%s-%s.idx%d-ubyte"};
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        snprintf(path, n, forms[k], dir, prefix, kind, nd);
        if (exists_(path))
            return GLF_OK;
    }
    snprintf(path, n, forms[1], dir, prefix, kind, nd);
    return glf_fail(GLF_ERR_IO, "%s: missing; expected %s-%s-idx%d-ubyte[.gz] in folder %s",
                    path, prefix, kind, nd, dir);
}

static glf_status load_idx_set_(const char *name, const char *dir, const char *split,
                                glf_dataset *out)
{
    const char *prefix = strcmp(split, "train") ? "t10k" : "train";
    char ip[4096], lp[4096];
    GLF_TRY(find_idx_(dir, prefix, "images", 3, ip, sizeof ip));
    GLF_TRY(find_idx_(dir, prefix, "labels", 1, lp, sizeof lp));
    uint8_t *img = NULL, *lab = NULL;
    int ni, nl;
    uint32_t di[4], dl[4];
    glf_status s = glf_idx_read(ip, &img, &ni, di);
    if (s == GLF_OK)
        s = glf_idx_read(lp, &lab, &nl, dl);
    if (s == GLF_OK && ni != 3)
        s = glf_fail(GLF_ERR_FORMAT, "%s: %d dimensions; expected 3 (count, rows, columns)", ip,
                     ni);
    if (s == GLF_OK && nl != 1)
        s = glf_fail(GLF_ERR_FORMAT, "%s: %d dimensions; expected 1 (count)", lp, nl);
    if (s == GLF_OK && di[0] != dl[0])
        s = glf_fail(GLF_ERR_MISMATCH, "%s has %u images but %s has %u labels; expected equal "
                     "counts", ip, di[0], lp, dl[0]);
    if (s == GLF_OK && (di[0] == 0 || di[1] == 0 || di[2] == 0))
        s = glf_fail(GLF_ERR_FORMAT, "%s: empty data set (%u images of %ux%u); expected at "
                     "least one image", ip, di[0], di[1], di[2]);
    for (uint32_t i = 0; s == GLF_OK && i < dl[0]; i++)
        if (lab[i] > 9)
            s = glf_fail(GLF_ERR_FORMAT, "%s: label %u of image %u; expected 0..9", lp, lab[i],
                         i);
    if (s != GLF_OK) {
        free(img);
        free(lab);
        return s;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    out->channels = 1;
    out->height = (int)di[1];
    out->width = (int)di[2];
    out->classes = 10;
    out->labelled = 1;
    out->n = di[0];
    out->images = img;
    out->labels = lab;
    /* Identity of the data: the decoded image bytes then the labels. */
    struct sha256_ctx c;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, out->n * (size_t)out->height * out->width, img);
    sha256_update(&c, out->n, lab);
    sha256_digest(&c, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(out->manifest_sha256 + 2 * i, 3, "%02x", d[i]);
    return GLF_OK;
}

/* ---- CIFAR-10 -------------------------------------------------------------------- */

#define CIFAR_REC_ 3073

static glf_status load_cifar_(const char *dir0, const char *split, glf_dataset *out)
{
    char dir[4096], pat[4200];
    PATHF_(dir, "%s/cifar-10-batches-bin", dir0);
    if (!exists_(dir))
        PATHF_(dir, "%s", dir0);
    /* Original names (data_batch_1.bin ...) and the shared subset's
     * (data_batch_1_first4000.bin, test_batch_first1000.bin). */
    PATHF_(pat, "%s/%s", dir, strcmp(split, "train") ? "test_batch*.bin" : "data_batch_*.bin");
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        globfree(&g);
        return glf_fail(GLF_ERR_IO, "%s: no CIFAR-10 batch files; expected %s (binary version)",
                        dir, pat);
    }
    size_t total = 0;
    glf_status s = GLF_OK;
    for (size_t k = 0; k < g.gl_pathc && s == GLF_OK; k++) {
        struct stat st;
        s = glf_check_file_(g.gl_pathv[k]);
        if (s == GLF_OK && stat(g.gl_pathv[k], &st) == 0 &&
            (st.st_size == 0 || st.st_size % CIFAR_REC_))
            s = glf_fail(GLF_ERR_FORMAT, "%s: %lld bytes; expected a non-zero multiple of %d "
                         "(1 label + 3072 pixel bytes per record)", g.gl_pathv[k],
                         (long long)st.st_size, CIFAR_REC_);
        total += (size_t)st.st_size / CIFAR_REC_;
    }
    uint8_t *img = NULL, *lab = NULL, *rec = NULL;
    if (s == GLF_OK) {
        img = malloc(total * 3072);
        lab = malloc(total);
        rec = malloc((size_t)CIFAR_REC_ * 1024);
        if (!img || !lab || !rec)
            s = glf_fail(GLF_ERR_NOMEM, "%s: out of memory for %zu images", dir, total);
    }
    struct sha256_ctx c;
    sha256_init(&c);
    size_t at = 0;
    for (size_t k = 0; k < g.gl_pathc && s == GLF_OK; k++) {
        FILE *f = fopen(g.gl_pathv[k], "rb");
        if (!f) {
            s = glf_fail(GLF_ERR_IO, "%s: cannot read (%s)", g.gl_pathv[k], strerror(errno));
            break;
        }
        size_t got;
        while (s == GLF_OK && (got = fread(rec, CIFAR_REC_, 1024, f)) > 0) {
            if (at + got > total) {
                s = glf_fail(GLF_ERR_IO, "%s: grew while being read", g.gl_pathv[k]);
                break;
            }
            sha256_update(&c, got * CIFAR_REC_, rec);
            for (size_t r = 0; r < got; r++, at++) {
                lab[at] = rec[r * CIFAR_REC_];
                if (lab[at] > 9)
                    s = glf_fail(GLF_ERR_FORMAT, "%s: record %zu has label %u; expected 0..9",
                                 g.gl_pathv[k], at, lab[at]);
                memcpy(img + at * 3072, rec + r * CIFAR_REC_ + 1, 3072);
            }
        }
        if (s == GLF_OK && ferror(f))
            s = glf_fail(GLF_ERR_IO, "%s: read error", g.gl_pathv[k]);
        fclose(f);
    }
    if (s == GLF_OK && at != total)
        s = glf_fail(GLF_ERR_IO, "%s: %zu records read; expected %zu", dir, at, total);
    globfree(&g);
    free(rec);
    if (s != GLF_OK) {
        free(img);
        free(lab);
        return s;
    }
    snprintf(out->name, sizeof out->name, "cifar10");
    out->channels = 3;
    out->height = out->width = 32;
    out->classes = 10;
    out->labelled = 1;
    out->n = total;
    out->images = img;
    out->labels = lab;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&c, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(out->manifest_sha256 + 2 * i, 3, "%02x", d[i]);
    return GLF_OK;
}

/* ---- PNG folders ------------------------------------------------------------------ */

/* Centre crop, then PyTorch adaptive average pooling (F.interpolate mode
 * "area"): output pixel i averages input rows floor(i*in/out) ..
 * ceil((i+1)*in/out)-1; rounded half up to a byte. */
static void crop_resize_(const uint8_t *rgb, int h, int w, int crop, int size, uint8_t *chw)
{
    int ch = crop ? crop : h, cw = crop ? crop : w;
    int y0 = (h - ch) / 2, x0 = (w - cw) / 2;
    int oh = size ? size : ch, ow = size ? size : cw;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < oh; i++) {
            int ys = (int)((long)i * ch / oh), ye = (int)(((long)(i + 1) * ch + oh - 1) / oh);
            for (int j = 0; j < ow; j++) {
                int xs = (int)((long)j * cw / ow), xe = (int)(((long)(j + 1) * cw + ow - 1) / ow);
                unsigned long sum = 0;
                for (int y = ys; y < ye; y++)
                    for (int x = xs; x < xe; x++)
                        sum += rgb[((size_t)(y0 + y) * w + (x0 + x)) * 3 + c];
                unsigned long cnt = (unsigned long)(ye - ys) * (unsigned long)(xe - xs);
                chw[((size_t)c * oh + i) * ow + j] = (uint8_t)((2 * sum + cnt) / (2 * cnt));
            }
        }
}

static glf_status load_png_(const char *dir0, const char *split, int crop, int size,
                            glf_dataset *out)
{
    char dir[4096], pat[4200];
    PATHF_(dir, "%s/%s", dir0, split);
    if (!exists_(dir)) {
        if (strcmp(split, "train"))
            return glf_fail(GLF_ERR_IO, "%s: no '%s' subfolder; a PNG folder without train/ and "
                            "test/ subfolders has only a train split", dir0, split);
        PATHF_(dir, "%s", dir0);
    }
    PATHF_(pat, "%s/*.png", dir);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        globfree(&g);
        return glf_fail(GLF_ERR_IO, "%s: no PNG images; expected files matching %s (empty data "
                        "set)", dir, pat);
    }
    glf_status s = GLF_OK;
    uint8_t *img = NULL, *rgb = NULL;
    int side_h = 0, side_w = 0;
    size_t ib = 0;
    for (size_t k = 0; k < g.gl_pathc && s == GLF_OK; k++) {
        const char *p = g.gl_pathv[k];
        png_image im;
        memset(&im, 0, sizeof im);
        im.version = PNG_IMAGE_VERSION;
        if (!png_image_begin_read_from_file(&im, p)) {
            s = glf_fail(GLF_ERR_FORMAT, "%s: not a readable PNG (%s)", p, im.message);
            break;
        }
        im.format = PNG_FORMAT_RGB;
        int h = (int)im.height, w = (int)im.width;
        if (crop && (crop > h || crop > w)) {
            png_image_free(&im);
            s = glf_fail(GLF_ERR_FORMAT, "%s: %dx%d image is smaller than --crop %d", p, w, h,
                         crop);
            break;
        }
        int oh = size ? size : (crop ? crop : h), ow = size ? size : (crop ? crop : w);
        if (size && size > (crop ? crop : (h < w ? h : w))) {
            png_image_free(&im);
            s = glf_fail(GLF_ERR_FORMAT, "%s: --size %d is larger than the (cropped) image; "
                         "area averaging only shrinks", p, size);
            break;
        }
        if (k == 0) {
            side_h = oh, side_w = ow;
            ib = glf_image_bytes_(3, oh, ow);
            img = ib ? malloc(ib * g.gl_pathc) : NULL;
            if (!img) {
                png_image_free(&im);
                s = glf_fail(GLF_ERR_NOMEM, "%s: out of memory for %zu images", dir, g.gl_pathc);
                break;
            }
        } else if (oh != side_h || ow != side_w) {
            png_image_free(&im);
            s = glf_fail(GLF_ERR_MISMATCH, "%s: becomes %dx%d but earlier images are %dx%d; use "
                         "--crop/--size to make them equal", p, ow, oh, side_w, side_h);
            break;
        }
        uint8_t *nb = realloc(rgb, PNG_IMAGE_SIZE(im));
        if (!nb) {
            png_image_free(&im);
            s = glf_fail(GLF_ERR_NOMEM, "%s: out of memory", p);
            break;
        }
        rgb = nb;
        if (!png_image_finish_read(&im, NULL, rgb, 0, NULL)) {
            s = glf_fail(GLF_ERR_FORMAT, "%s: corrupt PNG (%s)", p, im.message);
            break;
        }
        crop_resize_(rgb, h, w, crop, size, img + k * ib);
    }
    free(rgb);
    size_t n = g.gl_pathc;
    globfree(&g);
    if (s != GLF_OK) {
        free(img);
        return s;
    }
    snprintf(out->name, sizeof out->name, "images");
    out->channels = 3;
    out->height = side_h;
    out->width = side_w;
    out->n = n;
    out->images = img;
    glf_sha256_hex_(img, n * ib, out->manifest_sha256);
    return GLF_OK;
}

glf_status glf_png_write_u8(const char *path, int channels, int height, int width,
                         const uint8_t *chw)
{
    size_t plane = (size_t)height * width;
    if ((channels != 1 && channels != 3) || !glf_image_bytes_(channels, height, width))
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: cannot write a %dx%dx%d PNG; expected 1 or 3 "
                        "channels", path, channels, height, width);
    uint8_t *hwc = malloc(plane * channels);
    if (!hwc)
        return glf_fail(GLF_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < channels; c++)
            hwc[i * channels + c] = chw[c * plane + i];
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)width;
    im.height = (png_uint_32)height;
    im.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    int ok = png_image_write_to_file(&im, path, 0, hwc, 0, NULL);
    free(hwc);
    if (!ok)
        return glf_fail(GLF_ERR_IO, "%s: cannot write PNG (%s)", path, im.message);
    return GLF_OK;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const char *data_dir_(const char *name, const char *dir, char *buf, size_t n)
{
    if (dir)
        return dir;
    const char *env = getenv("GLF_DATA_DIR");
    if (env && *env) {
        snprintf(buf, n, "%s/%s", env, name);
        if (exists_(buf))
            return buf;
        snprintf(buf, n, "%s", env);
        return buf;
    }
    if (!strcmp(name, "fashion-mnist"))
        return "/usr/share/datasets/fashion-mnist";
    return NULL;
}

glf_status glf_dataset_load(const glf_data_source *src, const char *split, glf_dataset *out)
{
    if (!out)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_dataset_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!src || (!src->name == !src->archive))
        return glf_fail(GLF_ERR_INVALID_ARG, "data source: give exactly one of a data set name "
                        "(--dataset) or an archive (--data)");
    if (!split || (strcmp(split, "train") && strcmp(split, "test")))
        return glf_fail(GLF_ERR_INVALID_ARG, "split '%s'; expected 'train' or 'test'",
                        split ? split : "(null)");
    out->max_memory = src->max_memory;
    snprintf(out->split, sizeof out->split, "%s", split);
    if (src->archive)
        return glf_archive_load_(src->archive, split, src->max_memory, out);
    char buf[4096];
    const char *dir = data_dir_(src->name, src->dir, buf, sizeof buf);
    glf_status s;
    if (!strcmp(src->name, "fashion-mnist") || !strcmp(src->name, "mnist")) {
        if (!dir)
            return glf_fail(GLF_ERR_INVALID_ARG, "--dataset %s needs a folder (--dataset %s DIR "
                            "or GLF_DATA_DIR)", src->name, src->name);
        if (!src->dir && !strcmp(src->name, "fashion-mnist") && !exists_(dir)) {
            /* No Debian package: fall back to the sample shipped in data/. */
            snprintf(buf, sizeof buf, "%s/fashion-mnist-sample.tar.zst", GLF_SOURCE_DATA_DIR);
            s = glf_archive_load_(buf, split, src->max_memory, out);
            if (s != GLF_OK)
                return glf_fail_context(s, "%s is missing (install dataset-fashion-mnist) and "
                                        "the shipped sample failed", dir);
            snprintf(out->name, sizeof out->name, "fashion-mnist-sample");
            return GLF_OK;
        }
        s = load_idx_set_(src->name, dir, split, out);
    } else if (!strcmp(src->name, "cifar10")) {
        if (!dir)
            return glf_fail(GLF_ERR_INVALID_ARG, "--dataset cifar10 needs a folder (--dataset "
                            "cifar10 DIR or GLF_DATA_DIR)");
        s = load_cifar_(dir, split, out);
    } else if (!strcmp(src->name, "images")) {
        if (!src->dir)
            return glf_fail(GLF_ERR_INVALID_ARG, "--dataset images needs a folder of PNG files");
        if (src->crop < 0 || src->size < 0)
            return glf_fail(GLF_ERR_INVALID_ARG, "--crop %d / --size %d; expected >= 0",
                            src->crop, src->size);
        s = load_png_(src->dir, split, src->crop, src->size, out);
    } else {
        return glf_fail(GLF_ERR_INVALID_ARG, "unknown data set '%s'; expected fashion-mnist, "
                        "mnist, cifar10 or images", src->name);
    }
    if (s == GLF_OK) {
        out->max_memory = src->max_memory;
        snprintf(out->split, sizeof out->split, "%s", split);
    }
    return s;
}

void glf_dataset_free(glf_dataset *d)
{
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    d->images = d->labels = NULL;
    d->n = 0;
}
