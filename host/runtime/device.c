/* Device discovery, the device-spec language of --device / GLF_DEVICE, and
 * OpenCL error names. */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *glf_cl_error_name(cl_int err)
{
    switch (err) {
#define E_(x) case x: return #x
    E_(CL_SUCCESS); E_(CL_DEVICE_NOT_FOUND); E_(CL_DEVICE_NOT_AVAILABLE);
    E_(CL_COMPILER_NOT_AVAILABLE); E_(CL_MEM_OBJECT_ALLOCATION_FAILURE);
    E_(CL_OUT_OF_RESOURCES); E_(CL_OUT_OF_HOST_MEMORY);
    E_(CL_PROFILING_INFO_NOT_AVAILABLE); E_(CL_MEM_COPY_OVERLAP);
    E_(CL_IMAGE_FORMAT_MISMATCH); E_(CL_IMAGE_FORMAT_NOT_SUPPORTED);
    E_(CL_BUILD_PROGRAM_FAILURE); E_(CL_MAP_FAILURE);
    E_(CL_MISALIGNED_SUB_BUFFER_OFFSET);
    E_(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
    E_(CL_COMPILE_PROGRAM_FAILURE); E_(CL_LINKER_NOT_AVAILABLE);
    E_(CL_LINK_PROGRAM_FAILURE); E_(CL_DEVICE_PARTITION_FAILED);
    E_(CL_KERNEL_ARG_INFO_NOT_AVAILABLE); E_(CL_INVALID_VALUE);
    E_(CL_INVALID_DEVICE_TYPE); E_(CL_INVALID_PLATFORM); E_(CL_INVALID_DEVICE);
    E_(CL_INVALID_CONTEXT); E_(CL_INVALID_QUEUE_PROPERTIES);
    E_(CL_INVALID_COMMAND_QUEUE); E_(CL_INVALID_HOST_PTR);
    E_(CL_INVALID_MEM_OBJECT); E_(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR);
    E_(CL_INVALID_IMAGE_SIZE); E_(CL_INVALID_SAMPLER); E_(CL_INVALID_BINARY);
    E_(CL_INVALID_BUILD_OPTIONS); E_(CL_INVALID_PROGRAM);
    E_(CL_INVALID_PROGRAM_EXECUTABLE); E_(CL_INVALID_KERNEL_NAME);
    E_(CL_INVALID_KERNEL_DEFINITION); E_(CL_INVALID_KERNEL);
    E_(CL_INVALID_ARG_INDEX); E_(CL_INVALID_ARG_VALUE); E_(CL_INVALID_ARG_SIZE);
    E_(CL_INVALID_KERNEL_ARGS); E_(CL_INVALID_WORK_DIMENSION);
    E_(CL_INVALID_WORK_GROUP_SIZE); E_(CL_INVALID_WORK_ITEM_SIZE);
    E_(CL_INVALID_GLOBAL_OFFSET); E_(CL_INVALID_EVENT_WAIT_LIST);
    E_(CL_INVALID_EVENT); E_(CL_INVALID_OPERATION); E_(CL_INVALID_GL_OBJECT);
    E_(CL_INVALID_BUFFER_SIZE); E_(CL_INVALID_MIP_LEVEL);
    E_(CL_INVALID_GLOBAL_WORK_SIZE); E_(CL_INVALID_PROPERTY);
    E_(CL_INVALID_IMAGE_DESCRIPTOR); E_(CL_INVALID_COMPILER_OPTIONS);
    E_(CL_INVALID_LINKER_OPTIONS); E_(CL_INVALID_DEVICE_PARTITION_COUNT);
#undef E_
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "CL_UNKNOWN_ERROR";
}

const char *glf_device_type_str(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "gpu";
    if (t & CL_DEVICE_TYPE_CPU) return "cpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
#ifdef CL_DEVICE_TYPE_CUSTOM
    if (t & CL_DEVICE_TYPE_CUSTOM) return "custom";
#endif
    return "other";
}

static void dev_str_(cl_device_id d, cl_device_info what, char *buf, size_t n)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS)
        snprintf(buf, n, "?");
    buf[n - 1] = '\0';
}

static void plat_str_(cl_platform_id p, cl_platform_info what, char *buf, size_t n)
{
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, n, buf, NULL) != CL_SUCCESS)
        snprintf(buf, n, "?");
    buf[n - 1] = '\0';
}

static void fill_info_(glf_device_info *di, cl_platform_id p, cl_device_id d)
{
    cl_uint cu = 0;
    cl_ulong gm = 0, lm = 0;
    size_t wg = 0;
    di->platform_id = p;
    di->id = d;
    plat_str_(p, CL_PLATFORM_NAME, di->platform, sizeof di->platform);
    plat_str_(p, CL_PLATFORM_VERSION, di->platform_version, sizeof di->platform_version);
    dev_str_(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
    dev_str_(d, CL_DEVICE_NAME, di->name, sizeof di->name);
    dev_str_(d, CL_DRIVER_VERSION, di->driver, sizeof di->driver);
    dev_str_(d, CL_DEVICE_VERSION, di->version, sizeof di->version);
    dev_str_(d, CL_DEVICE_OPENCL_C_VERSION, di->c_version, sizeof di->c_version);
    di->type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gm, &gm, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    cl_device_local_mem_type lt = CL_GLOBAL;
    cl_uint nw = 1, pw = 1;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL);
    clGetDeviceInfo(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof nw, &nw, NULL);
    clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof pw, &pw, NULL);
    di->local_mem_dedicated = lt == CL_LOCAL;
    di->native_float_width = nw;
    di->preferred_float_width = pw;
    di->compute_units = cu;
    di->global_mem = gm;
    di->local_mem = lm;
    di->max_work_group = wg;
}

glf_status glf_devices_list(glf_device_info **out, int *n)
{
    cl_uint np = 0;
    *out = NULL;
    *n = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 || (err == CL_SUCCESS && np == 0))
        return glf_fail(GLF_ERR_NO_DEVICE,
                        "no OpenCL platform found: expected at least one ICD "
                        "in /etc/OpenCL/vendors (e.g. Debian's pocl-opencl-icd)");
    GLF_CL_CHECK_ERR(err, "clGetPlatformIDs");
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats)
        return glf_fail(GLF_ERR_NOMEM, "out of memory listing platforms");
    err = clGetPlatformIDs(np, plats, NULL);
    if (err != CL_SUCCESS) {
        free(plats);
        GLF_CL_CHECK_ERR(err, "clGetPlatformIDs");
    }
    glf_device_info *list = NULL;
    int count = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            continue;
        cl_device_id *devs = calloc(nd, sizeof *devs);
        glf_device_info *grown = realloc(list, (size_t)(count + (int)nd) * sizeof *list);
        if (!devs || !grown) {
            free(devs);
            free(grown ? grown : list);
            free(plats);
            return glf_fail(GLF_ERR_NOMEM, "out of memory listing devices");
        }
        list = grown;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) == CL_SUCCESS) {
            for (cl_uint d = 0; d < nd; d++) {
                glf_device_info *di = &list[count];
                memset(di, 0, sizeof *di);
                fill_info_(di, plats[p], devs[d]);
                di->index = count;
                di->platform_index = (int)p;
                di->device_index = (int)d;
                count++;
            }
        }
        free(devs);
    }
    free(plats);
    if (count == 0) {
        free(list);
        return glf_fail(GLF_ERR_NO_DEVICE,
                        "OpenCL platforms were found but they expose no device");
    }
    *out = list;
    *n = count;
    return GLF_OK;
}

static int parse_int_(const char *s, int *v)
{
    char *end;
    if (!*s || !isdigit((unsigned char)*s))
        return 0;
    long x = strtol(s, &end, 10);
    if (*end || x < 0 || x > 1000000)
        return 0;
    *v = (int)x;
    return 1;
}

static int icontains_(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

static int match_(const glf_device_info *l, int n, const char *spec)
{
    int a, b;
    const char *colon = strchr(spec, ':');
    if (parse_int_(spec, &a))
        return a < n ? a : -1;
    if (colon) {
        char head[32];
        size_t hl = (size_t)(colon - spec);
        if (hl < sizeof head) {
            memcpy(head, spec, hl);
            head[hl] = '\0';
            if (parse_int_(head, &a) && parse_int_(colon + 1, &b)) {
                for (int i = 0; i < n; i++)
                    if (l[i].platform_index == a && l[i].device_index == b)
                        return i;
                return -1;
            }
        }
    }
    if (!strcmp(spec, "gpu") || !strcmp(spec, "cpu")) {
        cl_device_type want = spec[0] == 'g' ? CL_DEVICE_TYPE_GPU : CL_DEVICE_TYPE_CPU;
        for (int i = 0; i < n; i++)
            if (l[i].type & want)
                return i;
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (icontains_(l[i].name, spec))
            return i;
    return -1;
}

glf_status glf_device_select(const char *spec, glf_device_info *out)
{
    glf_device_info *l;
    int n;
    const char *from = "--device";
    if (!spec || !*spec) {
        spec = getenv("GLF_DEVICE");
        from = "GLF_DEVICE";
    }
    GLF_TRY(glf_devices_list(&l, &n));
    int pick = -1;
    if (spec && *spec) {
        pick = match_(l, n, spec);
    } else {
        pick = match_(l, n, "gpu");
        if (pick < 0)
            pick = match_(l, n, "cpu");
        if (pick < 0)
            pick = 0;
    }
    if (pick < 0) {
        char msg[8192];
        size_t off = 0;
        off += (size_t)snprintf(msg + off, sizeof msg - off,
                                "%s '%s' matches no OpenCL device; expected an index N, "
                                "P:N, 'cpu', 'gpu' or a part of a device name. Devices:",
                                from, spec);
        for (int i = 0; i < n && off < sizeof msg - 1; i++)
            off += (size_t)snprintf(msg + off, sizeof msg - off, "\n  %d (%d:%d) %s [%s, %s]",
                                    l[i].index, l[i].platform_index, l[i].device_index,
                                    l[i].name, glf_device_type_str(l[i].type), l[i].platform);
        free(l);
        return glf_fail(GLF_ERR_NO_DEVICE, "%s", msg);
    }
    *out = l[pick];
    free(l);
    return GLF_OK;
}
