/*
 * flow_int.h: what the flow layer's files share and nobody else needs.
 */
#ifndef KITE_FLOW_INT_H
#define KITE_FLOW_INT_H

#include "flow/flow.h"

/* Validates f->doc, fills f->tasks, appends problems to d; returns their count. */
size_t flow_validate_doc(flow *f, diags *d);

#endif
