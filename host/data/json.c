/* Strict recursive-descent JSON parser (RFC 8259 subset: \u escapes are
 * decoded to UTF-8, surrogate pairs included). Depth is capped so that a
 * hostile manifest cannot overflow the stack. */
#include "data/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH_ 64

typedef struct jp_ {
    const char *s;
    size_t n, i;
    char *err;
    size_t errn;
    int failed;
} jp_;

static void jerr_(jp_ *p, const char *what)
{
    if (!p->failed)
        snprintf(p->err, p->errn, "at byte %zu: expected %s", p->i, what);
    p->failed = 1;
}

static void ws_(jp_ *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static glf_json *node_(jp_ *p, glf_json_type t)
{
    glf_json *j = calloc(1, sizeof *j);
    if (!j)
        jerr_(p, "memory for a JSON node");
    else
        j->type = t;
    return j;
}

static int hex4_(jp_ *p, unsigned *v)
{
    if (p->i + 4 > p->n)
        return 0;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    return 1;
}

static char *string_(jp_ *p)
{
    if (p->i >= p->n || p->s[p->i] != '"') {
        jerr_(p, "'\"' starting a string");
        return NULL;
    }
    p->i++;
    /* Decoded text is never longer than the source. */
    size_t k = p->i;
    while (k < p->n && p->s[k] != '"')
        k += (p->s[k] == '\\') ? 2 : 1;
    char *out = malloc(k - p->i + 1);
    if (!out) {
        jerr_(p, "memory for a string");
        return NULL;
    }
    size_t o = 0;
    while (p->i < p->n) {
        unsigned char c = (unsigned char)p->s[p->i++];
        if (c == '"') {
            out[o] = '\0';
            return out;
        }
        if (c < 0x20)
            break;
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        if (p->i >= p->n)
            break;
        char e = p->s[p->i++];
        unsigned u;
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u':
            if (!hex4_(p, &u))
                goto bad;
            if (u >= 0xD800 && u < 0xDC00) {
                unsigned lo;
                if (p->i + 2 > p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                    goto bad;
                p->i += 2;
                if (!hex4_(p, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    goto bad;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u < 0xE000) {
                goto bad;
            }
            /* A \uXXXX (6 source bytes) decodes to at most 4 bytes. */
            if (u < 0x80) {
                out[o++] = (char)u;
            } else if (u < 0x800) {
                out[o++] = (char)(0xC0 | (u >> 6));
                out[o++] = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                out[o++] = (char)(0xE0 | (u >> 12));
                out[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
                out[o++] = (char)(0x80 | (u & 0x3F));
            } else {
                out[o++] = (char)(0xF0 | (u >> 18));
                out[o++] = (char)(0x80 | ((u >> 12) & 0x3F));
                out[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
                out[o++] = (char)(0x80 | (u & 0x3F));
            }
            break;
        default:
            goto bad;
        }
    }
bad:
    free(out);
    jerr_(p, "a valid string (closing quote, legal escapes, no control characters)");
    return NULL;
}

static glf_json *value_(jp_ *p, int depth);

static glf_json *number_(jp_ *p)
{
    size_t st = p->i;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    size_t digits = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    if (p->i == digits) {
        jerr_(p, "a digit");
        return NULL;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        size_t f = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == f) {
            jerr_(p, "a digit after '.'");
            return NULL;
        }
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        size_t f = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == f) {
            jerr_(p, "a digit in the exponent");
            return NULL;
        }
    }
    char tmp[64];
    size_t len = p->i - st;
    if (len >= sizeof tmp) {
        jerr_(p, "a number of at most 63 characters");
        return NULL;
    }
    memcpy(tmp, p->s + st, len);
    tmp[len] = '\0';
    glf_json *j = node_(p, GLF_JSON_NUM);
    if (j)
        j->num = strtod(tmp, NULL);
    return j;
}

static int lit_(jp_ *p, const char *w)
{
    size_t l = strlen(w);
    if (p->i + l <= p->n && !memcmp(p->s + p->i, w, l)) {
        p->i += l;
        return 1;
    }
    return 0;
}

static glf_json *container_(jp_ *p, int depth, int obj)
{
    glf_json *j = node_(p, obj ? GLF_JSON_OBJ : GLF_JSON_ARR);
    if (!j)
        return NULL;
    p->i++;
    ws_(p);
    glf_json **tail = &j->child;
    if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
        p->i++;
        return j;
    }
    for (;;) {
        char *key = NULL;
        if (obj) {
            ws_(p);
            key = string_(p);
            if (!key)
                break;
            ws_(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                jerr_(p, "':' after an object key");
                break;
            }
            p->i++;
        }
        glf_json *v = value_(p, depth + 1);
        if (!v) {
            free(key);
            break;
        }
        v->key = key;
        *tail = v;
        tail = &v->next;
        ws_(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
            p->i++;
            return j;
        }
        jerr_(p, obj ? "',' or '}'" : "',' or ']'");
        break;
    }
    glf_json_free(j);
    return NULL;
}

static glf_json *value_(jp_ *p, int depth)
{
    if (depth > JSON_MAX_DEPTH_) {
        jerr_(p, "nesting of at most 64 levels");
        return NULL;
    }
    ws_(p);
    if (p->i >= p->n) {
        jerr_(p, "a value");
        return NULL;
    }
    char c = p->s[p->i];
    if (c == '{' || c == '[')
        return container_(p, depth, c == '{');
    if (c == '"') {
        char *s = string_(p);
        if (!s)
            return NULL;
        glf_json *j = node_(p, GLF_JSON_STR);
        if (!j) {
            free(s);
            return NULL;
        }
        j->str = s;
        return j;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return number_(p);
    glf_json *j = NULL;
    if (lit_(p, "true")) {
        if ((j = node_(p, GLF_JSON_BOOL)))
            j->num = 1;
    } else if (lit_(p, "false")) {
        j = node_(p, GLF_JSON_BOOL);
    } else if (lit_(p, "null")) {
        j = node_(p, GLF_JSON_NULL);
    } else {
        jerr_(p, "a JSON value");
    }
    return j;
}

glf_json *glf_json_parse(const char *text, size_t len, char *err, size_t errn)
{
    jp_ p = {text, len, 0, err, errn, 0};
    if (errn)
        err[0] = '\0';
    glf_json *j = value_(&p, 0);
    if (j) {
        ws_(&p);
        if (p.i != p.n) {
            jerr_(&p, "end of text after the value");
            glf_json_free(j);
            j = NULL;
        }
    }
    return j;
}

void glf_json_free(glf_json *j)
{
    while (j) {
        glf_json *next = j->next;
        glf_json_free(j->child);
        free(j->str);
        free(j->key);
        free(j);
        j = next;
    }
}

const glf_json *glf_json_get(const glf_json *obj, const char *key)
{
    if (!obj || obj->type != GLF_JSON_OBJ)
        return NULL;
    for (const glf_json *c = obj->child; c; c = c->next)
        if (c->key && !strcmp(c->key, key))
            return c;
    return NULL;
}

size_t glf_json_count(const glf_json *arr)
{
    size_t n = 0;
    for (const glf_json *c = arr ? arr->child : NULL; c; c = c->next)
        n++;
    return n;
}
