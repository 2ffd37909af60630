/* The tuning store: every choice `glf tune` makes for a device (glf's tile
 * set, CLBlast's parameters, the convolutions' im2col variants) in one file
 * per device in the cache folder, keyed by device, driver and platform:
 *   glf tune store 1
 *   device <name> | <driver> | <platform> | <platform version>
 *   <key> = <value>
 * Keys: "gemm" (glf_gemm_params_format), "gemm.score_ms", "clblast"
 * (glf_clblast_format), "clblast.score_ms", "conv" ("taps=W pixels=W"),
 * "conv.score_ms". Writes replace one key and go to a temporary file that
 * is renamed. Readers below the tuners (the GEMM state, the convolutions)
 * use glf_tune_get; the tuners (host/tune) glf_tune_put. */
#ifndef GLF_TUNE_STORE_H
#define GLF_TUNE_STORE_H

#include <stddef.h>

#include "glf/runtime.h"

/* The store's file for ctx's device; GLF_ERR_INVALID_ARG when the disk
 * cache is off. */
glf_status glf_tune_path(glf_ctx *ctx, char *buf, size_t n);
/* value (n bytes) of key: *found = 0 when the device is untuned or the key
 * absent; GLF_ERR_FORMAT naming the file and line when the file is not a
 * store. */
glf_status glf_tune_get(glf_ctx *ctx, const char *key, char *value, size_t n, int *found);
/* Set key (and key.score_ms when score_s >= 0) in ctx's device's store. */
glf_status glf_tune_put(glf_ctx *ctx, const char *key, const char *value, double score_s);

#endif
