/*
 * watch.c: stopping a render that runs too long or is cancelled, jq
 * programs included.
 *
 * The renderer itself checks its deadline and cancel flag at every loop
 * iteration and call (expr__check in eval.c). A jq program cannot be checked
 * from inside: libjq has no instruction hook, and `last(range(1e12))` runs in
 * one jq_next call. But jq 1.6's jq_next tests `jq->halted` before every
 * instruction (src/execute.c, the top of its `while (1)` loop), and jq_halt
 * sets it. So a watchdog thread halts the jq programs whose render passed its
 * deadline or saw its cancel flag, and jq_next returns at its next
 * instruction.
 *
 * DESIGN
 * One detached thread for the process, started at the first jq call. A jq
 * call registers a slot (the jq_state, its render's deadline and cancel
 * flag) on a mutex-protected list before jq_start and removes it after its
 * last jq_next; the thread wakes every WATCH_TICK_US while the list is not
 * empty, sleeps on a condition variable when it is, and calls jq_halt only
 * on registered slots, under the mutex. So a jq_state is never halted once
 * its slot is gone (the next jq_start resets `halted`, after the slot's
 * removal, through the same mutex).
 *
 * The one unsynchronised access: jq_halt's store to `jq->halted` (an int)
 * from this thread while jq_next loads it on the rendering thread. It is
 * benign: the flag only goes 0 -> 1 while the slot exists, jq_next reloads
 * it every instruction (the loop calls out of line functions with jq, so no
 * compiler may keep it in a register), and an int store does not tear. Both
 * accesses are inside libjq, which is not instrumented, so ThreadSanitizer
 * does not see them; if libjq were ever built with -fsanitize=thread, the
 * race would be reported and is this one.
 *
 * jq_halt asserts that the program is not halted yet; a program calling
 * jq's own `halt` could race with the watchdog into that assert, so kite's
 * jq has no `halt`/`halt_error` (they are redefined to raise an error, see
 * filters.c).
 */
#include "expr/expr_int.h"
#include "util/datetime.h"

#include <jq.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define WATCH_TICK_US 5000

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static expr_watch *watch_list;
static int watch_started;

static void *watch_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&watch_mu);
    for (;;) {
        while (!watch_list)
            pthread_cond_wait(&watch_cv, &watch_mu);
        int64_t now = time_mono_us();
        for (expr_watch *w = watch_list; w; w = w->next) {
            if (w->stopped)
                continue;
            int why = 0;
            if (w->cancel && atomic_load(w->cancel))
                why = EXPR__STOP_CANCEL;
            else if (w->deadline_us && now >= w->deadline_us)
                why = EXPR__STOP_DEADLINE;
            if (!why)
                continue;
            w->stopped = why;
            if (!jq_halted(w->jq))
                jq_halt(w->jq, jv_invalid(), jv_invalid());
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCH_TICK_US * 1000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&watch_cv, &watch_mu, &ts);
    }
    return NULL;
}

static void watch_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&watch_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    pthread_t t;
    watch_started = pthread_create(&t, &a, watch_main, NULL) == 0;
    pthread_attr_destroy(&a);
}

int expr__watch_begin(expr_watch *w, void *jq, int64_t deadline_us, const atomic_int *cancel)
{
    memset(w, 0, sizeof *w);
    w->jq = jq;
    w->deadline_us = deadline_us;
    w->cancel = cancel;
    if (!deadline_us && !cancel)
        return 0;
    pthread_once(&watch_once, watch_init);
    if (!watch_started)
        return -1;
    pthread_mutex_lock(&watch_mu);
    w->next = watch_list;
    w->prev = NULL;
    if (watch_list)
        watch_list->prev = w;
    int was_empty = !watch_list;
    watch_list = w;
    w->listed = 1;
    if (was_empty)
        pthread_cond_signal(&watch_cv);
    pthread_mutex_unlock(&watch_mu);
    return 0;
}

int expr__watch_end(expr_watch *w)
{
    if (!w->listed)
        return 0;
    pthread_mutex_lock(&watch_mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        watch_list = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->listed = 0;
    int why = w->stopped;
    pthread_mutex_unlock(&watch_mu);
    return why;
}
