/* The training-step workload that tuning decides on and `glf bench` times:
 * the GLF model of 28x28 images (glf_config_preset) at batch B, seeded,
 * on a batch of random images; one step is forward, backward, Adam and a
 * wait for the queue. */
#ifndef GLF_TUNE_WORKLOAD_H
#define GLF_TUNE_WORKLOAD_H

#include "glf/net.h"

typedef struct glf_step_work {
    glf_net *net;
    cl_mem x;
    int B;
    long t; /* the next Adam step */
} glf_step_work;

/* Make the model and its batch (on failure whatever was made is released). */
glf_status glf_step_work_make(glf_ctx *ctx, int B, glf_step_work *w);
/* One training step. */
glf_status glf_step_work_run(glf_step_work *w);
void glf_step_work_free(glf_step_work *w);

#endif
