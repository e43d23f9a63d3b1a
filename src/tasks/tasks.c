/*
 * tasks.c: registers every task family's table (see tasks.h).
 */
#include "tasks/tasks.h"
#include "flow/schema.h"

static int registered;

void tasks_register_all(void)
{
    if (registered)
        return;
    registered = 1;
}
