/*
 * truth.h: when a rendered value counts as true, in one place.
 *
 * Kestra has more than one rule, and kite follows each where Kestra uses it:
 *
 *  TRUTH_KESTRA     Kestra's TruthUtils.isTruthy: the text, trimmed, is not
 *                   "", "false", "0" or "-0" (case matters: "FALSE" is
 *                   true). A null value is not true. Used for a task's
 *                   runIf, the If, LoopUntil and Fail/Exit `condition`s and
 *                   Assert's `conditions` (engine/executor.c,
 *                   tasks/run_core.c).
 *  TRUTH_CONDITION  Kestra's ExpressionCondition: the text, trimmed, is not
 *                   blank and not "false". Used for a trigger's Expression
 *                   condition (sched/conditions.c).
 *  TRUTH_PEBBLE     the expression language's own test (`if`, `not`, `and`,
 *                   `or`, the ternary, boolean arguments): null and false are
 *                   false, numbers are true unless zero, strings unless empty
 *                   or "false" (as Pebble casts a string output), lists and
 *                   maps unless empty (expr/value.c).
 *
 * A number is false when it is zero under the two text rules as well (0,
 * 0.0, -0.0), and a list or a map is true (its text is never one of the
 * false words).
 */
#ifndef KITE_UTIL_TRUTH_H
#define KITE_UTIL_TRUTH_H

#include <jansson.h>

typedef enum truth_rule { TRUTH_KESTRA, TRUTH_CONDITION, TRUTH_PEBBLE } truth_rule;

/* The truth of v (NULL counts as null) under rule. */
int kite_truthy(const json_t *v, truth_rule rule);
/* The truth of rendered text (NULL counts as null) under rule. */
int kite_truthy_text(const char *s, truth_rule rule);

#endif
