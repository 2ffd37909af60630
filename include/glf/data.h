/* Data sets: IDX (MNIST-style), CIFAR-10 binary and PNG-folder readers, the
 * glf data archive (tar + zstd with a hashed manifest, written by `glf pack`
 * and streamed back with libarchive), and shuffled device batches. */
#ifndef GLF_DATA_H
#define GLF_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "glf/runtime.h"
#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the archive format written by glf_pack (manifest "version"). */
#define GLF_DATA_FORMAT_VERSION 1
/* Images per archive chunk member by default. */
#define GLF_DATA_CHUNK_DEFAULT 1000

typedef struct glf_dataset {
    char name[64];
    int channels, height, width, classes;
    size_t n;                 /* images */
    uint8_t *images;          /* n * C * H * W, NCHW (NULL when streamed) */
    uint8_t *labels;          /* n (may be NULL if unlabelled or streamed) */
    char manifest_sha256[65]; /* of the manifest for archives; of the source bytes otherwise */
    /* Streamed split (archive larger than max_memory): images/labels are NULL
     * and the batcher reads the archive chunk by chunk through a shuffle
     * buffer of at most max_memory bytes. */
    int streamed;
    int labelled;             /* labels exist (also when streamed) */
    size_t max_memory;        /* bytes, as given in the source */
    size_t chunk;             /* images per archive chunk (streamed sets) */
    char archive[4096];       /* archive path when streamed */
    char split[16];
} glf_dataset;

/* Source: exactly one of name (+ optional dir) or archive path.
 * Names: "fashion-mnist" (dir default: $GLF_DATA_DIR/fashion-mnist, then
 * $GLF_DATA_DIR, then /usr/share/datasets/fashion-mnist, then the shipped
 * sample data/fashion-mnist-sample.tar.zst), "mnist" and "cifar10" (dir, or
 * $GLF_DATA_DIR/<name>), "images" (a folder of PNG files; crop/size apply).
 * max_memory 0 = no limit. */
typedef struct glf_data_source {
    const char *name;
    const char *dir;
    const char *archive;
    size_t max_memory;
    int crop; /* PNG folders: centre crop to crop x crop first (0 = none) */
    int size; /* PNG folders: then area-average down to size x size (0 = keep) */
} glf_data_source;

glf_status glf_dataset_load(const glf_data_source *src, const char *split /* "train" | "test" */,
                            glf_dataset *out);
void glf_dataset_free(glf_dataset *d);

/* ---- single readers (also used by the fuzz harnesses) ------------------- */

/* An IDX file (raw or gzip/any libarchive filter): images (n, h, w) or
 * labels (n). *data is malloc'd. dims[0..ndim) receive the dimensions. */
glf_status glf_idx_read(const char *path, uint8_t **data, int *ndim, uint32_t dims[4]);
/* The same, on bytes already in memory (label names them in messages). */
glf_status glf_idx_parse(const char *label, const uint8_t *buf, size_t len, uint8_t **data,
                         int *ndim, uint32_t dims[4]);
/* Whole content of a file after libarchive's filters (gzip, zstd, none). */
glf_status glf_read_decompressed(const char *label, const char *path, const void *mem,
                                 size_t mem_len, uint8_t **out, size_t *n);

/* A glf archive held in memory (fuzzing, tests): same checks as a file. */
glf_status glf_archive_load_memory(const char *label, const void *buf, size_t len,
                                   const char *split, glf_dataset *out);

/* 8-bit PNG writer (C = 1 or 3, CHW planes). */
glf_status glf_png_write_u8(const char *path, int channels, int height, int width,
                         const uint8_t *chw);

/* ---- archives ------------------------------------------------------------ */

typedef struct glf_pack_opts {
    int level;           /* zstd level, 1..22 (0: 9) */
    int chunk;           /* images per chunk member (0: GLF_DATA_CHUNK_DEFAULT) */
    size_t limit_train;  /* keep the first N images of a split (0: all) */
    size_t limit_test;
    /* Called after each member; a non-zero return aborts the pack
     * (GLF_ERR_INTERRUPTED, no output left). May be NULL. */
    int (*progress)(void *user, const char *member, size_t done, size_t total);
    void *user;
} glf_pack_opts;

/* Write OUT (tar + zstd): manifest.json, then per split and chunk k
 * "<split>/labels-<k>.u8" and "<split>/images-<k>.u8". Written to a
 * temporary file next to OUT and renamed at the end. */
glf_status glf_pack(const glf_data_source *src, const char *out_path, const glf_pack_opts *opts);

/* Low-level tar + zstd writer (tests and the fuzz corpus use it to make
 * archives, bad ones included). Member i: names[i], sizes[i] bytes. */
glf_status glf_archive_write_members(const char *path, int level, size_t n,
                                     const char *const *names, const void *const *data,
                                     const size_t *sizes);

typedef struct glf_archive_info {
    char name[64];
    int version, channels, height, width, classes, labelled, chunk;
    size_t count[2];          /* train, test */
    size_t members;
    size_t bytes;             /* uncompressed member bytes */
    char manifest_sha256[65];
    char *manifest;           /* malloc'd JSON text */
} glf_archive_info;

/* Read the manifest and (verify != 0) every member, checking its hash. */
glf_status glf_archive_info_read(const char *path, int verify, glf_archive_info *out);
void glf_archive_info_free(glf_archive_info *info);

/* Streamed reading, chunk by chunk, in archive order (after each member's
 * hash is checked). The callback returns non-zero to stop early. */
typedef int (*glf_chunk_fn)(void *user, const uint8_t *images, const uint8_t *labels,
                            size_t count);
glf_status glf_archive_stream(const char *path, const char *split, glf_chunk_fn fn, void *user);

/* ---- batches -------------------------------------------------------------- */

/* Batches of B images as floats in [0,1] (B, C, H, W) on the device,
 * epoch-shuffled by a counter-based RNG keyed by (seed, epoch): in memory a
 * Fisher-Yates permutation per epoch; streamed sets (d->streamed) read the
 * archive once per epoch through a shuffle buffer of --max-memory bytes.
 * The batcher keeps pointers into d: keep d alive until it is destroyed.
 * A background thread gathers the next batch while the device computes. */
typedef struct glf_batcher glf_batcher;
glf_status glf_batcher_create(glf_ctx *ctx, const glf_dataset *d, int batch,
                              unsigned long long seed, int drop_last, int shuffle,
                              glf_batcher **out);
int glf_batcher_steps_per_epoch(const glf_batcher *b);
/* Data parallelism: from now on yield part `part` (0-based) of `parts` of
 * every batch, the images [part*B/parts, (part+1)*B/parts) of the batch a
 * single batcher draws, so the parts of all processes together are its
 * batches whatever `parts` is. B must divide evenly by parts, and the
 * batcher must drop the last partial batch. Repositions at epoch 0, step
 * 0 (glf_batcher_seek afterwards to start elsewhere). */
glf_status glf_batcher_shard(glf_batcher *b, int part, int parts);
/* Images in batch `step` (B, or fewer for the last one without drop_last;
 * B/parts of them when sharded). */
int glf_batcher_batch_images(const glf_batcher *b, int step);
/* Position at (epoch, step) (exact resume); next() then yields that batch. */
glf_status glf_batcher_seek(glf_batcher *b, int epoch, int step);
/* Writes the next batch to out (B*C*H*W floats; only the batch's images for
 * a short last batch); labels (B ints) optional (NULL). Returns the (epoch,
 * step) of the batch just produced. The device copy is enqueued, not
 * finished: out is ready for kernels enqueued after this call. */
glf_status glf_batcher_next(glf_batcher *b, glf_dptr out, int *labels, int *epoch, int *step);
void glf_batcher_destroy(glf_batcher *b);

/* u8 -> f32 in [0,1] on the device: y[i] = x[i] / 255 (bit-identical to
 * PyTorch's x.float() / 255). x is a byte buffer at byte offset xoff. */
glf_status glf_u8_to_f32(glf_ctx *ctx, glf_dptr y, cl_mem x, size_t xoff, size_t n);

#ifdef __cplusplus
}
#endif
#endif
