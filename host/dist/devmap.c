/* Which OpenCL device each rank of a machine drives (glf_dist_device_spec):
 * the node-local rank picks among the devices of the wanted kind, or from
 * a list given with --device A,B,... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/dist.h"
#include "glf/runtime.h"

/* The k-th (mod count) device of type t, as a "P:N" spec; 0 if none. */
static int nth_of_type_(const glf_device_info *l, int n, cl_device_type t, int k, char *out,
                        size_t size)
{
    int count = 0;
    for (int i = 0; i < n; i++)
        count += (l[i].type & t) != 0;
    if (count == 0)
        return 0;
    k %= count;
    for (int i = 0; i < n; i++)
        if ((l[i].type & t) && k-- == 0) {
            snprintf(out, size, "%d:%d", l[i].platform_index, l[i].device_index);
            return 1;
        }
    return 0;
}

glf_status glf_dist_device_spec(const char *spec, int local, char *out, size_t size)
{
    if (local < 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "local rank %d, expected >= 0", local);
    const char *from = "--device";
    if (!spec || !*spec) {
        spec = getenv("GLF_DEVICE");
        from = "GLF_DEVICE";
    }
    if (spec && strchr(spec, ',')) {
        /* A list: element local % count (empty elements are an error). */
        int count = 1;
        for (const char *p = spec; *p; p++)
            count += *p == ',';
        int want = local % count, at = 0;
        const char *p = spec;
        for (; at < want; p++)
            at += *p == ',';
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= size)
            return glf_fail(GLF_ERR_INVALID_ARG, "%s '%s': element %d of the list is %s; expected "
                            "a comma-separated list of device specs", from, spec, want,
                            len ? "too long" : "empty");
        memcpy(out, p, len);
        out[len] = '\0';
        return GLF_OK;
    }
    int is_type = spec && (!strcmp(spec, "gpu") || !strcmp(spec, "cpu"));
    if (spec && *spec && !is_type) { /* one device for every rank */
        if (strlen(spec) >= size)
            return glf_fail(GLF_ERR_INVALID_ARG, "%s '%s' is too long", from, spec);
        snprintf(out, size, "%s", spec);
        return GLF_OK;
    }
    glf_device_info *l;
    int n;
    GLF_TRY(glf_devices_list(&l, &n));
    int ok = 0;
    if (!is_type || !strcmp(spec, "gpu"))
        ok = nth_of_type_(l, n, CL_DEVICE_TYPE_GPU, local, out, size);
    if (!ok && (!is_type || !strcmp(spec, "cpu")))
        ok = nth_of_type_(l, n, CL_DEVICE_TYPE_CPU, local, out, size);
    if (!ok && !is_type) /* neither kind: the first device, as glf_device_select does */
        ok = snprintf(out, size, "0") > 0;
    free(l);
    if (!ok)
        return glf_fail(GLF_ERR_NO_DEVICE, "%s '%s' matches no OpenCL device of that type "
                        "(see glf devices)", from, spec);
    return GLF_OK;
}
