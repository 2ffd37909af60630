/* A context's behaviour switches (glf_options): their defaults, and the
 * environment variables that set them, read once when a context is made.
 * One table names each variable, its values and the field it sets. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

glf_options glf_options_defaults_(void)
{
    glf_options o = {0};
    o.gemm_prefetch = -1;
    o.nt_stores = GLF_NT_AUTO;
    o.panels = 1;
    o.col2im_fixed = 1;
    o.family = GLF_FAMILY_AUTO;
    return o;
}

/* Parse one variable; value NULL or "" restores the default. */
static glf_status parse_(glf_options *o, const char *var, const char *v)
{
    const glf_options d = glf_options_defaults_();
    const int unset = !v || !*v;
    if (!strcmp(var, "GLF_GEMM")) {
        if (unset || !strcmp(v, "glf"))
            o->gemm_clblast = 0;
        else if (!strcmp(v, "clblast"))
            o->gemm_clblast = 1;
        else
            return glf_fail(GLF_ERR_INVALID_ARG, "GLF_GEMM='%s': expected 'glf' or 'clblast'", v);
    } else if (!strcmp(var, "GLF_GEMM_PREFETCH")) {
        if (unset) {
            o->gemm_prefetch = d.gemm_prefetch;
        } else if (!strcmp(v, "off")) {
            o->gemm_prefetch = 0;
        } else {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end != '\0' || n < 0 || n > 256)
                return glf_fail(GLF_ERR_INVALID_ARG,
                                "GLF_GEMM_PREFETCH='%s': expected 'off' or a distance 0..256", v);
            o->gemm_prefetch = (int)n;
        }
    } else if (!strcmp(var, "GLF_NT_STORES")) {
        if (unset || !strcmp(v, "auto"))
            o->nt_stores = GLF_NT_AUTO;
        else if (!strcmp(v, "off"))
            o->nt_stores = GLF_NT_OFF;
        else if (!strcmp(v, "all"))
            o->nt_stores = GLF_NT_ALL;
        else
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "GLF_NT_STORES='%s': expected 'off', 'all' or 'auto'", v);
    } else if (!strcmp(var, "GLF_PANELS")) {
        if (unset || !strcmp(v, "on"))
            o->panels = 1;
        else if (!strcmp(v, "off"))
            o->panels = 0;
        else
            return glf_fail(GLF_ERR_INVALID_ARG, "GLF_PANELS='%s': expected 'off' or 'on'", v);
    } else if (!strcmp(var, "GLF_COL2IM")) {
        if (unset || !strcmp(v, "fixed"))
            o->col2im_fixed = 1;
        else if (!strcmp(v, "generic"))
            o->col2im_fixed = 0;
        else
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "GLF_COL2IM='%s': expected 'generic' or 'fixed'", v);
    } else if (!strcmp(var, "GLF_FAMILY")) {
        if (unset || !strcmp(v, "auto"))
            o->family = GLF_FAMILY_AUTO;
        else if (!strcmp(v, "cpu"))
            o->family = GLF_FAMILY_CPU;
        else if (!strcmp(v, "simt"))
            o->family = GLF_FAMILY_SIMT;
        else
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "GLF_FAMILY='%s': expected 'cpu', 'simt' or 'auto'", v);
    } else if (!strcmp(var, "GLF_VERBOSE")) {
        if (unset || !strcmp(v, "0"))
            o->verbose = 0;
        else if (!strcmp(v, "1"))
            o->verbose = 1;
        else
            return glf_fail(GLF_ERR_INVALID_ARG, "GLF_VERBOSE='%s': expected '0' or '1'", v);
    } else {
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "'%s' is not an option; expected GLF_GEMM, GLF_GEMM_PREFETCH, "
                        "GLF_NT_STORES, GLF_PANELS, GLF_COL2IM, GLF_FAMILY or GLF_VERBOSE", var);
    }
    return GLF_OK;
}

static const char *const vars_[] = {"GLF_GEMM",   "GLF_GEMM_PREFETCH", "GLF_NT_STORES",
                                     "GLF_PANELS", "GLF_COL2IM",        "GLF_FAMILY",
                                     "GLF_VERBOSE"};

glf_status glf_options_set(glf_options *o, const char *var, const char *value)
{
    glf_options t = *o;
    GLF_TRY(parse_(&t, var, value));
    *o = t;
    return GLF_OK;
}

glf_status glf_options_from_env(glf_options *o)
{
    glf_options t = glf_options_defaults_();
    *o = t;
    for (size_t i = 0; i < sizeof vars_ / sizeof vars_[0]; i++)
        GLF_TRY(parse_(&t, vars_[i], getenv(vars_[i])));
    *o = t;
    return GLF_OK;
}

glf_family glf_device_family(const glf_device_info *d)
{
    return (d->type & CL_DEVICE_TYPE_CPU) && !(d->type & CL_DEVICE_TYPE_GPU) &&
                   d->native_float_width > 1
               ? GLF_FAMILY_CPU
               : GLF_FAMILY_SIMT;
}

const char *glf_family_name(glf_family f)
{
    return f == GLF_FAMILY_CPU ? "cpu" : f == GLF_FAMILY_SIMT ? "simt" : "auto";
}
