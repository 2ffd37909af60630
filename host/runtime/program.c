/* Kernel sources and the program cache: in memory per context (keyed by a
 * hash of source and options), on disk keyed by a hash of source, options,
 * device, driver and platform. A disk entry carries its length and checksum;
 * anything that does not verify or does not load is rebuilt, never trusted.
 * Entries are written to a temporary file and renamed, so concurrent
 * writers never expose a partial file. */
#include "internal.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC_ "GLFPCACH"
#define CACHE_VERSION_ 1u
/* magic 8 + version 4 + reserved 4 + key 32 + length 8 + checksum 32 */
#define CACHE_HEADER_ 88u

/* ---- sources ------------------------------------------------------------ */

struct disk_src_ {
    char *name;
    char *text;
    size_t len;
};
static struct disk_src_ disk_srcs_[64];
static size_t n_disk_srcs_;
static pthread_mutex_t disk_srcs_lock_ = PTHREAD_MUTEX_INITIALIZER;

static glf_status read_file_(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return glf_fail(GLF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return glf_fail(GLF_ERR_IO, "%s: cannot seek", path);
    }
    long sz = ftell(f);
    rewind(f);
    if (sz < 0) {
        fclose(f);
        return glf_fail(GLF_ERR_IO, "%s: cannot tell size", path);
    }
    char *b = malloc((size_t)sz + 1);
    if (!b) {
        fclose(f);
        return glf_fail(GLF_ERR_NOMEM, "%s: out of memory (%ld bytes)", path, sz);
    }
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        fclose(f);
        return glf_fail(GLF_ERR_IO, "%s: short read", path);
    }
    fclose(f);
    b[sz] = '\0';
    *buf = b;
    *len = (size_t)sz;
    return GLF_OK;
}

glf_status glf_kernel_source(const char *file, const char **src, size_t *len)
{
    const char *dir = getenv("GLF_KERNEL_DIR");
    if (dir && *dir) {
        glf_status s = GLF_OK;
        pthread_mutex_lock(&disk_srcs_lock_);
        for (size_t i = 0; i < n_disk_srcs_; i++) {
            if (!strcmp(disk_srcs_[i].name, file)) {
                *src = disk_srcs_[i].text;
                *len = disk_srcs_[i].len;
                pthread_mutex_unlock(&disk_srcs_lock_);
                return GLF_OK;
            }
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", dir, file);
        char *text;
        size_t n;
        s = read_file_(path, &text, &n);
        if (s == GLF_OK) {
            if (n_disk_srcs_ < sizeof disk_srcs_ / sizeof disk_srcs_[0]) {
                disk_srcs_[n_disk_srcs_].name = strdup(file);
                disk_srcs_[n_disk_srcs_].text = text;
                disk_srcs_[n_disk_srcs_].len = n;
                n_disk_srcs_++;
                *src = text;
                *len = n;
            } else {
                free(text);
                s = glf_fail(GLF_ERR_INTERNAL, "too many kernel files under GLF_KERNEL_DIR");
            }
        } else {
            glf_fail_context(s, "GLF_KERNEL_DIR=%s", dir);
        }
        pthread_mutex_unlock(&disk_srcs_lock_);
        return s;
    }
    for (size_t i = 0; i < glf_cl_sources_count_; i++) {
        if (!strcmp(glf_cl_sources_[i].name, file)) {
            *src = glf_cl_sources_[i].text;
            *len = glf_cl_sources_[i].len;
            return GLF_OK;
        }
    }
    return glf_fail(GLF_ERR_INVALID_ARG,
                    "no kernel file cl/%s.cl is embedded in libglf (expected one of the "
                    "files in cl/ at build time)", file);
}

/* ---- hashing and the disk cache ----------------------------------------- */

static void sha_str_(struct sha256_ctx *h, const char *s)
{
    sha256_update(h, strlen(s) + 1, (const uint8_t *)s); /* include the NUL as separator */
}

static void hex_(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

char *glf_cache_dir_from_env_(void)
{
    const char *mode = getenv("GLF_CACHE");
    if (mode && (!strcmp(mode, "off") || !strcmp(mode, "0") || !strcmp(mode, "no")))
        return NULL;
    char buf[4096];
    const char *d = getenv("GLF_CACHE_DIR");
    if (d && *d) {
        snprintf(buf, sizeof buf, "%s", d);
    } else if ((d = getenv("XDG_CACHE_HOME")) && *d) {
        snprintf(buf, sizeof buf, "%s/glf", d);
    } else if ((d = getenv("HOME")) && *d) {
        snprintf(buf, sizeof buf, "%s/.cache/glf", d);
    } else {
        return NULL;
    }
    return strdup(buf);
}

int glf_mkdirs_(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void put_u32_(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64_(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32_(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64_(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Returns the binary of a verified entry, or NULL (missing or rejected). */
static unsigned char *disk_load_(glf_ctx *c, const char *path, const unsigned char key[32],
                                 size_t *bin_len)
{
    char *buf;
    size_t len;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return NULL;
    fclose(probe);
    if (read_file_(path, &buf, &len) != GLF_OK) {
        c->stats.disk_rejects++;
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)buf;
    unsigned char sum[32];
    int ok = len >= CACHE_HEADER_ && !memcmp(p, CACHE_MAGIC_, 8) &&
             get_u32_(p + 8) == CACHE_VERSION_ && !memcmp(p + 16, key, 32) &&
             get_u64_(p + 48) == len - CACHE_HEADER_;
    if (ok) {
        struct sha256_ctx h;
        sha256_init(&h);
        sha256_update(&h, len - CACHE_HEADER_, p + CACHE_HEADER_);
        sha256_digest(&h, sizeof sum, sum);
        ok = !memcmp(sum, p + 56, 32);
    }
    if (!ok) {
        c->stats.disk_rejects++;
        free(buf);
        return NULL;
    }
    *bin_len = len - CACHE_HEADER_;
    unsigned char *bin = malloc(*bin_len ? *bin_len : 1);
    if (bin)
        memcpy(bin, p + CACHE_HEADER_, *bin_len);
    free(buf);
    return bin;
}

static void disk_store_(glf_ctx *c, const char *path, const unsigned char key[32],
                        const unsigned char *bin, size_t bin_len)
{
    static unsigned seq;
    char tmp[4400];
    unsigned char hdr[CACHE_HEADER_];
    if (glf_mkdirs_(c->cache_dir) != 0)
        return; /* the cache is an optimisation: a read-only home is not an error */
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, CACHE_MAGIC_, 8);
    put_u32_(hdr + 8, CACHE_VERSION_);
    memcpy(hdr + 16, key, 32);
    put_u64_(hdr + 48, bin_len);
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, bin_len, bin);
    sha256_digest(&h, 32, hdr + 56);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), seq++) >= (int)sizeof tmp)
        return;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return;
    int ok = fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr &&
             fwrite(bin, 1, bin_len, f) == bin_len;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) == 0)
        c->stats.disk_writes++;
    else
        remove(tmp);
}

/* ---- building ------------------------------------------------------------ */

/* The driver's build log of prog (malloc'd, "" when none). */
static char *build_log_(glf_ctx *c, cl_program prog)
{
    size_t n = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, c->dev.id, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS &&
        n > 0 && (log = malloc(n + 1)) != NULL) {
        if (clGetProgramBuildInfo(prog, c->dev.id, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS)
            log[0] = '\0';
        log[n] = '\0';
    }
    return log ? log : strdup("");
}

/* Whether a log holds more than white space. */
static int has_text_(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\n' && *s != '\t' && *s != '\r')
            return 1;
    return 0;
}

/* clBuildProgram with what the driver writes to the process's stderr
 * caught: some compilers print their diagnostics there as well as (or
 * instead of) into the build log (rusticl's clang: "1 warning generated."),
 * noise for a successful build. *out gets it (malloc'd, "" when none). */
static cl_int build_caught_(glf_ctx *c, cl_program prog, const char *options, char **out)
{
    *out = NULL;
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = tmp ? dup(2) : -1;
    if (saved < 0 || dup2(fileno(tmp), 2) < 0) {
        if (saved >= 0)
            close(saved);
        if (tmp)
            fclose(tmp);
        *out = strdup("");
        return clBuildProgram(prog, 1, &c->dev.id, options, NULL, NULL);
    }
    cl_int err = clBuildProgram(prog, 1, &c->dev.id, options, NULL, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long n = ftell(tmp);
    char *text = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (text) {
        rewind(tmp);
        size_t got = n > 0 ? fread(text, 1, (size_t)n, tmp) : 0;
        text[got] = '\0';
    }
    fclose(tmp);
    *out = text ? text : strdup("");
    return err;
}

static glf_status build_log_fail_(glf_ctx *c, cl_program prog, cl_int err, const char *label,
                                  const char *options, const char *caught)
{
    char *log = build_log_(c, prog);
    glf_status s = glf_fail(GLF_ERR_BUILD,
                            "building %s with options '%s' on '%s' (%s, %s) failed: %s; build "
                            "log:\n%s%s%s",
                            label, options, c->dev.name, c->dev.platform, c->dev.driver,
                            glf_cl_error_name(err), has_text_(log) ? log : "(empty)\n",
                            has_text_(caught) ? "compiler output:\n" : "",
                            has_text_(caught) ? caught : "");
    free(log);
    return s;
}

/* A successful build's diagnostics: kept beside the cache entry (path.log)
 * and printed only with the option verbose (GLF_VERBOSE=1). */
static void build_log_keep_(glf_ctx *c, cl_program prog, const char *label, const char *path,
                            const char *caught)
{
    char *log = build_log_(c, prog);
    if (has_text_(log) || has_text_(caught)) {
        if (c->opts.verbose)
            fprintf(stderr, "glf: building %s on '%s':\n%s%s", label, c->dev.name, log, caught);
        char lp[4300];
        FILE *f = c->cache_dir && snprintf(lp, sizeof lp, "%s.log", path) < (int)sizeof lp
                      ? fopen(lp, "w")
                      : NULL;
        if (f) {
            fprintf(f, "%s\n%s%s", label, log, caught);
            fclose(f);
        }
    }
    free(log);
}

static glf_status add_prog_(glf_ctx *c, const unsigned char key[32], cl_program prog)
{
    if (c->nprogs == c->cap_progs) {
        size_t cap = c->cap_progs ? 2 * c->cap_progs : 16;
        struct glf_prog_entry_ *p = realloc(c->progs, cap * sizeof *p);
        if (!p)
            return glf_fail(GLF_ERR_NOMEM, "out of memory in the program cache");
        c->progs = p;
        c->cap_progs = cap;
    }
    memcpy(c->progs[c->nprogs].key, key, 32);
    c->progs[c->nprogs].prog = prog;
    c->nprogs++;
    return GLF_OK;
}

glf_status glf_program_source(glf_ctx *c, const char *label, const char *src, size_t len,
                              const char *options, cl_program *out)
{
    unsigned char mkey[32], dkey[32];
    struct sha256_ctx h;
    char hexkey[65], path[4200];
    cl_int err;
    if (!options)
        options = "";

    sha256_init(&h);
    sha256_update(&h, len, (const uint8_t *)src);
    sha_str_(&h, options);
    sha256_digest(&h, 32, mkey);
    for (size_t i = 0; i < c->nprogs; i++) {
        if (!memcmp(c->progs[i].key, mkey, 32)) {
            c->stats.mem_hits++;
            *out = c->progs[i].prog;
            return GLF_OK;
        }
    }

    /* Disk key: everything that can change the compiled binary. */
    sha256_init(&h);
    sha_str_(&h, "glf program cache v1");
    sha_str_(&h, c->dev.name);
    sha_str_(&h, c->dev.vendor);
    sha_str_(&h, c->dev.driver);
    sha_str_(&h, c->dev.version);
    sha_str_(&h, c->dev.platform);
    sha_str_(&h, c->dev.platform_version);
    sha_str_(&h, options);
    sha256_update(&h, len, (const uint8_t *)src);
    sha256_digest(&h, 32, dkey);
    hex_(dkey, 32, hexkey);

    cl_program prog = NULL;
    if (c->cache_dir) {
        size_t bin_len = 0;
        snprintf(path, sizeof path, "%s/%s.bin", c->cache_dir, hexkey);
        unsigned char *bin = disk_load_(c, path, dkey, &bin_len);
        if (bin) {
            const unsigned char *bins[1] = {bin};
            cl_int bstatus;
            prog = clCreateProgramWithBinary(c->context, 1, &c->dev.id, &bin_len, bins,
                                             &bstatus, &err);
            free(bin);
            if (err == CL_SUCCESS && bstatus == CL_SUCCESS &&
                clBuildProgram(prog, 1, &c->dev.id, options, NULL, NULL) == CL_SUCCESS) {
                c->stats.disk_hits++;
            } else {
                if (prog)
                    clReleaseProgram(prog);
                prog = NULL;
                c->stats.disk_rejects++;
            }
        }
    }

    if (!prog) {
        const char *srcs[1] = {src};
        prog = clCreateProgramWithSource(c->context, 1, srcs, &len, &err);
        GLF_CL_CHECK_ERR(err, "clCreateProgramWithSource");
        char *caught;
        err = build_caught_(c, prog, options, &caught);
        if (err != CL_SUCCESS) {
            glf_status s = build_log_fail_(c, prog, err, label, options, caught);
            free(caught);
            clReleaseProgram(prog);
            return s;
        }
        if (c->cache_dir)
            snprintf(path, sizeof path, "%s/%s.bin", c->cache_dir, hexkey);
        build_log_keep_(c, prog, label, path, caught);
        free(caught);
        c->stats.builds++;
        if (c->cache_dir) {
            size_t bin_len = 0;
            if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bin_len, &bin_len,
                                 NULL) == CL_SUCCESS && bin_len > 0) {
                unsigned char *bin = malloc(bin_len);
                unsigned char *bins[1] = {bin};
                if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins,
                                            NULL) == CL_SUCCESS)
                    disk_store_(c, path, dkey, bin, bin_len);
                free(bin);
            }
        }
    }
    glf_status s = add_prog_(c, mkey, prog);
    if (s != GLF_OK) {
        clReleaseProgram(prog);
        return s;
    }
    *out = prog;
    return GLF_OK;
}

/* cl/features.h, which every kernel file is built behind: from
 * GLF_KERNEL_DIR when that folder has it, else the embedded copy. */
static glf_status features_header_(const char **src, size_t *len)
{
    static char *from_dir; /* read once per process, as glf_kernel_source does */
    static size_t from_dir_len;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    const char *dir = getenv("GLF_KERNEL_DIR");
    char path[4096];
    if (dir && *dir && snprintf(path, sizeof path, "%s/features.h", dir) < (int)sizeof path &&
        access(path, R_OK) == 0) {
        glf_status s = GLF_OK;
        pthread_mutex_lock(&lock);
        if (!from_dir)
            s = read_file_(path, &from_dir, &from_dir_len);
        *src = from_dir, *len = from_dir_len;
        pthread_mutex_unlock(&lock);
        return s;
    }
    for (size_t i = 0; i < glf_cl_sources_count_; i++)
        if (!strcmp(glf_cl_sources_[i].name, "features")) {
            *src = glf_cl_sources_[i].text;
            *len = glf_cl_sources_[i].len;
            return GLF_OK;
        }
    return glf_fail(GLF_ERR_INTERNAL, "cl/features.h is not embedded in libglf");
}

glf_status glf_program(glf_ctx *c, const char *file, const char *options, cl_program *out)
{
    const char *src, *hdr;
    size_t len, hlen;
    char label[256];
    static const char line[] = "\n#line 1\n"; /* the file's own line numbers in build logs */
    GLF_TRY(glf_kernel_source(file, &src, &len));
    GLF_TRY(features_header_(&hdr, &hlen));
    snprintf(label, sizeof label, "cl/%s.cl", file);
    size_t n = hlen + sizeof line - 1 + len;
    char *all = malloc(n + 1);
    if (!all)
        return glf_fail(GLF_ERR_NOMEM, "out of memory for the source of %s", label);
    memcpy(all, hdr, hlen);
    memcpy(all + hlen, line, sizeof line - 1);
    memcpy(all + hlen + sizeof line - 1, src, len);
    all[n] = '\0';
    glf_status s = glf_program_source(c, label, all, n, options, out);
    free(all);
    return s;
}

glf_status glf_kernel(glf_ctx *c, const char *file, const char *name, const char *options,
                      cl_kernel *out)
{
    if (!options)
        options = "";
    for (size_t i = 0; i < c->nkerns; i++) {
        struct glf_kern_entry_ *e = &c->kerns[i];
        if (!strcmp(e->name, name) && !strcmp(e->file, file) && !strcmp(e->options, options)) {
            *out = e->kernel;
            return GLF_OK;
        }
    }
    cl_program prog;
    GLF_TRY(glf_program(c, file, options, &prog));
    cl_int err;
    cl_kernel k = clCreateKernel(prog, name, &err);
    if (err != CL_SUCCESS)
        return glf_fail(GLF_ERR_OPENCL, "clCreateKernel('%s' in cl/%s.cl, options '%s') "
                        "failed: %s", name, file, options, glf_cl_error_name(err));
    if (c->nkerns == c->cap_kerns) {
        size_t cap = c->cap_kerns ? 2 * c->cap_kerns : 32;
        struct glf_kern_entry_ *p = realloc(c->kerns, cap * sizeof *p);
        if (!p) {
            clReleaseKernel(k);
            return glf_fail(GLF_ERR_NOMEM, "out of memory in the kernel cache");
        }
        c->kerns = p;
        c->cap_kerns = cap;
    }
    struct glf_kern_entry_ *e = &c->kerns[c->nkerns];
    e->file = strdup(file);
    e->name = strdup(name);
    e->options = strdup(options);
    e->kernel = k;
    if (!e->file || !e->name || !e->options) {
        free(e->file);
        free(e->name);
        free(e->options);
        clReleaseKernel(k);
        return glf_fail(GLF_ERR_NOMEM, "out of memory in the kernel cache");
    }
    c->nkerns++;
    *out = k;
    return GLF_OK;
}

void glf_programs_release_(glf_ctx *c)
{
    for (size_t i = 0; i < c->nkerns; i++) {
        clReleaseKernel(c->kerns[i].kernel);
        free(c->kerns[i].file);
        free(c->kerns[i].name);
        free(c->kerns[i].options);
    }
    free(c->kerns);
    for (size_t i = 0; i < c->nprogs; i++)
        clReleaseProgram(c->progs[i].prog);
    free(c->progs);
    c->kerns = NULL;
    c->progs = NULL;
    c->nkerns = c->nprogs = 0;
}
