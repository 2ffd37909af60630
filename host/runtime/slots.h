/* Per-context state of the components above the runtime (the convolutions'
 * im2col policy): one slot each, made zeroed on first use and freed with
 * the context, so those components keep their state on the context they
 * are given without the runtime knowing its shape. */
#ifndef GLF_RUNTIME_SLOTS_H
#define GLF_RUNTIME_SLOTS_H

#include <stddef.h>

#include "glf/runtime.h"

typedef enum glf_slot_id_ { GLF_SLOT_CONV_ = 0, GLF_SLOT_COUNT_ } glf_slot_id_;

/* The slot's memory (size bytes, zeroed when made); *fresh = 1 when it was
 * made by this call. NULL when out of memory. */
void *glf_ctx_slot_(glf_ctx *ctx, glf_slot_id_ id, size_t size, int *fresh);

#endif
