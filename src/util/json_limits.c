/*
 * json_limits.c: the bounded-depth checks of json_limits.h.
 *
 * Both walks keep their own stack: a check meant to stop a stack overflow
 * must not recurse itself.
 */
#include "util/json_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int json_text_depth_exceeds(const char *s, size_t len, int max, int *line, int *col)
{
    int depth = 0, ln = 1, cl = 0, in_str = 0, esc = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\n') {
            ln++;
            cl = 0;
        } else {
            cl++;
        }
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max) {
                if (line)
                    *line = ln;
                if (col)
                    *col = cl;
                return 1;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

typedef struct frame {
    const json_t *v;
    void *iter;         /* objects: the next member */
    size_t index;       /* arrays: the next element */
} frame;

int json_depth_exceeds(const json_t *v, int max)
{
    if (!v || !(json_is_array(v) || json_is_object(v)))
        return 0;
    if (max < 1)
        return 1;
    frame *st = malloc(((size_t)max + 1) * sizeof *st);
    if (!st)
        return 1; /* cannot tell: refuse, the caller errs on the safe side */
    int n = 0, exceeded = 0;
    st[n++] = (frame){v, json_is_object(v) ? json_object_iter((json_t *)v) : NULL, 0};
    while (n > 0 && !exceeded) {
        frame *f = &st[n - 1];
        const json_t *child = NULL;
        if (json_is_array(f->v)) {
            if (f->index < json_array_size(f->v))
                child = json_array_get(f->v, f->index++);
        } else if (f->iter) {
            child = json_object_iter_value(f->iter);
            f->iter = json_object_iter_next((json_t *)f->v, f->iter);
        }
        if (!child) {
            n--;
            continue;
        }
        if (!json_is_array(child) && !json_is_object(child))
            continue;
        if (n >= max) {
            exceeded = 1;
            break;
        }
        st[n++] = (frame){child, json_is_object(child) ? json_object_iter((json_t *)child) : NULL, 0};
    }
    free(st);
    return exceeded;
}

json_t *json_loadb_limited(const char *s, size_t len, size_t flags, int max_depth, json_error_t *err)
{
    int line = 0, col = 0;
    if (json_text_depth_exceeds(s, len, max_depth, &line, &col)) {
        if (err) {
            memset(err, 0, sizeof *err);
            err->line = line;
            err->column = col;
            snprintf(err->text, sizeof err->text, "nested deeper than %d levels", max_depth);
        }
        return NULL;
    }
    return json_loadb(s, len, flags, err);
}
