/* Status codes and the thread-local last-error message.
 * Every fallible libglf call returns a glf_status; the message from
 * glf_last_error() names the file, the value and what was expected. */
#ifndef GLF_STATUS_H
#define GLF_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum glf_status {
    GLF_OK = 0,
    GLF_ERR_INVALID_ARG,   /* a caller passed a value outside the contract */
    GLF_ERR_NO_DEVICE,     /* no OpenCL platform/device, or the spec matched none */
    GLF_ERR_OPENCL,        /* an OpenCL call failed */
    GLF_ERR_BUILD,         /* an OpenCL program failed to build */
    GLF_ERR_CLBLAST,       /* a CLBlast call failed */
    GLF_ERR_IO,            /* a file could not be opened, read or written */
    GLF_ERR_FORMAT,        /* a file's content is malformed or of an unknown version */
    GLF_ERR_NOMEM,         /* host memory allocation failed */
    GLF_ERR_NUMERIC,       /* NaN/Inf or another numerical failure */
    GLF_ERR_INTERRUPTED,   /* stopped by the user (SIGINT) */
    GLF_ERR_MISMATCH,      /* two things that must agree do not (shapes, hashes, configs) */
    GLF_ERR_INTERNAL,      /* a bug: an invariant of libglf itself was broken */
    GLF_ERR_COMM           /* processes of a data-parallel run failed to communicate in time */
} glf_status;

/* Short constant name of a status, e.g. "GLF_ERR_IO". Never NULL. */
const char *glf_status_str(glf_status s);

/* The message of the last failure on this thread ("" when none). */
const char *glf_last_error(void);

/* Record a message (printf-style) for this thread and return s, so that
 * library code can write `return glf_fail(GLF_ERR_IO, "...", ...);`. */
glf_status glf_fail(glf_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefix the current message with more context ("while X: <old message>")
 * and return s. Used when an error travels up through a layer. */
glf_status glf_fail_context(glf_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void glf_clear_error(void);

/* Propagate a failing status: `GLF_TRY(glf_gemm(...));` */
#define GLF_TRY(expr)                       \
    do {                                    \
        glf_status glf_try_s_ = (expr);     \
        if (glf_try_s_ != GLF_OK)           \
            return glf_try_s_;              \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
