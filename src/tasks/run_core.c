/*
 * run_core.c: the runnable core tasks that mostly talk to their task_ctx:
 * log, debug.return, debug.echo, output.values, execution.fail,
 * execution.exit, execution.assert, execution.labels, flow.sleep,
 * templating.templated_task, and two that reach the store: log.fetch (the
 * logs of an execution into a file) and trigger.toggle. kv.* are in
 * run_kv.c, state.* in run_state.c, storage.* in run_storage.c, namespace
 * files in run_files.c. docs/tasks.md describes each for flow authors.
 *
 * Each task reads its properties through task_prop*() (rendered by the
 * engine) and fails with a message that names the property at fault. Exit and
 * Labels do not act on the execution themselves: they leave what they decided
 * in c->exit_state and c->labels, which the executor applies with the task
 * run's result.
 */
#include "tasks/run_int.h"

#include "expr/expr.h"
#include "flow/flow.h"
#include "util/datetime.h"
#include "util/mem.h"

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
        json_t *v = c->ops->render(c, cond, &re);
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
            json_t *rv = c->ops->render(c, val, e);
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
    const struct task_hooks *h = d ? tasks_hooks(d) : NULL;
    if (!json_is_object(doc) || !type) {
        kerr_set(e, "property 'spec' must render to a task: a map with a 'type'");
    } else if (!d) {
        const char *hint = flow_type_suggest(type, TK_RUNNABLE);
        kerr_set(e, "property 'spec': unknown task type '%s'%s%s%s", type,
                 hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    } else if (d->kind != TK_RUNNABLE || !h || !strcmp(d->name, "templating.templated_task")) {
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

const task_impl tasks__run_core[] = {
    {"log", &log_hooks},
    {"log.fetch", &fetch_hooks},
    {"debug.return", &return_hooks},
    {"debug.echo", &echo_hooks},
    {"output.values", &output_values_hooks},
    {"execution.fail", &fail_hooks},
    {"execution.exit", &exit_hooks},
    {"execution.labels", &labels_hooks},
    {"execution.assert", &assert_hooks},
    {"flow.sleep", &sleep_hooks},
    {"trigger.toggle", &toggle_hooks},
    {"templating.templated_task", &templated_hooks},
};
const size_t tasks__run_core_count = sizeof tasks__run_core / sizeof tasks__run_core[0];
