/* Data parallelism across processes ("ranks", one OpenCL device each) on
 * MPI: joining the job, the per-rank device, a fixed-order sum of host
 * floats with a bounded wait, and the one documented way to stop every
 * rank after an error. A separate library (glf_dist) so that libglf itself
 * never links MPI: glf_train takes the sum as a glf_comm (glf/train.h). */
#ifndef GLF_DIST_H
#define GLF_DIST_H

#include <stddef.h>

#include "glf/status.h"
#include "glf/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct glf_dist glf_dist;

/* 1 when this build has MPI (configured with GLF_MPI found or ON). */
int glf_dist_has_mpi(void);

/* Ranks the launcher started, from its environment (OMPI_COMM_WORLD_SIZE,
 * PMI_SIZE); 0 when this process was not started by an MPI launcher. */
int glf_dist_env_size(void);

/* Join the job: MPI_Init when a launcher started this process, else a
 * one-process communicator that needs no MPI. Without MPI in the build, a
 * launch as more than one rank is an error saying so. timeout_s bounds
 * every wait for the other ranks (<= 0: 600 s): a rank that waits longer
 * fails with GLF_ERR_COMM naming itself and the operation. */
glf_status glf_dist_init(int *argc, char ***argv, double timeout_s, glf_dist **out);
/* MPI_Finalize (when it was initialised) and free. NULL is fine. */
void glf_dist_finalize(glf_dist *d);

int glf_dist_rank(const glf_dist *d);
int glf_dist_size(const glf_dist *d);
int glf_dist_local_rank(const glf_dist *d); /* among the ranks of this machine */
int glf_dist_local_size(const glf_dist *d);
const char *glf_dist_host(const glf_dist *d);

/* Sum n floats in place across all ranks: every element is summed over
 * ranks 0, 1, ..., N-1 in that order (the same bits on every rank, whatever
 * the message timing). Up to 4096 floats per rank travel as one
 * MPI_Allgather that each rank sums; more as a reduce-scatter
 * (MPI_Alltoallv of N chunks, each rank summing its chunk over the ranks in
 * order) then MPI_Allgatherv: the same bits either way. Every rank calls it
 * with the same n. One rank: nothing to do. */
glf_status glf_dist_sum(glf_dist *d, float *data, size_t n);
/* The same as a glf_allreduce_fn (user = the glf_dist). */
glf_status glf_dist_sum_fn(void *user, float *data, size_t n);

/* A glf_comm for glf_train on this communicator. */
glf_comm glf_dist_comm(glf_dist *d, int bn_local);

/* What the sums cost so far on this rank. */
typedef struct glf_dist_stats {
    unsigned long long calls;
    double floats;     /* floats summed (n of each call) */
    double bytes_sent; /* bytes this rank sent (receives as many) */
    double seconds;    /* wall time inside the collectives */
} glf_dist_stats;
glf_dist_stats glf_dist_get_stats(const glf_dist *d);

/* Stop every rank of the job with exit status code (MPI_Abort): what a
 * rank does after an error the others cannot know of, so that none waits
 * for it. Without MPI (one process) it returns, and the caller exits. */
void glf_dist_abort(glf_dist *d, int code);

/* The device spec of local rank `local` (0-based): a list "A,B,..." gives
 * its element local % count; "gpu", "cpu" or no spec (NULL or "": then
 * GLF_DEVICE, else GPUs if there are any, else CPU devices) the device of
 * index local % count among the devices of that type; any other spec (an
 * index, P:N, a name) the same device for every rank. out receives a spec
 * glf_ctx_create takes. */
glf_status glf_dist_device_spec(const char *spec, int local, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
