/* Feature probes: whether a device's compiler accepts a builtin the kernels
 * would like to use. A driver that translates OpenCL C to SPIR-V (Mesa's
 * rusticl) ends the whole process when it meets an LLVM intrinsic it has no
 * SPIR-V form for (llvm.prefetch from __builtin_prefetch: exit status 8
 * from inside clBuildProgram), so a failed probe cannot be caught in the
 * process that asks. Each probe is therefore built in a fresh process: this
 * executable started again (/proc/self/exe) with GLF_PROBE_CHILD_ naming the
 * device and the probe, which a constructor of this file runs before main
 * and leaves with _exit; it reports through a pipe, so a process that ends
 * any other way (or an executable without this library) counts as "not
 * accepted". A fork of the asking process would inherit the driver's locks
 * held by its other threads and could hang. Results are kept per process
 * and on disk beside the program cache, keyed by the probe's source, the
 * device, driver and platform. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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

#define CHILD_VAR_ "GLF_PROBE_CHILD_" /* "P D I": platform, device, probe */
#define CHILD_FD_ 3                    /* the child's report: '1' accepted, '0' not */

/* In the child: build probe I on device D of platform P, report, _exit. */
__attribute__((constructor)) static void probe_child_main_(void)
{
    const char *req = getenv(CHILD_VAR_);
    int p = -1, d = -1, i = -1;
    if (!req || sscanf(req, "%d %d %d", &p, &d, &i) != 3)
        return; /* an ordinary start */
    char ok = '0';
    cl_platform_id plats[64];
    cl_device_id devs[64];
    cl_uint np = 0, nd = 0;
    cl_int err;
    if (i >= 0 && (size_t)i < NPROBES_ && clGetPlatformIDs(64, plats, &np) == CL_SUCCESS &&
        p >= 0 && (cl_uint)p < np &&
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 64, devs, &nd) == CL_SUCCESS && d >= 0 &&
        (cl_uint)d < nd) {
        cl_context c = clCreateContext(NULL, 1, &devs[d], NULL, NULL, &err);
        if (err == CL_SUCCESS) {
            const char *src = probes_[i].src;
            cl_program prog = clCreateProgramWithSource(c, 1, &src, NULL, &err);
            if (err == CL_SUCCESS &&
                clBuildProgram(prog, 1, &devs[d], "", NULL, NULL) == CL_SUCCESS)
                ok = '1';
        }
    }
    ssize_t w = write(CHILD_FD_, &ok, 1);
    _exit(w == 1 ? 0 : 2); /* _exit: no atexit handlers, no leak check */
}

/* Build probe i on the device in a fresh process; 1 if it was accepted. */
static int probe_child_(const glf_device_info *d, int i)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    char req[64];
    snprintf(req, sizeof req, CHILD_VAR_ "=%d %d %d", d->platform_index, d->device_index, i);
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = malloc((ne + 2) * sizeof *envp);
    if (!envp) {
        close(fds[0]), close(fds[1]);
        return 0;
    }
    size_t k = 0;
    for (size_t e = 0; e < ne; e++)
        if (strncmp(environ[e], CHILD_VAR_ "=", sizeof CHILD_VAR_))
            envp[k++] = environ[e];
    envp[k++] = req, envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* the read end first: it may be CHILD_FD_ itself */
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_adddup2(&fa, fds[1], CHILD_FD_);
    char *argv[] = {"glf-probe", NULL};
    pid_t pid;
    fflush(NULL);
    int r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(fds[1]);
    if (r != 0) {
        close(fds[0]);
        return 0;
    }
    char ok = '0';
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st = 0;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > PROBE_TIMEOUT_S_) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            close(fds[0]);
            return 0;
        }
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
    if (read(fds[0], &ok, 1) != 1)
        ok = '0'; /* ended without a report: the driver ended it */
    close(fds[0]);
    return ok == '1';
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
        f.prefetch = probe_child_(&c->dev, 0);
        f.nt_store = probe_child_(&c->dev, 1);
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
