/*
 * schema.h: how a task, trigger, condition or task-runner type describes its
 * properties, and the registry that finds a type by name or alias.
 *
 * Part of the flow layer's interface (flow.h includes it). Each task family
 * in src/tasks/ declares its types in one const table of type_def; at start-up
 * tasks_register_all() hands every table to flow_registry_add(), which loads
 * them into a hash keyed by canonical name and every alias, refusing
 * duplicates. The validator (flow/validate.c), `kite plugins list|schema` and
 * the JSON Schema of the UI editor all read these same tables.
 *
 * DESIGN
 * The tables are plain data with designated initializers, so adding a type is
 * adding an entry. Kestra accepts an expression string ("{{ ... }}") in place
 * of nearly any typed property, so the validator does too, unless a property
 * is marked PF_STATIC. The registry is filled once, before any thread starts,
 * and read-only afterwards.
 */
#ifndef KITE_FLOW_SCHEMA_H
#define KITE_FLOW_SCHEMA_H

#include <stddef.h>
#include <jansson.h>

#include "util/err.h"

/* What a property's value is. */
typedef enum ptype {
    PT_ANY = 0,      /* any JSON value */
    PT_STRING,       /* a string (templates allowed) */
    PT_INT,          /* an integer */
    PT_NUMBER,       /* an integer or a float */
    PT_BOOL,         /* true or false */
    PT_DURATION,     /* an ISO-8601 duration string ("PT1M") */
    PT_DATETIME,     /* an ISO-8601 date-time string */
    PT_ENUM,         /* one of .enums (a string) */
    PT_LIST,         /* a list whose items are described by .item */
    PT_MAP,          /* an object of free keys whose values are .item (or any) */
    PT_OBJECT,       /* an object with the known properties .props */
    PT_STRING_LIST,  /* a string, or a list of strings */
    PT_TASK,         /* one task */
    PT_TASKS,        /* a list of tasks */
    PT_CONDITIONS,   /* a list (or, in old flows, a map) of conditions */
    PT_PLUGIN,       /* an object whose `type` names a registered type of
                        kind .plugin_kind (a task runner, ...) */
} ptype;

/* Property flags. */
#define PF_REQUIRED   0x01u  /* must be present */
#define PF_STATIC     0x02u  /* no "{{ }}" expression accepted in its place */
#define PF_DEPRECATED 0x04u  /* still accepted; documented as deprecated */
#define PF_NONEMPTY   0x08u  /* a list, map or string that must not be empty */
#define PF_NOTRUN     0x10u  /* Kestra has it, kite does not run it yet: validate refuses it, saying so */

typedef struct prop_def prop_def;

struct prop_def {
    const char *name;            /* NULL ends a table */
    ptype type;
    unsigned flags;              /* PF_* */
    const char *dflt;            /* default as JSON text, for docs; or NULL */
    const char *desc;            /* one line, for `kite plugins` and docs */
    const char *const *enums;    /* PT_ENUM: NULL-terminated values */
    const prop_def *item;        /* PT_LIST / PT_MAP: the items (name unused) */
    const prop_def *props;       /* PT_OBJECT: its properties */
    int plugin_kind;             /* PT_PLUGIN: a tkind */
    const char *alias_of;        /* an old spelling of property alias_of */
};

/* What a type is. Flowable tasks run in the executor, runnable ones on
 * workers (DESIGN.md). */
typedef enum tkind {
    TK_RUNNABLE = 0,
    TK_FLOWABLE,
    TK_TRIGGER,
    TK_CONDITION,
    TK_RUNNER,           /* a task runner (io.kestra.plugin.core.runner.Process) */
    TK_OTHER,            /* e.g. log exporters: declared, not placed in flows */
} tkind;

/* Type flags. */
#define TF_DEPRECATED 0x01u   /* documented as deprecated (EachSequential...) */
#define TF_NO_ERRORS  0x02u   /* flowable without errors/finally of its own */
/* Declared so that flows using it validate with the right properties, but
 * kite cannot run it yet (no hooks, no flowable, no scheduler support):
 * `kite validate` warns at the type, a run fails the task. Every type either
 * has its behaviour or carries this flag (tests/unit/test_types.c). */
#define TF_DECLARED_ONLY 0x04u
/* With TF_DECLARED_ONLY: kite will not run it at all (Template, deprecated by
 * Kestra): `kite validate` refuses the flow with `waits` as the reason. */
#define TF_REFUSED 0x08u

typedef struct vctx vctx;          /* validation context (flow/validate.c) */
struct task_hooks;                 /* defined by the tasks layer (tasks/tasks.h) */

typedef struct type_def {
    const char *name;              /* canonical kite name: "log", "flow.parallel" */
    const char *const *aliases;    /* Kestra class names, NULL-terminated */
    tkind kind;
    unsigned flags;                /* TF_* */
    const char *desc;              /* one line */
    const prop_def *props;         /* own properties; the common ones of the
                                      kind (id, type, retry...) are implied */
    /* Structural rules beyond the property schema (Switch needs cases or
     * defaults, ...). obj is the task's JSON object, path its JSON pointer.
     * Reports through vctx_error(); returns nothing. NULL when none. */
    void (*check)(vctx *v, const json_t *obj, const char *path);
    const struct task_hooks *hooks; /* runnables: how a worker runs it, set in the
                                      family's table; NULL: kite cannot run it */
    const char *waits;             /* TF_DECLARED_ONLY: why kite cannot run it and
                                      what to use instead (said by validate and
                                      by the failing run); NULL: not said */
    /* A client library loaded on first use (util/dl.h): NULL when it is
     * there (loading it), else why the type cannot run on this host. `kite
     * validate` warns with it and a run fails the task with it. NULL: none. */
    const char *(*needs)(void);
} type_def;

/* ---- the registry ------------------------------------------------------- */

/* Adds every type of a table (n entries). Aborts on a duplicate name or alias:
 * that is a programming error caught by the first test run. Not thread-safe;
 * call before starting threads. */
void flow_registry_add(const type_def *defs, size_t n);
/* Finds a type by canonical name or alias; NULL when unknown. */
const type_def *flow_type_find(const char *name);
/* The registered name closest to name (edit distance, case-insensitive, over
 * canonical names and the last segment of aliases) among types of the given
 * kind (-1: any), or NULL when nothing is close. */
const char *flow_type_suggest(const char *name, int kind);
/* For a class name of a family kite has no type of (its package, with
 * Kestra's core as one family): the family, written into out (n bytes) and
 * returned; else NULL. Data driven: a family is known as soon as a table
 * declares one of its types. The suggestion above is then only looked for
 * inside the family (and the families within 2 edits of it). */
const char *flow_type_missing_family(const char *name, char *out, size_t n);
/* A family kite has that is within 2 edits of name's own but not it
 * (io.kestra.plugin.aws.s3 for io.kestra.plugin.aws.sns.Publish), written
 * into out and returned, or NULL: what a message names when the family was
 * perhaps mistyped. */
const char *flow_type_near_family(const char *name, char *out, size_t n);
/* Calls fn for each registered type in canonical-name order. */
void flow_registry_each(void (*fn)(const type_def *d, void *arg), void *arg);
size_t flow_registry_count(void);
/* Empties the registry (tests). */
void flow_registry_reset(void);

/* ---- what check hooks report through ------------------------------------ */

/* Records an error at the node with JSON pointer path (e.g. "/tasks/0/cases").
 * The message names no position: the validator adds file:line:col. */
void vctx_error(vctx *v, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a warning the same way: printed, but the flow stays valid. */
void vctx_warn(vctx *v, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Validates a list of tasks found at path (a check hook's nested branch). */
void vctx_check_tasks(vctx *v, const json_t *tasks, const char *path);
/* True when the task object's type is a runnable (not flowable) task. */
int vctx_task_is_runnable(const json_t *task);

#endif
