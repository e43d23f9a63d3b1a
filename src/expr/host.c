/*
 * host.c: the names and arities of the host functions kite's engine adds to
 * every render (secret, kv, read, fileExists, fileSize, isFileEmpty, fileURI,
 * errorLogs, currentEachOutput, tasksWithState, randomPort, parentOutput,
 * iterationOutput, http).
 *
 * The expression layer does not run them: their code needs the store, the
 * storage or the execution, which live above (engine/host.c, whose table a
 * unit test keeps equal to this one). This list lets a layer without an
 * engine (flow validation) tell a host function from an unknown one.
 */
#include "expr/expr.h"

#include <string.h>

const expr_host_name expr_host_function_names[] = {
    {"secret", 1, 1},            /* secret(key) */
    {"kv", 1, 3},                /* kv(key, namespace?, errorOnMissing?) */
    {"read", 1, 2},              /* read(path, namespace?) */
    {"fileExists", 1, 2},        /* fileExists(path, namespace?) */
    {"fileSize", 1, 2},          /* fileSize(path, namespace?) */
    {"errorLogs", 0, 0},         /* errorLogs() */
    {"currentEachOutput", 1, 1}, /* currentEachOutput(outputs.task) */
    {"http", 1, 8},              /* http(uri, method, query, body, contentType, headers, options, accept) */
    {"isFileEmpty", 1, 2},       /* isFileEmpty(path, namespace?) */
    {"fileURI", 1, 1},           /* fileURI(namespace file path) */
    {"tasksWithState", 1, 1},    /* tasksWithState(state) */
    {"randomPort", 0, 0},        /* randomPort() */
    {"parentOutput", 0, 1},      /* parentOutput(index?) */
    {"iterationOutput", 0, 2},   /* iterationOutput(taskId?, iteration?) */
};

const size_t expr_host_function_count = sizeof expr_host_function_names / sizeof expr_host_function_names[0];

const expr_host_name *expr_host_function(const char *name)
{
    for (size_t i = 0; name && i < expr_host_function_count; i++)
        if (!strcmp(expr_host_function_names[i].name, name))
            return &expr_host_function_names[i];
    return NULL;
}
