/*
 * conditions.c: the condition types of Kestra's core, placed under a
 * trigger's `conditions` (and a Flow trigger's old multiple conditions).
 *
 * Kestra renamed them twice: io.kestra.core.models.conditions.types.XCondition
 * (up to 0.16), io.kestra.plugin.core.condition.XCondition (0.17), then
 * io.kestra.plugin.core.condition.X; all three spellings are aliases, the
 * newest first. A condition's only common property is `type`.
 */
#include "tasks/tasks_int.h"

#define OLD "io.kestra.core.models.conditions.types."
#define NEW "io.kestra.plugin.core.condition."
/* The three spellings of a condition renamed from XCondition to X. */
#define RENAMED(x) ALIASES(NEW x, NEW x "Condition", OLD x "Condition")

static const char *const days[] = {"MONDAY",   "TUESDAY", "WEDNESDAY", "THURSDAY",
                                   "FRIDAY",   "SATURDAY", "SUNDAY",   NULL};

#define P_DATE PSTR("date", 0, "\"{{ trigger.date }}\"", "the date tested (a template)")


const type_def tasks__conditions[] = {
    {
        .name = "condition.execution_status",
        .aliases = RENAMED("ExecutionStatus"),
        .kind = TK_CONDITION,
        .desc = "True when the execution's state is (or is not) in a list.",
        .props = PROPS(PLIST("in", 0, NULL, &tasks__item_state, "states that pass"),
                       PLIST("notIn", 0, NULL, &tasks__item_state, "states that fail")),
    },
    {
        .name = "condition.execution_flow",
        .aliases = RENAMED("ExecutionFlow"),
        .kind = TK_CONDITION,
        .desc = "True when the execution is of a given flow.",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the flow's namespace"),
                       PSTR("flowId", PF_REQUIRED, NULL, "the flow's id")),
    },
    {
        .name = "condition.execution_namespace",
        .aliases = RENAMED("ExecutionNamespace"),
        .kind = TK_CONDITION,
        .desc = "True when the execution's namespace matches.",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the namespace"),
                       PENUM("comparison", 0, NULL, ENUMS("EQUALS", "PREFIX", "SUFFIX"),
                             "how to compare"),
                       PBOOL("prefix", PF_DEPRECATED, "false",
                             "match sub-namespaces too (use comparison: PREFIX)")),
    },
    {
        .name = "condition.execution_labels",
        .aliases = RENAMED("ExecutionLabels"),
        .kind = TK_CONDITION,
        .desc = "True when the execution has all the given labels.",
        .props = PROPS(PANY("labels", PF_REQUIRED, NULL, "the labels (map or list)")),
    },
    {
        .name = "condition.execution_outputs",
        .aliases = RENAMED("ExecutionOutputs"),
        .kind = TK_CONDITION,
        .desc = "True when an expression on the execution's outputs is true.",
        .props = PROPS(PSTR("expression", PF_REQUIRED, NULL, "the expression")),
    },
    {
        .name = "condition.expression",
        .aliases = ALIASES(NEW "Expression", NEW "ExpressionCondition",
                           OLD "ExpressionCondition", OLD "VariableCondition"),
        .kind = TK_CONDITION,
        .desc = "True when an expression is true.",
        .props = PROPS(PSTR("expression", PF_REQUIRED, NULL, "the expression")),
    },
    {
        .name = "condition.day_week",
        .aliases = RENAMED("DayWeek"),
        .kind = TK_CONDITION,
        .desc = "True on a day of the week.",
        .props = PROPS(P_DATE, PENUM("dayOfWeek", PF_REQUIRED, NULL, days, "the day")),
    },
    {
        .name = "condition.day_week_in_month",
        .aliases = RENAMED("DayWeekInMonth"),
        .kind = TK_CONDITION,
        .desc = "True on the first, second, ... or last given weekday of the month.",
        .props = PROPS(P_DATE, PENUM("dayOfWeek", PF_REQUIRED, NULL, days, "the day"),
                       PENUM("dayInMonth", PF_REQUIRED, NULL,
                             ENUMS("FIRST", "LAST", "SECOND", "THIRD", "FOURTH"),
                             "which one in the month")),
    },
    {
        .name = "condition.date_time_between",
        .aliases = RENAMED("DateTimeBetween"),
        .kind = TK_CONDITION,
        .desc = "True between two date-times.",
        .props = PROPS(P_DATE, PDT("after", 0, NULL, "true after this date-time"),
                       PDT("before", 0, NULL, "true before this date-time")),
    },
    {
        .name = "condition.time_between",
        .aliases = RENAMED("TimeBetween"),
        .kind = TK_CONDITION,
        .desc = "True between two times of day.",
        .props = PROPS(P_DATE, PSTR("after", 0, NULL, "true after this time (HH:MM:SS)"),
                       PSTR("before", 0, NULL, "true before this time (HH:MM:SS)")),
    },
    {
        .name = "condition.weekend",
        .aliases = RENAMED("Weekend"),
        .kind = TK_CONDITION,
        .desc = "True on Saturdays and Sundays.",
        .props = PROPS(P_DATE),
    },
    {
        .name = "condition.public_holiday",
        .aliases = RENAMED("PublicHoliday"),
        .kind = TK_CONDITION,
        .desc = "True on a public holiday of a country.",
        .props = PROPS(P_DATE, PSTR("country", 0, NULL, "ISO 3166 country code"),
                       PSTR("subDivision", 0, NULL, "ISO 3166-2 subdivision")),
    },
    {
        .name = "condition.not",
        .aliases = RENAMED("Not"),
        .kind = TK_CONDITION,
        .desc = "True when none of its conditions is true.",
        .props = PROPS(PCONDS("conditions", PF_REQUIRED | PF_NONEMPTY, "the conditions")),
    },
    {
        .name = "condition.or",
        .aliases = RENAMED("Or"),
        .kind = TK_CONDITION,
        .desc = "True when one of its conditions is true.",
        .props = PROPS(PCONDS("conditions", PF_REQUIRED | PF_NONEMPTY, "the conditions")),
    },
    {
        .name = "condition.multiple",
        .aliases = ALIASES(NEW "MultipleCondition", OLD "MultipleCondition"),
        .kind = TK_CONDITION,
        .flags = TF_DEPRECATED,
        .desc = "True once all its conditions were true within a time window "
                "(use the Flow trigger's preconditions).",
        .props = PROPS(PSTR("id", PF_REQUIRED, NULL, "id keying the condition's state"),
                       PCONDS("conditions", PF_REQUIRED | PF_NONEMPTY,
                              "the conditions, by name"),
                       PDUR("window", PF_DEPRECATED, "\"P1D\"",
                            "the window's length (use timeWindow.window)"),
                       PDUR("windowAdvance", PF_DEPRECATED, "\"P0D\"",
                            "offset of the window's start (use timeWindow.windowAdvance)"),
                       P_TIME_WINDOW,
                       PBOOL("resetOnSuccess", 0, "true", "start again once fulfilled")),
    },
    {
        .name = "condition.flow",
        .aliases = ALIASES(NEW "FlowCondition", OLD "FlowCondition"),
        .kind = TK_CONDITION,
        .flags = TF_DEPRECATED,
        .desc = "True for executions of a given flow (use condition.execution_flow).",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the flow's namespace"),
                       PSTR("flowId", PF_REQUIRED, NULL, "the flow's id")),
    },
    {
        .name = "condition.flow_namespace",
        .aliases = ALIASES(NEW "FlowNamespaceCondition", OLD "FlowNamespaceCondition"),
        .kind = TK_CONDITION,
        .flags = TF_DEPRECATED,
        .desc = "True for executions of a namespace (use condition.execution_namespace).",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the namespace"),
                       PBOOL("prefix", 0, "false", "match sub-namespaces too")),
    },
    {
        .name = "condition.has_retry_attempt",
        .aliases = RENAMED("HasRetryAttempt"),
        .kind = TK_CONDITION,
        .desc = "True when the execution had a task retried, in given states.",
        .props = PROPS(PLIST("in", 0, NULL, &tasks__item_state, "states that pass"),
                       PLIST("notIn", 0, NULL, &tasks__item_state, "states that fail")),
    },
};

const size_t tasks__conditions_count = sizeof tasks__conditions / sizeof tasks__conditions[0];
