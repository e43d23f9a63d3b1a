/*
 * run_int.h: how the files that implement runnable tasks (run_*.c) hand
 * their implementations to tasks/hooks.c, by canonical type name. Kept apart
 * from the type tables so that declaring a type and running it can be
 * written separately.
 */
#ifndef KITE_TASKS_RUN_INT_H
#define KITE_TASKS_RUN_INT_H

#include "tasks/tasks.h"

typedef struct task_impl {
    const char *name;               /* canonical name, as in the type table */
    const struct task_hooks *hooks;
} task_impl;

/* Each run_*.c file defines one table and its length; hooks.c lists them. */
extern const task_impl tasks__run_core[];
extern const size_t tasks__run_core_count;

#endif
