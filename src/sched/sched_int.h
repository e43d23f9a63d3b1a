/*
 * sched_int.h: what the scheduler's files share: the scheduler object, the
 * cached triggers of each flow, the condition evaluator and the transaction
 * that fires one trigger.
 *
 * DESIGN
 * One lock (sched.lock) serialises passes, backfills and webhook look-ups:
 * the cache is rebuilt in a pass and read by the others. Fire times live in
 * memory (sched_trig.next_us) and in the store (the trigger row's next_us),
 * written in the transaction that records the tick, so the in-memory copy is
 * only ever a cache of what is committed.
 */
#ifndef KITE_SCHED_INT_H
#define KITE_SCHED_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "expr/expr.h"
#include "engine/engine.h"
#include "sched/sched.h"

#define SCHED_SYS_NS SCHED_SYS_NAMESPACE
#define SCHED_SYS_FLOW "scheduler"

typedef enum sched_kind { SK_SCHEDULE, SK_FLOW, SK_WEBHOOK, SK_POLL } sched_kind;

struct sched_flow;

/* One trigger of one flow, as the cache holds it. */
typedef struct sched_trig {
    sched_kind kind;
    char *ns, *flow_id, *id;
    int revision;
    const json_t *json;          /* borrowed from the flow's document */
    /* schedules */
    cron_expr *cron;             /* NULL when the cron is bad (error kept) or for dates */
    int64_t *dates;              /* ScheduleOnDates: sorted instants */
    size_t ndates;
    char *spec;                  /* what identifies the ticks (cron text or the dates);
                                    NULL when the schedule cannot run */
    int64_t late_max_us;         /* lateMaximumDelay, 0: none */
    json_t *pending;             /* stopAfter: ids of executions it started that had not
                                    ended at the last look (as in the row); NULL without */
    const tzone *tz;
    sched_recover recover;
    int64_t next_us;             /* next due tick, 0 until known, -1 never */
    int64_t last_us;             /* last tick fired (or skipped), 0 none */
    int known;                   /* next_us came from the store or was set */
    int disabled;                /* the store row says disabled */
    char *error;                 /* why it cannot run (bad cron...), or NULL */
    int64_t interval_us;         /* polling triggers (httptrigger.c): time between polls */
    /* polling triggers: a pass (sched__http_pass, sched__poll_pass) and, for
     * the ones a task family polls (polltrigger.c), their type */
    int (*pass)(struct sched *s, struct sched_flow *f, struct sched_trig *t, int64_t now_us, kerr *e);
    const type_def *def;
} sched_trig;

/* A flow's triggers at one revision. */
typedef struct sched_flow {
    char *ns, *id;
    int revision;
    json_t *doc;                 /* the flow as JSON (owned) */
    sched_trig *trigs;
    size_t ntrigs;
    int seen;                    /* mark for the refresh sweep */
} sched_flow;

struct sched {
    engine *en;
    store *st;
    sched_opts o;
    const tzone *dflt_tz;

    pthread_mutex_t lock;        /* everything below */
    sched_flow **flows;
    size_t nflows;
    json_t *flow_index;          /* "ns\x1fid" -> slot */
    int64_t last_refresh_us;     /* mono clock */
    atomic_int flows_gen, flows_gen_seen;

    /* executions watch (flowtrigger.c) */
    int watch_loaded;
    int64_t watch_wm;            /* created_us watermark persisted */
    int64_t watch_scan_from;     /* scan terminated executions created since */
    json_t *watch_unfinished;    /* id -> created_us of executions seen running */
    json_t *watch_done;          /* id -> 1: ended executions handled (pruned) */

    /* thread */
    pthread_t thread;
    int running;
    pthread_cond_t wake;
    pthread_mutex_t wake_lock;
    int woken;
};

int64_t sched__now(sched *s);
/* Re-reads flows and trigger rows when due (or forced). Caller holds lock. */
int sched__refresh(sched *s, int64_t now_us, int force, kerr *e);
/* The cached trigger, or NULL. Caller holds lock. */
sched_trig *sched__find(sched *s, const char *ns, const char *flow_id, const char *trigger_id);
sched_flow *sched__flow(sched *s, const char *ns, const char *flow_id);
/* ---- trigger kinds (sched.c) -------------------------------------------------- */

/* How the scheduler runs a trigger type: the registry's canonical name, its
 * kind, and its set-up when a flow is loaded (NULL: none). */
typedef struct sched_trigger_impl {
    const char *type;
    sched_kind kind;
    void (*setup)(sched *s, sched_trig *t);
    /* SK_POLL: one pass (stopAfter, then a poll when due). Executions
     * created, or -1 on a store error. */
    int (*pass)(sched *s, struct sched_flow *f, sched_trig *t, int64_t now_us, kerr *e);
} sched_trigger_impl;

/* The implementation of a trigger type (as written: alias or canonical
 * name), or NULL when the scheduler does not run it. */
const sched_trigger_impl *sched__trigger_find(const char *type);

/* ---- the Schedule trigger (schedule.c) ------------------------------------------ */

/* Set-up of a loaded trigger: cron or dates, time zone, policies. A bad one
 * keeps t->spec NULL and says why in t->error. */
void sched__schedule_setup_cron(sched *s, sched_trig *t);
void sched__schedule_setup_dates(sched *s, sched_trig *t);
/* Applies the trigger's stored row (at a refresh); the caller has applied
 * the row's disabled flag and passes the one before. */
void sched__schedule_row(sched *s, sched_trig *t, const store_trigger *row, int was_disabled, int64_t now_us,
                         kerr *e);
/* A pass: stopAfter, then the due ticks. Executions created, or -1. */
int sched__schedule_pass(sched *s, sched_flow *f, sched_trig *t, int64_t now_us, kerr *e);
/* Fires the ticks between start_us and end_us. Executions created, or -1. */
int sched__schedule_backfill(sched *s, sched_flow *f, sched_trig *t, int64_t start_us, int64_t end_us, kerr *e);

/* stopAfter: drops the executions of t->pending that ended; one that ended
 * in a listed state disables the trigger (in its row too). */
void sched__stop_after(sched *s, sched_trig *t);

/* ---- the HTTP trigger (httptrigger.c) ------------------------------------------- */

void sched__http_setup(sched *s, sched_trig *t);
/* stopAfter, then a poll when one is due. Executions created, or -1. */
int sched__http_pass(sched *s, sched_flow *f, sched_trig *t, int64_t now_us, kerr *e);

/* ---- triggers a task family polls (polltrigger.c) --------------------------------- */

/* The SQL, MongoDB and S3 triggers: their type's hooks->poll, every
 * `interval`, run as a task runs (tasks.h). */
void sched__poll_setup(sched *s, sched_trig *t);
int sched__poll_pass(sched *s, sched_flow *f, sched_trig *t, int64_t now_us, kerr *e);

/* ---- what every trigger kind shares (fire.c) ------------------------------------ */

/* The expression environment with the engine's host functions. */
void sched__env(sched *s, expr_env *env);
/* {"id", "namespace", "revision"} of a flow. New reference. */
json_t *sched__flow_vars(const sched_flow *f);
/* Renders the trigger's `inputs` against ctx; *out NULL when it has none. */
int sched__render_inputs(sched *s, const sched_trig *t, const json_t *ctx, json_t **out, kerr *e);
/* Writes a trigger row's lastError (best effort). */
void sched__note_error(sched *s, const sched_trig *t, const char *msg);
/* The row's state: cron (the spec), timezone, stopAfterPending, lastError
 * (error, may be NULL). New reference. */
json_t *sched__row_state(const sched_trig *t, const char *error);
/* Writes the trigger's row (next tick, disabled, last fired, state). */
int sched__put_row(sched *s, const sched_trig *t, const char *error, kerr *e);


/* ---- conditions (conditions.c) --------------------------------------------- */

/* What conditions are evaluated against. */
typedef struct sched_cond_ctx {
    const json_t *vars;          /* the render context: trigger, flow, ... */
    const store_execution *exec; /* the ending execution (flow triggers), or NULL */
    const json_t *outputs;       /* that execution's task outputs, or NULL */
    const expr_env *env;
    store *st;
} sched_cond_ctx;

/* Evaluates a `conditions` list (all must pass; NULL or empty passes).
 * Returns 0 and *ok, or -1 with e naming the condition ("conditions[1]
 * (DayWeek): ...") for an unknown type or a value that does not render. */
int sched__conditions(const json_t *conds, const sched_cond_ctx *c, int *ok /* OUT */, kerr *e);

/* How a condition type is evaluated: the registry's canonical name, the
 * evaluator, whether it needs an ending execution (Flow triggers only). */
typedef struct sched_condition_impl {
    const char *type;
    int (*eval)(const json_t *cond, const sched_cond_ctx *c, int *ok, kerr *e);
    int needs_execution;
    const char *label;           /* the name errors use; NULL: the type as written */
} sched_condition_impl;

/* The implementation of a condition type (canonical name), or NULL. */
const sched_condition_impl *sched__condition_find(const char *canonical);

/* ---- flow triggers (flowtrigger.c) ----------------------------------------- */

/* Finds executions that ended since the last pass and reacts to them.
 * Returns the number of executions created, or -1. Caller holds lock. */
int sched__watch(sched *s, int64_t now_us, kerr *e);
void sched__watch_free(sched *s);

/* ---- firing (fire.c) ---------------------------------------------------- */

/* In one transaction: creates the execution (may fail: then the tick is
 * recorded without one and the error noted), records the tick (ns, flow,
 * tick_trigger_id, tick_us) and, when row is not NULL, writes the trigger
 * row. Returns 1 when an execution was created, 0 when the tick was already
 * recorded or the execution was refused, -1 on a store error. */
int sched__fire(sched *s, const engine_submit_opts *so, const char *tick_trigger_id,
                int64_t tick_us, const store_trigger *row, char id_out[STORE_ID_LEN + 1],
                kerr *e);

#endif
