/*
 * proc_env.c: a child's environment, built explicitly (see proc.h).
 *
 * A task's process gets only what the flow gives it: kite's own variables
 * (tokens, SECRET_*, database passwords) are never inherited by default. The
 * builder keeps the "NAME=value" strings in one NULL-terminated array, which
 * is exactly what posix_spawn takes, so handing it over costs nothing. Sizes
 * are small (tens of variables): lookups are linear.
 */
#include "util/proc.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

struct proc_env {
    char **v;       /* "NAME=value"; v[n] == NULL */
    size_t n, cap;
};

proc_env *proc_env_new(void)
{
    proc_env *e = xcalloc(1, sizeof *e);
    e->cap = 8;
    e->v = xcalloc(e->cap, sizeof *e->v);
    return e;
}

proc_env *proc_env_new_base(void)
{
    static const char *const allow[] = {"PATH", "HOME", "USER", "LOGNAME", "LANG",
                                        "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", NULL};
    proc_env *v = proc_env_new();
    for (const char *const *a = allow; *a; a++)
        proc_env_copy(v, *a);
    if (!proc_env_get(v, "PATH"))
        proc_env_set(v, "PATH", "/usr/local/bin:/usr/bin:/bin", NULL);
    return v;
}

void proc_env_free(proc_env *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
    free(v);
}

static ssize_t find(const proc_env *v, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < v->n; i++)
        if (strncmp(v->v[i], name, nl) == 0 && v->v[i][nl] == '=')
            return (ssize_t)i;
    return -1;
}

int proc_env_set(proc_env *v, const char *name, const char *value, kerr *e)
{
    if (!name || !*name)
        return kerr_set(e, "environment: empty variable name");
    if (strchr(name, '='))
        return kerr_set(e, "environment: variable name '%s' holds '='", name);
    if (!value)
        value = "";
    char *kv = xasprintf("%s=%s", name, value);
    ssize_t i = find(v, name);
    if (i >= 0) {
        free(v->v[i]);
        v->v[i] = kv;
        return 0;
    }
    if (v->n + 2 > v->cap) {
        v->cap *= 2;
        v->v = xrealloc(v->v, v->cap * sizeof *v->v);
    }
    v->v[v->n++] = kv;
    v->v[v->n] = NULL;
    return 0;
}

int proc_env_copy(proc_env *v, const char *name)
{
    const char *val = getenv(name);
    if (!val || !*name || strchr(name, '='))
        return 0;
    return proc_env_set(v, name, val, NULL) == 0;
}

void proc_env_unset(proc_env *v, const char *name)
{
    ssize_t i = find(v, name);
    if (i < 0)
        return;
    free(v->v[i]);
    memmove(v->v + i, v->v + i + 1, (v->n - (size_t)i) * sizeof *v->v);  /* moves the NULL too */
    v->n--;
}

const char *proc_env_get(const proc_env *v, const char *name)
{
    ssize_t i = find(v, name);
    return i < 0 ? NULL : v->v[i] + strlen(name) + 1;
}

const char *const *proc_env_array(proc_env *v)
{
    return (const char *const *)v->v;
}
