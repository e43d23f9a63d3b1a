/*
 * test_executor.c: the executor's step function, table-style.
 *
 * Each case in tests/executor/ (files ending in .cases) is a flow and a list of events; after
 * each event the test compares the execution with the expected line:
 *
 *   === sequential tasks run one after the other
 *   --- flow
 *   id: f
 *   ...
 *   --- start
 *   RUNNING | a RUNNING | task a
 *   --- result a SUCCESS {"value": 1}
 *   SUCCESS | a SUCCESS | -
 *
 * The expected line is "<execution state> | <runs> | <jobs>": runs in
 * creation order as "task STATE" (with "[value]" inside loops), jobs pushed by
 * that step as "task <id>" or "event <id> <what> +<ms>", "-" for none.
 * Events: start, result TASK STATE [outputs JSON], kill, resume [inputs
 * JSON], timer TASK WHAT (TASK "-" for the execution's own timers), restart,
 * child TASK STATE. The clock starts at a fixed
 * instant and moves 1 ms per event, so every run is deterministic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine_int.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/mem.h"

typedef struct tstep {
    char *event;
    char *expect;
} tstep;

typedef struct tcase {
    char *name;
    char *file;
    char *flow;
    tstep *steps;
    size_t nsteps;
} tcase;

static tcase *cases;
static size_t ncases;
static store *st;
static storage *fs;
static engine *en;
static char dir[128];

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static void load_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[4096];
    tcase *c = NULL;
    buf text = BUF_INIT;
    int in_flow = 0;
    tstep *cur = NULL;
    while (fgets(line, sizeof line, fp)) {
        if (!strncmp(line, "=== ", 4)) {
            if (c && in_flow)
                c->flow = buf_steal(&text);
            cases = xrealloc(cases, (ncases + 1) * sizeof *cases);
            c = &cases[ncases++];
            memset(c, 0, sizeof *c);
            c->name = xstrdup(trim(line + 4));
            c->file = xstrdup(path);
            in_flow = 0;
            cur = NULL;
            continue;
        }
        if (!c || line[0] == '#')
            continue;
        if (!strncmp(line, "--- ", 4)) {
            if (in_flow)
                c->flow = buf_steal(&text);
            in_flow = 0;
            char *ev = trim(line + 4);
            if (!strcmp(ev, "flow")) {
                in_flow = 1;
                buf_reset(&text);
                continue;
            }
            c->steps = xrealloc(c->steps, (c->nsteps + 1) * sizeof *c->steps);
            cur = &c->steps[c->nsteps++];
            cur->event = xstrdup(ev);
            cur->expect = NULL;
            continue;
        }
        if (in_flow) {
            buf_puts(&text, line);
        } else if (cur && !cur->expect && *trim(line)) {
            cur->expect = xstrdup(trim(line));
        }
    }
    if (c && in_flow)
        c->flow = buf_steal(&text);
    buf_free(&text);
    fclose(fp);
}

/* The execution as the expected line shows it. */
static void describe(xexec *x, const xactions *a, buf *out)
{
    buf_reset(out);
    buf_printf(out, "%s | ", store_state_name(x->row.state));
    for (size_t i = 0; i < x->nruns; i++) {
        const xrun *r = &x->runs[i];
        buf_printf(out, "%s%s", i ? ", " : "", r->row.task_id);
        if (r->row.value)
            buf_printf(out, "[%s]", r->row.value);
        buf_printf(out, " %s", store_state_name(r->row.state));
    }
    if (!x->nruns)
        buf_puts(out, "-");
    buf_puts(out, " | ");
    size_t shown = 0;
    for (size_t i = 0; i < a->njobs; i++) {
        const xjob *j = &a->jobs[i];
        int r = xexec_run_by_id(x, j->taskrun_id);
        const char *tid = r >= 0 ? x->runs[r].row.task_id : "?";
        if (shown++)
            buf_puts(out, ", ");
        if (!strcmp(j->kind, "task")) {
            buf_printf(out, "task %s", tid);
            if (j->available_us)
                buf_printf(out, " +%lldms", (long long)((j->available_us - x->row.created_us) / 1000));
        } else {
            buf_printf(out, "event %s %s", tid, json_string_value(json_object_get(j->payload, "what")));
        }
    }
    if (a->subflows) {
        size_t k;
        json_t *sf;
        json_array_foreach(a->subflows, k, sf) {
            if (shown++)
                buf_puts(out, ", ");
            buf_printf(out, "subflow %s.%s", json_string_value(json_object_get(sf, "namespace")),
                       json_string_value(json_object_get(sf, "flowId")));
        }
    }
    if (!shown)
        buf_puts(out, "-");
}

static int run_case(const tcase *c, char *why, size_t whysz)
{
    diags d = DIAGS_INIT;
    flow *f;
    if (flow_load_text(c->flow, strlen(c->flow), c->name, &f, &d)) {
        snprintf(why, whysz, "flow does not load: %s", d.n ? d.v[0].msg : "?");
        diags_free(&d);
        return -1;
    }
    kerr e = KERR_INIT;
    eflow *fl = eflow_new(f, 1, &e);
    xexec *x = xexec_new(fl);
    char id[STORE_ID_LEN + 1];
    store_new_id(id);
    int64_t now = 1700000000000000LL;
    x->row.id = xstrdup(id);
    x->row.namespace = xstrdup(f->namespace);
    x->row.flow_id = xstrdup(f->id);
    x->row.flow_revision = 1;
    x->row.inputs = json_object();
    x->row.labels = json_object();
    x->row.created_us = now;
    store_execution_set_state(&x->row, STATE_CREATED, now);
    int rc = 0;
    buf got = BUF_INIT;
    for (size_t i = 0; i < c->nsteps && !rc; i++) {
        now += 1000;
        char ev_text[1024];
        snprintf(ev_text, sizeof ev_text, "%s", c->steps[i].event);
        char *args = strchr(ev_text, ' ');
        if (args)
            *args++ = '\0';
        xevent ev = {XEV_START, NULL, NULL};
        json_t *data = json_object();
        if (!strcmp(ev_text, "start")) {
            ev.type = XEV_START;
        } else if (!strcmp(ev_text, "result") || !strcmp(ev_text, "child") || !strcmp(ev_text, "timer")) {
            char task[256] = "", state[64] = "";
            int consumed = 0;
            sscanf(args ? args : "", "%255s %63s %n", task, state, &consumed);
            /* the newest run of that task (or task[value]) */
            int r = -1;
            char *br = strchr(task, '[');
            char *val = NULL;
            if (br) {
                *br = '\0';
                val = br + 1;
                val[strlen(val) - 1] = '\0';
            }
            for (size_t k = x->nruns; k > 0 && r < 0; k--)
                if (!strcmp(x->runs[k - 1].row.task_id, task) &&
                    (!val || (x->runs[k - 1].row.value && !strcmp(x->runs[k - 1].row.value, val))))
                    r = (int)(k - 1);
            if (r < 0 && !strcmp(task, "-") && !strcmp(ev_text, "timer")) {
                /* an execution-level timer (a flow retry) */
                ev.type = XEV_TIMER;
                json_object_set_new(data, "what", json_string(state));
            } else if (r < 0) {
                snprintf(why, whysz, "step %zu (%s): no run of task '%s'", i + 1, c->steps[i].event, task);
                rc = -1;
                json_decref(data);
                break;
            }
            if (r < 0) {
                /* handled above */
            } else if ((ev.taskrun_id = x->runs[r].row.id), !strcmp(ev_text, "timer")) {
                ev.type = XEV_TIMER;
                json_object_set_new(data, "what", json_string(state));
            } else {
                ev.type = !strcmp(ev_text, "result") ? XEV_RESULT : XEV_CHILD_END;
                json_object_set_new(data, "state", json_string(state));
                json_object_set_new(data, "attempt", json_integer((json_int_t)x->runs[r].row.n_attempts));
                const char *rest = args ? args + consumed : "";
                if (*rest) {
                    json_error_t je;
                    json_t *o = json_loads(rest, 0, &je);
                    if (o)
                        json_object_set_new(data, "outputs", o);
                }
            }
        } else if (!strcmp(ev_text, "kill")) {
            ev.type = XEV_KILL;
        } else if (!strcmp(ev_text, "resume")) {
            ev.type = XEV_RESUME;
            if (args) {
                json_error_t je;
                json_t *o = json_loads(args, 0, &je);
                if (o)
                    json_object_set_new(data, "inputs", o);
            }
        } else if (!strcmp(ev_text, "restart")) {
            ev.type = XEV_RESTART;
        }
        ev.data = data;
        xactions a;
        xactions_init(&a);
        executor_step(en, x, &ev, now, &a);
        describe(x, &a, &got);
        const char *want = c->steps[i].expect ? c->steps[i].expect : "";
        if (strcmp(buf_str(&got), want)) {
            snprintf(why, whysz, "after step %zu (%s)\n  expected: %s\n  got:      %s", i + 1, c->steps[i].event, want,
                     buf_str(&got));
            rc = -1;
        }
        /* what the engine does after a step: the rows are written */
        for (size_t k = 0; k < x->nruns; k++)
            x->runs[k].fresh = x->runs[k].dirty = 0;
        xactions_clear(&a);
        json_decref(data);
    }
    buf_free(&got);
    xexec_free(x);
    eflow_free(fl);
    return rc;
}

static void one_case(void **state)
{
    const tcase *c = *state;
    char why[4096];
    if (run_case(c, why, sizeof why))
        fail_msg("%s: %s\n  %s", c->file, c->name, why);
}

int main(void)
{
    tasks_register_all();
    snprintf(dir, sizeof dir, "/tmp/kite-test-executor-%d", (int)getpid());
    char url[256], sroot[256];
    snprintf(url, sizeof url, "sqlite:%s/kite.db", dir);
    snprintf(sroot, sizeof sroot, "%s/storage", dir);
    kerr e = KERR_INIT;
    if (mkdir(dir, 0700) || store_open(url, NULL, &st, &e) || !(fs = storage_open_local(sroot, &e))) {
        fprintf(stderr, "test_executor: %s\n", e.msg);
        return 1;
    }
    engine_opts o = {.store = st, .storage = fs, .workers = 1};
    en = engine_new(&o, &e);
    const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
    char cdir[512];
    snprintf(cdir, sizeof cdir, "%s/tests/executor", root);
    DIR *d = opendir(cdir);
    if (!d) {
        fprintf(stderr, "test_executor: no case folder %s\n", cdir);
        return 1;
    }
    struct dirent *de;
    char *names[64];
    size_t nn = 0;
    while ((de = readdir(d)) && nn < 64)
        if (strstr(de->d_name, ".cases"))
            names[nn++] = xasprintf("%s/%s", cdir, de->d_name);
    closedir(d);
    for (size_t i = 0; i < nn; i++) {
        load_file(names[i]);
        free(names[i]);
    }
    struct CMUnitTest *tests = xcalloc(ncases ? ncases : 1, sizeof *tests);
    for (size_t i = 0; i < ncases; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = one_case;
        tests[i].initial_state = &cases[i];
    }
    int rc = _cmocka_run_group_tests("executor", tests, ncases, NULL, NULL);
    engine_free(en);
    storage_free(fs);
    store_free(st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
    return rc;
}
