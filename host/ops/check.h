/* Argument checks shared by the op families: a tensor argument must be a
 * real buffer whose offset + size fits the kernels' int index range. */
#ifndef GLF_OPS_CHECK_H
#define GLF_OPS_CHECK_H

#include "glf/runtime.h"

/* p.buf non-NULL and p.off + n <= INT_MAX; the message names op and name. */
glf_status glf_check_dptr_(const char *op, const char *name, glf_dptr p, size_t n);
/* Same, but a NULL buffer (an output that is not wanted) is fine. */
glf_status glf_check_dptr_opt_(const char *op, const char *name, glf_dptr p, size_t n);

#endif
