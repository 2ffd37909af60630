/* Status names and the per-thread last-error message behind glf_fail(). */
#include "glf/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error_[16384];

const char *glf_status_str(glf_status s)
{
    switch (s) {
    case GLF_OK: return "GLF_OK";
    case GLF_ERR_INVALID_ARG: return "GLF_ERR_INVALID_ARG";
    case GLF_ERR_NO_DEVICE: return "GLF_ERR_NO_DEVICE";
    case GLF_ERR_OPENCL: return "GLF_ERR_OPENCL";
    case GLF_ERR_BUILD: return "GLF_ERR_BUILD";
    case GLF_ERR_CLBLAST: return "GLF_ERR_CLBLAST";
    case GLF_ERR_IO: return "GLF_ERR_IO";
    case GLF_ERR_FORMAT: return "GLF_ERR_FORMAT";
    case GLF_ERR_NOMEM: return "GLF_ERR_NOMEM";
    case GLF_ERR_NUMERIC: return "GLF_ERR_NUMERIC";
    case GLF_ERR_INTERRUPTED: return "GLF_ERR_INTERRUPTED";
    case GLF_ERR_MISMATCH: return "GLF_ERR_MISMATCH";
    case GLF_ERR_INTERNAL: return "GLF_ERR_INTERNAL";
    case GLF_ERR_COMM: return "GLF_ERR_COMM";
    }
    return "GLF_ERR_UNKNOWN";
}

const char *glf_last_error(void) { return last_error_; }

void glf_clear_error(void) { last_error_[0] = '\0'; }

glf_status glf_fail(glf_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error_, sizeof last_error_, fmt, ap);
    va_end(ap);
    return s;
}

glf_status glf_fail_context(glf_status s, const char *fmt, ...)
{
    char prefix[1024];
    char old[sizeof last_error_];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error_, sizeof old);
    /* "prefix: old", cut to the buffer. */
    size_t cap = sizeof last_error_ - 1, pl = strlen(prefix), ol = strlen(old), at = 0;
    memcpy(last_error_, prefix, pl < cap ? pl : cap);
    at = pl < cap ? pl : cap;
    if (ol && at + 2 <= cap) {
        memcpy(last_error_ + at, ": ", 2);
        at += 2;
        size_t take = ol < cap - at ? ol : cap - at;
        memcpy(last_error_ + at, old, take);
        at += take;
    }
    last_error_[at] = '\0';
    return s;
}
