/*
 * run_core.c: the runnable core tasks (log, debug, output, execution, kv,
 * storage...). Being written: see tasks.h for the contract.
 */
#include "tasks/run_int.h"

const task_impl tasks__run_core[] = {{NULL, NULL}};
const size_t tasks__run_core_count = 0;
