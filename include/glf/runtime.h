/* OpenCL runtime: device discovery and choice, a context with one in-order
 * queue, kernels built from the embedded cl/ sources through a two-level
 * (memory + disk) program cache, buffers, and argument-counting launches. */
#ifndef GLF_RUNTIME_H
#define GLF_RUNTIME_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>

#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- devices ---------------------------------------------------------- */

typedef struct glf_device_info {
    int index;          /* flat index over all platforms, as `glf devices` shows */
    int platform_index; /* P in a "P:N" spec */
    int device_index;   /* N in a "P:N" spec */
    char platform[256];
    char platform_version[256];
    char vendor[256];
    char name[256];
    char driver[256];    /* CL_DRIVER_VERSION */
    char version[256];   /* CL_DEVICE_VERSION */
    char c_version[256]; /* CL_DEVICE_OPENCL_C_VERSION */
    cl_device_type type;
    unsigned compute_units;
    unsigned long long global_mem; /* bytes */
    unsigned long long local_mem;  /* bytes */
    int local_mem_dedicated;       /* CL_DEVICE_LOCAL_MEM_TYPE is CL_LOCAL (not emulated in global) */
    unsigned native_float_width;   /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT */
    unsigned preferred_float_width; /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT */
    size_t max_work_group;
    cl_platform_id platform_id;
    cl_device_id id;
} glf_device_info;

/* All devices of all platforms. *out is malloc'd (free() it); *n may be 0
 * only if GLF_ERR_NO_DEVICE is returned. */
glf_status glf_devices_list(glf_device_info **out, int *n);

/* Choose a device by spec: "N" (flat index), "P:N", "cpu", "gpu", or a
 * case-insensitive substring of the device name. NULL or "" uses the
 * GLF_DEVICE environment variable, else the first GPU, else the first CPU
 * device. An unknown spec fails with a message listing every device. */
glf_status glf_device_select(const char *spec, glf_device_info *out);

/* "cpu", "gpu", "accelerator", "custom" or "other". */
const char *glf_device_type_str(cl_device_type t);

/* Name of an OpenCL error code, e.g. "CL_OUT_OF_RESOURCES". */
const char *glf_cl_error_name(cl_int err);

/* ---- kernel families ------------------------------------------------------
 * Two families of kernels for the ops whose fast form depends on how a
 * device runs work-items. CPU: register-blocked kernels with explicit
 * float16 vectors and no barriers, for drivers that compile a work-item to
 * vector code (PoCL, Intel's CPU runtime). SIMT: small per-work-item blocks,
 * work-group tiles in local memory and work-group reductions, for devices
 * that run work-items as SIMD lanes (GPUs, Mesa's llvmpipe). The rule
 * (glf_device_family): a device of type CPU whose native float vector width
 * is above 1 is CPU-like; every other device (GPUs, accelerators, a CPU
 * driver that reports width 1 because it vectorises across work-items) is
 * SIMT-like. */
typedef enum glf_family {
    GLF_FAMILY_AUTO = 0, /* the rule above */
    GLF_FAMILY_CPU = 1,
    GLF_FAMILY_SIMT = 2
} glf_family;

/* The family the rule gives for d (never GLF_FAMILY_AUTO). */
glf_family glf_device_family(const glf_device_info *d);
/* "cpu" or "simt" ("auto" for GLF_FAMILY_AUTO). */
const char *glf_family_name(glf_family f);

/* ---- options -----------------------------------------------------------------
 * Behaviour switches of a context, filled once from the environment when the
 * context is created (glf_options_from_env) and read from the context from
 * then on. Tests and benchmarks change fields through glf_ctx_options
 * between calls (e.g. to compare two settings in one process); family is
 * fixed when the context is made. */
typedef enum glf_nt_mode {
    GLF_NT_AUTO = 0, /* large outputs on CPU-like devices, where the probe passed */
    GLF_NT_OFF = 1,
    GLF_NT_ALL = 2   /* every size (for tests: the same bits as off) */
} glf_nt_mode;

typedef struct glf_options {
    int gemm_clblast;       /* GLF_GEMM=clblast: CLBlast instead of glf's kernels */
    int gemm_prefetch;      /* GLF_GEMM_PREFETCH: -1 the device's default, 0 off, 1..256 */
    glf_nt_mode nt_stores;  /* GLF_NT_STORES=off|all */
    int panels;             /* GLF_PANELS=off gives 0: convolutions hand plain matrices */
    int col2im_fixed;       /* GLF_COL2IM=generic gives 0: the generic col2im kernel */
    glf_family family;      /* GLF_FAMILY=cpu|simt|auto */
    int verbose;            /* GLF_VERBOSE=1: print kernel build logs that have content */
} glf_options;

/* The defaults, then every variable above that is set; a value outside
 * the ones listed fails naming the variable, the value and what was
 * expected (o is then left at the defaults). */
glf_status glf_options_from_env(glf_options *o);
/* Set one option by its environment variable's name, as glf_options_from_env
 * reads it (e.g. "GLF_PANELS", "off"); value NULL restores the default. */
glf_status glf_options_set(glf_options *o, const char *var, const char *value);

/* ---- context ---------------------------------------------------------- */

typedef struct glf_ctx glf_ctx;

/* Create a context and in-order queue on the device chosen by spec (see
 * glf_device_select), with the options of the environment
 * (glf_options_from_env). The disk program cache follows GLF_CACHE_DIR /
 * GLF_CACHE as read at this moment. */
glf_status glf_ctx_create(const char *spec, glf_ctx **out);
/* The same with explicit options (opts NULL: the defaults, no environment). */
glf_status glf_ctx_create_opts(const char *spec, const glf_options *opts, glf_ctx **out);
void glf_ctx_destroy(glf_ctx *ctx);

/* The context's options (mutable: see glf_options). */
glf_options *glf_ctx_options(glf_ctx *ctx);
/* The kernel family of the context: its options' family, else the rule. */
glf_family glf_ctx_family(const glf_ctx *ctx);

/* Compiler features that kernels use only where a probe build on the
 * device accepted them (glf_ctx_features): a driver that translates OpenCL
 * C to SPIR-V (rusticl) can end the whole process on a builtin it cannot
 * translate, so each probe is built in a child process. Results are kept
 * per process and in the disk cache, keyed by the probe's source, device,
 * driver and platform. */
typedef struct glf_features {
    int prefetch; /* clang's __builtin_prefetch on a __global pointer */
    int nt_store; /* clang's __builtin_nontemporal_store of a float16 */
} glf_features;
glf_features glf_ctx_features(glf_ctx *ctx);

const glf_device_info *glf_ctx_device(const glf_ctx *ctx);
cl_context glf_ctx_context(const glf_ctx *ctx);
cl_command_queue glf_ctx_queue(const glf_ctx *ctx);

/* Whether kernels may write a large output that nothing reads soon with
 * non-temporal stores (x86 movntps: the line is not read from memory
 * before it is written, and does not displace the caches): 1 on CPU-like
 * devices whose probe accepted the builtin (glf_ctx_features), unless the
 * options say off. Kernel files that can are built with -DGLF_NT=1 then,
 * and take the decision per call (glf_nt_output). */
int glf_nt_stores(glf_ctx *ctx);
/* Whether an output of n floats is written that way: glf_nt_stores and at
 * least GLF_NT_MIN_FLOATS (16 MiB: larger than this class of device's
 * caches, so it would reach memory anyway), or any size with
 * GLF_NT_ALL (for tests: the same bits as off). */
#define GLF_NT_MIN_FLOATS ((size_t)1 << 22)
int glf_nt_output(glf_ctx *ctx, size_t n);

/* One line naming the device, e.g. for start-up messages. */
void glf_ctx_describe(const glf_ctx *ctx, char *buf, size_t n);

/* ---- reductions across processes (data parallelism) ------------------- */

/* Sums n host floats in place across all processes of a data-parallel
 * run, in a fixed order (the result is the same bits on every process and
 * does not depend on message timing); every process calls it with the same
 * n at the same point. Returns GLF_OK or the communicator's failure. */
typedef glf_status (*glf_allreduce_fn)(void *user, float *data, size_t n);

/* With fn set, BatchNorm's train-mode ops compute their statistics over
 * the union of every process's batch: the forward sums its per-channel
 * sums and count through fn, then its per-channel sums of squares about
 * the global mean; the backward its two per-channel sums (see
 * glf_batchnorm_forward_train). fn NULL (the default) turns that off, so
 * a process can run those ops alone (sampling, evaluation). */
void glf_ctx_set_allreduce(glf_ctx *ctx, glf_allreduce_fn fn, void *user);
/* Whether a hook is set; and the call through it (GLF_OK, data unchanged,
 * without one). */
int glf_ctx_has_allreduce(const glf_ctx *ctx);
glf_status glf_ctx_allreduce(glf_ctx *ctx, float *data, size_t n);

/* ---- programs and kernels ---------------------------------------------- */

/* Source of an embedded kernel file by base name ("gemm" for cl/gemm.cl).
 * With GLF_KERNEL_DIR set, the file is read from that folder instead (the
 * returned pointer then stays valid until the context is destroyed or
 * the process ends). */
glf_status glf_kernel_source(const char *file, const char **src, size_t *len);

/* Build (or fetch from the caches) the program of cl/<file>.cl with the
 * given build options (may be NULL). The program is owned by ctx. */
glf_status glf_program(glf_ctx *ctx, const char *file, const char *options,
                       cl_program *out);

/* Same, for arbitrary source; label names it in error messages. */
glf_status glf_program_source(glf_ctx *ctx, const char *label, const char *src,
                              size_t len, const char *options, cl_program *out);

/* A kernel of cl/<file>.cl built with options. Kernel objects are cached
 * in the context and owned by it: do not release them. */
glf_status glf_kernel(glf_ctx *ctx, const char *file, const char *name,
                      const char *options, cl_kernel *out);

typedef struct glf_cache_stats {
    unsigned mem_hits;     /* served from the in-memory table */
    unsigned disk_hits;    /* binary loaded from the disk cache */
    unsigned builds;       /* compiled from source */
    unsigned disk_writes;  /* entries written to disk */
    unsigned disk_rejects; /* disk entries found corrupt/stale and rebuilt */
} glf_cache_stats;

glf_cache_stats glf_ctx_cache_stats(const glf_ctx *ctx);

/* Folder of the disk cache, or NULL when it is off. */
const char *glf_ctx_cache_dir(const glf_ctx *ctx);

/* ---- buffers ------------------------------------------------------------ */

glf_status glf_buf_create(glf_ctx *ctx, size_t bytes, cl_mem *out);
void glf_buf_release(cl_mem buf); /* NULL is fine */
/* Blocking copies; offsets and sizes in bytes. */
glf_status glf_buf_write(glf_ctx *ctx, cl_mem buf, size_t offset, size_t bytes,
                         const void *src);
glf_status glf_buf_read(glf_ctx *ctx, cl_mem buf, size_t offset, size_t bytes,
                        void *dst);
/* The same without waiting: *ev (release it) completes when dst holds the
 * bytes; dst must stay valid until then. Commands enqueued later may run
 * meanwhile, so the queue stays busy while the host waits on *ev. */
glf_status glf_buf_read_async(glf_ctx *ctx, cl_mem buf, size_t offset, size_t bytes, void *dst,
                              cl_event *ev);
/* Fill `count` floats starting at float offset `off` with value. */
glf_status glf_buf_fill_f32(glf_ctx *ctx, cl_mem buf, size_t off, size_t count,
                            float value);
glf_status glf_finish(glf_ctx *ctx);

/* A float tensor on the device: a buffer and an offset in floats. Ops take
 * these (never sub-buffers), so parameters, gradients and activations can
 * live in one buffer each, addressed by named offsets. */
typedef struct glf_dptr {
    cl_mem buf;
    size_t off; /* in floats */
} glf_dptr;

static inline glf_dptr glf_dp(cl_mem buf, size_t off)
{
    glf_dptr p = {buf, off};
    return p;
}

/* ---- launches ----------------------------------------------------------- */

/* One kernel argument: size and pointer to the value (ptr NULL = __local). */
typedef struct glf_karg {
    size_t size;
    const void *ptr;
} glf_karg;

#define GLF_MEM(b) ((glf_karg){sizeof(cl_mem), &(cl_mem){(b)}})
#define GLF_I32(v) ((glf_karg){sizeof(cl_int), &(cl_int){(cl_int)(v)}})
#define GLF_U32(v) ((glf_karg){sizeof(cl_uint), &(cl_uint){(cl_uint)(v)}})
#define GLF_F32(v) ((glf_karg){sizeof(cl_float), &(cl_float){(cl_float)(v)}})
/* Both halves of a glf_dptr as two kernel arguments (buffer, int offset). */
#define GLF_DP(p) GLF_MEM((p).buf), GLF_I32((p).off)
#define GLF_LOCAL(bytes) ((glf_karg){(size_t)(bytes), NULL})

/* Set arguments 0..nargs-1 in order and enqueue (no clFinish). global is
 * rounded up to a multiple of local (kernels check their bounds); local
 * may be NULL. */
glf_status glf_launch(glf_ctx *ctx, cl_kernel k, cl_uint dims,
                      const size_t *global, const size_t *local, size_t nargs,
                      const glf_karg *args);

#define GLF_LAUNCH(ctx, k, dims, global, local, ...)                         \
    glf_launch((ctx), (k), (dims), (global), (local),                         \
               sizeof((glf_karg[]){__VA_ARGS__}) / sizeof(glf_karg),          \
               (glf_karg[]){__VA_ARGS__})

/* ---- profiling ------------------------------------------------------------- */

/* Time every kernel (and GEMM) enqueued between start and stop with OpenCL
 * profiling events, summed per kernel name. start waits for the queue and
 * re-creates it with profiling on; stop waits, sums, restores a plain
 * queue, and returns entries sorted by time (caller frees *out). */
typedef struct glf_profile_entry {
    char name[64]; /* kernel name */
    char op[32];   /* the scope it ran under (glf_profile_scope), "" if none */
    int backward;  /* ... and whether that scope was a backward pass */
    double ms;
    unsigned calls;
} glf_profile_entry;

/* Profile every kernel from now on (a profiling queue); stop returns one
 * entry per (scope, direction, kernel name), the slowest first. */
glf_status glf_profile_start(glf_ctx *ctx);
glf_status glf_profile_stop(glf_ctx *ctx, glf_profile_entry **out, int *n);
/* Name what the kernels enqueued from now on belong to (e.g. "enc.conv2",
 * backward 1); free when not profiling. op NULL clears the scope. */
void glf_profile_scope(glf_ctx *ctx, const char *op, int backward);
/* Record an event enqueued outside glf_launch (e.g. by CLBlast) under name;
 * takes ownership of ev. Returns 1 if profiling is on (and ev was taken). */
int glf_profile_record(glf_ctx *ctx, const char *name, cl_event ev);
/* Non-zero while profiling: callers that can produce events pass one. */
int glf_profiling(const glf_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
