/*
 * sla.c: a flow's `sla` list, as Kestra's executor applies it.
 *
 *   - MAX_DURATION: a durable timer event (what: "sla") is pushed when the
 *     execution starts, due at its creation plus `duration`; when it fires
 *     and the execution has not ended, the SLA is violated.
 *   - EXECUTION_ASSERTION: `assert` is rendered at every step of an
 *     execution that has not ended; a false value violates the SLA.
 *
 * A violation is logged (WARN "SLA 'id' violated: reason"); its `labels`
 * are added to the execution; with behavior FAIL the execution is stopped
 * and ends FAILED, with CANCEL it ends CANCELLED (what runs is killed,
 * nothing new starts, as for the Exit task), with NONE it goes on. As in
 * Kestra, only the first violation of a step acts; each SLA is reported
 * once per execution (an assertion that fails to render is logged once
 * and ignored). What was reported is kept in the execution's internal
 * variables (`_sla`), so a replayed step after a crash does the same.
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/strutil.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const json_t *sla_list(const step *s)
{
    const json_t *l = json_object_get(s->x->fl->f->doc, "sla");
    return json_is_array(l) && json_array_size(l) ? l : NULL;
}

/* The `_sla` record of the execution: {"<index>": "violated"|"error"}. */
static json_t *sla_seen(step *s, int create)
{
    xexec *x = s->x;
    json_t *seen = x->row.variables ? json_object_get(x->row.variables, "_sla") : NULL;
    if (!seen && create) {
        if (!x->row.variables)
            x->row.variables = json_object();
        seen = json_object();
        json_object_set_new(x->row.variables, "_sla", seen);
    }
    return seen;
}

static int sla_done(step *s, size_t i)
{
    char k[24];
    snprintf(k, sizeof k, "%zu", i);
    return json_object_get(sla_seen(s, 0), k) != NULL;
}

static void sla_mark(step *s, size_t i, const char *what)
{
    char k[24];
    snprintf(k, sizeof k, "%zu", i);
    json_object_set_new(sla_seen(s, 1), k, json_string(what));
    s->x->dirty = 1;
}

/* An SLA's labels, a mapping or a list of {key, value}, onto the execution. */
static void sla_add_labels(step *s, const json_t *labels)
{
    xexec *x = s->x;
    if (!x->row.labels)
        x->row.labels = json_object();
    if (json_is_object(labels)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)labels, k, v) {
            json_object_set(x->row.labels, k, v);
        }
    } else if (json_is_array(labels)) {
        size_t i;
        const json_t *l;
        json_array_foreach(labels, i, l) {
            const char *k = json_string_value(json_object_get(l, "key"));
            json_t *v = json_object_get(l, "value");
            if (k && v)
                json_object_set(x->row.labels, k, v);
        }
    }
    x->dirty = 1;
}

/* SLA i is violated for `reason`: report it once, add its labels, and stop
 * the execution when its behavior says so. Returns 1 when it stopped. */
static int sla_violated(step *s, size_t i, const json_t *sla, const char *reason)
{
    xexec *x = s->x;
    const char *id = json_string_value(json_object_get(sla, "id"));
    const char *beh = json_string_value(json_object_get(sla, "behavior"));
    char msg[1024];
    snprintf(msg, sizeof msg, "SLA '%s' violated: %s", id ? id : "?", reason);
    engine_log_line(s->en, x, -1, 0, LEVEL_WARN, msg);
    sla_mark(s, i, "violated");
    const json_t *labels = json_object_get(sla, "labels");
    if (labels && !json_is_null(labels))
        sla_add_labels(s, labels);
    if (s->killing || !beh || !strcasecmp(beh, "NONE"))
        return 0;
    store_state st = !strcasecmp(beh, "CANCEL") ? STATE_CANCELLED : STATE_FAILED;
    if (st == STATE_FAILED) {
        snprintf(msg, sizeof msg, "Execution failed due to SLA '%s' violated: %s", id ? id : "?", reason);
        engine_log_line(s->en, x, -1, 0, LEVEL_ERROR, msg);
    }
    step_exit(s, st);
    return 1;
}

/* SLA i cannot be evaluated: said once, then left alone. */
static void sla_ignore(step *s, size_t i, const json_t *sla, const char *why)
{
    char msg[KERR_MSG_MAX + 128];
    snprintf(msg, sizeof msg, "Ignoring SLA '%s' because of the error: %s",
             json_string_value(json_object_get(sla, "id")), why);
    engine_log_line(s->en, s->x, -1, 0, LEVEL_ERROR, msg);
    sla_mark(s, i, "error");
}

void sla_arm(step *s)
{
    const json_t *l = sla_list(s);
    if (!l)
        return;
    xexec *x = s->x;
    size_t i;
    const json_t *sla;
    json_array_foreach(l, i, sla) {
        const char *type = json_string_value(json_object_get(sla, "type"));
        if (!type || strcasecmp(type, "MAX_DURATION") || sla_done(s, i))
            continue;
        kerr e = KERR_INIT;
        int64_t d = 0;
        if (step_prop_duration(s, -1, sla, "duration", 0, &d, &e) || d <= 0) {
            sla_ignore(s, i, sla, e.msg[0] ? e.msg : "its duration is not positive");
            continue;
        }
        int64_t from = x->row.created_us ? x->row.created_us : s->now;
        xactions_push(s->a, "event", NULL, json_pack("{s:s,s:s,s:I}", "type", "timer", "what", "sla", "sla", (json_int_t)i),
                      from + d);
    }
}

void sla_expired(step *s, const xevent *ev)
{
    const json_t *l = sla_list(s);
    json_int_t i = json_integer_value(json_object_get(ev->data, "sla"));
    const json_t *sla = l ? json_array_get(l, (size_t)i) : NULL;
    if (!sla || step_ended(s->x->row.state) || s->killing || sla_done(s, (size_t)i))
        return;
    xexec *x = s->x;
    int64_t from = x->row.created_us ? x->row.created_us : s->now;
    char took[64], reason[256];
    duration_format(s->now - from, took, sizeof took);
    const char *want = json_string_value(json_object_get(sla, "duration"));
    snprintf(reason, sizeof reason, "execution duration of %s exceeds the maximum duration of %s.", took,
             want ? want : "its duration");
    sla_violated(s, (size_t)i, sla, reason);
}

void sla_assert(step *s)
{
    const json_t *l = sla_list(s);
    if (!l || s->killing)
        return;
    xexec *x = s->x;
    size_t i;
    const json_t *sla;
    json_array_foreach(l, i, sla) {
        const char *type = json_string_value(json_object_get(sla, "type"));
        const json_t *as = json_object_get(sla, "assert");
        if (!type || strcasecmp(type, "EXECUTION_ASSERTION") || !as || sla_done(s, i))
            continue;
        kerr e = KERR_INIT;
        json_t *v = xexec_render(s->en, x, -1, as, &e);
        if (!v) {
            sla_ignore(s, i, sla, e.msg);
            continue;
        }
        int ok = step_truthy(v);
        json_decref(v);
        if (ok)
            continue;
        char reason[512];
        snprintf(reason, sizeof reason, "assertion is false: %s.", json_is_string(as) ? json_string_value(as) : "assert");
        if (sla_violated(s, i, sla, reason))
            return; /* the first violation that stops the execution acts */
    }
}
