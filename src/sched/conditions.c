/*
 * conditions.c: evaluating a trigger's `conditions` (the condition types
 * declared in tasks/conditions.c) against a tick, an ending execution or a
 * webhook request.
 *
 * Date conditions (DayWeek, DayWeekInMonth, TimeBetween, DateTimeBetween,
 * Weekend) read their `date` property, `{{ trigger.date }}` by default, and
 * judge it in the offset it was written with, as Kestra does with a
 * ZonedDateTime. Execution conditions read the ending execution. Expression
 * is true unless it renders blank or "false" (Kestra's rule). PublicHoliday
 * and MultipleCondition are refused with a message saying so.
 */
#include "sched/sched_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/schema.h"
#include "util/mem.h"

static const char *const day_names[] = {"SUNDAY",   "MONDAY", "TUESDAY", "WEDNESDAY",
                                        "THURSDAY", "FRIDAY", "SATURDAY"};

static const char *short_type(const char *type)
{
    const char *dot = type ? strrchr(type, '.') : NULL;
    return dot ? dot + 1 : (type ? type : "?");
}

/* Renders a property to text. */
static int render_text(const sched_cond_ctx *c, const char *tmpl, char **out, kerr *e)
{
    return expr_render_string(tmpl, c->vars, c->env, out, e);
}

static int truthy_text(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return n && !(n == 5 && !strncmp(s, "false", 5));
}

/* The condition's date (its `date`, default trigger.date) as an instant and
 * the civil time in the offset it carries. */
static int cond_date(const sched_cond_ctx *c, const json_t *cond, int64_t *us, civil *cv, kerr *e)
{
    const char *tmpl = json_string_value(json_object_get(cond, "date"));
    char *txt = NULL;
    if (render_text(c, tmpl ? tmpl : "{{ trigger.date }}", &txt, e))
        return -1;
    int off = 0;
    int rc = datetime_parse(txt, NULL, us, &off, e);
    if (rc) {
        kerr_prefix(e, "date '%s': ", txt);
        free(txt);
        return -1;
    }
    free(txt);
    int64_t local = *us + (int64_t)off * US_PER_SEC;
    int64_t days = local >= 0 ? local / (86400 * US_PER_SEC) : -((-local - 1) / (86400 * US_PER_SEC)) - 1;
    int64_t rem = local - days * 86400 * US_PER_SEC;
    memset(cv, 0, sizeof *cv);
    civil_from_days(days, &cv->year, &cv->month, &cv->day);
    cv->wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    cv->hour = (int)(rem / (3600 * US_PER_SEC));
    cv->min = (int)(rem / (60 * US_PER_SEC) % 60);
    cv->sec = (int)(rem / US_PER_SEC % 60);
    cv->usec = (int)(rem % US_PER_SEC);
    cv->offset = off;
    return 0;
}

static int day_index(const char *name)
{
    for (int i = 0; i < 7; i++)
        if (name && !strcmp(name, day_names[i]))
            return i;
    return -1;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* "HH:MM[:SS[.fff]][offset]" to seconds of the day in the date's offset;
 * a written offset moves it into the date's. */
static int parse_time_of_day(const char *s, int date_offset, int64_t *sec_out, kerr *e)
{
    int h = 0, m = 0, sec = 0, n = 0;
    if (sscanf(s, "%2d:%2d%n", &h, &m, &n) < 2)
        return kerr_set(e, "'%s' is not a time (HH:MM:SS)", s);
    const char *p = s + n;
    if (*p == ':') {
        int k = 0;
        if (sscanf(p + 1, "%2d%n", &sec, &k) < 1)
            return kerr_set(e, "'%s' is not a time (HH:MM:SS)", s);
        p += 1 + k;
        if (*p == '.')
            for (p++; isdigit((unsigned char)*p); p++)
                ;
    }
    if (h > 23 || m > 59 || sec > 59)
        return kerr_set(e, "'%s' is not a time (HH:MM:SS)", s);
    int64_t v = h * 3600 + m * 60 + sec;
    if (*p) {
        int oh = 0, om = 0;
        if (*p == 'Z' && !p[1]) {
            oh = om = 0;
        } else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2) {
            if (*p == '-') {
                oh = -oh;
                om = -om;
            }
        } else {
            return kerr_set(e, "'%s' is not a time (HH:MM:SS with an optional offset)", s);
        }
        int off = oh * 3600 + om * 60;
        v = ((v - off + date_offset) % 86400 + 86400) % 86400;
    }
    *sec_out = v;
    return 0;
}

static int state_in(const json_t *list, store_state st)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), store_state_name(st)))
            return 1;
    }
    return 0;
}

static int need_exec(const sched_cond_ctx *c, const char *what, kerr *e)
{
    if (c->exec)
        return 0;
    return kerr_set(e, "%s applies to Flow triggers only (there is no execution here)", what);
}

static int labels_have(const json_t *have, const json_t *want)
{
    if (json_is_object(want)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)want, k, v) {
            const json_t *h = json_object_get(have, k);
            char *a = expr_value_to_text(v);
            int ok = h && json_is_string(h) && !strcmp(json_string_value(h), a);
            free(a);
            if (!ok)
                return 0;
        }
        return 1;
    }
    size_t i;
    const json_t *it;
    json_array_foreach(want, i, it) {
        const char *k = json_string_value(json_object_get(it, "key"));
        const json_t *v = json_object_get(it, "value");
        const json_t *h = k ? json_object_get(have, k) : NULL;
        if (!h || !v)
            return 0;
        char *a = expr_value_to_text(v);
        int ok = json_is_string(h) && !strcmp(json_string_value(h), a);
        free(a);
        if (!ok)
            return 0;
    }
    return 1;
}

static int eval_one(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e);

static int eval_list(const json_t *conds, const sched_cond_ctx *c, int any, int *ok, kerr *e)
{
    *ok = any ? 0 : 1;
    if (!conds || json_is_null(conds))
        return 0;
    if (!json_is_array(conds) && !json_is_object(conds))
        return kerr_set(e, "conditions must be a list");
    size_t i = 0;
    const json_t *it;
    const char *k;
    json_t *iter = json_is_object(conds) ? json_object_iter((json_t *)conds) : NULL;
    for (;;) {
        if (json_is_array(conds)) {
            if (i >= json_array_size(conds))
                break;
            it = json_array_get(conds, i);
            k = NULL;
        } else {
            if (!iter)
                break;
            k = json_object_iter_key(iter);
            it = json_object_iter_value(iter);
            iter = json_object_iter_next((json_t *)conds, iter);
        }
        int one = 0;
        if (eval_one(it, c, &one, e)) {
            const char *type = json_string_value(json_object_get(it, "type"));
            if (k)
                kerr_prefix(e, "conditions.%s (%s): ", k, short_type(type));
            else
                kerr_prefix(e, "conditions[%zu] (%s): ", i, short_type(type));
            return -1;
        }
        i++;
        if (any && one) {
            *ok = 1;
            return 0;
        }
        if (!any && !one) {
            *ok = 0;
            return 0;
        }
    }
    return 0;
}

int sched__conditions(const json_t *conds, const sched_cond_ctx *c, int *ok, kerr *e)
{
    return eval_list(conds, c, 0, ok, e);
}

/* ---- one function per condition type ------------------------------------------- */

/* Every evaluator gets the condition's JSON and the context; it sets *ok
 * (0 before it is called) or returns -1 with e set. */
typedef int (*cond_eval_fn)(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e);

static int c_not(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    int any = 0;
    if (eval_list(json_object_get(cond, "conditions"), c, 1, &any, e))
        return -1;
    *ok = !any;
    return 0;
}

static int c_or(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    return eval_list(json_object_get(cond, "conditions"), c, 1, ok, e);
}

static int render_truth(const json_t *cond, const sched_cond_ctx *c, int outputs, int *ok, kerr *e)
{
    const char *ex = json_string_value(json_object_get(cond, "expression"));
    if (!ex)
        return kerr_set(e, "expression is missing");
    json_t *ctx = json_deep_copy(c->vars);
    if (outputs) {
        if (!c->exec->outputs) { /* Kestra: false when the execution has no outputs */
            json_decref(ctx);
            return 0;
        }
        json_object_set(ctx, "outputs", c->exec->outputs);
    }
    char *out = NULL;
    int rc = expr_render_string(ex, ctx, c->env, &out, e);
    json_decref(ctx);
    if (rc)
        return -1;
    *ok = truthy_text(out);
    free(out);
    return 0;
}

static int c_expression(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    return render_truth(cond, c, 0, ok, e);
}

static int c_execution_outputs(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    return render_truth(cond, c, 1, ok, e);
}

static int status_passes(const json_t *cond, const sched_cond_ctx *c)
{
    const json_t *in = json_object_get(cond, "in"), *notin = json_object_get(cond, "notIn");
    if (json_is_array(in) && !state_in(in, c->exec->state))
        return 0;
    if (json_is_array(notin) && state_in(notin, c->exec->state))
        return 0;
    return 1;
}

static int c_execution_status(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    *ok = status_passes(cond, c);
    return 0;
}

static int c_has_retry_attempt(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    if (!status_passes(cond, c))
        return 0;
    store_task_run *runs = NULL;
    size_t nr = 0;
    int retried = 0;
    if (c->st && !store_task_run_list(c->st, c->exec->id, &runs, &nr, e))
        for (size_t i = 0; i < nr; i++)
            if (runs[i].n_attempts > 1)
                retried = 1;
    store_task_runs_free(runs, nr);
    *ok = retried;
    return 0;
}

static int c_flow(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    const char *ns = json_string_value(json_object_get(cond, "namespace"));
    const char *fid = json_string_value(json_object_get(cond, "flowId"));
    *ok = ns && fid && !strcmp(ns, c->exec->namespace) && !strcmp(fid, c->exec->flow_id);
    return 0;
}

static int c_namespace(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    const char *ns = json_string_value(json_object_get(cond, "namespace"));
    const char *cmp = json_string_value(json_object_get(cond, "comparison"));
    int prefix = json_is_true(json_object_get(cond, "prefix"));
    const char *have = c->exec->namespace;
    if (!ns)
        return kerr_set(e, "namespace is missing");
    size_t ln = strlen(ns), lh = strlen(have);
    if ((cmp && !strcmp(cmp, "PREFIX")) || (!cmp && prefix))
        *ok = !strncmp(have, ns, ln);
    else if (cmp && !strcmp(cmp, "SUFFIX"))
        *ok = lh >= ln && !strcmp(have + lh - ln, ns);
    else
        *ok = !strcmp(have, ns);
    return 0;
}

static int c_execution_labels(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    const json_t *x = json_object_get(cond, "labels");
    if (!json_is_object(x) && !json_is_array(x))
        return kerr_set(e, "labels must be a map or a list of {key, value}");
    *ok = labels_have(c->exec->labels, x);
    return 0;
}

static int c_weekend(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    int64_t us;
    civil cv;
    if (cond_date(c, cond, &us, &cv, e))
        return -1;
    *ok = cv.wday == 0 || cv.wday == 6;
    return 0;
}

/* The date's weekday is dayOfWeek: 1, 0 when not, -1 on a bad dayOfWeek. */
static int on_day(const json_t *cond, const civil *cv, kerr *e)
{
    const char *dn = json_string_value(json_object_get(cond, "dayOfWeek"));
    int want = day_index(dn);
    if (want < 0)
        return kerr_set(e, "dayOfWeek '%s' is not a day (MONDAY..SUNDAY)", dn ? dn : "");
    return cv->wday == want;
}

static int c_day_week(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    int64_t us;
    civil cv;
    if (cond_date(c, cond, &us, &cv, e))
        return -1;
    int day = on_day(cond, &cv, e);
    if (day < 0)
        return -1;
    *ok = day;
    return 0;
}

static int c_day_week_in_month(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    int64_t us;
    civil cv;
    if (cond_date(c, cond, &us, &cv, e))
        return -1;
    int day = on_day(cond, &cv, e);
    if (day <= 0)
        return day;
    const char *in = json_string_value(json_object_get(cond, "dayInMonth"));
    int nth = (cv.day - 1) / 7 + 1;
    if (!in)
        return kerr_set(e, "dayInMonth is missing");
    if (!strcmp(in, "LAST"))
        *ok = cv.day + 7 > days_in_month(cv.year, cv.month);
    else if (!strcmp(in, "FIRST"))
        *ok = nth == 1;
    else if (!strcmp(in, "SECOND"))
        *ok = nth == 2;
    else if (!strcmp(in, "THIRD"))
        *ok = nth == 3;
    else if (!strcmp(in, "FOURTH"))
        *ok = nth == 4;
    else
        return kerr_set(e, "dayInMonth '%s' is not FIRST, SECOND, THIRD, FOURTH or LAST", in);
    return 0;
}

static int c_time_between(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    int64_t us;
    civil cv;
    if (cond_date(c, cond, &us, &cv, e))
        return -1;
    const char *after = json_string_value(json_object_get(cond, "after"));
    const char *before = json_string_value(json_object_get(cond, "before"));
    int64_t tod = cv.hour * 3600 + cv.min * 60 + cv.sec, a, b;
    if (after && parse_time_of_day(after, cv.offset, &a, e))
        return kerr_prefix(e, "after: "), -1;
    if (before && parse_time_of_day(before, cv.offset, &b, e))
        return kerr_prefix(e, "before: "), -1;
    *ok = !(after && tod < a) && !(before && tod > b);
    return 0;
}

static int c_date_time_between(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    int64_t us;
    civil cv;
    if (cond_date(c, cond, &us, &cv, e))
        return -1;
    const char *after = json_string_value(json_object_get(cond, "after"));
    const char *before = json_string_value(json_object_get(cond, "before"));
    int64_t a, b;
    if (after && datetime_parse(after, NULL, &a, NULL, e))
        return kerr_prefix(e, "after: "), -1;
    if (before && datetime_parse(before, NULL, &b, NULL, e))
        return kerr_prefix(e, "before: "), -1;
    *ok = !(after && us < a) && !(before && us > b);
    return 0;
}

static int c_public_holiday(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    return kerr_set(e, "PublicHoliday is not supported by kite (no holiday calendar built in)");
}

static int c_multiple(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    return kerr_set(e, "MultipleCondition is not supported by kite: use the Flow trigger's preconditions");
}

/* ---- the table -------------------------------------------------------------------- */

/* One entry per condition type of the registry (tasks/conditions.c), by its
 * canonical name. needs_execution: it judges an ending execution, so only a
 * Flow trigger can use it (label: how the error names it, NULL: the type as
 * written). test_sched checks that every declared condition is here. */
static const sched_condition_impl conditions[] = {
    {"condition.not", c_not, 0, NULL},
    {"condition.or", c_or, 0, NULL},
    {"condition.expression", c_expression, 0, NULL},
    {"condition.execution_outputs", c_execution_outputs, 1, "ExecutionOutputs"},
    {"condition.execution_status", c_execution_status, 1, NULL},
    {"condition.has_retry_attempt", c_has_retry_attempt, 1, NULL},
    {"condition.execution_flow", c_flow, 1, NULL},
    {"condition.flow", c_flow, 1, NULL},
    {"condition.execution_namespace", c_namespace, 1, NULL},
    {"condition.flow_namespace", c_namespace, 1, NULL},
    {"condition.execution_labels", c_execution_labels, 1, "ExecutionLabels"},
    {"condition.day_week", c_day_week, 0, NULL},
    {"condition.day_week_in_month", c_day_week_in_month, 0, NULL},
    {"condition.weekend", c_weekend, 0, NULL},
    {"condition.time_between", c_time_between, 0, NULL},
    {"condition.date_time_between", c_date_time_between, 0, NULL},
    {"condition.public_holiday", c_public_holiday, 0, NULL},
    {"condition.multiple", c_multiple, 0, NULL},
};

const sched_condition_impl *sched__condition_find(const char *canonical)
{
    for (size_t i = 0; canonical && i < sizeof conditions / sizeof conditions[0]; i++)
        if (!strcmp(conditions[i].type, canonical))
            return &conditions[i];
    return NULL;
}

static int eval_one(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e)
{
    *ok = 0;
    const char *type = json_string_value(json_object_get(cond, "type"));
    const type_def *d = type ? flow_type_find(type) : NULL;
    if (!d || d->kind != TK_CONDITION)
        return kerr_set(e, "unknown condition type '%s'", type ? type : "(none)");
    const sched_condition_impl *impl = sched__condition_find(d->name);
    if (!impl)
        return kerr_set(e, "condition %s cannot be used here", short_type(type));
    if (impl->needs_execution && need_exec(c, impl->label ? impl->label : short_type(type), e))
        return -1;
    return impl->eval(cond, c, ok, e);
}
