/* GLF configuration: presets by input shape, validation, and a round trip
 * through a flat JSON object (the checkpoint stores it as text so a person
 * can read it). One field table drives the writer, the reader and the
 * architecture comparison. */
#include "glf/model.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_INT, F_FLOAT, F_U64, F_MODE, F_RECON };

typedef struct field_ {
    const char *key;
    int type;
    size_t off;
    int arch; /* 1: changes parameter shapes */
} field_;

#define FLD_(key, type, member, arch) {key, type, offsetof(glf_config, member), arch}
static const field_ fields_[] = {
    FLD_("channels", F_INT, channels, 1),
    FLD_("height", F_INT, height, 1),
    FLD_("width", F_INT, width, 1),
    FLD_("latent", F_INT, latent, 1),
    FLD_("flow_width", F_INT, flow_width, 1),
    FLD_("flow_blocks", F_INT, flow_blocks, 1),
    FLD_("conv1", F_INT, conv1, 1),
    FLD_("conv2", F_INT, conv2, 1),
    FLD_("fc", F_INT, fc, 1),
    FLD_("mode", F_MODE, mode, 1),
    FLD_("recon", F_RECON, recon, 0),
    FLD_("beta", F_FLOAT, beta, 0),
    FLD_("batch", F_INT, batch, 0),
    FLD_("epochs", F_INT, epochs, 0),
    FLD_("seed", F_U64, seed, 0),
    FLD_("lr_ae", F_FLOAT, lr_ae, 0),
    FLD_("lr_flow", F_FLOAT, lr_flow, 0),
    FLD_("lr_step_epochs", F_INT, lr_step_epochs, 0),
    FLD_("lr_gamma", F_FLOAT, lr_gamma, 0),
    FLD_("adam_ae_lr", F_FLOAT, adam_ae.lr, 0),
    FLD_("adam_ae_beta1", F_FLOAT, adam_ae.beta1, 0),
    FLD_("adam_ae_beta2", F_FLOAT, adam_ae.beta2, 0),
    FLD_("adam_ae_eps", F_FLOAT, adam_ae.eps, 0),
    FLD_("adam_ae_weight_decay", F_FLOAT, adam_ae.weight_decay, 0),
    FLD_("adam_flow_lr", F_FLOAT, adam_flow.lr, 0),
    FLD_("adam_flow_beta1", F_FLOAT, adam_flow.beta1, 0),
    FLD_("adam_flow_beta2", F_FLOAT, adam_flow.beta2, 0),
    FLD_("adam_flow_eps", F_FLOAT, adam_flow.eps, 0),
    FLD_("adam_flow_weight_decay", F_FLOAT, adam_flow.weight_decay, 0),
    FLD_("bn_momentum", F_FLOAT, bn_momentum, 0),
    FLD_("bn_eps", F_FLOAT, bn_eps, 0),
};
#define NFIELDS_ (sizeof fields_ / sizeof fields_[0])

static const char *mode_names_[] = {"glf", "regularized", "vae-flow", "ae-gauss"};
static const char *recon_names_[] = {"mse", "bce"};

const char *glf_mode_name(glf_mode m)
{
    return (unsigned)m < 4 ? mode_names_[m] : NULL;
}

const char *glf_recon_name(glf_recon r)
{
    return (unsigned)r < 2 ? recon_names_[r] : NULL;
}

glf_status glf_mode_parse(const char *s, glf_mode *out)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, mode_names_[i]) == 0) {
            *out = (glf_mode)i;
            return GLF_OK;
        }
    return glf_fail(GLF_ERR_INVALID_ARG,
                    "mode '%s' unknown: expected glf, regularized, vae-flow or ae-gauss",
                    s ? s : "(null)");
}

glf_status glf_recon_parse(const char *s, glf_recon *out)
{
    for (int i = 0; i < 2; i++)
        if (s && strcmp(s, recon_names_[i]) == 0) {
            *out = (glf_recon)i;
            return GLF_OK;
        }
    return glf_fail(GLF_ERR_INVALID_ARG, "recon loss '%s' unknown: expected mse or bce",
                    s ? s : "(null)");
}

glf_status glf_config_preset(glf_config *c, int channels, int height, int width)
{
    if (channels < 1 || height < 4 || height != width || height % 4 != 0)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "no preset for input %dx%dx%d: expected C x S x S with C >= 1 and S "
                        "a multiple of 4 (1x28x28, 3x32x32 and 3x64x64 are the paper's)",
                        channels, height, width);
    memset(c, 0, sizeof *c);
    c->channels = channels, c->height = height, c->width = width;
    int small = channels == 1;
    c->latent = small ? 20 : 64;
    c->flow_width = small ? 64 : 256;
    c->epochs = 100;
    if (channels == 3 && height == 32)
        c->epochs = 200;
    if (channels == 3 && height == 64)
        c->epochs = 40;
    c->flow_blocks = 4;
    c->conv1 = 64, c->conv2 = 128, c->fc = 1024;
    c->mode = GLF_MODE_GLF, c->recon = GLF_RECON_MSE, c->beta = 1.0f;
    c->batch = 256, c->seed = 123;
    c->lr_ae = 1e-3f, c->lr_flow = 1e-3f, c->lr_step_epochs = 50, c->lr_gamma = 0.5f;
    c->adam_ae = (glf_adam_hp){1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f};
    c->adam_flow = (glf_adam_hp){1e-3f, 0.8f, 0.9f, 1e-6f, 2e-5f};
    c->bn_momentum = 0.1f, c->bn_eps = 1e-5f;
    return GLF_OK;
}

static glf_status int_range_(const char *key, int v, int lo, int hi)
{
    if (v < lo || v > hi)
        return glf_fail(GLF_ERR_INVALID_ARG, "config %s = %d: expected %d..%d", key, v, lo, hi);
    return GLF_OK;
}

/* lo <= v < hi (or <= hi when closed), finite. */
static glf_status float_range_(const char *key, float v, double lo, double hi, int closed)
{
    if (!isfinite(v) || v < lo || (closed ? v > hi : v >= hi))
        return glf_fail(GLF_ERR_INVALID_ARG, "config %s = %g: expected %g <= value %s %g", key,
                        (double)v, lo, closed ? "<=" : "<", hi);
    return GLF_OK;
}

static glf_status adam_ok_(const char *which, const glf_adam_hp *a)
{
    char k[64];
    snprintf(k, sizeof k, "adam_%s_lr", which);
    GLF_TRY(float_range_(k, a->lr, 0.0, 1e3, 1));
    snprintf(k, sizeof k, "adam_%s_beta1", which);
    GLF_TRY(float_range_(k, a->beta1, 0.0, 1.0, 0));
    snprintf(k, sizeof k, "adam_%s_beta2", which);
    GLF_TRY(float_range_(k, a->beta2, 0.0, 1.0, 0));
    snprintf(k, sizeof k, "adam_%s_eps", which);
    GLF_TRY(float_range_(k, a->eps, 1e-30, 1.0, 1));
    snprintf(k, sizeof k, "adam_%s_weight_decay", which);
    return float_range_(k, a->weight_decay, 0.0, 1.0, 1);
}

glf_status glf_config_validate(const glf_config *c)
{
    if (!c)
        return glf_fail(GLF_ERR_INVALID_ARG, "config is NULL");
    GLF_TRY(int_range_("channels", c->channels, 1, 64));
    GLF_TRY(int_range_("height", c->height, 4, 4096));
    if (c->width != c->height || c->height % 4 != 0)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "config image %dx%d: expected square sides divisible by 4",
                        c->height, c->width);
    GLF_TRY(int_range_("latent", c->latent, 2, 65536));
    GLF_TRY(int_range_("flow_width", c->flow_width, 1, 65536));
    GLF_TRY(int_range_("flow_blocks", c->flow_blocks, 1, 64));
    GLF_TRY(int_range_("conv1", c->conv1, 1, 65536));
    GLF_TRY(int_range_("conv2", c->conv2, 1, 65536));
    GLF_TRY(int_range_("fc", c->fc, 1, 1 << 20));
    if (!glf_mode_name(c->mode))
        return glf_fail(GLF_ERR_INVALID_ARG, "config mode = %d: expected 0..3", (int)c->mode);
    if (!glf_recon_name(c->recon))
        return glf_fail(GLF_ERR_INVALID_ARG, "config recon = %d: expected 0..1", (int)c->recon);
    GLF_TRY(float_range_("beta", c->beta, 1e-30, 1e9, 1));
    GLF_TRY(int_range_("batch", c->batch, 2, 1 << 20)); /* BatchNorm needs 2 */
    GLF_TRY(int_range_("epochs", c->epochs, 0, 1 << 24));
    GLF_TRY(float_range_("lr_ae", c->lr_ae, 0.0, 1e3, 1));
    GLF_TRY(float_range_("lr_flow", c->lr_flow, 0.0, 1e3, 1));
    GLF_TRY(int_range_("lr_step_epochs", c->lr_step_epochs, 1, 1 << 24));
    GLF_TRY(float_range_("lr_gamma", c->lr_gamma, 1e-30, 1.0, 1));
    GLF_TRY(adam_ok_("ae", &c->adam_ae));
    GLF_TRY(adam_ok_("flow", &c->adam_flow));
    GLF_TRY(float_range_("bn_momentum", c->bn_momentum, 0.0, 1.0, 1));
    GLF_TRY(float_range_("bn_eps", c->bn_eps, 1e-30, 1.0, 1));
    /* Parameter counts must fit the int shapes and size_t offsets. */
    double q = (double)(c->height / 4) * (c->height / 4);
    if ((double)c->conv2 * q * c->fc > 2e9)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "config: fc1 would have %.0f weights (conv2 %d * (S/4)^2 %.0f * fc %d); "
                        "expected under 2e9",
                        (double)c->conv2 * q * c->fc, c->conv2, q, c->fc);
    return GLF_OK;
}

int glf_config_to_json(const glf_config *c, char *buf, size_t n)
{
    /* snprintf semantics: write what fits, count what is needed. */
    size_t at = 0;
#define PUT_(...)                                                             \
    do {                                                                      \
        int len_ = snprintf(at < n ? buf + at : NULL, at < n ? n - at : 0, __VA_ARGS__); \
        at += (size_t)len_;                                                   \
    } while (0)
    for (size_t i = 0; i < NFIELDS_; i++) {
        const field_ *f = &fields_[i];
        const char *p = (const char *)c + f->off;
        PUT_("%s\"%s\": ", i == 0 ? "{" : ", ", f->key);
        switch (f->type) {
        case F_INT: PUT_("%d", *(const int *)p); break;
        case F_FLOAT: PUT_("%.9g", (double)*(const float *)p); break;
        case F_U64: PUT_("%llu", *(const unsigned long long *)p); break;
        case F_MODE:
        case F_RECON: {
            const char *name = f->type == F_MODE ? glf_mode_name(*(const glf_mode *)p)
                                                 : glf_recon_name(*(const glf_recon *)p);
            if (!name)
                return -1;
            PUT_("\"%s\"", name);
            break;
        }
        }
    }
    PUT_("}");
#undef PUT_
    return (int)at;
}

/* ---- reader: one flat object of string and number values ---------------- */

static const char *ws_(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

/* A JSON string without escapes (our keys and enum values never need them). */
static glf_status str_(const char **sp, char *out, size_t n, const char *json)
{
    const char *s = *sp;
    if (*s != '"')
        return glf_fail(GLF_ERR_FORMAT, "config JSON at offset %td: expected '\"', found '%.10s'",
                        s - json, s);
    s++;
    size_t k = 0;
    while (*s && *s != '"') {
        if (*s == '\\' || k + 1 >= n)
            return glf_fail(GLF_ERR_FORMAT,
                            "config JSON at offset %td: string with an escape or longer than "
                            "%zu characters",
                            s - json, n - 1);
        out[k++] = *s++;
    }
    if (*s != '"')
        return glf_fail(GLF_ERR_FORMAT, "config JSON: unterminated string");
    out[k] = '\0';
    *sp = s + 1;
    return GLF_OK;
}

static glf_status set_field_(glf_config *c, const field_ *f, const char *val, int quoted)
{
    char *p = (char *)c + f->off;
    char *end = NULL;
    if (f->type == F_MODE || f->type == F_RECON) {
        if (!quoted)
            return glf_fail(GLF_ERR_FORMAT, "config JSON key \"%s\": expected a string, found %s",
                            f->key, val);
        return f->type == F_MODE ? glf_mode_parse(val, (glf_mode *)p)
                                 : glf_recon_parse(val, (glf_recon *)p);
    }
    if (quoted)
        return glf_fail(GLF_ERR_FORMAT, "config JSON key \"%s\": expected a number, found \"%s\"",
                        f->key, val);
    errno = 0;
    if (f->type == F_INT) {
        long v = strtol(val, &end, 10);
        if (*end || errno || v < -2147483647L || v > 2147483647L)
            return glf_fail(GLF_ERR_FORMAT, "config JSON key \"%s\": '%s' is not an int", f->key,
                            val);
        *(int *)p = (int)v;
    } else if (f->type == F_U64) {
        if (val[0] == '-')
            return glf_fail(GLF_ERR_FORMAT, "config JSON key \"%s\": '%s' is negative", f->key,
                            val);
        unsigned long long v = strtoull(val, &end, 10);
        if (*end || errno)
            return glf_fail(GLF_ERR_FORMAT,
                            "config JSON key \"%s\": '%s' is not an unsigned 64-bit integer",
                            f->key, val);
        *(unsigned long long *)p = v;
    } else {
        double v = strtod(val, &end);
        if (*end || !isfinite(v))
            return glf_fail(GLF_ERR_FORMAT, "config JSON key \"%s\": '%s' is not a finite number",
                            f->key, val);
        *(float *)p = (float)v;
    }
    return GLF_OK;
}

glf_status glf_config_from_json(glf_config *c, const char *json)
{
    if (!c || !json)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_config_from_json: NULL argument");
    glf_config tmp = *c;
    const char *s = ws_(json);
    if (*s != '{')
        return glf_fail(GLF_ERR_FORMAT, "config JSON: expected '{' at the start, found '%.10s'", s);
    s = ws_(s + 1);
    if (*s == '}')
        s++;
    else
        for (;;) {
            char key[64], val[64];
            GLF_TRY(str_(&s, key, sizeof key, json));
            s = ws_(s);
            if (*s != ':')
                return glf_fail(GLF_ERR_FORMAT, "config JSON after key \"%s\": expected ':'", key);
            s = ws_(s + 1);
            int quoted = *s == '"';
            if (quoted) {
                GLF_TRY(str_(&s, val, sizeof val, json));
            } else {
                size_t k = 0;
                while (*s && strchr("0123456789+-.eE", *s) && k + 1 < sizeof val)
                    val[k++] = *s++;
                val[k] = '\0';
                if (k == 0)
                    return glf_fail(GLF_ERR_FORMAT,
                                    "config JSON key \"%s\": expected a number or string, "
                                    "found '%.10s'",
                                    key, s);
            }
            const field_ *f = NULL;
            for (size_t i = 0; i < NFIELDS_ && !f; i++)
                if (strcmp(fields_[i].key, key) == 0)
                    f = &fields_[i];
            if (!f)
                return glf_fail(GLF_ERR_FORMAT, "config JSON: unknown key \"%s\"", key);
            GLF_TRY(set_field_(&tmp, f, val, quoted));
            s = ws_(s);
            if (*s == ',') {
                s = ws_(s + 1);
                continue;
            }
            if (*s == '}') {
                s++;
                break;
            }
            return glf_fail(GLF_ERR_FORMAT, "config JSON after key \"%s\": expected ',' or '}', "
                            "found '%.10s'", key, s);
        }
    if (*ws_(s))
        return glf_fail(GLF_ERR_FORMAT, "config JSON: text after the closing '}': '%.10s'", ws_(s));
    *c = tmp;
    return GLF_OK;
}

glf_status glf_config_same_arch(const glf_config *want, const glf_config *got, const char *what)
{
    for (size_t i = 0; i < NFIELDS_; i++) {
        const field_ *f = &fields_[i];
        if (!f->arch)
            continue;
        int a = *(const int *)((const char *)want + f->off);
        int b = *(const int *)((const char *)got + f->off);
        if (f->type == F_MODE) {
            /* Only vae-flow (enc.fc2 is 2d wide) and ae-gauss (no flow) change shapes. */
            int sa = a == GLF_MODE_VAE_FLOW ? 2 : a == GLF_MODE_AE_GAUSS ? 1 : 0;
            int sb = b == GLF_MODE_VAE_FLOW ? 2 : b == GLF_MODE_AE_GAUSS ? 1 : 0;
            if (sa != sb)
                return glf_fail(GLF_ERR_MISMATCH,
                                "%s: model of mode %s, expected a mode-%s architecture",
                                what, glf_mode_name((glf_mode)b), glf_mode_name((glf_mode)a));
            continue;
        }
        if (a != b)
            return glf_fail(GLF_ERR_MISMATCH,
                            "%s: another architecture: %s = %d, expected %d", what, f->key, b, a);
    }
    return GLF_OK;
}
