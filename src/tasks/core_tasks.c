/*
 * core_tasks.c: the runnable tasks of Kestra's core: log, debug, output,
 * execution, kv, state, storage, http, templating, namespace files and the
 * trigger toggle.
 *
 * Plain data (tasks_int.h): each entry says the canonical kite name, the
 * Kestra class names it answers to (the io.kestra.plugin.core one first, then
 * the older io.kestra.core.tasks one where it existed) and the task's own
 * properties; the common ones (id, type, retry, timeout, ...) are the
 * validator's. None of these has a check hook: their rules fit the schema.
 */
#include "tasks/tasks_int.h"

#define P_NAMESPACE(what) PSTR("namespace", 0, "\"{{ flow.namespace }}\"", what)

/* The purge tasks of 1.x (PurgeKV, PurgeFiles, PurgeFlows) share their scope. */
#define P_PURGE_SCOPE(what)                                                              \
    PSTRL("namespaces", 0, NULL, "namespaces to purge " what " from (default: all)"),    \
    PSTR("namespacePattern", 0, NULL, "glob of the namespaces (instead of namespaces)"), \
    PBOOL("includeChildNamespaces", 0, "true", "include their child namespaces"),        \
    PMAP("behavior", 0, NULL, &tasks__item_any,                                          \
         "what to purge: {type: key, expiredOnly} or {type: version, keepAmount, before}")

#define P_HTTP_COMMON                                                                    \
    PSTR("uri", PF_REQUIRED, NULL, "the URL"),                                           \
    PSTR("method", 0, "\"GET\"", "the HTTP method (GET, POST, PUT, PATCH, DELETE, ...)"), \
    PSTR("body", 0, NULL, "the request body"),                                           \
    PMAP("formData", 0, NULL, &tasks__item_any,                                          \
         "form fields, sent url-encoded or as multipart/form-data"),                     \
    PSTR("contentType", 0, "\"application/json\"", "the body's content type"),           \
    PMAP("headers", 0, NULL, &tasks__item_string, "request headers"),                    \
    PMAP("options", 0, NULL, &tasks__item_any,                                           \
         "client options: timeouts, proxy, auth, ssl, followRedirects, allowFailed, "    \
         "allowedResponseCodes, defaultCharset, ..."),                                   \
    PBOOL("allowFailed", PF_DEPRECATED, "false",                                         \
          "accept a response code >= 400 (use options.allowFailed)"),                    \
    PMAP("sslOptions", PF_DEPRECATED, NULL, &tasks__item_any, "use options.ssl")

const type_def tasks__core_tasks[] = {
    /* ---- log ---- */
    {
        .name = "log",
        .aliases = ALIASES("io.kestra.plugin.core.log.Log", "io.kestra.core.tasks.log.Log"),
        .desc = "Log a message (or a list of messages) at a level.",
        .props = PROPS(PSTRL("message", PF_REQUIRED, NULL, "the message, or a list of them"),
                       PENUM("level", 0, "\"INFO\"", tasks__log_levels, "the log level")),
    },
    {
        .name = "log.fetch",
        .aliases = ALIASES("io.kestra.plugin.core.log.Fetch", "io.kestra.core.tasks.log.Fetch"),
        .flags = TF_DEPRECATED,
        .desc = "Fetch the logs of an execution into an ION file.",
        .props = PROPS(PSTR("namespace", 0, NULL, "namespace of the execution's flow"),
                       PSTR("flowId", 0, NULL, "id of the execution's flow"),
                       PSTR("executionId", 0, "\"{{ execution.id }}\"", "the execution"),
                       PSTRL("tasksId", 0, NULL, "only the logs of these task ids"),
                       PENUM("level", 0, "\"INFO\"", tasks__log_levels, "minimum level")),
    },
    {
        .name = "log.purge_logs",
        .aliases = ALIASES("io.kestra.plugin.core.log.PurgeLogs"),
        .desc = "Delete logs older than a date, optionally of one namespace or flow.",
        .props = PROPS(PSTR("namespace", 0, NULL, "only logs of this namespace (a prefix "
                                                  "without flowId)"),
                       PSTR("flowId", 0, NULL, "only logs of this flow"),
                       PSTR("executionId", 0, NULL, "only logs of this execution"),
                       PLIST("logLevels", 0, NULL,
                             ITEM({.type = PT_ENUM, .enums = tasks__log_levels}),
                             "only logs of these levels"),
                       PDT("startDate", 0, NULL, "only logs after this date"),
                       PDT("endDate", PF_REQUIRED, NULL, "only logs before this date"),
                       PBOOL("purgeExecutionLogs", 0, "true", "purge logs of executions"),
                       PBOOL("purgeNonExecutionLogs", 0, "true",
                             "purge logs not tied to an execution (triggers)"),
                       PINT("batchSize", 0, NULL, "rows deleted per batch")),
    },

    /* ---- debug, output ---- */
    {
        .name = "debug.return",
        .aliases = ALIASES("io.kestra.plugin.core.debug.Return",
                           "io.kestra.core.tasks.debugs.Return"),
        .desc = "Render a template and return it as the output `value`.",
        .props = PROPS(PSTR("format", 0, NULL, "the template to render")),
    },
    {
        .name = "debug.echo",
        .aliases = ALIASES("io.kestra.plugin.core.debug.Echo",
                           "io.kestra.core.tasks.debugs.Echo"),
        .flags = TF_DEPRECATED,
        .desc = "Log a rendered template (deprecated: use log).",
        .props = PROPS(PSTR("format", 0, NULL, "the template to render and log"),
                       PENUM("level", 0, "\"INFO\"", tasks__log_levels, "the log level")),
    },
    {
        .name = "output.values",
        .aliases = ALIASES("io.kestra.plugin.core.output.OutputValues"),
        .desc = "Output rendered values, for later tasks to use.",
        .props = PROPS(PMAP("values", 0, NULL, &tasks__item_any, "the values, by name")),
    },

    /* ---- execution ---- */
    {
        .name = "execution.fail",
        .aliases = ALIASES("io.kestra.plugin.core.execution.Fail",
                           "io.kestra.core.tasks.executions.Fail"),
        .desc = "Fail the execution, always or when a condition is true.",
        .props = PROPS(PSTR("condition", 0, NULL, "fail only when this expression is truthy"),
                       PSTR("errorMessage", 0, "\"Task failure\"", "the error message")),
    },
    {
        .name = "execution.exit",
        .aliases = ALIASES("io.kestra.plugin.core.execution.Exit"),
        .desc = "End the execution now, in a given state (KILLED also kills running tasks).",
        .props = PROPS(PENUM("state", 0, "\"SUCCESS\"",
                             ENUMS("SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED"),
                             "the execution's final state")),
    },
    {
        .name = "execution.labels",
        .aliases = ALIASES("io.kestra.plugin.core.execution.Labels",
                           "io.kestra.core.tasks.executions.Labels"),
        .desc = "Add or update labels of the current execution.",
        .props = PROPS(PANY("labels", PF_REQUIRED, NULL,
                            "the labels: a map, a list of key/value, or a JSON string")),
    },
    {
        .name = "execution.count",
        .aliases = ALIASES("io.kestra.plugin.core.execution.Count",
                           "io.kestra.core.tasks.executions.Counts"),
        .flags = TF_DEPRECATED,
        .desc = "Count executions of flows matching filters, and test the counts.",
        .props = PROPS(
            PSTRL("namespaces", 0, NULL, "count flows of these namespaces"),
            PLIST("flows", 0, NULL,
                  ITEM({.type = PT_OBJECT,
                        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "namespace"),
                                       PSTR("flowId", PF_REQUIRED, NULL, "flow id"))}),
                  "count these flows"),
            PLIST("states", 0, NULL, &tasks__item_state, "count executions in these states"),
            PDT("startDate", PF_REQUIRED, NULL, "executions started after"),
            PDT("endDate", 0, NULL, "executions started before"),
            PSTR("expression", PF_REQUIRED, NULL,
                 "keep the flows whose count passes this expression (\"{{ count >= 1 }}\")")),
    },
    {
        .name = "execution.purge_executions",
        .aliases = ALIASES("io.kestra.plugin.core.execution.PurgeExecutions",
                           "io.kestra.plugin.core.storage.Purge",
                           "io.kestra.core.tasks.storages.Purge"),
        .desc = "Delete executions, their logs, metrics and files, older than a date.",
        .props = PROPS(PSTR("namespace", 0, NULL, "only this namespace"),
                       PSTR("flowId", 0, NULL, "only this flow"),
                       PDT("startDate", 0, NULL, "executions ended after"),
                       PDT("endDate", PF_REQUIRED, NULL, "executions ended before"),
                       PLIST("states", 0, NULL, &tasks__item_state, "only these states"),
                       PBOOL("purgeExecution", 0, "true", "delete the executions"),
                       PBOOL("purgeLog", 0, "true", "delete their logs"),
                       PBOOL("purgeMetric", 0, "true", "delete their metrics"),
                       PBOOL("purgeStorage", 0, "true", "delete their files"),
                       PINT("batchSize", 0, "100", "executions deleted per batch")),
    },
    {
        .name = "execution.resume",
        .aliases = ALIASES("io.kestra.plugin.core.execution.Resume"),
        .desc = "Resume a paused execution.",
        .props = PROPS(PSTR("namespace", 0, NULL, "namespace of the execution's flow"),
                       PSTR("flowId", 0, NULL, "id of the execution's flow"),
                       PSTR("executionId", 0, "\"{{ execution.id }}\"", "the execution"),
                       PMAP("inputs", 0, NULL, &tasks__item_any, "onResume inputs")),
    },
    {
        .name = "execution.set_variables",
        .aliases = ALIASES("io.kestra.plugin.core.execution.SetVariables"),
        .desc = "Set variables of the current execution.",
        .props = PROPS(PMAP("variables", PF_REQUIRED, NULL, &tasks__item_any, "the variables"),
                       PBOOL("overwrite", 0, "true", "replace variables that already exist")),
    },
    {
        .name = "execution.unset_variables",
        .aliases = ALIASES("io.kestra.plugin.core.execution.UnsetVariables"),
        .desc = "Remove variables of the current execution.",
        .props = PROPS(PSTRL("variables", PF_REQUIRED, NULL, "names of the variables"),
                       PBOOL("ignoreMissing", 0, "false", "no error for a missing variable")),
    },
    {
        .name = "execution.assert",
        .aliases = ALIASES("io.kestra.plugin.core.execution.Assert"),
        .desc = "Fail unless every condition is truthy.",
        .props = PROPS(PSTRL("conditions", PF_REQUIRED, NULL, "expressions that must be true"),
                       PSTR("errorMessage", 0, NULL, "message when one is false")),
    },

    {
        .name = "execution.kill",
        .aliases = ALIASES("io.kestra.plugin.core.execution.Kill"),
        .desc = "Kill the current execution.",
        .props = PROPS(PBOOL("propagateKill", 0, "false", "also kill its subflow executions")),
    },

    /* ---- kv store ---- */
    {
        .name = "kv.set",
        .aliases = ALIASES("io.kestra.plugin.core.kv.Set"),
        .desc = "Store a value in the namespace's key-value store.",
        .props = PROPS(PSTR("key", PF_REQUIRED, NULL, "the key"),
                       PANY("value", PF_REQUIRED, NULL, "the value"),
                       P_NAMESPACE("the namespace of the store"),
                       PBOOL("overwrite", 0, "true", "replace an existing value"),
                       PDUR("ttl", 0, NULL, "expire the value after this duration"),
                       PENUM("kvType", 0, NULL,
                             ENUMS("STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE",
                                   "DURATION", "JSON"),
                             "the value's type (default: guessed)"),
                       PSTR("kvDescription", 0, NULL, "a description of the key")),
    },
    {
        .name = "kv.get",
        .aliases = ALIASES("io.kestra.plugin.core.kv.Get"),
        .desc = "Read a value of the key-value store (output `value`).",
        .props = PROPS(PSTR("key", PF_REQUIRED, NULL, "the key"),
                       P_NAMESPACE("the namespace of the store"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the key is missing")),
    },
    {
        .name = "kv.delete",
        .aliases = ALIASES("io.kestra.plugin.core.kv.Delete"),
        .desc = "Delete a key of the key-value store.",
        .props = PROPS(PSTR("key", PF_REQUIRED, NULL, "the key"),
                       P_NAMESPACE("the namespace of the store"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the key is missing")),
    },
    {
        .name = "kv.get_keys",
        .aliases = ALIASES("io.kestra.plugin.core.kv.GetKeys"),
        .desc = "List the keys of the key-value store (output `keys`).",
        .props = PROPS(PSTR("prefix", 0, NULL, "only keys starting with this"),
                       P_NAMESPACE("the namespace of the store")),
    },

    {
        .name = "kv.purge_kv",
        .aliases = ALIASES("io.kestra.plugin.core.kv.PurgeKV"),
        .desc = "Delete keys of the key-value store, by default the expired ones.",
        .props = PROPS(PSTR("keyPattern", 0, NULL, "only keys matching this glob"),
                       P_PURGE_SCOPE("keys"),
                       PBOOL("expiredOnly", PF_DEPRECATED, NULL,
                             "only expired keys (use behavior)")),
    },

    /* ---- state (deprecated, replaced by kv) ---- */
    {
        .name = "state.set",
        .aliases = ALIASES("io.kestra.plugin.core.state.Set", "io.kestra.core.tasks.states.Set"),
        .flags = TF_DEPRECATED,
        .desc = "Merge values into a named state file (deprecated: use kv.set).",
        .props = PROPS(PSTR("name", 0, "\"default\"", "the state's name"),
                       PMAP("data", 0, NULL, &tasks__item_any, "the values to merge"),
                       PBOOL("namespace", 0, "false", "share the state across the namespace"),
                       PBOOL("taskrunValue", 0, "true", "one state per task-run value")),
    },
    {
        .name = "state.get",
        .aliases = ALIASES("io.kestra.plugin.core.state.Get", "io.kestra.core.tasks.states.Get"),
        .flags = TF_DEPRECATED,
        .desc = "Read a named state file (deprecated: use kv.get).",
        .props = PROPS(PSTR("name", 0, "\"default\"", "the state's name"),
                       PBOOL("namespace", 0, "false", "the namespace's shared state"),
                       PBOOL("taskrunValue", 0, "true", "one state per task-run value"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the state is missing")),
    },
    {
        .name = "state.delete",
        .aliases = ALIASES("io.kestra.plugin.core.state.Delete",
                           "io.kestra.core.tasks.states.Delete"),
        .flags = TF_DEPRECATED,
        .desc = "Delete a named state file (deprecated: use kv.delete).",
        .props = PROPS(PSTR("name", 0, "\"default\"", "the state's name"),
                       PBOOL("namespace", 0, "false", "the namespace's shared state"),
                       PBOOL("taskrunValue", 0, "true", "one state per task-run value"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the state is missing")),
    },

    /* ---- internal storage ---- */
    {
        .name = "storage.write",
        .aliases = ALIASES("io.kestra.plugin.core.storage.Write"),
        .desc = "Write content to a file of internal storage (output `uri`).",
        .props = PROPS(PSTR("content", PF_REQUIRED, NULL, "the content"),
                       PSTR("extension", 0, NULL, "the file's extension")),
    },
    {
        .name = "storage.concat",
        .aliases = ALIASES("io.kestra.plugin.core.storage.Concat",
                           "io.kestra.core.tasks.storages.Concat"),
        .desc = "Concatenate files of internal storage into one.",
        .props = PROPS(PANY("files", PF_REQUIRED, NULL,
                            "URIs of the files: a list, or a JSON string of one"),
                       PSTR("separator", 0, NULL, "written between files"),
                       PSTR("extension", 0, "\".tmp\"", "the result's extension")),
    },
    {
        .name = "storage.split",
        .aliases = ALIASES("io.kestra.plugin.core.storage.Split",
                           "io.kestra.core.tasks.storages.Split"),
        .desc = "Split a file of internal storage by size, rows or partitions.",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the file"),
                       PSTR("bytes", 0, NULL, "size of each part (\"10MB\")"),
                       PINT("partitions", 0, NULL, "number of parts"),
                       PINT("rows", 0, NULL, "rows of each part"),
                       PSTR("regexPattern", 0, NULL,
                            "group lines by the first capture group of this regex"),
                       PSTR("separator", 0, "\"\\n\"", "the row separator")),
    },
    {
        .name = "storage.delete",
        .aliases = ALIASES("io.kestra.plugin.core.storage.Delete",
                           "io.kestra.core.tasks.storages.Delete"),
        .desc = "Delete a file of internal storage.",
        .props = PROPS(PSTR("uri", PF_REQUIRED, NULL, "URI of the file"),
                       PBOOL("errorOnMissing", 0, "false", "fail when it is missing")),
    },
    {
        .name = "storage.size",
        .aliases = ALIASES("io.kestra.plugin.core.storage.Size",
                           "io.kestra.core.tasks.storages.Size"),
        .desc = "Output the size of a file of internal storage.",
        .props = PROPS(PSTR("uri", PF_REQUIRED, NULL, "URI of the file")),
    },
    {
        .name = "storage.local_files",
        .aliases = ALIASES("io.kestra.plugin.core.storage.LocalFiles",
                           "io.kestra.core.tasks.storages.LocalFiles"),
        .flags = TF_DEPRECATED,
        .desc = "Create files in, or keep files from, a WorkingDirectory "
                "(deprecated: use inputFiles/outputFiles).",
        .props = PROPS(PANY("inputs", 0, NULL, "files to create: map of name to content"),
                       PSTRL("outputs", 0, NULL, "glob patterns of files to keep")),
    },
    {
        .name = "storage.deduplicate_items",
        .aliases = ALIASES("io.kestra.plugin.core.storage.DeduplicateItems",
                           "io.kestra.core.tasks.storages.DeduplicateItems"),
        .desc = "Remove duplicate items of an ION file, by a key expression.",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the file"),
                       PSTR("expr", PF_REQUIRED, NULL, "expression giving an item's key")),
    },
    {
        .name = "storage.filter_items",
        .aliases = ALIASES("io.kestra.plugin.core.storage.FilterItems",
                           "io.kestra.core.tasks.storages.FilterItems"),
        .desc = "Keep or drop the items of an ION file matching a condition.",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the file"),
                       PSTR("filterCondition", PF_REQUIRED, NULL, "expression tested per item"),
                       PENUM("filterType", 0, "\"INCLUDE\"", ENUMS("INCLUDE", "EXCLUDE"),
                             "keep or drop the matching items"),
                       PENUM("errorOrNullBehavior", 0, "\"FAIL\"",
                             ENUMS("FAIL", "INCLUDE", "EXCLUDE"),
                             "what an error or a null result does")),
    },
    {
        .name = "storage.purge_current_execution_files",
        .aliases = ALIASES("io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
                           "io.kestra.plugin.core.storage.PurgeExecution",
                           "io.kestra.core.tasks.storages.PurgeExecution"),
        .desc = "Delete every file of the current execution from internal storage.",
        .props = NO_PROPS,
    },
    {
        .name = "storage.reverse",
        .aliases = ALIASES("io.kestra.plugin.core.storage.Reverse",
                           "io.kestra.core.tasks.storages.Reverse"),
        .desc = "Reverse the lines of a file of internal storage.",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the file"),
                       PSTR("separator", 0, "\"\\n\"", "the line separator"),
                       PSTR("charset", 0, "\"UTF-8\"", "the file's charset")),
    },

    /* ---- http ---- */
    {
        .name = "http.request",
        .aliases = ALIASES("io.kestra.plugin.core.http.Request",
                           "io.kestra.plugin.fs.http.Request"),
        .desc = "Send an HTTP request (outputs code, headers, body).",
        .props = PROPS(P_HTTP_COMMON,
                       PBOOL("encryptBody", 0, "false", "encrypt the body output")),
    },
    {
        .name = "http.download",
        .aliases = ALIASES("io.kestra.plugin.core.http.Download",
                           "io.kestra.plugin.fs.http.Download"),
        .desc = "Download a URL into internal storage (output `uri`).",
        .props = PROPS(P_HTTP_COMMON,
                       PBOOL("failOnEmptyResponse", 0, "true", "fail on an empty body")),
    },

    {
        .name = "http.sse_request",
        .aliases = ALIASES("io.kestra.plugin.core.http.SseRequest"),
        .desc = "Consume server-sent events from a URL (outputs events or a jq extract).",
        .props = PROPS(P_HTTP_COMMON,
                       PSTR("concatJqExpression", 0, NULL,
                            "jq applied to each event, the results concatenated"),
                       PBOOL("failedOnMissingJq", 0, "true",
                             "fail when the jq expression yields nothing for an event")),
    },

    /* ---- templating ---- */
    {
        .name = "templating.templated_task",
        .aliases = ALIASES("io.kestra.plugin.core.templating.TemplatedTask",
                           "io.kestra.core.tasks.templating.TemplatedTask"),
        .desc = "Render a YAML task definition, then run the task it describes.",
        .props = PROPS(PSTR("spec", PF_REQUIRED, NULL, "the task, as a YAML template")),
    },

    /* ---- namespace files ---- */
    {
        .name = "namespace.upload_files",
        .aliases = ALIASES("io.kestra.plugin.core.namespace.UploadFiles"),
        .desc = "Upload files to the namespace's files.",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the target namespace"),
                       PANY("files", 0, NULL, "files: list of URIs/globs, or map of "
                                              "destination to URI"),
                       PANY("filesMap", 0, NULL, "map of destination path to URI"),
                       PSTR("destination", 0, "\"/\"", "destination folder"),
                       PENUM("conflict", 0, "\"OVERWRITE\"", ENUMS("OVERWRITE", "ERROR", "SKIP"),
                             "what to do when a file exists")),
    },
    {
        .name = "namespace.download_files",
        .aliases = ALIASES("io.kestra.plugin.core.namespace.DownloadFiles"),
        .desc = "Download namespace files (output `files`).",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the source namespace"),
                       PSTRL("files", PF_REQUIRED, NULL, "glob patterns of the files"),
                       PSTR("destination", 0, "\"\"", "destination folder")),
    },
    {
        .name = "namespace.delete_files",
        .aliases = ALIASES("io.kestra.plugin.core.namespace.DeleteFiles"),
        .desc = "Delete namespace files.",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the namespace"),
                       PSTRL("files", PF_REQUIRED, NULL, "glob patterns of the files"),
                       PBOOL("deleteParentFolder", 0, "false",
                             "also delete folders left empty")),
    },

    {
        .name = "namespace.purge_files",
        .aliases = ALIASES("io.kestra.plugin.core.namespace.PurgeFiles"),
        .desc = "Delete old versions of namespace files (by default all but the latest).",
        .props = PROPS(PSTR("filePattern", 0, NULL, "only files matching this glob"),
                       P_PURGE_SCOPE("files")),
    },
    {
        .name = "flow.purge_flows",
        .aliases = ALIASES("io.kestra.plugin.core.flow.PurgeFlows"),
        .desc = "Delete old revisions of flows (the latest is always kept).",
        .props = PROPS(PSTR("flowPattern", 0, NULL, "only flows whose id matches this glob"),
                       P_PURGE_SCOPE("revisions")),
    },

    /* ---- trigger toggle (a task, despite its package) ---- */
    {
        .name = "trigger.toggle",
        .aliases = ALIASES("io.kestra.plugin.core.trigger.Toggle",
                           "io.kestra.core.tasks.trigger.Toggle"),
        .desc = "Enable or disable a trigger of a flow (a task, not a trigger).",
        .props = PROPS(PSTR("namespace", 0, "\"{{ flow.namespace }}\"", "the flow's namespace"),
                       PSTR("flowId", 0, "\"{{ flow.id }}\"", "the flow's id"),
                       PSTR("trigger", PF_REQUIRED, NULL, "the trigger's id"),
                       PBOOL("enabled", 0, "false", "enable (true) or disable (false)")),
    },
};

const size_t tasks__core_tasks_count = sizeof tasks__core_tasks / sizeof tasks__core_tasks[0];
