/*
 * validate.c: flow validation against the task schemas (work in progress:
 * the check-hook interface of schema.h).
 */
#include "flow/schema.h"
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>

struct vctx {
    buf errors;
};

void vctx_error(vctx *v, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_printf(&v->errors, "%s: ", path);
    buf_vprintf(&v->errors, fmt, ap);
    buf_putc(&v->errors, '\n');
    va_end(ap);
}

void vctx_check_tasks(vctx *v, const json_t *tasks, const char *path) {}

int vctx_task_is_runnable(const json_t *task)
{
    const char *t = json_string_value(json_object_get(task, "type"));
    const type_def *d = t ? flow_type_find(t) : NULL;
    return d && d->kind == TK_RUNNABLE;
}
