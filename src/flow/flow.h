/*
 * flow.h: the flow layer: YAML loading with positions, the flow model, and
 * validation against the type tables (schema.h).
 *
 * Ownership: a flow owns its source text, its JSON document and its position
 * map; every `const char *` and `const json_t *` a flow hands out is borrowed
 * and lives as long as the flow. A loaded document is immutable: aliases in
 * the YAML share nodes, so a caller that must change it works on a copy.
 */
#ifndef KITE_FLOW_H
#define KITE_FLOW_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "flow/schema.h"
#include "util/buf.h"
#include "util/err.h"

/* ---- positions ----------------------------------------------------------- */

/* Where a node was written: its value, and its key when it is a mapping entry
 * (key_line 0 otherwise). Lines and columns are 1-based, columns count bytes. */
typedef struct ypos {
    int line, col;
    int key_line, key_col;
} ypos;

/* A map from JSON pointer ("/tasks/0/type", "" for the root) to ypos. */
typedef struct posmap posmap;

posmap *posmap_new(void);
void posmap_free(posmap *m);
void posmap_set(posmap *m, const char *ptr, ypos p);
/* The position of exactly this pointer, or NULL. Borrowed. */
const ypos *posmap_get(const posmap *m, const char *ptr);
/* The position of this pointer or of its nearest ancestor that has one (nodes
 * reached through a YAML alias only have the alias's position). */
const ypos *posmap_find(const posmap *m, const char *ptr);
size_t posmap_count(const posmap *m);
/* Appends "/key" to b with JSON pointer escaping (~0, ~1). */
void json_pointer_append(buf *b, const char *key);

/* ---- YAML ----------------------------------------------------------------- */

typedef struct yaml_limits {
    size_t max_bytes;   /* text size */
    int max_depth;      /* nesting of lists and mappings */
    size_t max_nodes;   /* values, counting each alias at its full size */
} yaml_limits;

/* 4 MiB, 128 levels, 200,000 values. */
void yaml_limits_default(yaml_limits *l);

/* Parses one YAML document. On success *out is a new reference and, when
 * pos is not NULL, *pos a new position map (the caller frees both). On
 * failure returns -1, sets nothing, and e holds the message with line/col.
 * lim NULL means the defaults. */
int yaml_load(const char *text, size_t len, const yaml_limits *lim, json_t **out /* OUT */,
              posmap **pos /* OUT */, kerr *e);

/* ---- diagnostics ------------------------------------------------------------ */

typedef struct diag {
    char *file;         /* as given by the caller; may be "<stdin>" */
    int line, col;      /* 0 when unknown */
    char *path;         /* JSON pointer of the node at fault, or NULL */
    char *msg;
    int warning;        /* 1: a warning (printed; the flow stays valid) */
} diag;

typedef struct diags {
    diag *v;
    size_t n, cap;
} diags;

#define DIAGS_INIT {NULL, 0, 0}

void diags_add(diags *d, const char *file, int line, int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The same, as a warning. */
void diags_warn(diags *d, const char *file, int line, int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* How many of d are errors (not warnings); the first error, or NULL. */
size_t diags_errors(const diags *d);
const diag *diags_first_error(const diags *d);
void diags_free(diags *d);
/* Sorts by file, line, column (stable). */
void diags_sort(diags *d);
/* Prints "file:line:col: error: message" (or "warning:"), then, when src is
 * given, the source line and a caret under the column. color: ANSI colours. */
void diag_print(FILE *out, const diag *g, const char *src, size_t src_len, int color);

/* ---- the flow model ------------------------------------------------------------ */

/* One task declared anywhere in a flow (tasks, errors, finally, nested). */
typedef struct flow_task {
    const char *id;
    const char *type;           /* as written */
    const type_def *def;        /* NULL when the type is unknown */
    const json_t *json;         /* the task's object in the document */
    char *path;                 /* its JSON pointer */
    int parent;                 /* index of the enclosing task, -1 at top level */
} flow_task;

typedef struct flow {
    char *file;                 /* display name: a path, or "<stdin>" */
    char *source;               /* the YAML text */
    size_t source_len;
    json_t *doc;                /* the whole document */
    posmap *pos;
    const char *id;             /* NULL when absent or not a string */
    const char *namespace;
    int revision;               /* from the file, 0 when absent */
    int disabled;
    flow_task *tasks;           /* every task, in document order */
    size_t ntasks;
} flow;

/* Loads and validates a flow from text (copied). Returns 0 and a new flow when
 * it is valid; otherwise -1 (FLOW_NOT_YAML when the text is not even YAML),
 * *out NULL, and every problem found appended to d (file:line:col). `name`
 * is what messages call the file. */
#define FLOW_NOT_YAML (-2)
int flow_load_text(const char *text, size_t len, const char *name, flow **out /* OUT */, diags *d);
/* Same, reading a file; a read error is one diag. */
int flow_load_file(const char *path, flow **out /* OUT */, diags *d);
void flow_free(flow *f);

/* The index of the task with this id, or -1. */
int flow_task_index(const flow *f, const char *id);
/* "namespace.id" into out. */
void flow_full_id(const flow *f, char *out, size_t outsz);

/* ---- checks across flows ------------------------------------------------------- */

/* Given flows loaded from one folder, reports subflow cycles (A calls B calls
 * A, or A calls itself) with the position of each call. Returns the number
 * of problems found. Calls whose namespace or flowId are expressions are
 * skipped: they can only be known at run time. */
size_t flow_check_recursion(flow *const *flows, size_t n, diags *d);

/* ---- the flow document's own schema ----------------------------------------------- */

/* The property tables of the flow document, of the properties every task
 * accepts and of those every trigger accepts (for `kite plugins schema` and
 * docs). Static, borrowed. */
const prop_def *flow_document_props(void);
const prop_def *flow_task_common_props(void);
const prop_def *flow_trigger_common_props(void);
/* What conditions and task runners accept besides their own properties
 * (jsonschema.c). */
const prop_def *flow_plugin_common_props(void);

/* The JSON Schema (draft 2020-12) of type `type`, by kite name or Kestra
 * class name, or, when type is NULL, of the whole flow document (a task is a
 * oneOf of every task type, keyed by its `type`). Built from the registry:
 * call after tasks_register_all(). A new reference; NULL when type is
 * unknown (jsonschema.c). */
json_t *flow_json_schema(const char *type);

/* "runnable", "flowable", "trigger", "condition", "runner", "other". */
const char *flow_kind_name(int kind);
/* "string", "integer", "tasks", ... as `kite plugins` prints them. */
const char *flow_ptype_name(ptype t);
/* A type as `kite plugins list --json` prints it and GET /api/v1/plugins
 * answers it: name, kind, description, aliases, deprecated, declaredOnly,
 * properties ([{name, type, required, description?, default?, enum?, item?,
 * properties?, ...}]). A new reference. */
json_t *flow_type_summary(const type_def *d);

/* ---- ids ---------------------------------------------------------------------------- */

/* Kestra's id rule: [a-zA-Z0-9][a-zA-Z0-9_-]* (and at most 100 characters). */
int flow_valid_id(const char *s);
/* Namespaces: dot-separated ids, at most 150 characters. */
int flow_valid_namespace(const char *s);

#endif
