/*
 * tasks.h: kite's task families.
 *
 * One file per family (core.c, flowable.c, scripts.c, ...), each declaring
 * its types in one const table of type_def (flow/schema.h). This header is
 * the layer's contract: register every table, and (once the engine runs
 * tasks) the hooks a type implements.
 */
#ifndef KITE_TASKS_H
#define KITE_TASKS_H

/* Loads every family's table into the flow registry. Idempotent; call once
 * before threads start. */
void tasks_register_all(void);

#endif
