/* A small strict JSON parser into a tree (objects, arrays, strings, numbers,
 * booleans, null), enough for manifests and configs; depth- and
 * size-limited so hostile input (fuzzing) cannot exhaust the stack. */
#ifndef GLF_DATA_JSON_H
#define GLF_DATA_JSON_H

#include <stddef.h>

typedef enum glf_json_type {
    GLF_JSON_NULL, GLF_JSON_BOOL, GLF_JSON_NUM, GLF_JSON_STR, GLF_JSON_ARR, GLF_JSON_OBJ
} glf_json_type;

typedef struct glf_json {
    glf_json_type type;
    double num;             /* NUM; BOOL as 0/1 */
    char *str;              /* STR (NUL-terminated, escapes decoded) */
    char *key;              /* member name inside an object */
    struct glf_json *child; /* first element/member (ARR, OBJ) */
    struct glf_json *next;  /* next sibling */
} glf_json;

/* NULL on error, with a message (position and what was expected) in err. */
glf_json *glf_json_parse(const char *text, size_t len, char *err, size_t errn);
void glf_json_free(glf_json *j);
/* Member of an object by name, or NULL. */
const glf_json *glf_json_get(const glf_json *obj, const char *key);
size_t glf_json_count(const glf_json *arr);

#endif
