/*
 * flow_int.h: what the flow layer's files share and nobody else needs.
 */
#ifndef KITE_FLOW_INT_H
#define KITE_FLOW_INT_H

#include "flow/flow.h"

/* Validates f->doc, fills f->tasks, appends problems to d; returns their count. */
size_t flow_validate_doc(flow *f, diags *d);
/* Parses every template of f (flow/templates.c): errors for templates that
 * cannot render, warnings for references to undeclared inputs and unknown
 * tasks' outputs (task_ids: id -> path). Returns the number of errors. */
size_t flow_check_templates(const flow *f, const json_t *task_ids, diags *d);

#endif
