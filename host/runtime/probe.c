/* Feature probes: whether a device's compiler accepts a builtin the kernels
 * would like to use. A driver that translates OpenCL C to SPIR-V (Mesa's
 * rusticl) ends the whole process when it meets an LLVM intrinsic it has no
 * SPIR-V form for (llvm.prefetch from __builtin_prefetch: exit status 8
 * from inside clBuildProgram), so a failed probe cannot be caught in the
 * process that asks. Each probe is therefore built in a forked child,
 * bounded in time, its output discarded; the child reports by its exit
 * status. Results are kept per process and on disk beside the program
 * cache, keyed by the probe's source, the device, driver and platform. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_TIMEOUT_S_ 60

struct probe_ {
    const char *name;
    const char *src;
};

/* The same constructs the kernels use (cl/glf.h): a prefetch of a global
 * pointer, a non-temporal store of a float16. */
static const struct probe_ probes_[] = {
    {"prefetch", "__kernel void probe(__global float *x) {\n"
                 "    __builtin_prefetch(x + 64);\n"
                 "    x[get_global_id(0)] += 1.0f;\n"
                 "}\n"},
    {"nt_store", "__kernel void probe(__global float16 *x) {\n"
                 "    float16 v = x[get_global_id(0)] + 1.0f;\n"
                 "    __builtin_nontemporal_store(v, x + get_global_id(0));\n"
                 "}\n"},
};
#define NPROBES_ (sizeof probes_ / sizeof probes_[0])

/* Results of this process, per device (cl_device_id values stay valid for
 * the process's life). */
struct known_ {
    cl_device_id dev;
    glf_features f;
};
static struct known_ known_[32];
static size_t nknown_;
static pthread_mutex_t known_lock_ = PTHREAD_MUTEX_INITIALIZER;

/* Build src on the device in a child; 1 if the build succeeded. */
static int probe_child_(const glf_device_info *d, const char *src)
{
    fflush(NULL); /* the child must not flush the parent's buffers again */
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        cl_int err;
        cl_context c = clCreateContext(NULL, 1, &d->id, NULL, NULL, &err);
        if (err != CL_SUCCESS)
            _exit(2);
        cl_program p = clCreateProgramWithSource(c, 1, &src, NULL, &err);
        if (err != CL_SUCCESS)
            _exit(2);
        err = clBuildProgram(p, 1, &d->id, "", NULL, NULL);
        _exit(err == CL_SUCCESS ? 0 : 1); /* _exit: no atexit handlers of the parent */
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (r < 0 && errno != EINTR)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > PROBE_TIMEOUT_S_) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return 0;
        }
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
}

/* <cache>/features-<sha256 of probes, device, driver, platform>.txt */
static void disk_path_(const glf_ctx *c, char *buf, size_t n)
{
    struct sha256_ctx h;
    unsigned char key[32];
    sha256_init(&h);
    const char *parts[] = {"glf feature probes v1", c->dev.name,    c->dev.vendor,
                           c->dev.driver,           c->dev.version, c->dev.platform,
                           c->dev.platform_version};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        sha256_update(&h, strlen(parts[i]) + 1, (const uint8_t *)parts[i]);
    for (size_t i = 0; i < NPROBES_; i++)
        sha256_update(&h, strlen(probes_[i].src) + 1, (const uint8_t *)probes_[i].src);
    sha256_digest(&h, sizeof key, key);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(buf, n, "%s/features-%s.txt", c->cache_dir, hex);
}

/* A stored result: "glf features 1\nprefetch 0|1\nnt_store 0|1\n". Anything
 * else is ignored (the probes run again). */
static int disk_load_(const char *path, glf_features *f)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    int v[NPROBES_], ok = 1;
    char line[128], name[64];
    ok = fgets(line, sizeof line, fp) && !strcmp(line, "glf features 1\n");
    for (size_t i = 0; ok && i < NPROBES_; i++)
        ok = fgets(line, sizeof line, fp) && sscanf(line, "%63s %d", name, &v[i]) == 2 &&
             !strcmp(name, probes_[i].name) && (v[i] == 0 || v[i] == 1);
    fclose(fp);
    if (ok)
        f->prefetch = v[0], f->nt_store = v[1];
    return ok;
}

static void disk_store_(const char *dir, const char *path, const glf_features *f)
{
    char tmp[4400];
    if (glf_mkdirs_(dir) != 0)
        return; /* the cache is an optimisation: a failure only costs a probe next time */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return;
    int ok = fprintf(fp, "glf features 1\nprefetch %d\nnt_store %d\n", f->prefetch,
                     f->nt_store) > 0;
    ok = fclose(fp) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        remove(tmp);
}

glf_features glf_ctx_features(glf_ctx *c)
{
    if (c->features_known)
        return c->features;
    glf_features f = {0, 0};
    char path[4400] = "";
    pthread_mutex_lock(&known_lock_);
    /* the disk first (a corrupt entry is then rewritten), this process next */
    int on_disk = 0, found = 0;
    if (c->cache_dir) {
        disk_path_(c, path, sizeof path);
        on_disk = found = disk_load_(path, &f);
    }
    for (size_t i = 0; i < nknown_ && !found; i++)
        if (known_[i].dev == c->dev.id)
            f = known_[i].f, found = 1;
    if (!found) {
        f.prefetch = probe_child_(&c->dev, probes_[0].src);
        f.nt_store = probe_child_(&c->dev, probes_[1].src);
    }
    if (c->cache_dir && !on_disk)
        disk_store_(c->cache_dir, path, &f);
    int dup = 0;
    for (size_t i = 0; i < nknown_; i++)
        dup |= known_[i].dev == c->dev.id;
    if (!dup && nknown_ < sizeof known_ / sizeof known_[0])
        known_[nknown_].dev = c->dev.id, known_[nknown_].f = f, nknown_++;
    pthread_mutex_unlock(&known_lock_);
    c->features = f;
    c->features_known = 1;
    return f;
}
