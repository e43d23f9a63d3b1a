/*
 * dl.c: the loader behind every dl_lib (dl.h): dlopen, dlsym of each listed
 * function into the library's table, and the message when it cannot.
 */
#include "util/dl.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The library being loaded: pthread_once takes no argument, and loads run
 * one at a time under dl_lock (a load is rare: once per library). */
static pthread_mutex_t dl_lock = PTHREAD_MUTEX_INITIALIZER;
static dl_lib *dl_current;

static void dl_fail(dl_lib *l, const char *detail)
{
    snprintf(l->msg, sizeof l->msg, "%s need %s (Debian package %s): %s", l->what, l->soname,
             l->package, detail && *detail ? detail : "unknown error");
    l->why = l->msg;
}

static void dl_run(void)
{
    dl_lib *l = dl_current;
    char env[64] = "KITE_DL_";
    size_t k = strlen(env);
    for (const char *p = l->name; *p && k + 1 < sizeof env; p++)
        env[k++] = (char)toupper((unsigned char)*p);
    env[k] = 0;
    const char *path = getenv(env);
    if (!path || !*path)
        path = l->soname;
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        dl_fail(l, dlerror());
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        dlerror();
        void *f = dlsym(h, l->names[i]);
        if (!f) {
            const char *d = dlerror();
            char why[400];
            snprintf(why, sizeof why, "%s", d ? d : l->names[i]);
            memset(l->table, 0, l->n * sizeof f);
            dlclose(h);
            dl_fail(l, why);
            return;
        }
        /* POSIX: a function's address comes back as void * */
        memcpy((char *)l->table + i * sizeof f, &f, sizeof f);
    }
    l->why = NULL;
}

const char *dl_load(dl_lib *l)
{
    pthread_mutex_lock(&dl_lock);
    dl_current = l;
    pthread_once(&l->once, dl_run);
    dl_current = NULL;
    const char *why = l->why;
    pthread_mutex_unlock(&dl_lock);
    return why;
}
