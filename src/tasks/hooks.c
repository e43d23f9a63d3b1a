/*
 * hooks.c: finds the implementation of a runnable type (see tasks.h).
 */
#include "tasks/run_int.h"

#include <string.h>

typedef struct impl_table {
    const task_impl *v;
    const size_t *n;
} impl_table;

static const impl_table tables[] = {
    {tasks__run_core, &tasks__run_core_count},
    {tasks__run_kv, &tasks__run_kv_count},
    {tasks__run_storage, &tasks__run_storage_count},
    {tasks__run_state, &tasks__run_state_count},
    {tasks__run_files, &tasks__run_files_count},
    {tasks__run_scripts, &tasks__run_scripts_count},
};

const struct task_hooks *tasks_hooks(const type_def *d)
{
    if (!d)
        return NULL;
    if (d->hooks)
        return d->hooks;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (size_t i = 0; i < *tables[t].n; i++)
            if (!strcmp(tables[t].v[i].name, d->name))
                return tables[t].v[i].hooks;
    return NULL;
}
