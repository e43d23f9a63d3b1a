/*
 * json_limits.h: bounded-depth JSON, for every place that takes JSON from
 * someone kite does not trust (HTTP bodies, inputs, task outputs).
 *
 * jansson parses up to 2,048 levels and dumps, copies and compares values
 * recursively: a 3.8 KB body of 1,700 '[' overflows a 512 KiB thread stack
 * in json_dumps. The limit kite documents is JSON_MAX_DEPTH (128, the same
 * as YAML's): text is checked before jansson sees it, trees before they are
 * walked recursively. Both checks are iterative and use O(1) stack.
 */
#ifndef KITE_UTIL_JSON_LIMITS_H
#define KITE_UTIL_JSON_LIMITS_H

#include <jansson.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 128

/* Depth: a scalar is 0, [] and {} are 1, [[1]] is 2. */

/* 1 when the JSON text s (len bytes; need not be valid JSON) opens more than
 * max arrays/objects at once, brackets inside strings not counted. *line and
 * *col (either may be NULL) receive the 1-based position of the bracket that
 * went past max. 0 otherwise. O(len), no allocation. */
int json_text_depth_exceeds(const char *s, size_t len, int max, int *line, int *col);

/* 1 when the value v nests more than max levels, 0 otherwise. Iterative (a
 * heap stack of at most max + 1 frames). A value that shares a sub-value
 * (json_incref'd into two places) is walked once per place. */
int json_depth_exceeds(const json_t *v, int max);

/* json_loadb, refusing text nested deeper than max_depth before jansson
 * parses it: NULL with err (may be NULL) set to "nested deeper than N
 * levels" and the offending bracket's line and column. */
json_t *json_loadb_limited(const char *s, size_t len, size_t flags, int max_depth, json_error_t *err);

#endif
