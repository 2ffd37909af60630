/* The context: one device, one in-order queue, plus buffers and launches.
 * Launches never wait: the queue runs asynchronously until glf_finish or a
 * blocking read. */
#include "internal.h"

#include <clblast_c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


glf_status glf_ctx_create(const char *spec, glf_ctx **out)
{
    glf_options o;
    *out = NULL;
    GLF_TRY(glf_options_from_env(&o));
    return glf_ctx_create_opts(spec, &o, out);
}

glf_status glf_ctx_create_opts(const char *spec, const glf_options *opts, glf_ctx **out)
{
    *out = NULL;
    glf_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return glf_fail(GLF_ERR_NOMEM, "out of memory creating a context");
    c->opts = opts ? *opts : glf_options_defaults_();
    if (c->opts.family != GLF_FAMILY_AUTO && c->opts.family != GLF_FAMILY_CPU &&
        c->opts.family != GLF_FAMILY_SIMT) {
        free(c);
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_ctx_create_opts: family %d, expected "
                        "GLF_FAMILY_AUTO, GLF_FAMILY_CPU or GLF_FAMILY_SIMT", (int)opts->family);
    }
    glf_status s = glf_device_select(spec, &c->dev);
    if (s != GLF_OK) {
        free(c);
        return s;
    }
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                     (cl_context_properties)c->dev.platform_id, 0};
    c->context = clCreateContext(props, 1, &c->dev.id, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        s = glf_fail(GLF_ERR_OPENCL, "clCreateContext on '%s' failed: %s", c->dev.name,
                     glf_cl_error_name(err));
        free(c);
        return s;
    }
    c->queue = clCreateCommandQueue(c->context, c->dev.id, 0, &err);
    if (err != CL_SUCCESS) {
        clReleaseContext(c->context);
        free(c);
        return glf_fail(GLF_ERR_OPENCL, "clCreateCommandQueue failed: %s",
                        glf_cl_error_name(err));
    }
    c->cache_dir = glf_cache_dir_from_env_();
    c->family = c->opts.family != GLF_FAMILY_AUTO ? c->opts.family : glf_device_family(&c->dev);
    *out = c;
    return GLF_OK;
}

glf_options *glf_ctx_options(glf_ctx *c) { return &c->opts; }

void *glf_ctx_slot_(glf_ctx *c, glf_slot_id_ id, size_t size, int *fresh)
{
    *fresh = 0;
    if (!c->slots[id]) {
        c->slots[id] = calloc(1, size);
        *fresh = c->slots[id] != NULL;
    }
    return c->slots[id];
}
glf_family glf_ctx_family(const glf_ctx *c) { return c->family; }

static glf_status new_queue_(glf_ctx *c, int profiling)
{
    cl_int err;
    cl_command_queue q = clCreateCommandQueue(c->context, c->dev.id,
                                              profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    GLF_CL_CHECK_ERR(err, "clCreateCommandQueue");
    if (c->queue) {
        clFinish(c->queue);
        clReleaseCommandQueue(c->queue);
    }
    c->queue = q;
    c->profiling = profiling;
    return GLF_OK;
}

int glf_profiling(const glf_ctx *c) { return c->profiling; }

int glf_profile_record(glf_ctx *c, const char *name, cl_event ev)
{
    if (!c->profiling || !ev)
        return 0;
    if (c->nprof == c->cap_prof) {
        size_t cap = c->cap_prof ? 2 * c->cap_prof : 1024;
        struct glf_prof_rec_ *p = realloc(c->prof, cap * sizeof *p);
        if (!p) {
            clReleaseEvent(ev); /* a lost record only loses timing */
            return 1;
        }
        c->prof = p;
        c->cap_prof = cap;
    }
    snprintf(c->prof[c->nprof].name, sizeof c->prof[0].name, "%s", name);
    memcpy(c->prof[c->nprof].op, c->prof_op, sizeof c->prof_op);
    c->prof[c->nprof].backward = c->prof_backward;
    c->prof[c->nprof].ev = ev;
    c->nprof++;
    return 1;
}

static void prof_clear_(glf_ctx *c)
{
    for (size_t i = 0; i < c->nprof; i++)
        clReleaseEvent(c->prof[i].ev);
    c->nprof = 0;
}

void glf_profile_scope(glf_ctx *c, const char *op, int backward)
{
    if (!c->profiling)
        return;
    snprintf(c->prof_op, sizeof c->prof_op, "%s", op ? op : "");
    c->prof_backward = op ? backward : 0;
}

glf_status glf_profile_start(glf_ctx *c)
{
    prof_clear_(c);
    c->prof_op[0] = 0;
    c->prof_backward = 0;
    return new_queue_(c, 1);
}

static int by_ms_(const void *a, const void *b)
{
    double x = ((const glf_profile_entry *)a)->ms, y = ((const glf_profile_entry *)b)->ms;
    return (x < y) - (x > y);
}

glf_status glf_profile_stop(glf_ctx *c, glf_profile_entry **out, int *n)
{
    *out = NULL;
    *n = 0;
    GLF_CL_CHECK(clFinish(c->queue));
    glf_profile_entry *e = calloc(c->nprof ? c->nprof : 1, sizeof *e);
    if (!e) {
        prof_clear_(c);
        return glf_fail(GLF_ERR_NOMEM, "out of memory summing the profile");
    }
    int m = 0;
    for (size_t i = 0; i < c->nprof; i++) {
        cl_ulong t0 = 0, t1 = 0;
        if (clGetEventProfilingInfo(c->prof[i].ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0,
                                    NULL) != CL_SUCCESS ||
            clGetEventProfilingInfo(c->prof[i].ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1,
                                    NULL) != CL_SUCCESS)
            continue;
        int j = 0;
        const struct glf_prof_rec_ *r = &c->prof[i];
        while (j < m && (strcmp(e[j].name, r->name) || strcmp(e[j].op, r->op) ||
                         e[j].backward != r->backward))
            j++;
        if (j == m) {
            snprintf(e[m].name, sizeof e[m].name, "%s", r->name);
            memcpy(e[m].op, r->op, sizeof e[m].op);
            e[m].backward = r->backward;
            m++;
        }
        e[j].ms += (double)(t1 - t0) * 1e-6;
        e[j].calls++;
    }
    prof_clear_(c);
    qsort(e, (size_t)m, sizeof *e, by_ms_);
    *out = e;
    *n = m;
    return new_queue_(c, 0);
}

void glf_ctx_destroy(glf_ctx *c)
{
    if (!c)
        return;
    prof_clear_(c);
    free(c->prof);
    if (c->queue) {
        clFinish(c->queue);
        clReleaseCommandQueue(c->queue);
    }
    glf_gemm_release_(c);
    for (int i = 0; i < GLF_SLOT_COUNT_; i++)
        free(c->slots[i]);
    glf_programs_release_(c);
    /* CLBlast caches programs (and so this context) globally; drop them so
     * the context and its device state are really released. */
    CLBlastClearCache();
    if (c->context)
        clReleaseContext(c->context);
    free(c->cache_dir);
    free(c);
}

int glf_nt_stores(glf_ctx *c)
{
    return c->family == GLF_FAMILY_CPU && c->opts.nt_stores != GLF_NT_OFF &&
           glf_ctx_features(c).nt_store;
}

int glf_nt_output(glf_ctx *c, size_t n)
{
    return glf_nt_stores(c) && (n >= GLF_NT_MIN_FLOATS || c->opts.nt_stores == GLF_NT_ALL);
}

const glf_device_info *glf_ctx_device(const glf_ctx *c) { return &c->dev; }
cl_context glf_ctx_context(const glf_ctx *c) { return c->context; }
cl_command_queue glf_ctx_queue(const glf_ctx *c) { return c->queue; }
glf_cache_stats glf_ctx_cache_stats(const glf_ctx *c) { return c->stats; }
const char *glf_ctx_cache_dir(const glf_ctx *c) { return c->cache_dir; }

void glf_ctx_set_allreduce(glf_ctx *c, glf_allreduce_fn fn, void *user)
{
    c->allreduce = fn;
    c->allreduce_user = fn ? user : NULL;
}

int glf_ctx_has_allreduce(const glf_ctx *c) { return c->allreduce != NULL; }

glf_status glf_ctx_allreduce(glf_ctx *c, float *data, size_t n)
{
    return c->allreduce ? c->allreduce(c->allreduce_user, data, n) : GLF_OK;
}

void glf_ctx_describe(const glf_ctx *c, char *buf, size_t n)
{
    snprintf(buf, n, "device %d (%d:%d): %s [%s, %s, %s, %u CUs]", c->dev.index,
             c->dev.platform_index, c->dev.device_index, c->dev.name,
             glf_device_type_str(c->dev.type), c->dev.platform, c->dev.driver,
             c->dev.compute_units);
}

glf_status glf_buf_create(glf_ctx *c, size_t bytes, cl_mem *out)
{
    cl_int err;
    if (bytes == 0)
        bytes = 4; /* OpenCL rejects empty buffers; callers may have empty tensors */
    *out = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return glf_fail(GLF_ERR_OPENCL, "clCreateBuffer(%zu bytes) failed: %s", bytes,
                        glf_cl_error_name(err));
    return GLF_OK;
}

void glf_buf_release(cl_mem b)
{
    if (b)
        clReleaseMemObject(b);
}

glf_status glf_buf_write(glf_ctx *c, cl_mem b, size_t off, size_t bytes, const void *src)
{
    if (bytes == 0)
        return GLF_OK;
    GLF_CL_CHECK(clEnqueueWriteBuffer(c->queue, b, CL_TRUE, off, bytes, src, 0, NULL, NULL));
    return GLF_OK;
}

glf_status glf_buf_read(glf_ctx *c, cl_mem b, size_t off, size_t bytes, void *dst)
{
    if (bytes == 0)
        return GLF_OK;
    GLF_CL_CHECK(clEnqueueReadBuffer(c->queue, b, CL_TRUE, off, bytes, dst, 0, NULL, NULL));
    return GLF_OK;
}

glf_status glf_buf_read_async(glf_ctx *c, cl_mem b, size_t off, size_t bytes, void *dst,
                              cl_event *ev)
{
    *ev = NULL;
    GLF_CL_CHECK(clEnqueueReadBuffer(c->queue, b, CL_FALSE, off, bytes, dst, 0, NULL, ev));
    return GLF_OK;
}

glf_status glf_buf_fill_f32(glf_ctx *c, cl_mem b, size_t off, size_t count, float v)
{
    if (count == 0)
        return GLF_OK;
    GLF_CL_CHECK(clEnqueueFillBuffer(c->queue, b, &v, sizeof v, off * sizeof(float),
                                     count * sizeof(float), 0, NULL, NULL));
    return GLF_OK;
}

glf_status glf_finish(glf_ctx *c)
{
    GLF_CL_CHECK(clFinish(c->queue));
    return GLF_OK;
}

static void kernel_name_(cl_kernel k, char *buf, size_t n)
{
    buf[0] = '\0';
    if (clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, n, buf, NULL) != CL_SUCCESS)
        snprintf(buf, n, "?");
    buf[n - 1] = '\0';
}

glf_status glf_launch(glf_ctx *c, cl_kernel k, cl_uint dims, const size_t *global,
                      const size_t *local, size_t nargs, const glf_karg *args)
{
    char name[128];
    size_t g[3];
    if (dims < 1 || dims > 3)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_launch: dims = %u, expected 1..3", dims);
    for (size_t i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            kernel_name_(k, name, sizeof name);
            return glf_fail(GLF_ERR_OPENCL,
                            "clSetKernelArg(%s, arg %zu, %zu bytes) on '%s' failed: %s",
                            name, i, args[i].size, c->dev.name, glf_cl_error_name(err));
        }
    }
    for (cl_uint d = 0; d < dims; d++) {
        g[d] = global[d];
        if (local && local[d] > 0)
            g[d] = (g[d] + local[d] - 1) / local[d] * local[d];
        if (g[d] == 0)
            return GLF_OK; /* nothing to do */
    }
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(c->queue, k, dims, NULL, g, local, 0, NULL,
                                        c->profiling ? &ev : NULL);
    if (err == CL_SUCCESS && ev) {
        kernel_name_(k, name, sizeof name);
        glf_profile_record(c, name, ev);
    }
    if (err != CL_SUCCESS) {
        kernel_name_(k, name, sizeof name);
        return glf_fail(GLF_ERR_OPENCL,
                        "clEnqueueNDRangeKernel(%s, global %zu x %zu x %zu, local %zu x %zu x "
                        "%zu) on '%s' (%s %s) failed: %s", name, g[0], dims > 1 ? g[1] : 1,
                        dims > 2 ? g[2] : 1, local ? local[0] : 0,
                        local && dims > 1 ? local[1] : 1, local && dims > 2 ? local[2] : 1,
                        c->dev.name, c->dev.platform, c->dev.driver, glf_cl_error_name(err));
    }
    return GLF_OK;
}
