/*
 * notify_int.h: what the two files of the notify family share: notify.c
 * (the chat, paging and SMS services over HTTP, and the execution view the
 * ...Execution tasks describe) and notify_mail.c (MailSend, MailExecution
 * over SMTP). Nobody else includes it.
 */
#ifndef KITE_TASKS_NOTIFY_INT_H
#define KITE_TASKS_NOTIFY_INT_H

#include "tasks/tasks_int.h"
#include "util/buf.h"

#include <jansson.h>

/* Writes url for a message: the scheme, host and port, each path segment
 * kept when it reads as a word (at most 3 characters, or at most 20 with
 * no digit and no two capitals in a row) and "******" otherwise, the query as "?******"; any
 * user and password dropped. When c is not NULL, the segments and query
 * masked, and the whole URL when something was masked, are registered as secrets (task_secret). */
void notify__mask_url(task_ctx *c, const char *url, buf *out);

/* What an ...Execution task says about an execution (ExecutionService of
 * Kestra's plugin-notifications): read from the store, so a task reads it
 * without an engine header. */
typedef struct notify_exec {
    char *id, *namespace, *flow_id;
    char *state;              /* the execution's state; FAILED for the current
                                 execution while a task of it has failed */
    char duration[40];        /* HH:MM:SS.mmm, up to now when not ended */
    int64_t start_us;
    char *link;               /* $KITE_URL/api/v1/executions/<id>, or NULL */
    char *failed_task;        /* the first failed task's id, or NULL */
    char *last_task;          /* the last task run's task id, or NULL */
    json_t *error_lines;      /* array: the failed task's last WARN/ERROR lines */
    char *custom_message;     /* customMessage, or NULL */
    json_t *custom_fields;    /* customFields (object), or NULL */
} notify_exec;

/* Loads the execution of property executionId (default the current one),
 * customMessage and customFields. Another execution that has not ended yet
 * is waited for (up to 60 s), as Kestra does. */
int notify__exec_load(task_ctx *c, notify_exec *x /* OUT */, kerr *e);
void notify__exec_free(notify_exec *x);
/* "[ns] flow ➛ STATE" */
void notify__exec_title(const notify_exec *x, buf *out);
/* "Failed on task `t` after D" or "Succeeded after D" */
void notify__exec_status(const notify_exec *x, buf *out);
/* A plain text of several lines: title, status, the error lines, custom
 * message and fields, link. */
void notify__exec_text(const notify_exec *x, buf *out);

/* The same as a small HTML page (mail, SendGrid). */
void notify__exec_html(const notify_exec *x, buf *out);

/* The behaviour of the mail types (notify_mail.c); their entries are in
 * notify.c's table, so the family stays one line of families[]. */
extern const struct task_hooks notify__mail_send_hooks;
extern const struct task_hooks notify__mail_exec_hooks;

#endif
