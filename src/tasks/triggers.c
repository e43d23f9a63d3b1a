/*
 * triggers.c: the trigger types of Kestra's core: Schedule, ScheduleOnDates,
 * Flow, Webhook and the HTTP polling trigger.
 *
 * Common trigger properties (id, type, description, conditions, disabled,
 * stopAfter, logLevel, logToFile, workerGroup, minLogLevel) are the
 * validator's; these tables hold each trigger's own. The old names under
 * io.kestra.core.models.triggers.types are aliases, and so are the
 * io.kestra.plugin.fs.http names of the HTTP trigger, which moved to core.
 */
#include "tasks/tasks_int.h"
#include "util/cron.h"
#include "util/datetime.h"
#include "util/err.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- check hooks ------------------------------------------------------------ */

/* A literal string (not a template, which only run time can check). */
static const char *literal(const json_t *j)
{
    const char *s = json_string_value(j);
    return s && !strstr(s, "{{") && !strstr(s, "{%") ? s : NULL;
}

/* `timezone` names a zone of the tz database; returns it, or NULL (after
 * reporting when it is wrong) so date checks can fall back to UTC. */
static const tzone *check_timezone(vctx *v, const json_t *obj, const char *path)
{
    const char *name = literal(json_object_get(obj, "timezone"));
    if (!name)
        return NULL;
    kerr e = KERR_INIT;
    const tzone *z = tz_get(name, &e);
    if (!z) {
        char *p = xasprintf("%s/timezone", path);
        vctx_error(v, p, "unknown time zone '%s': %s", name, e.msg);
        free(p);
    }
    return z;
}

static void check_schedule(vctx *v, const json_t *obj, const char *path)
{
    check_timezone(v, obj, path);
    /* the cron expression, when it is literal, with the scheduler's parser */
    const char *cron = literal(json_object_get(obj, "cron"));
    if (cron) {
        const json_t *ws = json_object_get(obj, "withSeconds");
        kerr e = KERR_INIT;
        cron_expr *c = cron_parse(cron, json_is_true(ws), &e);
        if (!c) {
            char *p = xasprintf("%s/cron", path);
            vctx_error(v, p, "%s", e.msg);
            free(p);
        }
        cron_free(c);
    }
}

/* ScheduleOnDates: every literal date is an ISO-8601 date-time. */
static void check_schedule_on_dates(vctx *v, const json_t *obj, const char *path)
{
    const tzone *z = check_timezone(v, obj, path);
    const json_t *dates = json_object_get(obj, "dates");
    if (!json_is_array(dates))
        return;
    size_t i;
    const json_t *d;
    json_array_foreach(dates, i, d) {
        const char *s = literal(d);
        if (!s)
            continue;
        int64_t us;
        kerr e = KERR_INIT;
        if (datetime_parse(s, z, &us, NULL, &e)) {
            char *p = xasprintf("%s/dates/%zu", path, i);
            vctx_error(v, p, "'%s' is not an ISO-8601 date-time: %s", s, e.msg);
            free(p);
        }
    }
}

/* Webhook: the key is part of a URL, at most 256 characters (as Kestra). */
static void check_webhook(vctx *v, const json_t *obj, const char *path)
{
    const char *key = json_string_value(json_object_get(obj, "key"));
    if (key && strlen(key) > 256) {
        char *p = xasprintf("%s/key", path);
        vctx_error(v, p, "webhook key is %zu characters long, at most 256 are allowed",
                   strlen(key));
        free(p);
    }
}

#define P_RECOVER                                                                     \
    PENUM("recoverMissedSchedules", 0, NULL, ENUMS("LAST", "NONE", "ALL"),            \
          "which schedules missed while kite was down to run (default ALL, unless the " \
          "plugin configuration says otherwise)")

static const prop_def flow_filter[] = {
    PENUM("field", PF_REQUIRED, NULL, ENUMS("FLOW_ID", "NAMESPACE", "STATE", "EXPRESSION"),
          "what the filter tests"),
    PENUM("type", PF_REQUIRED, NULL,
          ENUMS("EQUAL_TO", "NOT_EQUAL_TO", "IS_NULL", "IS_NOT_NULL", "IS_TRUE", "IS_FALSE",
                "STARTS_WITH", "ENDS_WITH", "REGEX", "CONTAINS", "IN", "NOT_IN"),
          "how it tests"),
    PANY("value", 0, NULL, "the value compared"),
    PLIST("values", 0, NULL, &tasks__item_any, "the values, for IN / NOT_IN"),
    {0},
};

static const prop_def preconditions[] = {
    PSTR("id", 0, NULL, "id of the precondition (keys its state across executions)"),
    PLIST("flows", 0, NULL,
          ITEM({.type = PT_OBJECT,
                .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the flow's namespace"),
                               PSTR("flowId", PF_REQUIRED, NULL, "the flow's id"),
                               PLIST("states", 0, NULL, &tasks__item_state,
                                     "states that count (default: terminal ones)"),
                               PANY("labels", 0, NULL, "labels the execution must have"))}),
          "upstream flows that must all have run"),
    PLIST("where", 0, NULL,
          ITEM({.type = PT_OBJECT,
                .props = PROPS(PSTR("id", PF_REQUIRED, NULL, "id of this filter group"),
                               PENUM("operand", 0, "\"AND\"", ENUMS("AND", "OR"),
                                     "how the filters combine"),
                               PLIST("filters", PF_REQUIRED, NULL,
                                     ITEM({.type = PT_OBJECT, .props = flow_filter}),
                                     "the filters"))}),
          "groups of filters an upstream execution must pass"),
    PBOOL("resetOnSuccess", 0, "true", "start counting again once the trigger fired"),
    P_TIME_WINDOW,
    {0},
};

const type_def tasks__triggers[] = {
    {
        .name = "trigger.schedule",
        .aliases = ALIASES("io.kestra.plugin.core.trigger.Schedule",
                           "io.kestra.core.models.triggers.types.Schedule"),
        .kind = TK_TRIGGER,
        .desc = "Start the flow on a cron schedule.",
        .props = PROPS(
            PSTR("cron", PF_REQUIRED, NULL, "cron expression: 5 fields, 6 withSeconds, or @daily..."),
            PBOOL("withSeconds", 0, "false", "the cron expression has a seconds field first"),
            PSTR("timezone", 0, NULL, "time zone of the cron expression (default: UTC)"),
            PMAP("inputs", 0, NULL, &tasks__item_any, "inputs of the started executions"),
            PDUR("lateMaximumDelay", 0, NULL, "skip a schedule that could not start within this"),
            P_RECOVER,
            PMAP("backfill", PF_DEPRECATED, NULL, &tasks__item_any,
                 "backfill settings (use the backfill API)"),
            PCONDS("scheduleConditions", PF_DEPRECATED,
                   "conditions on the date (use conditions)")),
        .check = check_schedule,
    },
    {
        .name = "trigger.schedule_on_dates",
        .aliases = ALIASES("io.kestra.plugin.core.trigger.ScheduleOnDates"),
        .kind = TK_TRIGGER,
        .desc = "Start the flow at each of a list of dates.",
        .props = PROPS(PLIST("dates", PF_REQUIRED, NULL, ITEM({.type = PT_DATETIME}),
                             "the dates (ISO-8601 date-times)"),
                       PSTR("timezone", 0, NULL, "time zone of dates without one"),
                       PMAP("inputs", 0, NULL, &tasks__item_any, "inputs of the executions"),
                       P_RECOVER),
        .check = check_schedule_on_dates,
    },
    {
        .name = "trigger.flow",
        .aliases = ALIASES("io.kestra.plugin.core.trigger.Flow",
                           "io.kestra.core.models.triggers.types.Flow"),
        .kind = TK_TRIGGER,
        .desc = "Start the flow when executions of other flows end.",
        .props = PROPS(PMAP("inputs", 0, NULL, &tasks__item_any,
                            "inputs of the started execution (may use trigger.*)"),
                       PLIST("states", 0, "[\"SUCCESS\",\"WARNING\",\"FAILED\",\"KILLED\"]",
                             &tasks__item_state, "end states of upstream executions that count"),
                       POBJ("preconditions", 0, NULL, preconditions,
                            "upstream flows and filters that must all be satisfied"),
                       PLIST("dependsOn", 0, NULL,
                             ITEM({.type = PT_OBJECT,
                                   .props = PROPS(
                                       PSTR("namespace", 0, NULL, "the upstream flow's namespace"),
                                       PSTR("flowId", 0, NULL, "the upstream flow's id"),
                                       PLIST("states", 0, NULL, &tasks__item_state,
                                             "states of its executions that count"),
                                       PMAP("labels", 0, NULL, &tasks__item_any,
                                            "labels its executions must have"),
                                       PSTR("when", 0, "\"true\"",
                                            "expression gating this dependency"))}),
                             "upstream executions this flow depends on (the newer form of "
                             "preconditions)"),
                       PMAP("window", 0, NULL, &tasks__item_any,
                            "time window in which the dependsOn must all be met"),
                       PENUM("mode", 0, "\"ALL\"", ENUMS("ALL", "ANY", "AT_LEAST"),
                             "how many dependsOn must be met"),
                       PINT("minSatisfied", 0, NULL, "with mode AT_LEAST: how many")),
    },
    {
        .name = "trigger.webhook",
        .aliases = ALIASES("io.kestra.plugin.core.trigger.Webhook",
                           "io.kestra.core.models.triggers.types.Webhook"),
        .kind = TK_TRIGGER,
        .desc = "Start the flow on an HTTP call to /api/v1/executions/webhook/NS/FLOW/KEY.",
        .props = PROPS(PSTR("key", PF_REQUIRED | PF_NONEMPTY, NULL,
                            "the secret part of the webhook URL (at most 256 characters)"),
                       PMAP("inputs", 0, NULL, &tasks__item_any, "inputs of the execution"),
                       PBOOL("wait", 0, "false", "answer only once the execution ended"),
                       PBOOL("returnOutputs", 0, "false",
                             "answer with the execution's outputs (with wait)"),
                       PENUM("fetchType", 0, "\"FETCH\"", ENUMS("FETCH", "STORE", "NONE"),
                             "the request body as trigger.body, stored as trigger.uri, or dropped"),
                       PSTR("responseContentType", 0, NULL,
                            "content type of the answer (application/json or text/plain)"),
                       PINT("responseCode", 0, NULL, "HTTP status of the answer (with wait)")),
        .check = check_webhook,
    },
    {
        .name = "trigger.http",
        .aliases = ALIASES("io.kestra.plugin.core.http.Trigger",
                           "io.kestra.plugin.fs.http.Trigger"),
        .kind = TK_TRIGGER,
        .desc = "Poll a URL and start the flow when the response passes a condition.",
        .props = PROPS(
            PSTR("uri", PF_REQUIRED, NULL, "the URL"),
            PSTR("method", 0, "\"GET\"", "the HTTP method"),
            PSTR("body", 0, NULL, "the request body"),
            PMAP("params", 0, NULL, &tasks__item_any, "query parameters"),
            PMAP("formData", 0, NULL, &tasks__item_any, "form fields"),
            PSTR("contentType", 0, "\"application/json\"", "the body's content type"),
            PMAP("headers", 0, NULL, &tasks__item_string, "request headers"),
            PMAP("options", 0, NULL, &tasks__item_any, "client options (see http.request)"),
            PMAP("sslOptions", PF_DEPRECATED, NULL, &tasks__item_any, "use options.ssl"),
            PSTR("responseCondition", 0, "\"{{ response.statusCode < 400 }}\"",
                 "fire when this expression on `response` is true"),
            PDUR("interval", 0, "\"PT60S\"", "time between polls"),
            PBOOL("encryptBody", 0, "false", "encrypt the body in the trigger's outputs")),
    },
};

const size_t tasks__triggers_count = sizeof tasks__triggers / sizeof tasks__triggers[0];
