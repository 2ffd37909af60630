/* Shared between the data readers, the archive code and the batcher (not
 * part of the public API). */
#ifndef GLF_DATA_INTERNAL_H
#define GLF_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "glf/data.h"

/* Lower-case hex SHA-256 of bytes (out: 65 chars). */
void glf_sha256_hex_(const void *data, size_t n, char out[65]);

/* Load one split of an archive file; streams it (images NULL) when the split
 * is larger than max_memory (0: never). */
glf_status glf_archive_load_(const char *path, const char *split, size_t max_memory,
                             glf_dataset *out);

/* A regular, readable file; otherwise a message naming it (GLF_ERR_IO). */
glf_status glf_check_file_(const char *path);

/* Bytes of one image, with an overflow check; 0 on overflow or zero size. */
size_t glf_image_bytes_(int c, int h, int w);

#endif

/* ---- pull-based archive reader (archive.c) ------------------------------ */

typedef struct glf_manifest_ {
    char name[64];
    int version, channels, height, width, classes, labelled;
    size_t chunk, count[2], chunks[2], image_bytes;
    size_t nmembers;
    struct glf_member_ {
        char name[48];
        size_t bytes;
        int split, chunk, is_labels;
        char sha256[65];
    } *members;
    char sha256[65]; /* of the manifest text */
    char *text;
    size_t text_len;
} glf_manifest_;

typedef struct glf_areader_ glf_areader_;
/* Open a file (path) or memory (mem, len) and read + check the manifest. */
glf_status glf_areader_open_(const char *label, const char *path, const void *mem, size_t len,
                             glf_areader_ **out);
const glf_manifest_ *glf_areader_manifest_(const glf_areader_ *r);
/* Advance to the next images chunk (of any split; both members' hashes
 * checked). *done = 1 at the verified end of the archive. The pointers stay
 * valid until the next call. */
glf_status glf_areader_next_(glf_areader_ *r, int *split, const uint8_t **images,
                             const uint8_t **labels, size_t *count, int *done);
void glf_areader_close_(glf_areader_ *r);
int glf_split_index_(const char *split); /* 0 train, 1 test, -1 other */
