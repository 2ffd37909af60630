/* Shuffled device batches. A background thread gathers batch k+1 as bytes
 * into one of two host slots while the device works on batch k; next()
 * uploads the bytes and converts them to floats on the device. Which images
 * form batch (epoch, step) depends only on (seed, epoch): never on timing. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/internal.h"
#include "glf/rng.h"

/* Philox stream of the shuffle of `epoch` (tagged so it never meets the
 * streams other modules draw from the same seed). */
#define SHUFFLE_STREAM_(epoch) ((0xDA7AULL << 48) | (uint64_t)(uint32_t)(epoch))

typedef struct slot_ {
    uint8_t *img;
    int *lab;
    int epoch, step, count;
    int ready; /* filled, not yet consumed */
    int inuse; /* consumed; its upload may still be reading it */
    cl_event ev;
} slot_;

struct glf_batcher {
    glf_ctx *ctx;
    glf_dataset d;   /* metadata; images/labels point into the caller's set */
    size_t ib;       /* bytes per image */
    int B, drop_last, shuffle, steps;
    int part, parts; /* this batcher yields part `part` of `parts` of each batch */
    unsigned long long seed;
    cl_mem dev;      /* B * ib bytes */
    /* Producer-only state. */
    uint32_t *perm;
    int perm_epoch;
    glf_areader_ *rd;                 /* streamed: archive of the current epoch */
    uint8_t *sb, *sbl;                /* shuffle buffer (images, labels) */
    uint8_t *skip;                    /* one image: other parts' images pass here */
    size_t sb_cap, sb_n;
    const uint8_t *ci, *cl;           /* current chunk and read position */
    size_t c_n, c_at;
    int s_eof, s_epoch, s_step;       /* stream position: next step it yields */
    glf_rng srng;
    /* Shared, under mu. */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot_ slots[2];
    int prod_slot, cons_slot, prod_epoch, prod_step, busy, quit, started;
    unsigned gen;
    glf_status err;
    char errmsg[2048];
};

int glf_batcher_steps_per_epoch(const glf_batcher *b)
{
    return b->steps;
}

int glf_batcher_batch_images(const glf_batcher *b, int step)
{
    if (step < 0 || step >= b->steps)
        return 0;
    if (step < b->steps - 1 || b->drop_last)
        return b->B / b->parts;
    return (int)(b->d.n - (size_t)(b->steps - 1) * b->B);
}

/* ---- in-memory sets -------------------------------------------------------- */

static void fill_memory_(glf_batcher *b, slot_ *s, int epoch, int step)
{
    if (b->perm_epoch != epoch) {
        for (size_t i = 0; i < b->d.n; i++)
            b->perm[i] = (uint32_t)i;
        if (b->shuffle) {
            glf_rng r;
            glf_rng_init(&r, b->seed, SHUFFLE_STREAM_(epoch));
            glf_rng_shuffle_u32(&r, b->perm, b->d.n);
        }
        b->perm_epoch = epoch;
    }
    size_t first = (size_t)step * b->B + (size_t)b->part * (b->B / b->parts);
    for (int i = 0; i < s->count; i++) {
        uint32_t j = b->perm[first + i];
        memcpy(s->img + (size_t)i * b->ib, b->d.images + (size_t)j * b->ib, b->ib);
        s->lab[i] = b->d.labels ? b->d.labels[j] : -1;
    }
}

/* ---- streamed sets: a shuffle buffer over the archive's chunks ------------ */

static glf_status stream_restart_(glf_batcher *b, int epoch)
{
    glf_areader_close_(b->rd);
    b->rd = NULL;
    GLF_TRY(glf_areader_open_(b->d.archive, b->d.archive, NULL, 0, &b->rd));
    const glf_manifest_ *m = glf_areader_manifest_(b->rd);
    if (strcmp(m->sha256, b->d.manifest_sha256))
        return glf_fail(GLF_ERR_MISMATCH, "%s: the archive changed since it was opened "
                        "(manifest sha256 %s, expected %s)", b->d.archive, m->sha256,
                        b->d.manifest_sha256);
    glf_rng_init(&b->srng, b->seed, SHUFFLE_STREAM_(epoch));
    b->sb_n = b->c_n = b->c_at = 0;
    b->s_eof = 0;
    b->s_epoch = epoch;
    b->s_step = 0;
    return GLF_OK;
}

/* One image in stream order, through the shuffle buffer; *got = 0 at the end. */
static glf_status stream_take_(glf_batcher *b, uint8_t *img, int *lab, int *got)
{
    int sp = glf_split_index_(b->d.split);
    while (b->sb_n < b->sb_cap && !b->s_eof) {
        if (b->c_at == b->c_n) {
            int split, done;
            size_t cnt;
            GLF_TRY(glf_areader_next_(b->rd, &split, &b->ci, &b->cl, &cnt, &done));
            b->c_at = 0;
            b->c_n = (done || split != sp) ? 0 : cnt;
            b->s_eof = done;
            continue;
        }
        memcpy(b->sb + b->sb_n * b->ib, b->ci + b->c_at * b->ib, b->ib);
        b->sbl[b->sb_n++] = b->cl ? b->cl[b->c_at] : 0;
        b->c_at++;
    }
    *got = b->sb_n > 0;
    if (!*got)
        return GLF_OK;
    size_t j = b->shuffle ? (size_t)glf_rng_below(&b->srng, b->sb_n) : 0;
    memcpy(img, b->sb + j * b->ib, b->ib);
    *lab = b->d.labelled ? b->sbl[j] : -1;
    if (b->shuffle) {
        b->sb_n--;
        memcpy(b->sb + j * b->ib, b->sb + b->sb_n * b->ib, b->ib);
        b->sbl[j] = b->sbl[b->sb_n];
    } else {
        b->sb_n = 0; /* capacity 1 without shuffle: plain archive order */
    }
    return GLF_OK;
}

static glf_status fill_stream_(glf_batcher *b, slot_ *s, int epoch, int step)
{
    if (!b->rd || b->s_epoch != epoch || b->s_step > step)
        GLF_TRY(stream_restart_(b, epoch));
    int lab, got;
    /* Skip to the wanted step (after a seek). */
    for (; b->s_step < step; b->s_step++)
        for (int i = 0; i < b->B; i++) {
            GLF_TRY(stream_take_(b, s->img, &lab, &got));
            if (!got)
                return glf_fail(GLF_ERR_INTERNAL, "%s: stream ended before step %d", b->d.archive,
                                step);
        }
    /* The whole batch goes through the stream; this part keeps its share
     * (the other parts' images pass through b->skip). */
    int skip = b->part * (b->B / b->parts), total = b->parts > 1 ? b->B : s->count;
    for (int i = 0; i < total; i++) {
        int k = i - skip, keep = k >= 0 && k < s->count;
        GLF_TRY(stream_take_(b, keep ? s->img + (size_t)k * b->ib : b->skip, &lab, &got));
        if (!got)
            return glf_fail(GLF_ERR_FORMAT, "%s: split %s ended after fewer images than the "
                            "manifest's %zu", b->d.archive, b->d.split, b->d.n);
        if (keep)
            s->lab[k] = lab;
    }
    b->s_step = step + 1;
    return GLF_OK;
}

/* ---- the producer thread ------------------------------------------------------ */

static void *producer_(void *arg)
{
    glf_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->quit && (b->err || b->slots[b->prod_slot].ready ||
                            b->slots[b->prod_slot].inuse))
            pthread_cond_wait(&b->cv, &b->mu);
        if (b->quit)
            break;
        slot_ *s = &b->slots[b->prod_slot];
        int epoch = b->prod_epoch, step = b->prod_step;
        unsigned gen = b->gen;
        b->busy = 1;
        pthread_mutex_unlock(&b->mu);

        s->count = glf_batcher_batch_images(b, step);
        glf_status st = b->d.streamed ? fill_stream_(b, s, epoch, step)
                                      : (fill_memory_(b, s, epoch, step), GLF_OK);

        pthread_mutex_lock(&b->mu);
        b->busy = 0;
        if (gen == b->gen) {
            if (st != GLF_OK) {
                b->err = st;
                snprintf(b->errmsg, sizeof b->errmsg, "%s", glf_last_error());
            } else {
                s->ready = 1;
                s->epoch = epoch;
                s->step = step;
                b->prod_slot ^= 1;
                if (++b->prod_step == b->steps)
                    b->prod_step = 0, b->prod_epoch++;
            }
        }
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Wait for a slot's upload to finish and give it back (called under mu). */
static void release_slot_(glf_batcher *b, slot_ *s)
{
    if (s->ev) {
        clWaitForEvents(1, &s->ev);
        clReleaseEvent(s->ev);
        s->ev = NULL;
    }
    s->inuse = 0;
    (void)b;
}

glf_status glf_batcher_create(glf_ctx *ctx, const glf_dataset *d, int batch,
                              unsigned long long seed, int drop_last, int shuffle,
                              glf_batcher **out)
{
    *out = NULL;
    if (!ctx || !d || batch <= 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_batcher_create: batch %d; expected > 0 and a "
                        "context and data set", batch);
    size_t ib = glf_image_bytes_(d->channels, d->height, d->width);
    if (!ib || d->n == 0 || d->n > UINT32_MAX || (!d->streamed && !d->images))
        return glf_fail(GLF_ERR_INVALID_ARG, "data set '%s': %zu images of %dx%dx%d; expected a "
                        "loaded, non-empty set", d->name, d->n, d->channels, d->height,
                        d->width);
    size_t steps = drop_last ? d->n / (size_t)batch : (d->n + (size_t)batch - 1) / (size_t)batch;
    if (steps == 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "data set '%s' has %zu images, fewer than one batch "
                        "of %d with drop_last; expected at least one full batch", d->name, d->n,
                        batch);
    if (steps > INT32_MAX || (size_t)batch * ib > (size_t)INT32_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG, "batch %d of %zu-byte images is too large", batch,
                        ib);
    glf_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return glf_fail(GLF_ERR_NOMEM, "out of memory");
    b->ctx = ctx;
    b->d = *d;
    b->ib = ib;
    b->B = batch;
    b->drop_last = drop_last != 0;
    b->shuffle = shuffle != 0;
    b->steps = (int)steps;
    b->seed = seed;
    b->parts = 1;
    b->perm_epoch = -1;
    b->s_epoch = -1;
    glf_status s = GLF_OK;
    for (int k = 0; k < 2 && s == GLF_OK; k++) {
        b->slots[k].img = malloc((size_t)batch * ib);
        b->slots[k].lab = malloc((size_t)batch * sizeof(int));
        if (!b->slots[k].img || !b->slots[k].lab)
            s = glf_fail(GLF_ERR_NOMEM, "out of memory for batch buffers");
    }
    if (s == GLF_OK && d->streamed) {
        /* What --max-memory leaves after the reader's chunk buffers. */
        size_t held = d->chunk * (ib + 1);
        size_t budget = d->max_memory > held ? d->max_memory - held : 0;
        b->sb_cap = b->shuffle ? budget / (ib + 1) : 1;
        if (b->sb_cap == 0)
            b->sb_cap = 1;
        b->sb = malloc(b->sb_cap * ib);
        b->sbl = malloc(b->sb_cap);
        b->skip = malloc(ib);
        if (!b->sb || !b->sbl || !b->skip)
            s = glf_fail(GLF_ERR_NOMEM, "out of memory for a %zu-image shuffle buffer",
                         b->sb_cap);
    } else if (s == GLF_OK) {
        b->perm = malloc(d->n * sizeof *b->perm);
        if (!b->perm)
            s = glf_fail(GLF_ERR_NOMEM, "out of memory for the permutation");
    }
    if (s == GLF_OK)
        s = glf_buf_create(ctx, (size_t)batch * ib, &b->dev);
    if (s == GLF_OK) {
        pthread_mutex_init(&b->mu, NULL);
        pthread_cond_init(&b->cv, NULL);
        if (pthread_create(&b->th, NULL, producer_, b) != 0) {
            pthread_mutex_destroy(&b->mu);
            pthread_cond_destroy(&b->cv);
            s = glf_fail(GLF_ERR_INTERNAL, "cannot start the batch thread");
        } else {
            b->started = 1;
        }
    }
    if (s != GLF_OK) {
        glf_batcher_destroy(b);
        return s;
    }
    *out = b;
    return GLF_OK;
}

/* Restart production at (epoch, step), dropping what was prepared; with
 * parts > 0 the shard changes too. */
static void restart_(glf_batcher *b, int epoch, int step, int part, int parts)
{
    pthread_mutex_lock(&b->mu);
    while (b->busy)
        pthread_cond_wait(&b->cv, &b->mu);
    b->gen++;
    for (int k = 0; k < 2; k++) {
        release_slot_(b, &b->slots[k]);
        b->slots[k].ready = 0;
    }
    b->prod_slot = b->cons_slot = 0;
    b->prod_epoch = epoch;
    b->prod_step = step;
    if (parts > 0) {
        b->part = part;
        b->parts = parts;
        b->s_epoch = -1; /* a streamed set restarts its pass */
    }
    b->err = GLF_OK;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

glf_status glf_batcher_seek(glf_batcher *b, int epoch, int step)
{
    if (epoch < 0 || step < 0 || step >= b->steps)
        return glf_fail(GLF_ERR_INVALID_ARG, "seek to epoch %d step %d; expected epoch >= 0 and "
                        "0 <= step < %d", epoch, step, b->steps);
    restart_(b, epoch, step, 0, 0);
    return GLF_OK;
}

glf_status glf_batcher_shard(glf_batcher *b, int part, int parts)
{
    if (parts < 1 || part < 0 || part >= parts)
        return glf_fail(GLF_ERR_INVALID_ARG, "batch part %d of %d; expected 0 <= part < parts",
                        part, parts);
    if (b->B % parts != 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "batch %d does not divide evenly into %d parts "
                        "(%d = %d x %d + %d); expected a multiple of %d", b->B, parts, b->B,
                        parts, b->B / parts, b->B % parts, parts);
    if (parts > 1 && !b->drop_last)
        return glf_fail(GLF_ERR_INVALID_ARG, "a batcher in %d parts must drop the last partial "
                        "batch", parts);
    restart_(b, 0, 0, part, parts);
    return GLF_OK;
}

glf_status glf_batcher_next(glf_batcher *b, glf_dptr out, int *labels, int *epoch, int *step)
{
    /* A too-small output would be overwritten past its end on the device. */
    size_t have = 0;
    if (!out.buf || clGetMemObjectInfo(out.buf, CL_MEM_SIZE, sizeof have, &have, NULL) !=
                        CL_SUCCESS ||
        have / sizeof(float) < out.off + (size_t)(b->B / b->parts) * b->ib)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_batcher_next: output buffer of %zu floats at "
                        "offset %zu; expected room for a batch of %d x %zu floats",
                        have / sizeof(float), out.off, b->B / b->parts, b->ib);
    pthread_mutex_lock(&b->mu);
    slot_ *s = &b->slots[b->cons_slot];
    while (!s->ready && !b->err)
        pthread_cond_wait(&b->cv, &b->mu);
    if (!s->ready) {
        glf_status e = b->err;
        pthread_mutex_unlock(&b->mu);
        return glf_fail(e, "%s", b->errmsg);
    }
    /* The other slot's upload (the previous batch) is surely queued before
     * ours; waiting for it here lets the producer refill it. */
    release_slot_(b, &b->slots[b->cons_slot ^ 1]);
    s->ready = 0;
    s->inuse = 1;
    pthread_mutex_unlock(&b->mu);

    size_t bytes = (size_t)s->count * b->ib;
    cl_int err = clEnqueueWriteBuffer(glf_ctx_queue(b->ctx), b->dev, CL_FALSE, 0, bytes, s->img,
                                      0, NULL, &s->ev);
    glf_status st = GLF_OK;
    if (err != CL_SUCCESS) {
        s->ev = NULL;
        st = glf_fail(GLF_ERR_OPENCL, "uploading batch (epoch %d step %d, %zu bytes): %s",
                      s->epoch, s->step, bytes, glf_cl_error_name(err));
    }
    if (st == GLF_OK)
        st = glf_u8_to_f32(b->ctx, out, b->dev, 0, bytes);
    if (labels)
        memcpy(labels, s->lab, (size_t)s->count * sizeof(int));
    if (epoch)
        *epoch = s->epoch;
    if (step)
        *step = s->step;
    pthread_mutex_lock(&b->mu);
    b->cons_slot ^= 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return st;
}

void glf_batcher_destroy(glf_batcher *b)
{
    if (!b)
        return;
    if (b->started) {
        pthread_mutex_lock(&b->mu);
        b->quit = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->th, NULL);
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->cv);
    }
    for (int k = 0; k < 2; k++) {
        release_slot_(b, &b->slots[k]);
        free(b->slots[k].img);
        free(b->slots[k].lab);
    }
    glf_buf_release(b->dev);
    glf_areader_close_(b->rd);
    free(b->perm);
    free(b->sb);
    free(b->sbl);
    free(b->skip);
    free(b);
}

glf_status glf_u8_to_f32(glf_ctx *ctx, glf_dptr y, cl_mem x, size_t xoff, size_t n)
{
    if (n == 0)
        return GLF_OK;
    if (n > (size_t)INT32_MAX || y.off > (size_t)INT32_MAX || xoff > (size_t)INT32_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_u8_to_f32: %zu elements at offsets %zu/%zu; "
                        "expected int-sized", n, y.off, xoff);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "data", "u8_to_f32", NULL, &k));
    /* 8 elements per work-item (DATA_PER_ITEM), work-groups of 64. */
    size_t local = 64, global = (n + 7) / 8;
    return GLF_LAUNCH(ctx, k, 1, &global, &local, GLF_DP(y), GLF_MEM(x), GLF_I32(xoff),
                      GLF_I32(n));
}
