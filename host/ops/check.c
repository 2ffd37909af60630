/* Shared argument checks of the op families (see check.h). */
#include "check.h"

#include <limits.h>

glf_status glf_check_dptr_(const char *op, const char *name, glf_dptr p, size_t n)
{
    if (!p.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: %s.buf is NULL, expected a device buffer", op,
                        name);
    if (p.off > (size_t)INT_MAX || n > (size_t)INT_MAX - p.off)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: %s offset %zu + %zu floats exceeds INT_MAX, the kernels' index range",
                        op, name, p.off, n);
    return GLF_OK;
}

glf_status glf_check_dptr_opt_(const char *op, const char *name, glf_dptr p, size_t n)
{
    return p.buf ? glf_check_dptr_(op, name, p, n) : GLF_OK;
}
