/* The table-driven op harness (see op_harness.h): buffers with prefixes and
 * guards, the three runs, twins, input checks, variants and same-bits
 * comparisons, written once for every op test. */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t bits_(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The NaN around inputs: another payload than the outputs' sentinel, so
 * that a value read past an input and written past an output shows. */
static float in_sentinel_(void)
{
    uint32_t u = OH_IN_SENTINEL_BITS;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- declarations --------------------------------------------------------- */

void *oh_keep(oh_case *c, void *p)
{
    if (c->nkeep == c->capkeep) {
        c->capkeep = c->capkeep ? 2 * c->capkeep : 32;
        c->keep = realloc(c->keep, c->capkeep * sizeof *c->keep);
        assert_non_null(c->keep);
    }
    c->keep[c->nkeep++] = p;
    return p;
}

float *oh_rand(oh_case *c, size_t n, float lo, float hi)
{
    return oh_keep(c, tu_rand(n, c->seed + 7919u * c->nrand++, lo, hi));
}

double *oh_zeros(oh_case *c, size_t n)
{
    double *d = oh_keep(c, calloc(n ? n : 1, sizeof *d));
    assert_non_null(d);
    return d;
}

double *oh_f64(oh_case *c, int i)
{
    const oh_tensor *t = &c->t[i];
    assert_non_null(t->host);
    return oh_keep(c, tu_f64(t->host, t->n));
}

static oh_tensor *decl_(oh_case *c, int i, const char *name, oh_role role, size_t n, size_t off)
{
    assert_true(i >= 0 && i < OH_MAX_T);
    oh_tensor *t = &c->t[i];
    assert_null(t->name); /* each index once */
    memset(t, 0, sizeof *t);
    t->name = name, t->role = role, t->n = n, t->off = off;
    if (i >= c->nt)
        c->nt = i + 1;
    return t;
}

oh_tensor *oh_in(oh_case *c, int i, const char *name, size_t n, size_t off, float *host)
{
    oh_tensor *t = decl_(c, i, name, OH_IN, n, off);
    t->host = host;
    return t;
}

oh_tensor *oh_in_i32(oh_case *c, int i, const char *name, size_t n, const int *host)
{
    oh_tensor *t = decl_(c, i, name, OH_IN, n, 0);
    t->i32 = 1;
    t->host = oh_keep(c, malloc((n ? n : 1) * sizeof(float)));
    assert_non_null(t->host);
    memcpy(t->host, host, n * sizeof(int)); /* words: int and float share a size */
    return t;
}

oh_tensor *oh_out(oh_case *c, int i, const char *name, size_t n, size_t off, double atol,
                  double rtol)
{
    oh_tensor *t = decl_(c, i, name, OH_OUT, n, off);
    t->atol = t->acc_atol = atol, t->rtol = t->acc_rtol = rtol;
    return t;
}

oh_tensor *oh_out_i32(oh_case *c, int i, const char *name, size_t n, size_t off)
{
    oh_tensor *t = oh_out(c, i, name, n, off, 0, 0);
    t->i32 = 1;
    return t;
}

oh_tensor *oh_acc(oh_case *c, int i, const char *name, size_t n, size_t off, float *init,
                  double atol, double rtol)
{
    oh_tensor *t = oh_out(c, i, name, n, off, atol, rtol);
    t->role = OH_ACC;
    t->host = init ? init : oh_rand(c, n, -0.1f, 0.1f);
    return t;
}

oh_tensor *oh_inout(oh_case *c, int i, const char *name, size_t n, size_t off, float *init,
                    double atol, double rtol)
{
    oh_tensor *t = oh_out(c, i, name, n, off, atol, rtol);
    t->role = OH_INOUT;
    t->host = init;
    assert_non_null(init);
    return t;
}

oh_tensor *oh_work(oh_case *c, int i, const char *name, size_t n, size_t off)
{
    return decl_(c, i, name, OH_WORK, n, off);
}

void oh_add_init(oh_case *c, int i)
{
    oh_tensor *t = &c->t[i];
    for (size_t k = 0; k < t->n; k++)
        t->want[k] += t->host[k];
}

glf_dptr oh_dp(const oh_case *c, int i)
{
    const oh_tensor *t = &c->t[i];
    return t->skip ? glf_dp(NULL, 0) : glf_dp(t->buf, t->off);
}

glf_dptr oh_dpat(const oh_case *c, int i, size_t at)
{
    glf_dptr p = oh_dp(c, i);
    p.off += at;
    return p;
}

cl_mem oh_mem(const oh_case *c, int i)
{
    return c->t[i].skip ? NULL : c->t[i].buf;
}

glf_status oh_write(oh_case *c, int i, const float *host, size_t n)
{
    const oh_tensor *t = &c->t[i];
    assert_true(n <= t->n);
    return glf_buf_write(c->ctx, t->buf, t->off * sizeof(float), n * sizeof(float), host);
}

glf_status oh_copy_in(oh_case *c, int i, int j)
{
    return oh_write(c, i, c->t[j].host, c->t[j].n);
}

/* ---- comparisons -------------------------------------------------------------- */

static size_t first_diff_(const float *a, const float *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (bits_(a[k]) != bits_(b[k]))
            return k;
    return n;
}

void oh_same_bits(const oh_case *c, const char *what, const float *got, const float *want, size_t n)
{
    size_t k = first_diff_(got, want, n);
    if (k < n)
        fail_msg("%s: %s: not the same bits (first at [%zu] of %zu: %.9g 0x%08x, want %.9g "
                 "0x%08x)",
                 c->label, what, k, n, (double)got[k], bits_(got[k]), (double)want[k],
                 bits_(want[k]));
}

void oh_close(const oh_case *c, const char *what, const float *got, const double *want, size_t n,
              double atol, double rtol)
{
    char name[400];
    snprintf(name, sizeof name, "%s: %s", c->label, what);
    size_t bad = tu_compare(name, got, want, n, atol, rtol);
    if (bad)
        fail_msg("%s: %zu of %zu values outside atol %.3g + rtol %.3g * |want|", name, bad, n, atol,
                 rtol);
}

static void compare_i32_(const oh_case *c, const char *what, const float *got, const double *want,
                         size_t n)
{
    size_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t g;
        memcpy(&g, &got[k], sizeof g);
        if ((double)g != want[k]) {
            if (bad < 10)
                print_message("  %s: %s[%zu]: got %d, want %.0f\n", c->label, what, k, (int)g,
                              want[k]);
            bad++;
        }
    }
    if (bad)
        fail_msg("%s: %s: %zu of %zu integers differ", c->label, what, bad, n);
}

/* ---- buffers ------------------------------------------------------------------- */

static int is_output_(const oh_tensor *t)
{
    return t->role != OH_IN && t->role != OH_WORK;
}

/* What the buffer of t holds before a run: prefix, data, guard. */
static void image_(oh_tensor *t, int acc)
{
    size_t total = t->off + t->n + TU_GUARD;
    free(t->img);
    t->img = malloc(total * sizeof(float));
    assert_non_null(t->img);
    float pad = t->poison ? OH_POISON : t->role == OH_IN ? in_sentinel_() : tu_sentinel();
    for (size_t k = 0; k < total; k++)
        t->img[k] = k < t->off || k >= t->off + t->n ? pad : tu_sentinel();
    const float *data =
        t->role == OH_IN || t->role == OH_INOUT || (t->role == OH_ACC && acc) ? t->host : NULL;
    if (data)
        memcpy(t->img + t->off, data, t->n * sizeof(float));
}

static void upload_(oh_case *c, oh_tensor *t, int acc)
{
    image_(t, acc);
    size_t bytes = (t->off + t->n + TU_GUARD) * sizeof(float);
    TU_OK(glf_buf_create(c->ctx, bytes, &t->buf));
    TU_OK(glf_buf_write(c->ctx, t->buf, 0, bytes, t->img));
}

/* Read t back: prefix and guard must hold what was written; returns the data. */
static float *read_(oh_case *c, oh_tensor *t, const char *run)
{
    size_t total = t->off + t->n + TU_GUARD;
    float *all = malloc(total * sizeof *all);
    assert_non_null(all);
    TU_OK(glf_buf_read(c->ctx, t->buf, 0, total * sizeof *all, all));
    for (size_t k = 0; k < t->off; k++)
        if (bits_(all[k]) != bits_(t->img[k]))
            fail_msg("%s: %s (%s): float %zu before the offset %zu was overwritten (0x%08x)",
                     c->label, t->name, run, k, t->off, bits_(all[k]));
    for (size_t k = t->off + t->n; k < total; k++)
        if (bits_(all[k]) != bits_(t->img[k]))
            fail_msg("%s: %s (%s): guard word %zu after %zu floats was overwritten (0x%08x)",
                     c->label, t->name, run, k - t->off - t->n, t->n, bits_(all[k]));
    float *d = malloc((t->n ? t->n : 1) * sizeof *d);
    assert_non_null(d);
    memcpy(d, all + t->off, t->n * sizeof *d);
    free(all);
    return d;
}

static void release_outputs_(oh_case *c)
{
    for (int i = 0; i < c->nt; i++)
        if (c->t[i].name && c->t[i].role != OH_IN) {
            glf_buf_release(c->t[i].buf);
            c->t[i].buf = NULL;
        }
}

typedef glf_status (*op_fn_)(oh_case *c);

/* One run on fresh outputs: fn (or forward + backward), every output and
 * workspace read back (prefix and guard checked) into out[i]. */
static void run_(oh_case *c, int acc, op_fn_ fn, const char *run, float **out)
{
    c->accumulate = acc;
    for (int i = 0; i < c->nt; i++)
        if (c->t[i].name && c->t[i].role != OH_IN)
            upload_(c, &c->t[i], acc);
    glf_status s;
    if (fn) {
        if ((s = fn(c)) != GLF_OK)
            fail_msg("%s: %s: %s: %s", c->label, run, glf_status_str(s), glf_last_error());
    } else {
        if ((s = c->row->forward(c)) != GLF_OK)
            fail_msg("%s: forward (%s): %s: %s", c->label, run, glf_status_str(s),
                     glf_last_error());
        if (c->row->backward && (s = c->row->backward(c)) != GLF_OK)
            fail_msg("%s: backward (%s): %s: %s", c->label, run, glf_status_str(s),
                     glf_last_error());
    }
    for (int i = 0; i < c->nt; i++) {
        oh_tensor *t = &c->t[i];
        out[i] = NULL;
        if (!t->name || t->role == OH_IN)
            continue;
        float *d = read_(c, t, run);
        if (t->role == OH_WORK)
            free(d);
        else
            out[i] = d;
    }
    c->accumulate = 0;
}

/* The data words t held before the run must still be there. */
static void untouched_(const oh_case *c, const oh_tensor *t, const float *got, const char *run,
                       const char *why)
{
    size_t k = first_diff_(got, t->img + t->off, t->n);
    if (k < t->n)
        fail_msg("%s: %s (%s): written although %s (first at [%zu]: %.9g 0x%08x, was 0x%08x)",
                 c->label, t->name, run, why, k, (double)got[k], bits_(got[k]),
                 bits_(t->img[t->off + k]));
}

static void free_out_(oh_case *c, float **out)
{
    for (int i = 0; i < c->nt; i++)
        free(out[i]), out[i] = NULL;
}

/* ---- one case: a shape under a variant ------------------------------------------- */

static void check_run1_(oh_case *c, float **out)
{
    for (int i = 0; i < c->nt; i++) {
        oh_tensor *t = &c->t[i];
        if (!out[i])
            continue;
        t->got = out[i];
        char what[128];
        snprintf(what, sizeof what, "%s (run 1)", t->name);
        if (t->skip)
            untouched_(c, t, t->got, "run 1", "not requested");
        else if (t->i32)
            compare_i32_(c, what, t->got, t->want0, t->n);
        else
            oh_close(c, what, t->got, t->want0, t->n, t->atol, t->rtol);
    }
}

static int has_acc_(const oh_case *c)
{
    for (int i = 0; i < c->nt; i++)
        if (c->t[i].name && c->t[i].role == OH_ACC && !c->t[i].skip)
            return 1;
    return 0;
}

static void run_case_(oh_case *c, int base)
{
    float *out[OH_MAX_T] = {0};
    char what[160];
    for (int i = 0; i < c->nt; i++)
        if (c->t[i].name && c->t[i].role == OH_IN)
            upload_(c, &c->t[i], 0);

    run_(c, 0, NULL, "run 1", out);
    check_run1_(c, out);
    if (c->row->check)
        c->row->check(c);
    for (int i = 0; i < c->nt; i++)
        if (c->t[i].got && c->t[i].base) { /* a same-bits variant (base hidden from others) */
            snprintf(what, sizeof what, "%s: run 1 against the base variant's", c->t[i].name);
            oh_same_bits(c, what, c->t[i].got, c->t[i].base, c->t[i].n);
        }
    release_outputs_(c);

    run_(c, 0, NULL, "run 2", out);
    for (int i = 0; i < c->nt; i++)
        if (out[i]) {
            snprintf(what, sizeof what, "%s: run 2 against run 1", c->t[i].name);
            oh_same_bits(c, what, out[i], c->t[i].got, c->t[i].n);
        }
    free_out_(c, out);
    release_outputs_(c);

    if (has_acc_(c)) {
        run_(c, 1, NULL, "run 3, accumulate 1", out);
        for (int i = 0; i < c->nt; i++) {
            oh_tensor *t = &c->t[i];
            if (!out[i])
                continue;
            if (t->role == OH_ACC && !t->skip) {
                snprintf(what, sizeof what, "%s (run 3, accumulate 1 onto init)", t->name);
                oh_close(c, what, out[i], t->want1, t->n, t->acc_atol, t->acc_rtol);
            } else if (t->role == OH_ACC) {
                untouched_(c, t, out[i], "run 3", "not requested");
            } else {
                snprintf(what, sizeof what, "%s: run 3 (accumulate 1) against run 1", t->name);
                oh_same_bits(c, what, out[i], t->got, t->n);
            }
            if (base) {
                t->base3 = out[i], out[i] = NULL;
            } else if (t->base3) {
                snprintf(what, sizeof what, "%s: run 3 against the base variant's", t->name);
                oh_same_bits(c, what, out[i], t->base3, t->n);
            }
        }
        free_out_(c, out);
        release_outputs_(c);
    }

    for (int w = 0; w < OH_MAX_TWINS && c->row->twins[w].name; w++) {
        const oh_twin *tw = &c->row->twins[w];
        snprintf(what, sizeof what, "twin '%s'", tw->name);
        run_(c, 0, tw->run, what, out);
        for (int i = 0; i < c->nt; i++) {
            if (!out[i])
                continue;
            if (tw->writes & (1u << i)) {
                char w2[200];
                snprintf(w2, sizeof w2, "%s: %s against run 1", c->t[i].name, what);
                oh_same_bits(c, w2, out[i], c->t[i].got, c->t[i].n);
            } else {
                untouched_(c, &c->t[i], out[i], what, "the twin does not write it");
            }
        }
        free_out_(c, out);
        release_outputs_(c);
    }

    for (int i = 0; i < c->nt; i++) {
        oh_tensor *t = &c->t[i];
        if (!t->name || t->role != OH_IN)
            continue;
        float *d = read_(c, t, "after every run");
        untouched_(c, t, d, "after every run", "an input");
        free(d);
        glf_buf_release(t->buf);
        t->buf = NULL;
    }

    for (int i = 0; i < c->nt; i++) {
        oh_tensor *t = &c->t[i];
        if (!t->got)
            continue;
        if (base)
            t->base = t->got;
        else
            free(t->got);
        t->got = NULL;
    }
}

/* ---- rows ------------------------------------------------------------------------ */

static unsigned tags_(const oh_row *row, size_t i)
{
    unsigned tags;
    memcpy(&tags, (const char *)row->shapes + i * row->shape_size, sizeof tags);
    return tags;
}

static uint64_t seed_(const char *name, size_t i)
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    return h ^ (i * 0x9e3779b97f4a7c15u);
}

static void references_(oh_case *c)
{
    for (int acc = 0; acc < 2; acc++) {
        if (acc && !has_acc_(c))
            break;
        for (int i = 0; i < c->nt; i++) {
            oh_tensor *t = &c->t[i];
            if (!t->name || !is_output_(t))
                continue;
            double *w = oh_zeros(c, t->n);
            for (size_t k = 0; k < t->n; k++)
                w[k] = acc ? t->want0[k] : NAN; /* a value the row forgets cannot pass */
            *(acc ? &t->want1 : &t->want0) = w;
            t->want = w;
        }
        c->accumulate = acc;
        c->row->reference(c);
        c->accumulate = 0;
    }
}

static void free_case_(oh_case *c)
{
    for (int i = 0; i < c->nt; i++) {
        free(c->t[i].img), free(c->t[i].base), free(c->t[i].base3);
        glf_buf_release(c->t[i].buf);
    }
    for (size_t k = 0; k < c->nkeep; k++)
        free(c->keep[k]);
    free(c->keep);
}

/* Apply variant v (NULL: none) and the row's settings to c->ctx. */
static void apply_(oh_case *c, const oh_variant *v)
{
    glf_status s;
    for (int k = 0; v && v->opt[k]; k += 2)
        if ((s = glf_options_set(glf_ctx_options(c->ctx), v->opt[k], v->opt[k + 1])) != GLF_OK)
            fail_msg("%s: %s=%s: %s: %s", c->label, v->opt[k], v->opt[k + 1], glf_status_str(s),
                     glf_last_error());
    if (c->row->ctx_setup && (s = c->row->ctx_setup(c)) != GLF_OK)
        fail_msg("%s: the row's context setup: %s: %s", c->label, glf_status_str(s),
                 glf_last_error());
    if (v && v->setup && (s = v->setup(c)) != GLF_OK)
        fail_msg("%s: the variant's setup: %s: %s", c->label, glf_status_str(s), glf_last_error());
}

void oh_run_row(const oh_row *row)
{
    glf_ctx *own = tu_ctx(), *other = NULL;
    glf_family fam = glf_ctx_family(own);
    const char *other_fam = fam == GLF_FAMILY_CPU ? "simt" : "cpu";
    char own_name[64], other_name[64];
    snprintf(own_name, sizeof own_name, "%s family", glf_family_name(fam));
    snprintf(other_name, sizeof other_name, "%s family", other_fam);
    int any_x2 = 0, nv = 0;
    for (size_t i = 0; i < row->nshapes; i++)
        any_x2 |= (tags_(row, i) & OH_X2) != 0;
    while (nv < OH_MAX_VARIANTS && row->variants[nv].name)
        nv++;
    size_t runs[2 + OH_MAX_VARIANTS] = {0}, dropped = 0;

    for (size_t i = 0; i < row->nshapes; i++) {
        oh_case c;
        memset(&c, 0, sizeof c);
        c.row = row, c.index = i, c.tags = tags_(row, i);
        c.shape = (const char *)row->shapes + i * row->shape_size;
        c.seed = seed_(row->name, i);
        if ((c.tags & OH_LARGE) && tu_small()) {
            dropped++;
            continue;
        }
        char desc[200];
        row->describe(c.shape, desc, sizeof desc);
        snprintf(c.label, sizeof c.label, "%s %s (setting up)", row->name, desc);
        row->setup(&c);
        references_(&c);
        for (int v = OH_BASE; v < nv; v++) {
            const oh_variant *var = v >= 0 ? &row->variants[v] : NULL;
            if (v == OH_OTHER_FAMILY && any_x2 && !(c.tags & OH_X2))
                continue;
            if (var && (c.tags & var->tag) != var->tag)
                continue;
            if (v == OH_OTHER_FAMILY && !other)
                other = tu_ctx_with("GLF_FAMILY", other_fam, NULL);
            c.ctx = v == OH_OTHER_FAMILY ? other : own;
            c.vindex = v;
            c.variant = v == OH_BASE ? own_name : v == OH_OTHER_FAMILY ? other_name : var->name;
            snprintf(c.label, sizeof c.label, "%s [%s] %s", row->name, c.variant, desc);
            glf_options saved = *glf_ctx_options(c.ctx);
            apply_(&c, var);
            /* only same-bits variants compare with the base: hide it from the others */
            float *base[OH_MAX_T], *base3[OH_MAX_T];
            for (int k = 0; k < c.nt; k++) {
                base[k] = c.t[k].base, base3[k] = c.t[k].base3;
                if (!(var && var->same_bits))
                    c.t[k].base = c.t[k].base3 = NULL;
            }
            run_case_(&c, v == OH_BASE);
            for (int k = 0; k < c.nt; k++)
                if (v != OH_BASE)
                    c.t[k].base = base[k], c.t[k].base3 = base3[k];
            *glf_ctx_options(c.ctx) = saved;
            runs[v - OH_BASE]++;
        }
        free_case_(&c);
    }
    char line[600];
    int len = snprintf(line, sizeof line, "  %s: %zu shapes: %s %zu, %s %zu", row->name,
                       row->nshapes - dropped, own_name, runs[0], other_name, runs[1]);
    for (int v = 0; v < nv && len < (int)sizeof line; v++)
        len += snprintf(line + len, sizeof line - (size_t)len, ", %s %zu", row->variants[v].name,
                        runs[v - OH_BASE]);
    print_message("%s%s\n", line, dropped ? " (large shapes dropped: GLF_TEST_SIZE=small)" : "");
    if (other)
        glf_ctx_destroy(other);
    glf_ctx_destroy(own);
}
