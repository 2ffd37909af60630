/* Private to host/train: the data-parallel step (train_dp.c) that the
 * training loop (train.c) runs on each rank of a glf_comm. */
#ifndef GLF_TRAIN_INTERNAL_H
#define GLF_TRAIN_INTERNAL_H

#include "glf/train.h"

/* Floats summed after the gradients: the six loss fields and the stop flag. */
#define GLF_DP_EXTRA_ 7

typedef struct glf_dp_ {
    const glf_comm *c;
    size_t P;  /* parameters (gradients) */
    float *h;  /* P + GLF_DP_EXTRA_ host floats */
    double bn_s, bn_floats; /* this step's BatchNorm sums: seconds, floats */
} glf_dp_;

glf_status glf_dp_init_(glf_dp_ *dp, const glf_comm *c, glf_net *net);
void glf_dp_free_(glf_dp_ *dp);
/* Forward and backward on this rank's B images (BatchNorm's statistics
 * summed across ranks unless c->bn_local), then the gradients, the loss
 * shares and the stop flag summed: l holds the global batch's losses,
 * *stop_all whether any rank asked to stop; the sync fields of pr are set.
 * Adam is the caller's. */
glf_status glf_dp_step_(glf_dp_ *dp, glf_net *net, glf_dptr x, int B, const float *eps,
                        int stop, glf_losses *l, int *stop_all, glf_progress *pr);
/* Every rank learns whether any failed `what` (s on this rank): returns s
 * where it failed, GLF_ERR_COMM naming the count where another did, GLF_OK
 * where none did (c->failed_together: the count). c NULL: s. */
glf_status glf_dp_agree_(glf_comm *c, glf_status s, const char *what);

#endif
