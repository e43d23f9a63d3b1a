/*
 * cron.h: cron expressions, as Kestra's Schedule trigger writes them.
 *
 * In util so that every layer can use it: the flow checks (a Schedule's
 * cron is checked at validation) and the scheduler (which fires it).
 *
 * Syntax: 5 fields, or 6 with a leading seconds field when the trigger says
 * `withSeconds: true`, and the @-macros, evaluated in the civil time of a
 * time zone. docs/schedules.md describes the syntax and how daylight saving
 * changes are handled.
 *
 * Ownership: cron_parse returns an expression the caller frees with
 * cron_free; a parsed expression is immutable, so threads may share it.
 */
#ifndef KITE_UTIL_CRON_H
#define KITE_UTIL_CRON_H

#include <stdint.h>

#include "util/datetime.h"
#include "util/err.h"

typedef struct cron_expr cron_expr;

/* Parses a cron expression: "*\/5 * * * *", "0 9 * * MON-FRI", "@daily"...
 * with_seconds non-zero expects 6 fields, the first being seconds.
 * Returns a new expression, or NULL with a message in e naming the field
 * and the column, e.g. "cron '0 25 * * *': hour 25 out of range 0-23
 * (field 2, column 3)" (e->line is 1 and e->col the column, 1-based, in
 * spec). Expressions that can never fire are refused too. */
cron_expr *cron_parse(const char *spec, int with_seconds, kerr *e);
void cron_free(cron_expr *c);

/* The text the expression was parsed from. */
const char *cron_spec(const cron_expr *c);

/* The first fire time strictly after after_us, read in the civil time of
 * zone z (UTC when NULL); -1 when there is none within fifty years. */
int64_t cron_next(const cron_expr *c, const tzone *z, int64_t after_us);
/* The last fire time at or before at_us; -1 when there is none within
 * fifty years. cron_next and cron_prev agree on one set of fire times. */
int64_t cron_prev(const cron_expr *c, const tzone *z, int64_t at_us);

#endif
