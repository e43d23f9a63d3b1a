/*
 * tasks.c: registers every task family's table (families[], one line per
 * family; see tasks_int.h), and holds the value lists and items the family
 * files share.
 */
#include "tasks/tasks.h"
#include "tasks/tasks_int.h"

const char *const tasks__states[] = {
    "CREATED", "SUBMITTED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "SUCCESS",
    "WARNING", "FAILED", "KILLED", "CANCELLED", "QUEUED", "RETRYING", "RETRIED",
    "SKIPPED", "BREAKPOINT", "RESUBMITTED", NULL,
};

const char *const tasks__log_levels[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", NULL};

const prop_def tasks__item_string = {.type = PT_STRING};
const prop_def tasks__item_any = {.type = PT_ANY};
const prop_def tasks__item_state = {.type = PT_ENUM, .enums = tasks__states};
const prop_def tasks__item_tasks = {.type = PT_TASKS};

const prop_def tasks__namespace_files[] = {
    PBOOL("enabled", 0, "true", "inject the namespace's files into the working directory"),
    PSTRL("include", 0, NULL, "glob patterns of the files to inject"),
    PSTRL("exclude", 0, NULL, "glob patterns of the files to leave out"),
    PENUM("ifExists", 0, "\"OVERWRITE\"", ENUMS("OVERWRITE", "FAIL", "WARN", "IGNORE"),
          "what to do when a file of that name is already there"),
    PBOOL("folderPerNamespace", 0, "false", "one sub-folder per namespace"),
    PSTRL("namespaces", 0, NULL, "namespaces to read files from (default: the flow's)"),
    {0},
};

const prop_def tasks__time_window[] = {
    PENUM("type", 0, "\"DURATION_WINDOW\"",
          ENUMS("DURATION_WINDOW", "SLIDING_WINDOW", "DAILY_TIME_DEADLINE", "DAILY_TIME_WINDOW"),
          "the kind of window"),
    PDUR("window", 0, "\"P1D\"", "the window's length"),
    PDUR("windowAdvance", 0, NULL, "offset of the window's start"),
    PSTR("startTime", 0, NULL, "start time of a daily window (HH:MM:SS)"),
    PSTR("endTime", 0, NULL, "end time of a daily window (HH:MM:SS)"),
    PSTR("deadline", 0, NULL, "deadline of a daily deadline window (HH:MM:SS)"),
    {0},
};

const char *tasks__task_id(const json_t *task)
{
    const char *id = json_string_value(json_object_get(task, "id"));
    return id ? id : "?";
}

/* Every family, one line each (tasks_int.h). Flowables first: their first
 * entry tells tasks_register_all whether the registry holds them already. */
typedef struct family {
    const type_def *defs;
    const size_t *n;
} family;

#define FAMILY(f) {f, &f##_count}

static const family families[] = {
    FAMILY(tasks__core_flow),
    FAMILY(tasks__core),
    FAMILY(tasks__kv),
    FAMILY(tasks__state),
    FAMILY(tasks__storage),
    FAMILY(tasks__namespace),
    FAMILY(tasks__http),
    FAMILY(tasks__sql),
    FAMILY(tasks__scripts),
    FAMILY(tasks__ssh),
    FAMILY(tasks__sftp),
    FAMILY(tasks__notify),
    FAMILY(tasks__git),
    FAMILY(tasks__mongodb),
    FAMILY(tasks__s3),
    FAMILY(tasks__serdes),
    FAMILY(tasks__avro),
    FAMILY(tasks__parquet),
    FAMILY(tasks__compress),
    FAMILY(tasks__triggers),
    FAMILY(tasks__conditions),
    FAMILY(tasks__fivetran),
};

/* Registered already when the first type of the first table resolves to
 * itself; checking the registry rather than a flag keeps this right after a
 * test's flow_registry_reset(). */
void tasks_register_all(void)
{
    if (flow_type_find(families[0].defs[0].name) == &families[0].defs[0])
        return;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        flow_registry_add(families[i].defs, *families[i].n);
}
