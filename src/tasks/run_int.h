/*
 * run_int.h: how the files that implement runnable tasks (run_*.c) hand
 * their implementations to tasks/hooks.c, by canonical type name. Kept apart
 * from the type tables so that declaring a type and running it can be
 * written separately.
 *
 * Also the few helpers those files share (run_util.c), named tasks__*.
 */
#ifndef KITE_TASKS_RUN_INT_H
#define KITE_TASKS_RUN_INT_H

#include <stdio.h>

#include "tasks/tasks.h"

typedef struct task_impl {
    const char *name;               /* canonical name, as in the type table */
    const struct task_hooks *hooks;
} task_impl;

/* Each run_*.c file defines one table and its length; hooks.c lists them. */
extern const task_impl tasks__run_core[];      /* run_core.c: log, debug, output,
                                                  execution, log.fetch, sleep */
extern const size_t tasks__run_core_count;
extern const task_impl tasks__run_kv[];        /* run_kv.c: kv.* */
extern const size_t tasks__run_kv_count;
extern const task_impl tasks__run_storage[];   /* run_storage.c: storage.* */
extern const size_t tasks__run_storage_count;
extern const task_impl tasks__run_state[];     /* run_state.c: state.* */
extern const size_t tasks__run_state_count;
extern const task_impl tasks__run_files[];     /* run_files.c: namespace files */
extern const size_t tasks__run_files_count;
extern const task_impl tasks__run_scripts[];   /* run_scripts.c: script.shell, python, node */
extern const size_t tasks__run_scripts_count;

/* ---- helpers shared by run_*.c (run_util.c) ------------------------------ */

/* The rendered property name as text, printed the way a template prints a
 * value (strings as is, numbers as Java prints them, lists and maps as
 * compact JSON). Absent gives a copy of dflt (NULL when dflt is); a value
 * that renders to null gives "" (as a template prints null).
 * Returns 0, or -1 with e naming the property. */
int tasks__prop_text(task_ctx *c, const char *name, const char *dflt, char **out /* OUT */,
                     kerr *e);
/* 1 if s is true as Kestra's TruthUtils reads a rendered condition: anything
 * but NULL, "", "false", "0" and "-0". */
int tasks__truthy(const char *s);
/* Stores len bytes as file `name` of this task run; *uri (malloc'd) is its
 * kite:/// URI. */
int tasks__put_bytes(task_ctx *c, const char *name, const void *data, size_t len,
                     char **uri /* OUT */, kerr *e);
/* Creates an empty temporary file under c->tmp_root (else $TMPDIR, else
 * /tmp), open for writing; *path (malloc'd) names it; the caller fcloses and
 * unlinks it. NULL with e set on failure. */
FILE *tasks__tmp_file(task_ctx *c, char **path /* OUT */, kerr *e);
/* Checks an extension given by property `prop` ("", ".csv", "csv"...): one
 * file name's worth of characters, no '/' nor NUL. */
int tasks__check_extension(const char *prop, const char *ext, kerr *e);

#endif
