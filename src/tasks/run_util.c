/*
 * run_util.c: small helpers the runnable task files (run_*.c) share: a
 * property as text, Kestra's truthiness of a rendered condition, storing
 * bytes among a task run's files, and temporary files.
 */
#include "tasks/run_int.h"

#include "expr/expr.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tasks__prop_text(task_ctx *c, const char *name, const char *dflt, char **out, kerr *e)
{
    *out = NULL;
    json_t *v;
    if (task_prop(c, name, &v, e))
        return -1;
    if (!v) {
        /* written but rendered to null: the empty text a template prints */
        const json_t *raw = json_object_get(c->task, name);
        if (raw && !json_is_null(raw))
            *out = xstrdup("");
        else
            *out = dflt ? xstrdup(dflt) : NULL;
        return 0;
    }
    *out = expr_value_to_text(v);
    json_decref(v);
    return 0;
}

int tasks__truthy(const char *s)
{
    if (!s)
        return 0;
    return !(!*s || !strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "-0"));
}

int tasks__put_bytes(task_ctx *c, const char *name, const void *data, size_t len, char **uri,
                     kerr *e)
{
    *uri = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id,
                                 c->taskrun_id, name, e);
    if (!*uri)
        return -1;
    if (storage_put(c->storage, *uri, data, len, e)) {
        free(*uri);
        *uri = NULL;
        return -1;
    }
    return 0;
}

FILE *tasks__tmp_file(task_ctx *c, char **path, kerr *e)
{
    const char *root = c->tmp_root;
    if (!root || !*root)
        root = getenv("TMPDIR");
    if (!root || !*root)
        root = "/tmp";
    char *p = xasprintf("%s/kite-task-XXXXXX", root);
    int fd = mkostemp(p, O_CLOEXEC);
    if (fd < 0) {
        kerr_set(e, "cannot create a temporary file in %s: %s", root, strerror(errno));
        free(p);
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        kerr_set(e, "cannot open %s: %s", p, strerror(errno));
        close(fd);
        unlink(p);
        free(p);
        return NULL;
    }
    *path = p;
    return f;
}

int tasks__check_extension(const char *prop, const char *ext, kerr *e)
{
    if (strchr(ext, '/'))
        return kerr_set(e, "property '%s': '%s' is not a file extension (it holds a '/')", prop,
                        ext);
    if (strlen(ext) > 64)
        return kerr_set(e, "property '%s': the extension is longer than 64 bytes", prop);
    return 0;
}
