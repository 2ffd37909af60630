/* The communicator of a data-parallel run (glf/dist.h): MPI when the build
 * has it and a launcher started this process, else one process alone.
 * Every wait is a non-blocking collective polled up to a deadline, so a
 * rank that stops answering makes the others fail, never hang. */
#include "glf/dist.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "glf/util.h"

#ifndef GLF_HAVE_MPI
#define GLF_HAVE_MPI 0
#endif
#if GLF_HAVE_MPI
#include <mpi.h>
#endif
#if defined(__SANITIZE_ADDRESS__) && GLF_HAVE_MPI
#include <sanitizer/lsan_interface.h>
#define GLF_LSAN_ 1
#endif

/* Up to this many floats per rank, one allgather that each rank sums. */
#define GLF_DIST_SMALL_ 4096

struct glf_dist {
    int rank, size, local_rank, local_size;
    char host[256];
    double timeout_s;
    glf_dist_stats st;
    int mpi; /* MPI_Init was called here */
#if GLF_HAVE_MPI
    MPI_Comm comm;
    float *buf; /* receive scratch */
    size_t cap;
    int *cnt, *dsp, *rcnt, *rdsp;
#endif
};

int glf_dist_has_mpi(void) { return GLF_HAVE_MPI; }

int glf_dist_env_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v) > 0 ? atoi(v) : 0;
    }
    return 0;
}

int glf_dist_rank(const glf_dist *d) { return d->rank; }
int glf_dist_size(const glf_dist *d) { return d->size; }
int glf_dist_local_rank(const glf_dist *d) { return d->local_rank; }
int glf_dist_local_size(const glf_dist *d) { return d->local_size; }
const char *glf_dist_host(const glf_dist *d) { return d->host; }
glf_dist_stats glf_dist_get_stats(const glf_dist *d) { return d->st; }

glf_status glf_dist_sum_fn(void *user, float *data, size_t n)
{
    return glf_dist_sum(user, data, n);
}

glf_comm glf_dist_comm(glf_dist *d, int bn_local)
{
    glf_comm c;
    memset(&c, 0, sizeof c);
    c.rank = d->rank;
    c.size = d->size;
    c.sum = glf_dist_sum_fn;
    c.user = d;
    c.bn_local = bn_local != 0;
    return c;
}

#if GLF_HAVE_MPI

static glf_status mpi_fail_(const glf_dist *d, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error %d", rc);
    return glf_fail(GLF_ERR_COMM, "rank %d of %d: %s failed: %s", d->rank, d->size, what, msg);
}

/* Poll req until done: spin briefly, then yield the core (ranks may share
 * cores), then sleep in growing steps up to 1 ms; give up at the deadline. */
static glf_status wait_(glf_dist *d, MPI_Request *req, const char *what)
{
    double t0 = glf_now(), el = 0;
    for (long k = 0;; k++) {
        int done = 0, rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return mpi_fail_(d, rc, what);
        if (done)
            return GLF_OK;
        if ((k & 63) == 0)
            el = glf_now() - t0;
        if (el > d->timeout_s)
            return glf_fail(GLF_ERR_COMM, "rank %d of %d on %s: no answer from the other ranks "
                            "for %.0f s in %s: one of them stopped, hung or died (the wait is "
                            "bounded by --dist-timeout)", d->rank, d->size, d->host, el, what);
        if (el < 2e-4)
            continue;
        if (el < 5e-3) {
            sched_yield();
            continue;
        }
        struct timespec ts = {0, el < 0.1 ? 100000L : 1000000L};
        nanosleep(&ts, NULL);
    }
}

static glf_status room_(glf_dist *d, size_t n)
{
    if (n <= d->cap)
        return GLF_OK;
    float *b = realloc(d->buf, n * sizeof *b);
    if (!b)
        return glf_fail(GLF_ERR_NOMEM, "rank %d: out of memory for %zu floats of a sum", d->rank,
                        n);
    d->buf = b;
    d->cap = n;
    return GLF_OK;
}

/* Every rank's n floats side by side, each rank summing them in order. */
static glf_status sum_small_(glf_dist *d, float *data, size_t n)
{
    size_t N = (size_t)d->size;
    GLF_TRY(room_(d, n * N));
    MPI_Request req;
    int rc = MPI_Iallgather(data, (int)n, MPI_FLOAT, d->buf, (int)n, MPI_FLOAT, d->comm, &req);
    if (rc != MPI_SUCCESS)
        return mpi_fail_(d, rc, "MPI_Iallgather");
    GLF_TRY(wait_(d, &req, "a sum across ranks (MPI_Iallgather)"));
    for (size_t i = 0; i < n; i++) {
        float s = d->buf[i];
        for (size_t r = 1; r < N; r++)
            s += d->buf[r * n + i];
        data[i] = s;
    }
    d->st.bytes_sent += (double)n * (double)(N - 1) * sizeof(float);
    return GLF_OK;
}

/* Reduce-scatter as an all-to-all of chunks, then all-gather: chunk r
 * (floats [r*c, r*c + cnt_r)) is summed by rank r over ranks 0..N-1. */
static glf_status sum_large_(glf_dist *d, float *data, size_t n)
{
    int N = d->size, me = d->rank;
    size_t c = (n + (size_t)N - 1) / (size_t)N;
    if (c > 0x7fffffff / (size_t)N)
        return glf_fail(GLF_ERR_INVALID_ARG, "rank %d: a sum of %zu floats is too large for one "
                        "collective", d->rank, n);
    for (int r = 0; r < N; r++) {
        size_t lo = (size_t)r * c, hi = lo + c < n ? lo + c : n;
        d->cnt[r] = lo < n ? (int)(hi - lo) : 0;
        d->dsp[r] = (int)(lo < n ? lo : n);
    }
    int mine = d->cnt[me];
    for (int r = 0; r < N; r++) {
        d->rcnt[r] = mine;
        d->rdsp[r] = r * mine;
    }
    GLF_TRY(room_(d, (size_t)mine * (size_t)N));
    MPI_Request req;
    int rc = MPI_Ialltoallv(data, d->cnt, d->dsp, MPI_FLOAT, d->buf, d->rcnt, d->rdsp, MPI_FLOAT,
                            d->comm, &req);
    if (rc != MPI_SUCCESS)
        return mpi_fail_(d, rc, "MPI_Ialltoallv");
    GLF_TRY(wait_(d, &req, "the gradient sum's reduce-scatter (MPI_Ialltoallv)"));
    float *out = data + d->dsp[me];
    for (int j = 0; j < mine; j++) {
        float s = d->buf[j];
        for (int r = 1; r < N; r++)
            s += d->buf[(size_t)r * mine + j];
        out[j] = s;
    }
    rc = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, d->cnt, d->dsp, MPI_FLOAT,
                         d->comm, &req);
    if (rc != MPI_SUCCESS)
        return mpi_fail_(d, rc, "MPI_Iallgatherv");
    GLF_TRY(wait_(d, &req, "the gradient sum's all-gather (MPI_Iallgatherv)"));
    d->st.bytes_sent += (double)(n - (size_t)mine) * sizeof(float) +
                        (double)mine * (double)(N - 1) * sizeof(float);
    return GLF_OK;
}

glf_status glf_dist_sum(glf_dist *d, float *data, size_t n)
{
    if (d->size == 1 || n == 0)
        return GLF_OK;
    if (n > 0x7fffffff)
        return glf_fail(GLF_ERR_INVALID_ARG, "rank %d: a sum of %zu floats is too large", d->rank,
                        n);
    double t0 = glf_now();
    glf_status s = n <= GLF_DIST_SMALL_ ? sum_small_(d, data, n) : sum_large_(d, data, n);
    d->st.seconds += glf_now() - t0;
    d->st.calls++;
    d->st.floats += (double)n;
    return s;
}

static glf_status init_mpi_(int *argc, char ***argv, glf_dist *d)
{
    int have = 0, provided = 0;
    MPI_Initialized(&have);
    if (!have) {
        /* The batch thread and the OpenCL runtime's threads never call MPI. */
#ifdef GLF_LSAN_
        /* What MPI_Init allocates is OpenMPI's, partly in plugins it unloads
         * before any leak check could name them (tests/lsan.supp names the
         * libraries for the rest). */
        __lsan_disable();
#endif
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
#ifdef GLF_LSAN_
        __lsan_enable();
#endif
        if (rc != MPI_SUCCESS)
            return glf_fail(GLF_ERR_COMM, "MPI_Init_thread failed (error %d)", rc);
        d->mpi = 1;
    }
    /* Errors come back as codes (reported by name) instead of aborting
     * inside MPI; glf_dist_abort is the one way out that stops everyone. */
    MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    MPI_Comm node;
    MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &d->local_rank);
    MPI_Comm_size(node, &d->local_size);
    MPI_Comm_free(&node);
    int len = 0;
    char name[MPI_MAX_PROCESSOR_NAME];
    MPI_Get_processor_name(name, &len);
    snprintf(d->host, sizeof d->host, "%s", name);
    size_t N = (size_t)d->size;
    d->cnt = malloc(4 * N * sizeof *d->cnt);
    if (!d->cnt)
        return glf_fail(GLF_ERR_NOMEM, "out of memory joining %d ranks", d->size);
    d->dsp = d->cnt + N, d->rcnt = d->dsp + N, d->rdsp = d->rcnt + N;
    return GLF_OK;
}

void glf_dist_abort(glf_dist *d, int code)
{
    if (d && d->size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(d->comm, code ? code : 1);
    }
}

void glf_dist_finalize(glf_dist *d)
{
    if (!d)
        return;
    if (d->cnt) {
        MPI_Comm_free(&d->comm);
        free(d->cnt);
    }
    free(d->buf);
#ifdef GLF_LSAN_
    /* MPI_Finalize unloads OpenMPI's components, and LeakSanitizer's check
     * at exit cannot name the modules of what they left behind: check now,
     * while they are loaded (tests/lsan.supp names OpenMPI's libraries).
     * Everything of glf's is freed by now, the glf_dist but for d itself. */
    if (d->mpi)
        __lsan_do_leak_check();
#endif
    if (d->mpi)
        MPI_Finalize();
    free(d);
}

#else /* no MPI in this build: one process */

glf_status glf_dist_sum(glf_dist *d, float *data, size_t n)
{
    (void)data;
    d->st.calls++;
    d->st.floats += (double)n;
    return GLF_OK;
}

void glf_dist_abort(glf_dist *d, int code)
{
    (void)d, (void)code;
}

void glf_dist_finalize(glf_dist *d)
{
    free(d);
}

#endif

glf_status glf_dist_init(int *argc, char ***argv, double timeout_s, glf_dist **out)
{
    *out = NULL;
    int env = glf_dist_env_size();
    if (!GLF_HAVE_MPI && env > 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "this glf was built without MPI, but was launched "
                        "as one of %d ranks: build it with MPI (cmake -DGLF_MPI=ON, Debian "
                        "package libopenmpi-dev) or run it as one process", env);
    glf_dist *d = calloc(1, sizeof *d);
    if (!d)
        return glf_fail(GLF_ERR_NOMEM, "out of memory");
    d->size = d->local_size = 1;
    d->timeout_s = timeout_s > 0 ? timeout_s : 600.0;
    if (gethostname(d->host, sizeof d->host) != 0)
        snprintf(d->host, sizeof d->host, "?");
    d->host[sizeof d->host - 1] = '\0';
#if GLF_HAVE_MPI
    if (env > 0) {
        glf_status s = init_mpi_(argc, argv, d);
        if (s) {
            glf_dist_finalize(d);
            return s;
        }
    }
#else
    (void)argc, (void)argv;
#endif
    *out = d;
    return GLF_OK;
}
