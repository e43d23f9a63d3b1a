/*
 * sched.h: the scheduler layer's interface: triggers that start executions
 * (cron schedules, webhooks, flow triggers, topic triggers).
 *
 * The scheduler object (schedules, flow triggers, webhooks; see
 * docs/triggers.md). Cron expressions themselves are util/cron.h (below the
 * flow layer, so validation checks them too).
 *
 * Instants are microseconds since the epoch, UTC (see util/datetime.h).
 */
#ifndef KITE_SCHED_SCHED_H
#define KITE_SCHED_SCHED_H

#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "util/cron.h"
#include "util/datetime.h"
#include "util/err.h"

/* ---- the scheduler --------------------------------------------------------
 *
 * A scheduler reads the triggers of every flow in the store and starts
 * executions through the engine:
 * - Schedule triggers: each due tick is recorded (store_trigger_tick, unique
 *   on flow, trigger and date) and its execution created in ONE store
 *   transaction, then the trigger's next date is stored in the same
 *   transaction: a tick fires exactly once, even across a kill -9.
 * - Flow triggers: executions that end are matched against every flow's
 *   io.kestra.plugin.core.trigger.Flow; each reaction is recorded the same
 *   way (keyed by the ending execution), so it happens once.
 * - Webhook triggers: the server asks sched_webhook_find() which trigger a
 *   request matches, then creates the execution itself.
 *
 * Threads: sched_start() runs passes on a thread of its own; sched_tick(),
 * sched_backfill() and sched_webhook_find() may be called from any thread
 * (they serialise on the scheduler's lock); sched_free() must not race with
 * anything. Ownership: the scheduler borrows the engine and the store for
 * its whole life; OUT values belong to the caller.
 */

typedef struct sched sched;
typedef struct engine engine;   /* engine/engine.h */

/* The namespace of the scheduler's own rows in the triggers table (the
 * cursor of the executions it watched); trigger lists shown to people
 * should leave it out. */
#define SCHED_SYS_NAMESPACE "__kite"

typedef enum sched_recover {
    SCHED_RECOVER_ALL,          /* Kestra's default: every missed tick fires */
    SCHED_RECOVER_NONE,         /* missed ticks are dropped */
    SCHED_RECOVER_LAST,         /* only the most recent missed tick fires */
} sched_recover;

/* A clock for tests: returns now in microseconds. */
typedef int64_t (*sched_clock_fn)(void *ud);

typedef struct sched_opts {
    sched_recover recover;      /* default recoverMissedSchedules (ALL: 0) */
    const char *timezone;       /* zone of schedules without `timezone`; NULL: UTC */
    int64_t refresh_us;         /* how often flows and trigger rows are re-read; 0: 10 s
                                 * (call sched_flows_changed on a change) */
    int64_t max_wait_us;        /* longest sleep of the thread between passes; 0: 1 s */
    size_t max_catchup;         /* ticks fired per trigger and pass; 0: 1000 */
    size_t max_backfill;        /* ticks one sched_backfill may fire; 0: 100,000 */
    sched_clock_fn clock;       /* NULL: the wall clock */
    void *clock_ud;
    int flow_triggers;          /* -1: do not watch executions; 0 or 1: watch */
} sched_opts;

/* Creates a scheduler on en and st (st must be en's store). No thread runs
 * until sched_start(). Returns NULL with e set on a bad option (an unknown
 * default time zone). */
sched *sched_new(engine *en, store *st, const sched_opts *o, kerr *e);
/* Starts the scheduler's thread: a pass at once, then one at every due
 * tick (at least every max_wait_us). */
int sched_start(sched *s, kerr *e);
/* Stops and joins the thread (a pass in progress completes). */
void sched_stop(sched *s);
void sched_free(sched *s);

/* One pass at now_us (the injectable clock, for tests and the thread):
 * re-reads flows and trigger rows when due, fires due schedules, reacts to
 * executions that ended. Returns the number of executions created, or -1
 * with e set on a store error (the pass stops; ticks already committed
 * stay). Problems of one trigger (a bad cron, inputs refused) do not fail
 * the pass: they are stored in its row's state as "lastError". */
int sched_tick(sched *s, int64_t now_us, kerr *e);

/* Tells the scheduler that flows changed (a flow was put or deleted): the
 * next pass re-reads them instead of waiting for refresh_us. Cheap. */
void sched_flows_changed(sched *s);

/* Tells the scheduler that an execution ended (for an engine hook); the next
 * pass runs at once. Polling finds it anyway, this only saves latency. */
void sched_execution_ended(sched *s, const char *execution_id);

/* Fires every tick of the Schedule trigger (ns, flow_id, trigger_id) in
 * [start_us, end_us], oldest first, with the trigger's conditions and
 * inputs, as backfill executions (label "backfill": "true"). Ticks already
 * fired (by the schedule or an earlier backfill) are skipped: the same
 * unique key guards both. Returns the number of executions created, or -1
 * with e set (unknown flow or trigger, not a Schedule, end before start,
 * more than max_backfill ticks). */
int sched_backfill(sched *s, const char *ns, const char *flow_id, const char *trigger_id,
                   int64_t start_us, int64_t end_us, kerr *e);

/* ---- webhooks ---------------------------------------------------------- */

/* What the server received on /executions/webhook/{ns}/{flowId}/{key}. */
typedef struct sched_webhook_req {
    const char *method;         /* "GET", "POST", "PUT" */
    json_t *body;               /* parsed JSON body, or a string, or NULL (borrowed) */
    json_t *headers;            /* {"name": ["v", ...]} as Kestra shows them (borrowed) */
    json_t *parameters;         /* query parameters, {"name": ["v", ...]} (borrowed) */
} sched_webhook_req;

/* The trigger a webhook call matched: what engine_submit needs, and how to
 * answer. Release with sched_webhook_clear. */
typedef struct sched_webhook {
    char *trigger_id;
    int revision;               /* the flow revision read */
    json_t *trigger;            /* trigger variables: body, headers, parameters */
    json_t *inputs;             /* the trigger's `inputs`, rendered; may be NULL */
    int wait;                   /* answer once the execution ended */
    int return_outputs;
    int response_code;          /* 0: the default */
    char *response_content_type; /* may be NULL */
    char *fetch_type;           /* "FETCH" (default), "STORE" or "NONE" */
} sched_webhook;

void sched_webhook_clear(sched_webhook *w);

#define SCHED_NOT_FOUND (-2)    /* unknown or deleted flow, disabled flow or no trigger with that key */
#define SCHED_SKIPPED 1         /* the key matched but the trigger's conditions are false */

/* Finds the Webhook trigger of flow (ns, flow_id) whose key, rendered
 * (`{{ secret('WEBHOOK_KEY') }}` works), equals key, and evaluates its
 * conditions against the request (trigger.body, trigger.headers,
 * trigger.parameters). Returns 0 and *out filled, SCHED_SKIPPED (out
 * filled: the server answers without creating an execution),
 * SCHED_NOT_FOUND with a message in e, or -1 with e set (store error, a key
 * or a condition that fails to render). */
int sched_webhook_find(sched *s, const char *ns, const char *flow_id, const char *key,
                       const sched_webhook_req *rq, sched_webhook *out /* OUT */, kerr *e);

/* Whether key may open a Webhook trigger of flow (ns, flow_id), from the
 * store's webhook index alone (no flow read, no body needed): SCHED_NOT_FOUND
 * when the flow is unknown or deleted or no trigger has that key, 0 when one
 * may (sched_webhook_find then decides: disabled triggers, conditions). A
 * revision that has no index yet is indexed here first. Thread-safe. */
int sched_webhook_precheck(sched *s, const char *ns, const char *flow_id, const char *key);

/* Creates the execution of a matched webhook (engine_submit with its
 * trigger variables and inputs). Returns 0 and the id, or -1 with e set. */
int sched_webhook_submit(sched *s, const char *ns, const char *flow_id, const sched_webhook *w,
                         char id_out[STORE_ID_LEN + 1], kerr *e);

#endif
