/*
 * tasks_int.h: what the task family files share and nobody else needs.
 *
 * Each family file (core_flow.c, core_tasks.c, triggers.c, conditions.c,
 * scripts.c) defines one const table of type_def and its length; tasks.c
 * hands them all to the flow registry. The P* macros below keep the property
 * tables short: each expands to one designated initializer of prop_def
 * (flow/schema.h), and nested items, objects and enum lists are compound
 * literals, which have static storage at file scope.
 *
 * Naming scheme of canonical names (docs/plugins.md says it to users):
 *   - tasks: "<family>.<class in snake_case>", the family being the last
 *     segment of Kestra's package ("storage.split", "kv.get_keys"); "log" for
 *     log.Log; "flow.foreach" (ForEach as one word); "output.values";
 *   - triggers "trigger.<name>", conditions "condition.<name>" without the
 *     "Condition" suffix, task runners "runner.<name>";
 *   - scripts "script.<language>" for <language>.Commands and
 *     "script.<language>_script" for <language>.Script.
 */
#ifndef KITE_TASKS_INT_H
#define KITE_TASKS_INT_H

#include "flow/schema.h"

#include <stddef.h>

/* ---- the family tables ----------------------------------------------------- */

extern const type_def tasks__core_flow[];
extern const size_t tasks__core_flow_count;
extern const type_def tasks__core_tasks[];
extern const size_t tasks__core_tasks_count;
extern const type_def tasks__triggers[];
extern const size_t tasks__triggers_count;
extern const type_def tasks__conditions[];
extern const size_t tasks__conditions_count;
extern const type_def tasks__scripts[];
extern const size_t tasks__scripts_count;

/* ---- shared value lists (tasks.c) ----------------------------------------- */

/* Execution and task-run states (CREATED, RUNNING, ..., SUCCESS, ...). */
extern const char *const tasks__states[];
/* Log levels: TRACE, DEBUG, INFO, WARN, ERROR. */
extern const char *const tasks__log_levels[];
/* Items for lists and maps. */
extern const prop_def tasks__item_string;
extern const prop_def tasks__item_any;
extern const prop_def tasks__item_state;
extern const prop_def tasks__item_tasks;
/* `namespaceFiles` of scripts and WorkingDirectory. */
extern const prop_def tasks__namespace_files[];
/* The time window of multiple conditions and Flow trigger preconditions. */
extern const prop_def tasks__time_window[];
/* timeWindow, and its older names sla and timeSLA. */
#define P_TIME_WINDOW                                                                   \
    POBJ("timeWindow", 0, NULL, tasks__time_window,                                     \
         "the time window the conditions must be met in"),                              \
    {.name = "timeSLA", .type = PT_OBJECT, .flags = PF_DEPRECATED,                      \
     .props = tasks__time_window, .alias_of = "timeWindow", .desc = "old name of timeWindow"}, \
    {.name = "sla", .type = PT_OBJECT, .flags = PF_DEPRECATED,                          \
     .props = tasks__time_window, .alias_of = "timeWindow", .desc = "old name of timeWindow"}

/* ---- property macros ------------------------------------------------------- */

#define PDEF(n, t, f, d, s) {.name = (n), .type = (t), .flags = (f), .dflt = (d), .desc = (s)}
#define PANY(n, f, d, s)  PDEF(n, PT_ANY, f, d, s)
#define PSTR(n, f, d, s)  PDEF(n, PT_STRING, f, d, s)
#define PINT(n, f, d, s)  PDEF(n, PT_INT, f, d, s)
#define PNUM(n, f, d, s)  PDEF(n, PT_NUMBER, f, d, s)
#define PBOOL(n, f, d, s) PDEF(n, PT_BOOL, f, d, s)
#define PDUR(n, f, d, s)  PDEF(n, PT_DURATION, f, d, s)
#define PDT(n, f, d, s)   PDEF(n, PT_DATETIME, f, d, s)
#define PSTRL(n, f, d, s) PDEF(n, PT_STRING_LIST, f, d, s)
#define PTASK(n, f, s)    PDEF(n, PT_TASK, f, NULL, s)
#define PTASKS(n, f, s)   PDEF(n, PT_TASKS, f, NULL, s)
#define PCONDS(n, f, s)   PDEF(n, PT_CONDITIONS, f, NULL, s)
/* ENUMS("A", "B") is a NULL-terminated list for PENUM. */
#define ENUMS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define PENUM(n, f, d, e, s) \
    {.name = (n), .type = PT_ENUM, .flags = (f), .dflt = (d), .desc = (s), .enums = (e)}
/* it: a pointer to the item prop_def (e.g. &tasks__item_string, or ITEM(...)) */
#define PLIST(n, f, d, it, s) \
    {.name = (n), .type = PT_LIST, .flags = (f), .dflt = (d), .desc = (s), .item = (it)}
#define PMAP(n, f, d, it, s) \
    {.name = (n), .type = PT_MAP, .flags = (f), .dflt = (d), .desc = (s), .item = (it)}
/* ps: a pointer to a {0}-terminated prop_def array (e.g. PROPS(...)) */
#define POBJ(n, f, d, ps, s) \
    {.name = (n), .type = PT_OBJECT, .flags = (f), .dflt = (d), .desc = (s), .props = (ps)}
#define PPLUGIN(n, f, k, s) \
    {.name = (n), .type = PT_PLUGIN, .flags = (f), .desc = (s), .plugin_kind = (k)}
/* An old spelling of property `of`. */
#define PALIAS(n, t, of) {.name = (n), .type = (t), .flags = PF_DEPRECATED, .alias_of = (of), \
                          .desc = "old name of `" of "`"}
/* An anonymous item or property list, as a compound literal. */
#define ITEM(...)  (&(const prop_def)__VA_ARGS__)
#define PROPS(...) ((const prop_def[]){__VA_ARGS__, {0}})
/* A type with no property of its own. */
#define NO_PROPS ((const prop_def[]){{0}})
#define ALIASES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* errors and finally of a flowable task */
#define P_ERRORS_FINALLY                                                          \
    PTASKS("errors", 0, "tasks run when a child task fails"),                     \
    PTASKS("finally", 0, "tasks run after the children, whatever their state")

/* ---- helpers for check hooks (tasks.c) ------------------------------------ */

/* The `id` of a task object, or "?" when it has none; borrowed. */
const char *tasks__task_id(const json_t *task);

#endif
