/* Versioned, device-independent checkpoints: named float tensors with
 * shapes, int32 arrays, strings and 64-bit integers in one little-endian
 * file with a SHA-256 checksum, written atomically (temp + fsync + rename).
 *
 * File format, version 1 (all integers little-endian):
 *   0   char[8]  magic "GLFCKPT1"
 *   8   u32      version (1)
 *   12  u32      record count R
 *   16  u64      payload bytes P
 *   24  P bytes  R records
 *   24+P  32 bytes SHA-256 of bytes [0, 24+P)
 * Record: u32 kind (1 f32 tensor, 2 i32 array, 3 string, 4 i64), u32 name
 * length L (1..255), L bytes of name, then by kind:
 *   f32: u32 ndim (0..8), u64 dims[ndim], prod(dims) IEEE-754 binary32
 *   i32: u64 n, n int32
 *   str: u64 n, n bytes (no terminator)
 *   i64: one int64
 * bench/reference/glf_reference.py reads and writes the same format. */
#ifndef GLF_CHECKPOINT_H
#define GLF_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "glf/model.h"
#include "glf/rng.h"
#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GLF_CKPT_MAGIC "GLFCKPT1"
#define GLF_CKPT_VERSION 1u
#define GLF_CKPT_MAX_DIM 8

/* Names the trainer uses (a convention, not enforced by the format):
 * parameters and BN state under their layout names; Adam moments under
 * "adam.m.<name>" / "adam.v.<name>"; "config" (JSON string), "step",
 * "epoch" (ints), "rng.<which>" (see glf_ckpt_set_rng), "flow.perm"
 * (int32, blocks x d), "data.manifest" (string hash of the data set). */
#define GLF_CKPT_ADAM_M "adam.m."
#define GLF_CKPT_ADAM_V "adam.v."

typedef struct glf_ckpt glf_ckpt;

/* An empty checkpoint in memory; NULL when out of memory. */
glf_ckpt *glf_ckpt_new(void);
void glf_ckpt_free(glf_ckpt *ck);
/* Where it came from ("(memory)" or the path read), for messages. */
const char *glf_ckpt_source(const glf_ckpt *ck);
int glf_ckpt_count(const glf_ckpt *ck);
/* Name of record i in file order (NULL when out of range). */
const char *glf_ckpt_name(const glf_ckpt *ck, int i);
int glf_ckpt_has(const glf_ckpt *ck, const char *name);

/* Setters copy the data; a name already present is replaced. */
glf_status glf_ckpt_set_f32(glf_ckpt *ck, const char *name, const float *data, int ndim,
                            const int *shape);
glf_status glf_ckpt_set_i32(glf_ckpt *ck, const char *name, const int32_t *data, size_t n);
glf_status glf_ckpt_set_str(glf_ckpt *ck, const char *name, const char *value);
glf_status glf_ckpt_set_int(glf_ckpt *ck, const char *name, int64_t value);

/* Borrowed view of a float tensor (valid until the record is replaced or
 * ck freed); NULL if absent or not a float tensor. ndim/shape may be NULL. */
const float *glf_ckpt_f32(const glf_ckpt *ck, const char *name, int *ndim,
                          int shape[GLF_CKPT_MAX_DIM]);
/* Copy a float tensor whose shape must be exactly (ndim, shape); the
 * message names the tensor, the shape found and the one expected. */
glf_status glf_ckpt_get_f32(const glf_ckpt *ck, const char *name, float *dst, int ndim,
                            const int *shape);
glf_status glf_ckpt_get_i32(const glf_ckpt *ck, const char *name, int32_t *dst, size_t n);
/* Borrowed string (NUL-terminated). */
glf_status glf_ckpt_get_str(const glf_ckpt *ck, const char *name, const char **out);
glf_status glf_ckpt_get_int(const glf_ckpt *ck, const char *name, int64_t *out);

/* Every tensor of a layout, as "<prefix><name>", from/to a flat host buffer. */
glf_status glf_ckpt_set_layout(glf_ckpt *ck, const char *prefix, const glf_layout *l,
                               const float *host);
/* Fails (GLF_ERR_MISMATCH) on the first tensor that is missing or has
 * another shape, naming it: a checkpoint of another architecture. */
glf_status glf_ckpt_get_layout(const glf_ckpt *ck, const char *prefix, const glf_layout *l,
                               float *host);

/* Config as the "config" JSON string. get: parses it over zeros and
 * validates it. */
glf_status glf_ckpt_set_config(glf_ckpt *ck, const glf_config *c);
glf_status glf_ckpt_get_config(const glf_ckpt *ck, glf_config *out);

/* A glf_rng as int64 records "<name>.seed", ".stream", ".counter", ".used"
 * and the i32 array "<name>.buf" (4 words): restoring gives the same draws. */
glf_status glf_ckpt_set_rng(glf_ckpt *ck, const char *name, const glf_rng *r);
glf_status glf_ckpt_get_rng(const glf_ckpt *ck, const char *name, glf_rng *r);

/* Write to path atomically: a temporary file beside it, fsync, rename,
 * then fsync of the folder. On failure the old file (if any) is intact
 * and no temporary file remains. */
glf_status glf_ckpt_write(const glf_ckpt *ck, const char *path);
/* Read and validate magic, version, lengths and checksum; the message says
 * what is wrong (file, field, value found, value expected). */
glf_status glf_ckpt_read(const char *path, glf_ckpt **out);
/* The same container under another 8-byte magic (the golden test file
 * uses "GLFGOLD1"). */
glf_status glf_ckpt_write_as(const glf_ckpt *ck, const char *path, const char *magic);
glf_status glf_ckpt_read_as(const char *path, const char *magic, glf_ckpt **out);

#ifdef __cplusplus
}
#endif
#endif
