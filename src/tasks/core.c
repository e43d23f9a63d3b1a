/*
 * core.c: the family of Kestra's core runnable tasks that mostly talk to
 * their task_ctx: log, debug.return, debug.echo, output.values,
 * execution.fail, execution.exit, execution.assert, execution.labels,
 * flow.sleep, templating.templated_task, execution.set_variables and
 * unset_variables (handed to the executor in c->set_variables and
 * c->unset_variables), and those that reach the store: log.fetch (the logs
 * of an execution into a file), trigger.toggle, execution.kill and resume
 * (events on the store's queue), execution.count, purge_executions,
 * log.purge_logs and flow.purge_flows. One table at the end of the file
 * declares each type and points at its hooks (docs/internals/new-task-type.md).
 * docs/tasks.md describes each task for flow authors.
 *
 * Each task reads its properties through task_prop*() (rendered by the
 * engine) and fails with a message that names the property at fault. Exit and
 * Labels do not act on the execution themselves: they leave what they decided
 * in c->exit_state and c->labels, which the executor applies with the task
 * run's result.
 */
#include "tasks/tasks_int.h"
#include "util/policy.h"

#include "expr/expr.h"
#include "flow/flow.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/proc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The level property (default INFO) as a store_level. */
static int prop_level(task_ctx *c, const char *name, store_level *out, kerr *e)
{
    char *s;
    if (task_prop_string(c, name, "INFO", &s, e))
        return -1;
    int rc = 0;
    if (store_level_parse(s, out) != 0)
        rc = kerr_set(e, "property '%s': unknown log level '%s' (TRACE, DEBUG, INFO, WARN, ERROR)",
                      name, s);
    free(s);
    return rc;
}

/* 1 when the task sets property name to something other than null. */
static int has_prop(const task_ctx *c, const char *name)
{
    const json_t *v = json_object_get(c->task, name);
    return v && !json_is_null(v);
}

static task_result fail_required(kerr *e, const char *name)
{
    kerr_set(e, "property '%s' is required", name);
    return TASK_FAILED;
}

/* ---- log ------------------------------------------------------------------ */

/* message: a string, or a list whose items are each logged. */
static task_result log_run(task_ctx *c, kerr *e)
{
    store_level level;
    if (prop_level(c, "level", &level, e))
        return TASK_FAILED;
    const json_t *raw = json_object_get(c->task, "message");
    json_t *v;
    if (task_prop(c, "message", &v, e))
        return TASK_FAILED;
    if (!v) {
        if (!raw || json_is_null(raw))
            return fail_required(e, "message");
        task_log(c, level, "%s", ""); /* rendered to null */
        return TASK_SUCCESS;
    }
    if (json_is_array(raw) && json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            char *s = expr_value_to_text(item);
            task_log(c, level, "%s", s);
            free(s);
        }
    } else {
        char *s = expr_value_to_text(v);
        task_log(c, level, "%s", s);
        free(s);
    }
    json_decref(v);
    return TASK_SUCCESS;
}

/* ---- debug.return, debug.echo, output.values ------------------------------ */

/* Characters (code points) of UTF-8 text. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Logs the value at DEBUG and counts its length, with Kestra's metrics
 * `length` (counter) and `duration` (timer, seconds). */
static task_result return_run(task_ctx *c, kerr *e)
{
    int64_t t0 = time_mono_us();
    char *s;
    if (tasks__prop_text(c, "format", NULL, &s, e))
        return TASK_FAILED;
    if (s)
        task_log(c, LEVEL_DEBUG, "%s", s);
    task_metric(c, "length", METRIC_COUNTER, s ? (double)utf8_chars(s) : 0, NULL);
    task_metric(c, "duration", METRIC_TIMER, (double)(time_mono_us() - t0) / 1e6, NULL);
    task_output(c, "value", s ? json_string(s) : json_null());
    free(s);
    return TASK_SUCCESS;
}

static task_result echo_run(task_ctx *c, kerr *e)
{
    store_level level;
    if (prop_level(c, "level", &level, e))
        return TASK_FAILED;
    char *s;
    if (tasks__prop_text(c, "format", NULL, &s, e))
        return TASK_FAILED;
    if (!s) /* nothing to say */
        return TASK_SUCCESS;
    task_log(c, level, "%s", s);
    free(s);
    return TASK_SUCCESS;
}

static task_result output_values_run(task_ctx *c, kerr *e)
{
    json_t *v;
    if (task_prop(c, "values", &v, e))
        return TASK_FAILED;
    if (!v)
        v = json_object();
    if (!json_is_object(v)) {
        json_decref(v);
        kerr_set(e, "property 'values' must be a map of names to values");
        return TASK_FAILED;
    }
    task_output(c, "values", v);
    return TASK_SUCCESS;
}

/* ---- execution.fail, execution.exit ---------------------------------------- */

/* Reads the optional `condition`: *go is 1 when it is absent or truthy. */
static int condition_holds(task_ctx *c, int *go, kerr *e)
{
    *go = 1;
    if (!has_prop(c, "condition"))
        return 0;
    char *s;
    if (tasks__prop_text(c, "condition", NULL, &s, e))
        return -1;
    *go = tasks__truthy(s);
    free(s);
    return 0;
}

static task_result fail_run(task_ctx *c, kerr *e)
{
    int go;
    if (condition_holds(c, &go, e))
        return TASK_FAILED;
    if (!go)
        return TASK_SUCCESS;
    char *msg;
    if (tasks__prop_text(c, "errorMessage", "Task failure", &msg, e))
        return TASK_FAILED;
    kerr_set(e, "%s", *msg ? msg : "Task failure"); /* a failure always says something */
    free(msg);
    return TASK_FAILED;
}

static task_result exit_run(task_ctx *c, kerr *e)
{
    int go;
    if (condition_holds(c, &go, e))
        return TASK_FAILED;
    if (!go)
        return TASK_SUCCESS;
    char *s;
    if (task_prop_string(c, "state", "SUCCESS", &s, e))
        return TASK_FAILED;
    store_state st;
    int ok = 0;
    if (!strcmp(s, "CANCELED")) { /* Kestra's enum spells it so */
        st = STATE_CANCELLED;
        ok = 1;
    } else if (store_state_parse(s, &st) == 0) {
        ok = st == STATE_SUCCESS || st == STATE_WARNING || st == STATE_KILLED ||
             st == STATE_FAILED || st == STATE_CANCELLED;
    }
    if (!ok) {
        kerr_set(e, "property 'state': '%s' is not an exit state "
                    "(SUCCESS, WARNING, KILLED, FAILED, CANCELLED)", s);
        free(s);
        return TASK_FAILED;
    }
    free(s);
    c->exit_state = (int)st;
    task_log(c, LEVEL_INFO, "ending the execution in state %s", store_state_name(st));
    return TASK_SUCCESS;
}

/* ---- execution.assert ------------------------------------------------------ */

/* Renders every condition on its own (one that fails to render counts as
 * failed, as in Kestra), logs each failed one at ERROR, reports the metrics
 * `success` and `failed`, and fails when any failed. */
static task_result assert_run(task_ctx *c, kerr *e)
{
    const json_t *raw = json_object_get(c->task, "conditions");
    if (!raw || json_is_null(raw))
        return fail_required(e, "conditions");
    json_t *list;
    if (json_is_string(raw)) {
        list = json_array();
        json_array_append(list, (json_t *)raw);
    } else if (json_is_array(raw)) {
        list = json_incref((json_t *)raw);
    } else {
        kerr_set(e, "property 'conditions' must be a list of expressions");
        return TASK_FAILED;
    }
    int64_t ok = 0, bad = 0;
    size_t i;
    json_t *cond;
    json_array_foreach(list, i, cond) {
        char *src = json_is_string(cond) ? xstrdup(json_string_value(cond)) : expr_value_to_text(cond);
        kerr re = KERR_INIT;
        json_t *v = c->ops->render(c, cond, NULL, &re);
        if (!v) {
            task_log(c, LEVEL_ERROR, "Assertion `%s` failed, failed to render `%s`", src, re.msg);
            bad++;
        } else {
            char *text = expr_value_to_text(v);
            if (tasks__truthy(json_is_null(v) ? "" : text)) {
                ok++;
            } else {
                task_log(c, LEVEL_ERROR, "Assertion `%s` failed!", src);
                bad++;
            }
            free(text);
            json_decref(v);
        }
        free(src);
    }
    json_decref(list);
    task_metric(c, "success", METRIC_COUNTER, (double)ok, NULL);
    task_metric(c, "failed", METRIC_COUNTER, (double)bad, NULL);
    if (!bad)
        return TASK_SUCCESS;
    char *msg = NULL;
    if (tasks__prop_text(c, "errorMessage", NULL, &msg, e))
        return TASK_FAILED;
    kerr_set(e, "%" PRId64 " assertion%s failed!%s%s", bad, bad > 1 ? "s" : "", msg ? "\n" : "",
             msg ? msg : "");
    free(msg);
    return TASK_FAILED;
}

/* ---- execution.labels ------------------------------------------------------ */

/* A label's value as text: strings as is, maps and lists as compact JSON,
 * other scalars as a template prints them. NULL for null. */
static char *label_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_object(v) || json_is_array(v)) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        return s ? s : xstrdup("");
    }
    return expr_value_to_text(v);
}

/* Checks key and value and sets them in c->labels. */
static int label_set(task_ctx *c, const char *key, const json_t *value, kerr *e)
{
    if (!*key)
        return kerr_set(e, "property 'labels': a label has an empty key");
    if (!strncmp(key, "system.", 7))
        return kerr_set(e, "property 'labels': label '%s' is reserved: system labels are set "
                           "by kite itself", key);
    char *text = label_text(value);
    if (!text)
        return kerr_set(e, "property 'labels': label '%s' has no value", key);
    if (!c->labels)
        c->labels = json_object();
    json_object_set_new(c->labels, key, json_string(text));
    free(text);
    return 0;
}

/* labels already rendered (from a string that held JSON): a map, or a list of
 * {key, value}. */
static int labels_from_value(task_ctx *c, const json_t *v, kerr *e)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val) {
            if (label_set(c, k, val, e))
                return -1;
        }
        return 0;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            const json_t *k = json_object_get(item, "key");
            if (!json_is_string(k))
                return kerr_set(e, "property 'labels': item %zu needs a string 'key'", i + 1);
            if (label_set(c, json_string_value(k), json_object_get(item, "value"), e))
                return -1;
        }
        return 0;
    }
    return kerr_set(e, "property 'labels' must be a map, a list of {key, value}, or a JSON "
                       "string of one");
}

static task_result labels_run(task_ctx *c, kerr *e)
{
    const json_t *raw = json_object_get(c->task, "labels");
    if (!raw || json_is_null(raw))
        return fail_required(e, "labels");
    int rc = 0;
    if (json_is_object(raw)) {
        /* keys are templates too: render each key and each value once */
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)raw, k, val) {
            char *key;
            if (task_render_text(c, k, &key, e)) {
                kerr_prefix(e, "property 'labels': key '%s'", k);
                return TASK_FAILED;
            }
            json_t *rv = c->ops->render(c, val, NULL, e);
            if (!rv) {
                kerr_prefix(e, "property 'labels': label '%s'", key);
                free(key);
                return TASK_FAILED;
            }
            rc = label_set(c, key, rv, e);
            json_decref(rv);
            free(key);
            if (rc)
                return TASK_FAILED;
        }
        return TASK_SUCCESS;
    }
    json_t *v;
    if (task_prop(c, "labels", &v, e))
        return TASK_FAILED;
    if (!v)
        return fail_required(e, "labels");
    if (json_is_string(v)) {
        json_error_t je;
        json_t *parsed = json_loads(json_string_value(v), JSON_DECODE_ANY, &je);
        if (!parsed || !(json_is_object(parsed) || json_is_array(parsed))) {
            kerr_set(e, "property 'labels': '%.60s' is not a JSON map or list of labels",
                     json_string_value(v));
            json_decref(parsed);
            json_decref(v);
            return TASK_FAILED;
        }
        json_decref(v);
        v = parsed;
    }
    rc = labels_from_value(c, v, e);
    json_decref(v);
    return rc ? TASK_FAILED : TASK_SUCCESS;
}

/* ---- flow.sleep ------------------------------------------------------------ */

#define SLEEP_SLICE_US (100 * US_PER_MS)

static task_result sleep_run(task_ctx *c, kerr *e)
{
    if (!has_prop(c, "duration"))
        return fail_required(e, "duration");
    int64_t us;
    if (task_prop_duration(c, "duration", 0, &us, e))
        return TASK_FAILED;
    if (us < 0) {
        kerr_set(e, "property 'duration' must not be negative");
        return TASK_FAILED;
    }
    char d[64];
    duration_format(us, d, sizeof d);
    task_log(c, LEVEL_INFO, "Waiting for %s", d); /* as Kestra, which Fetch tests count */
    int64_t now = time_mono_us();
    int64_t end = us > INT64_MAX - now ? INT64_MAX : now + us; /* no wrap for huge ones */
    for (;;) {
        if (task_cancelled(c))
            return TASK_KILLED;
        int64_t left = end - time_mono_us();
        if (left <= 0)
            return TASK_SUCCESS;
        if (left > SLEEP_SLICE_US)
            left = SLEEP_SLICE_US;
        struct timespec ts = {left / US_PER_SEC, (left % US_PER_SEC) * 1000};
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
    }
}

/* ---- log.fetch ------------------------------------------------------------- */

#define FETCH_PAGE 1000

/* The optional list of task ids (a string is a list of one). *ids is a new
 * array of strings, or NULL when the property is absent. */
static int prop_string_list(task_ctx *c, const char *name, json_t **ids, kerr *e)
{
    json_t *v;
    if (task_prop(c, name, &v, e))
        return -1;
    *ids = NULL;
    if (!v)
        return 0;
    if (json_is_string(v)) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        *ids = a;
        return 0;
    }
    if (!json_is_array(v)) {
        json_decref(v);
        return kerr_set(e, "property '%s' must be a list of task ids", name);
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            json_decref(v);
            return kerr_set(e, "property '%s': item %zu is not a string", name, i + 1);
        }
    }
    *ids = v;
    return 0;
}

static int id_listed(const json_t *ids, const char *id)
{
    if (!id)
        return 0;
    size_t i;
    json_t *item;
    json_array_foreach(ids, i, item) {
        if (!strcmp(json_string_value(item), id))
            return 1;
    }
    return 0;
}

/* One log as one line: "<time> <LEVEL> <task id or -> <message>", with
 * backslashes, newlines and carriage returns of the message escaped so that
 * every log stays on one line. */
static void fetch_write_line(FILE *f, const store_log *l)
{
    char when[64];
    datetime_format(l->at_us, tz_utc(), when, sizeof when);
    fprintf(f, "%s %s %s ", when, store_level_name(l->level), l->task_id ? l->task_id : "-");
    for (const char *p = l->message; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else
            fputc(*p, f);
    }
    fputc('\n', f);
}

/* Checks that execution id belongs to flow ns/flow (the defaults: the
 * current flow), as Kestra locates an execution given by id. */
static int fetch_check_execution(task_ctx *c, const char *id, kerr *e)
{
    char *ns = NULL, *fid = NULL;
    if (tasks__prop_text(c, "namespace", c->namespace, &ns, e) ||
        tasks__prop_text(c, "flowId", c->flow_id, &fid, e)) {
        free(ns);
        return -1;
    }
    store_execution x = {0};
    kerr se = KERR_INIT;
    int rc = store_execution_get(c->store, id, &x, &se);
    if (rc == STORE_NOT_FOUND)
        rc = kerr_set(e, "property 'executionId': no execution '%s'", id);
    else if (rc)
        rc = kerr_set(e, "property 'executionId': %s", se.msg);
    else if (strcmp(x.namespace, ns) || strcmp(x.flow_id, fid))
        rc = kerr_set(e, "property 'executionId': execution '%s' is not an execution of flow "
                         "%s.%s (set namespace and flowId to read another flow's logs)",
                      id, ns, fid);
    store_execution_clear(&x);
    free(ns);
    free(fid);
    return rc ? -1 : 0;
}

static task_result fetch_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *exec_id = NULL, *tmp = NULL, *uri = NULL;
    json_t *ids = NULL;
    FILE *f = NULL;
    store_level min;

    if (tasks__prop_text(c, "executionId", c->execution_id, &exec_id, e) ||
        prop_string_list(c, "tasksId", &ids, e) || prop_level(c, "level", &min, e))
        goto out;
    if (!*exec_id) {
        kerr_set(e, "property 'executionId' is empty");
        goto out;
    }
    if ((!c->execution_id || strcmp(exec_id, c->execution_id)) &&
        fetch_check_execution(c, exec_id, e))
        goto out;
    f = tasks__tmp_file(c, &tmp, e);
    if (!f)
        goto out;

    int64_t count = 0, since = 0;
    for (;;) {
        store_log_query q = {.execution_id = exec_id, .min_level = min, .since_id = since,
                             .limit = FETCH_PAGE};
        store_log *logs = NULL;
        size_t n = 0;
        kerr se = KERR_INIT;
        if (store_log_search(c->store, &q, &logs, &n, NULL, &se)) {
            kerr_set(e, "reading the logs of execution '%s': %s", exec_id, se.msg);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            since = logs[i].id;
            if (ids && !id_listed(ids, logs[i].task_id))
                continue;
            fetch_write_line(f, &logs[i]);
            count++;
        }
        store_logs_free(logs, n);
        if (n < FETCH_PAGE)
            break;
        if (task_cancelled(c)) {
            res = TASK_KILLED;
            goto out;
        }
    }
    int werr = ferror(f);
    if (fclose(f) || werr) {
        f = NULL;
        kerr_set(e, "writing the fetched logs to %s failed", tmp);
        goto out;
    }
    f = NULL;
    if (task_store_file(c, tmp, "logs.txt", &uri, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    task_output(c, "size", json_integer(count));
    task_log(c, LEVEL_DEBUG, "fetched %" PRId64 " logs of execution %s", count, exec_id);
    res = TASK_SUCCESS;
out:
    if (f)
        fclose(f);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(uri);
    free(exec_id);
    json_decref(ids);
    return res;
}

/* ---- trigger.toggle ---------------------------------------------------------- */

/* The flow's document (its JSON, else its YAML source parsed). */
static json_t *flow_doc(const store_flow *f, kerr *e)
{
    if (f->json)
        return json_incref(f->json);
    json_t *doc = NULL;
    if (yaml_load(f->source, strlen(f->source), NULL, &doc, NULL, e))
        return NULL;
    return doc;
}

/* Enables or disables a trigger of a flow: the trigger's row in the store
 * gets `disabled`, which the scheduler reads; a trigger without a row yet
 * gets one. The flow must declare the trigger. */
static task_result toggle_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, *fid = NULL, *trig = NULL;
    int enabled;
    store_flow f = {0};
    store_trigger t = {0};
    json_t *doc = NULL;
    kerr se = KERR_INIT;
    if (tasks__prop_text(c, "namespace", c->namespace, &ns, e) ||
        tasks__prop_text(c, "flowId", c->flow_id, &fid, e) ||
        tasks__prop_text(c, "trigger", NULL, &trig, e) ||
        task_prop_bool(c, "enabled", 0, &enabled, e))
        goto out;
    if (!trig || !*trig) {
        kerr_set(e, "property 'trigger' is required");
        goto out;
    }
    int rc = store_flow_get(c->store, ns, fid, 0, &f, &se);
    if (rc == STORE_NOT_FOUND) {
        kerr_set(e, "property 'flowId': no flow %s.%s", ns, fid);
        goto out;
    }
    if (rc) {
        kerr_set(e, "reading flow %s.%s: %s", ns, fid, se.msg);
        goto out;
    }
    doc = flow_doc(&f, e);
    if (!doc)
        goto out;
    int found = 0;
    size_t i;
    json_t *tr;
    json_array_foreach(json_object_get(doc, "triggers"), i, tr) {
        if (!strcmp(json_string_value(json_object_get(tr, "id")) ?: "", trig))
            found = 1;
    }
    if (!found) {
        kerr_set(e, "property 'trigger': flow %s.%s has no trigger '%s'", ns, fid, trig);
        goto out;
    }
    rc = store_trigger_get(c->store, ns, fid, trig, &t, &se);
    if (rc == STORE_NOT_FOUND) {
        t.namespace = xstrdup(ns);
        t.flow_id = xstrdup(fid);
        t.trigger_id = xstrdup(trig);
    } else if (rc) {
        kerr_set(e, "reading trigger '%s' of %s.%s: %s", trig, ns, fid, se.msg);
        goto out;
    }
    t.disabled = !enabled;
    if (store_trigger_put(c->store, &t, &se)) {
        kerr_set(e, "writing trigger '%s' of %s.%s: %s", trig, ns, fid, se.msg);
        goto out;
    }
    task_log(c, LEVEL_INFO, "%s trigger '%s' of flow %s.%s", enabled ? "enabled" : "disabled",
             trig, ns, fid);
    res = TASK_SUCCESS;
out:
    store_trigger_clear(&t);
    store_flow_clear(&f);
    json_decref(doc);
    free(ns);
    free(fid);
    free(trig);
    return res;
}

/* ---- templating.templated_task ---------------------------------------------- */

static const struct task_hooks templated_hooks; /* it may not run itself */

/* Renders `spec` (a YAML template of a task), then runs the runnable task it
 * describes in this task's place: same context, same outputs. The inner
 * task's properties are rendered once more when it reads them, as in
 * Kestra. */
static task_result templated_run(task_ctx *c, kerr *e)
{
    char *spec;
    if (tasks__prop_text(c, "spec", NULL, &spec, e))
        return TASK_FAILED;
    if (!spec) {
        kerr_set(e, "property 'spec' is required");
        return TASK_FAILED;
    }
    json_t *doc = NULL;
    kerr ye = KERR_INIT;
    int rc = yaml_load(spec, strlen(spec), NULL, &doc, NULL, &ye);
    free(spec);
    if (rc) {
        kerr_locate(&ye, NULL);
        kerr_setc(e, KERR_INVALID, "property 'spec': %s", ye.msg);
        return TASK_FAILED;
    }
    task_result res = TASK_FAILED;
    const char *type = json_string_value(json_object_get(doc, "type"));
    const type_def *d = type ? flow_type_find(type) : NULL;
    const struct task_hooks *h = d ? d->hooks : NULL;
    if (!json_is_object(doc) || !type) {
        kerr_set(e, "property 'spec' must render to a task: a map with a 'type'");
    } else if (!d) {
        const char *hint = flow_type_suggest(type, TK_RUNNABLE);
        kerr_set(e, "property 'spec': unknown task type '%s'%s%s%s", type,
                 hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    } else if (d->kind != TK_RUNNABLE || !h || h == &templated_hooks) {
        kerr_set(e, "property 'spec': '%s' is not a runnable task kite can run here", type);
    } else {
        const json_t *outer = c->task;
        const type_def *outer_def = c->def;
        c->task = doc;
        c->def = d;
        res = h->run(c, e);
        c->task = outer;
        c->def = outer_def;
    }
    json_decref(doc);
    return res;
}


/* ---- execution.set_variables, execution.unset_variables --------------------- */

/* The execution's current `vars` (a new reference, an object). */
static json_t *current_vars(task_ctx *c, kerr *e)
{
    json_t *t = json_string("{{ vars }}");
    json_t *v = c->ops->render(c, t, NULL, e);
    json_decref(t);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = json_object();
    }
    return v;
}

/* The rendered map is deep-merged into the execution's variables by the
 * executor (c->set_variables), as Kestra's SetVariables; with overwrite
 * false, a name that exists already fails the task. */
static task_result set_variables_run(task_ctx *c, kerr *e)
{
    json_t *v;
    if (task_prop(c, "variables", &v, e))
        return TASK_FAILED;
    if (!v)
        return fail_required(e, "variables");
    if (!json_is_object(v)) {
        json_decref(v);
        kerr_set(e, "property 'variables' must be a map of names to values");
        return TASK_FAILED;
    }
    int overwrite;
    if (task_prop_bool(c, "overwrite", 1, &overwrite, e)) {
        json_decref(v);
        return TASK_FAILED;
    }
    if (!overwrite) {
        json_t *cur = current_vars(c, e);
        if (!cur) {
            json_decref(v);
            return TASK_FAILED;
        }
        const char *k;
        json_t *val;
        json_object_foreach(v, k, val) {
            if (json_object_get(cur, k)) {
                kerr_set(e, "variable '%s' already exists and overwrite is false", k);
                json_decref(cur);
                json_decref(v);
                return TASK_FAILED;
            }
        }
        json_decref(cur);
    }
    task_log(c, LEVEL_INFO, "setting %zu variable(s)", json_object_size(v));
    json_decref(c->set_variables);
    c->set_variables = v;
    return TASK_SUCCESS;
}

static task_result unset_variables_run(task_ctx *c, kerr *e)
{
    json_t *names;
    if (prop_string_list(c, "variables", &names, e))
        return TASK_FAILED;
    if (!names)
        return fail_required(e, "variables");
    int ignore;
    if (task_prop_bool(c, "ignoreMissing", 0, &ignore, e)) {
        json_decref(names);
        return TASK_FAILED;
    }
    if (!ignore) {
        json_t *cur = current_vars(c, e);
        if (!cur) {
            json_decref(names);
            return TASK_FAILED;
        }
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n) {
            if (!json_object_get(cur, json_string_value(n))) {
                kerr_set(e, "variable '%s' does not exist (set ignoreMissing to true to allow it)",
                         json_string_value(n));
                json_decref(cur);
                json_decref(names);
                return TASK_FAILED;
            }
        }
        json_decref(cur);
    }
    task_log(c, LEVEL_INFO, "removing %zu variable(s)", json_array_size(names));
    json_decref(c->unset_variables);
    c->unset_variables = names;
    return TASK_SUCCESS;
}

/* ---- execution.kill, execution.resume ------------------------------------------ */

/* Reads execution id (not ended unless may_end) into *x; 1 when it has
 * ended already. */
static int other_execution(task_ctx *c, const char *id, store_execution *x, kerr *e)
{
    kerr se = KERR_INIT;
    int rc = store_execution_get(c->store, id, x, &se);
    if (rc == STORE_NOT_FOUND)
        return kerr_set(e, "property 'executionId': no execution '%s'", id);
    if (rc)
        return kerr_set(e, "property 'executionId': reading execution '%s': %s", id, se.msg);
    return 0;
}

/* An event for the executor of execution id (the store's queue, as the
 * API's kill and resume push it). */
static int push_event(task_ctx *c, const char *id, json_t *payload, kerr *e)
{
    kerr se = KERR_INIT;
    int rc = store_queue_push(c->store, "event", id, NULL, payload, 0, NULL, &se);
    json_decref(payload);
    if (rc)
        return kerr_set(e, "sending the event to execution '%s': %s", id, se.msg);
    store_queue_notify(c->store, "event");
    return 0;
}

/* The current execution ends KILLED as with Exit (its running tasks and
 * subflow executions are killed); another one is sent a kill, as the API
 * does, and with propagateKill false its subflow executions keep running. */
static task_result kill_run(task_ctx *c, kerr *e)
{
    char *id = NULL;
    int propagate;
    if (tasks__prop_text(c, "executionId", c->execution_id, &id, e) ||
        task_prop_bool(c, "propagateKill", 1, &propagate, e)) {
        free(id);
        return TASK_FAILED;
    }
    if (!*id || (c->execution_id && !strcmp(id, c->execution_id))) {
        free(id);
        c->exit_state = STATE_KILLED;
        task_log(c, LEVEL_INFO, "killing the current execution");
        return TASK_SUCCESS;
    }
    store_execution x = {0};
    task_result res = TASK_FAILED;
    if (other_execution(c, id, &x, e))
        goto out;
    if (store_state_is_terminated(x.state)) {
        task_log(c, LEVEL_INFO, "execution %s already ended %s: nothing to kill", id, store_state_name(x.state));
        res = TASK_SUCCESS;
        goto out;
    }
    if (push_event(c, id, json_pack("{s:s,s:b}", "type", "kill", "propagate", propagate), e))
        goto out;
    task_log(c, LEVEL_INFO, "killing execution %s (%s.%s)%s", id, x.namespace, x.flow_id,
             propagate ? "" : ", not its subflow executions");
    res = TASK_SUCCESS;
out:
    store_execution_clear(&x);
    free(id);
    return res;
}

/* Resumes a PAUSED execution (by default the current one, paused in another
 * branch), with the onResume inputs; namespace and flowId, when given, must
 * be the execution's. */
static task_result resume_run(task_ctx *c, kerr *e)
{
    char *id = NULL, *ns = NULL, *fid = NULL;
    json_t *inputs = NULL;
    store_execution x = {0};
    task_result res = TASK_FAILED;
    if (tasks__prop_text(c, "executionId", c->execution_id, &id, e) ||
        tasks__prop_text(c, "namespace", NULL, &ns, e) || tasks__prop_text(c, "flowId", NULL, &fid, e) ||
        task_prop(c, "inputs", &inputs, e))
        goto out;
    if (inputs && !json_is_object(inputs)) {
        kerr_set(e, "property 'inputs' must be a map of input names to values");
        goto out;
    }
    if (other_execution(c, id, &x, e))
        goto out;
    if ((ns && *ns && strcmp(ns, x.namespace)) || (fid && *fid && strcmp(fid, x.flow_id))) {
        kerr_set(e, "property 'executionId': execution '%s' is an execution of %s.%s, not of %s.%s", id,
                 x.namespace, x.flow_id, ns && *ns ? ns : x.namespace, fid && *fid ? fid : x.flow_id);
        goto out;
    }
    if (x.state != STATE_PAUSED && !(c->execution_id && !strcmp(id, c->execution_id))) {
        kerr_set(e, "execution %s is %s, not PAUSED: nothing to resume", id, store_state_name(x.state));
        goto out;
    }
    if (push_event(c, id, json_pack("{s:s,s:O?}", "type", "resume", "inputs", inputs), e))
        goto out;
    task_log(c, LEVEL_INFO, "resuming execution %s", id);
    res = TASK_SUCCESS;
out:
    store_execution_clear(&x);
    json_decref(inputs);
    free(id);
    free(ns);
    free(fid);
    return res;
}

/* ---- execution.count ---------------------------------------------------------------- */

/* A date property as microseconds; *us 0 when absent. */
static int prop_date(task_ctx *c, const char *name, int64_t *us, kerr *e)
{
    char *s;
    *us = 0;
    if (tasks__prop_text(c, name, NULL, &s, e))
        return -1;
    if (!s || !*s) {
        free(s);
        return 0;
    }
    kerr de = KERR_INIT;
    int rc = datetime_parse(s, tz_utc(), us, NULL, &de);
    if (rc)
        kerr_set(e, "property '%s': '%s' is not a date: %s", name, s, de.msg);
    free(s);
    return rc ? -1 : 0;
}

/* The states property as a set of STORE_STATE_BIT; 0 when absent. */
static int prop_states(task_ctx *c, unsigned *bits, kerr *e)
{
    json_t *v;
    *bits = 0;
    if (prop_string_list(c, "states", &v, e))
        return -1;
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        store_state st;
        const char *n = json_string_value(it);
        if (!strcmp(n, "CANCELED"))
            st = STATE_CANCELLED;
        else if (store_state_parse(n, &st)) {
            kerr_set(e, "property 'states': '%s' is not a state", n);
            json_decref(v);
            return -1;
        }
        *bits |= STORE_STATE_BIT(st);
    }
    json_decref(v);
    return 0;
}

/* ns.flow -> count, for the executions started in [from, to). */
static int count_into(task_ctx *c, const char *ns_prefix, const char *ns, const char *fid, unsigned states,
                      int64_t from, int64_t to, json_t *counts, kerr *e)
{
    store_execution_query q = {.ns_prefix = ns_prefix, .namespace = ns, .flow_id = fid, .states = states};
    store_execution *v = NULL;
    size_t n = 0;
    kerr se = KERR_INIT;
    if (store_execution_search(c->store, &q, &v, &n, NULL, &se))
        return kerr_set(e, "counting executions: %s", se.msg);
    for (size_t i = 0; i < n; i++) {
        int64_t at = v[i].start_us ? v[i].start_us : v[i].created_us;
        if (at < from || (to && at >= to))
            continue;
        char *key = xasprintf("%s\n%s", v[i].namespace, v[i].flow_id);
        json_t *cur = json_object_get(counts, key);
        json_object_set_new(counts, key, json_integer(json_integer_value(cur) + 1));
        free(key);
    }
    store_executions_free(v, n);
    return 0;
}

/* Counts the executions of the flows given (flows, or every flow of
 * namespaces, or every flow) started since startDate (and before endDate),
 * and keeps the flows whose count passes expression ({{ count >= 1 }}):
 * output `results` [{namespace, flowId, count}] and `total`, as Kestra. */
static task_result count_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    json_t *nss = NULL, *flows = NULL, *counts = json_object(), *results = json_array();
    char *expr = NULL;
    int64_t from, to;
    unsigned states;
    if (prop_string_list(c, "namespaces", &nss, e) || task_prop(c, "flows", &flows, e) ||
        prop_states(c, &states, e) || prop_date(c, "startDate", &from, e) || prop_date(c, "endDate", &to, e))
        goto out;
    const json_t *raw = json_object_get(c->task, "expression");
    if (!json_is_string(raw)) {
        fail_required(e, "expression");
        goto out;
    }
    expr = xstrdup(json_string_value(raw)); /* rendered per flow, with `count` */
    if (flows && !json_is_array(flows)) {
        kerr_set(e, "property 'flows' must be a list of {namespace, flowId}");
        goto out;
    }
    size_t i;
    json_t *it;
    if (json_array_size(flows)) {
        json_array_foreach(flows, i, it) {
            const char *ns = json_string_value(json_object_get(it, "namespace"));
            const char *fid = json_string_value(json_object_get(it, "flowId"));
            if (!ns || !fid) {
                kerr_set(e, "property 'flows': item %zu needs a namespace and a flowId", i + 1);
                goto out;
            }
            char *key = xasprintf("%s\n%s", ns, fid);
            json_object_set_new(counts, key, json_integer(0));
            free(key);
            if (count_into(c, NULL, ns, fid, states, from, to, counts, e))
                goto out;
        }
    } else if (json_array_size(nss)) {
        json_array_foreach(nss, i, it) {
            if (count_into(c, json_string_value(it), NULL, NULL, states, from, to, counts, e))
                goto out;
        }
    } else if (count_into(c, NULL, NULL, NULL, states, from, to, counts, e)) {
        goto out;
    }
    json_int_t total = 0;
    const char *key;
    json_t *cv;
    json_object_foreach(counts, key, cv) {
        json_t *ctx = json_pack("{s:O}", "count", cv);
        char *out = NULL;
        kerr re = KERR_INIT;
        int rc = expr_render_string(expr, ctx, NULL, &out, &re);
        json_decref(ctx);
        if (rc) {
            kerr_set(e, "property 'expression': %s", re.msg);
            goto out;
        }
        int keep = tasks__truthy(out);
        free(out);
        if (!keep)
            continue;
        const char *nl = strchr(key, '\n');
        json_array_append_new(results, json_pack("{s:s%,s:s,s:O}", "namespace", key, (size_t)(nl - key),
                                                 "flowId", nl + 1, "count", cv));
        total += json_integer_value(cv);
    }
    task_log(c, LEVEL_INFO, "%zu flow(s) match, %" PRId64 " execution(s)", json_array_size(results), (int64_t)total);
    task_output(c, "results", results);
    results = NULL;
    task_output(c, "total", json_integer(total));
    res = TASK_SUCCESS;
out:
    json_decref(nss);
    json_decref(flows);
    json_decref(counts);
    json_decref(results);
    free(expr);
    return res;
}

/* ---- execution.purge_executions ------------------------------------------------------ */

/* Deletes the ended executions of a namespace/flow (default all) that
 * ended before endDate (and after startDate), in the states given, with
 * their task runs, logs, metrics (store_execution_delete) and files
 * (purgeStorage). Outputs `executionsCount`, as Kestra. purgeExecution
 * false keeps the rows and deletes only their files. */
static task_result purge_executions_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, *fid = NULL;
    int64_t from, to;
    unsigned states;
    int p_exec, p_log, p_metric, p_storage;
    store_execution *v = NULL;
    size_t n = 0;
    if (tasks__prop_text(c, "namespace", NULL, &ns, e) || tasks__prop_text(c, "flowId", NULL, &fid, e) ||
        prop_date(c, "startDate", &from, e) || prop_date(c, "endDate", &to, e) || prop_states(c, &states, e) ||
        task_prop_bool(c, "purgeExecution", 1, &p_exec, e) || task_prop_bool(c, "purgeLog", 1, &p_log, e) ||
        task_prop_bool(c, "purgeMetric", 1, &p_metric, e) || task_prop_bool(c, "purgeStorage", 1, &p_storage, e))
        goto out;
    if (!to) {
        fail_required(e, "endDate");
        goto out;
    }
    if (fid && *fid && !(ns && *ns)) {
        kerr_set(e, "property 'flowId' needs 'namespace'");
        goto out;
    }
    store_execution_query q = {.ns_prefix = ns && *ns && !(fid && *fid) ? ns : NULL,
                               .namespace = ns && *ns && fid && *fid ? ns : NULL,
                               .flow_id = fid && *fid ? fid : NULL, .states = states};
    kerr se = KERR_INIT;
    if (store_execution_search(c->store, &q, &v, &n, NULL, &se)) {
        kerr_set(e, "listing executions: %s", se.msg);
        goto out;
    }
    if (p_exec && (!p_log || !p_metric))
        task_log(c, LEVEL_WARN, "purgeLog or purgeMetric false: a purged execution's logs and metrics go with it "
                                "in kite's store");
    json_int_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const store_execution *x = &v[i];
        if (!store_state_is_terminated(x->state) || (c->execution_id && !strcmp(x->id, c->execution_id)))
            continue;
        int64_t end = x->end_us ? x->end_us : x->created_us;
        if (end >= to || (from && end < from))
            continue;
        if (p_storage) {
            kerr pe = KERR_INIT;
            char *prefix = storage_uri_execution(x->namespace, x->flow_id, x->id, &pe);
            if (prefix && storage_delete_prefix(c->storage, prefix, &pe) < 0)
                task_log(c, LEVEL_WARN, "files of execution %s: %s", x->id, pe.msg);
            free(prefix);
        }
        if (p_exec) {
            kerr de = KERR_INIT;
            if (store_execution_delete(c->store, x->id, &de) && de.code != KERR_NOT_FOUND) {
                kerr_set(e, "deleting execution %s: %s", x->id, de.msg);
                goto out;
            }
        }
        count++;
        if (task_cancelled(c)) {
            res = TASK_KILLED;
            goto out;
        }
    }
    task_log(c, LEVEL_INFO, "purged %" PRId64 " execution(s)", (int64_t)count);
    task_output(c, "executionsCount", json_integer(count));
    res = TASK_SUCCESS;
out:
    store_executions_free(v, n);
    free(ns);
    free(fid);
    return res;
}

/* ---- log.purge_logs, flow.purge_flows ----------------------------------------------- */

/* Deletes the logs written before endDate (and after startDate) of the
 * executions of namespace (and its children), flowId, or executionId, of
 * the logLevels given. Output `count`, as Kestra. In kite every log belongs
 * to an execution, so purgeNonExecutionLogs has nothing to purge. */
static task_result purge_logs_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, *fid = NULL, *xid = NULL;
    json_t *levels = NULL;
    int p_exec;
    store_log_purge q = {0};
    if (tasks__prop_text(c, "namespace", NULL, &ns, e) || tasks__prop_text(c, "flowId", NULL, &fid, e) ||
        tasks__prop_text(c, "executionId", NULL, &xid, e) || prop_string_list(c, "logLevels", &levels, e) ||
        prop_date(c, "startDate", &q.after_us, e) || prop_date(c, "endDate", &q.before_us, e) ||
        task_prop_bool(c, "purgeExecutionLogs", 1, &p_exec, e))
        goto out;
    if (!q.before_us) {
        fail_required(e, "endDate");
        goto out;
    }
    size_t i;
    json_t *it;
    json_array_foreach(levels, i, it) {
        store_level lv;
        if (store_level_parse(json_string_value(it), &lv)) {
            kerr_set(e, "property 'logLevels': '%s' is not a level", json_string_value(it));
            goto out;
        }
        q.levels |= 1u << lv;
    }
    q.ns_prefix = ns && *ns ? ns : NULL;
    q.flow_id = fid && *fid ? fid : NULL;
    q.execution_id = xid && *xid ? xid : NULL;
    size_t n = 0;
    if (p_exec) {
        kerr se = KERR_INIT;
        if (store_log_purge_run(c->store, &q, &n, &se)) {
            kerr_set(e, "purging logs: %s", se.msg);
            goto out;
        }
    }
    task_log(c, LEVEL_INFO, "purged %zu log(s)", n);
    task_output(c, "count", json_integer((json_int_t)n));
    res = TASK_SUCCESS;
out:
    free(ns);
    free(fid);
    free(xid);
    json_decref(levels);
    return res;
}

/* Deletes old revisions of the flows of the namespaces in scope whose id
 * matches flowPattern (a glob), as behavior {type: version, keepAmount,
 * before} says: by default all but the latest. The latest revision always
 * stays. Output `count` (revisions deleted). */
static task_result purge_flows_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    json_t *nss = NULL;
    char *pattern = NULL;
    tasks__purge_behavior b;
    if (tasks__purge_namespaces(c, PA_FLOW_DELETE, &nss, e) || tasks__prop_text(c, "flowPattern", NULL, &pattern, e) ||
        tasks__purge_behavior_read(c, "version", &b, e))
        goto out;
    if (strcmp(b.type, "version")) {
        kerr_set(e, "property 'behavior': PurgeFlows purges versions (type: version)");
        goto out;
    }
    size_t total = 0, i;
    json_t *it;
    json_array_foreach(nss, i, it) {
        store_flow_query q = {.ns_prefix = json_string_value(it)};
        store_flow *fl = NULL;
        size_t nf = 0;
        kerr se = KERR_INIT;
        if (store_flow_search(c->store, &q, &fl, &nf, NULL, &se)) {
            kerr_set(e, "listing the flows of %s: %s", json_string_value(it), se.msg);
            goto out;
        }
        for (size_t k = 0; k < nf; k++) {
            if (strcmp(fl[k].namespace, json_string_value(it)) ||
                (pattern && *pattern && !proc_glob_match(pattern, fl[k].id)))
                continue;
            size_t n = 0;
            if (store_flow_purge(c->store, fl[k].namespace, fl[k].id, (int)b.keep, b.before_us, &n, &se)) {
                kerr_set(e, "purging flow %s.%s: %s", fl[k].namespace, fl[k].id, se.msg);
                store_flows_free(fl, nf);
                goto out;
            }
            total += n;
        }
        store_flows_free(fl, nf);
    }
    task_log(c, LEVEL_INFO, "purged %zu flow revision(s)", total);
    task_output(c, "count", json_integer((json_int_t)total));
    res = TASK_SUCCESS;
out:
    json_decref(nss);
    free(pattern);
    return res;
}

/* ---- the table ------------------------------------------------------------- */

static const struct task_hooks log_hooks = {.run = log_run};
static const struct task_hooks return_hooks = {.run = return_run};
static const struct task_hooks echo_hooks = {.run = echo_run};
static const struct task_hooks output_values_hooks = {.run = output_values_run};
static const struct task_hooks fail_hooks = {.run = fail_run};
static const struct task_hooks exit_hooks = {.run = exit_run};
static const struct task_hooks labels_hooks = {.run = labels_run};
static const struct task_hooks assert_hooks = {.run = assert_run};
static const struct task_hooks toggle_hooks = {.run = toggle_run};
static const struct task_hooks templated_hooks = {.run = templated_run};
static const struct task_hooks sleep_hooks = {.run = sleep_run};
static const struct task_hooks fetch_hooks = {.run = fetch_run};
static const struct task_hooks set_variables_hooks = {.run = set_variables_run};
static const struct task_hooks unset_variables_hooks = {.run = unset_variables_run};
static const struct task_hooks kill_hooks = {.run = kill_run};
static const struct task_hooks resume_hooks = {.run = resume_run};
static const struct task_hooks count_hooks = {.run = count_run};
static const struct task_hooks purge_executions_hooks = {.run = purge_executions_run};
static const struct task_hooks purge_logs_hooks = {.run = purge_logs_run};
static const struct task_hooks purge_flows_hooks = {.run = purge_flows_run};

/* ---- the family's types ---- */

const type_def tasks__core[] = {
    /* ---- log ---- */
    {
        .name = "log",
        .hooks = &log_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.log.Log", "io.kestra.core.tasks.log.Log"),
        .desc = "Log a message (or a list of messages) at a level.",
        .props = PROPS(PSTRL("message", PF_REQUIRED, NULL, "the message, or a list of them"),
                       PENUM("level", 0, "\"INFO\"", tasks__log_levels, "the log level")),
    },
    {
        .name = "log.fetch",
        .hooks = &fetch_hooks,
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
        .hooks = &purge_logs_hooks,
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
        .hooks = &return_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.debug.Return",
                           "io.kestra.core.tasks.debugs.Return"),
        .desc = "Render a template and return it as the output `value`.",
        .props = PROPS(PSTR("format", 0, NULL, "the template to render")),
    },
    {
        .name = "debug.echo",
        .hooks = &echo_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.debug.Echo",
                           "io.kestra.core.tasks.debugs.Echo"),
        .flags = TF_DEPRECATED,
        .desc = "Log a rendered template (deprecated: use log).",
        .props = PROPS(PSTR("format", 0, NULL, "the template to render and log"),
                       PENUM("level", 0, "\"INFO\"", tasks__log_levels, "the log level")),
    },
    {
        .name = "output.values",
        .hooks = &output_values_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.output.OutputValues"),
        .desc = "Output rendered values, for later tasks to use.",
        .props = PROPS(PMAP("values", 0, NULL, &tasks__item_any, "the values, by name")),
    },

    /* ---- execution ---- */
    {
        .name = "execution.fail",
        .hooks = &fail_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.execution.Fail",
                           "io.kestra.core.tasks.executions.Fail"),
        .desc = "Fail the execution, always or when a condition is true.",
        .props = PROPS(PSTR("condition", 0, NULL, "fail only when this expression is truthy"),
                       PSTR("errorMessage", 0, "\"Task failure\"", "the error message")),
    },
    {
        .name = "execution.exit",
        .hooks = &exit_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.execution.Exit"),
        .desc = "End the execution now, in a given state (KILLED also kills running tasks).",
        .props = PROPS(PENUM("state", 0, "\"SUCCESS\"",
                             ENUMS("SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED"),
                             "the execution's final state")),
    },
    {
        .name = "execution.labels",
        .hooks = &labels_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.execution.Labels",
                           "io.kestra.core.tasks.executions.Labels"),
        .desc = "Add or update labels of the current execution.",
        .props = PROPS(PANY("labels", PF_REQUIRED, NULL,
                            "the labels: a map, a list of key/value, or a JSON string")),
    },
    {
        .name = "execution.count",
        .hooks = &count_hooks,
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
        .hooks = &purge_executions_hooks,
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
        .hooks = &resume_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.execution.Resume"),
                .desc = "Resume a paused execution.",
        .props = PROPS(PSTR("namespace", 0, NULL, "namespace of the execution's flow"),
                       PSTR("flowId", 0, NULL, "id of the execution's flow"),
                       PSTR("executionId", 0, "\"{{ execution.id }}\"", "the execution"),
                       PMAP("inputs", 0, NULL, &tasks__item_any, "onResume inputs")),
    },
    {
        .name = "execution.set_variables",
        .hooks = &set_variables_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.execution.SetVariables"),
                .desc = "Set variables of the current execution.",
        .props = PROPS(PMAP("variables", PF_REQUIRED, NULL, &tasks__item_any, "the variables"),
                       PBOOL("overwrite", 0, "true", "replace variables that already exist")),
    },
    {
        .name = "execution.unset_variables",
        .hooks = &unset_variables_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.execution.UnsetVariables"),
                .desc = "Remove variables of the current execution.",
        .props = PROPS(PSTRL("variables", PF_REQUIRED, NULL, "names of the variables"),
                       PBOOL("ignoreMissing", 0, "false", "no error for a missing variable")),
    },
    {
        .name = "execution.assert",
        .hooks = &assert_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.execution.Assert"),
        .desc = "Fail unless every condition is truthy.",
        .props = PROPS(PSTRL("conditions", PF_REQUIRED, NULL, "expressions that must be true"),
                       PSTR("errorMessage", 0, NULL, "message when one is false")),
    },
    {
        .name = "execution.kill",
        .hooks = &kill_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.execution.Kill"),
                .desc = "Kill the current execution, or another one.",
        .props = PROPS(PSTR("executionId", 0, "\"{{ execution.id }}\"", "the execution to kill"),
                       PBOOL("propagateKill", 0, "true", "also kill its subflow executions")),
    },

    /* ---- flow: the runnable ones ---- */
    {
        .name = "flow.sleep",
        .hooks = &sleep_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.flow.Sleep"),
        .kind = TK_RUNNABLE,
        .desc = "Wait for a duration.",
        .props = PROPS(PDUR("duration", PF_REQUIRED, NULL, "how long to wait")),
    },
    {
        .name = "flow.purge_flows",
        .hooks = &purge_flows_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.flow.PurgeFlows"),
        .desc = "Delete old revisions of flows (the latest is always kept).",
        .props = PROPS(PSTR("flowPattern", 0, NULL, "only flows whose id matches this glob"),
                       P_PURGE_SCOPE("revisions")),
    },

    /* ---- templating ---- */
    {
        .name = "templating.templated_task",
        .hooks = &templated_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.templating.TemplatedTask",
                           "io.kestra.core.tasks.templating.TemplatedTask"),
        .desc = "Render a YAML task definition, then run the task it describes.",
        .props = PROPS(PSTR("spec", PF_REQUIRED, NULL, "the task, as a YAML template")),
    },

    /* ---- trigger toggle (a task, despite its package) ---- */
    {
        .name = "trigger.toggle",
        .hooks = &toggle_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.trigger.Toggle",
                           "io.kestra.core.tasks.trigger.Toggle"),
        .desc = "Enable or disable a trigger of a flow (a task, not a trigger).",
        .props = PROPS(PSTR("namespace", 0, "\"{{ flow.namespace }}\"", "the flow's namespace"),
                       PSTR("flowId", 0, "\"{{ flow.id }}\"", "the flow's id"),
                       PSTR("trigger", PF_REQUIRED, NULL, "the trigger's id"),
                       PBOOL("enabled", 0, "false", "enable (true) or disable (false)")),
    },
};

const size_t tasks__core_count = sizeof tasks__core / sizeof tasks__core[0];
