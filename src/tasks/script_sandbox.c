/*
 * script_sandbox.c: the sandbox task runner (runner.sandbox), and the Docker
 * runner's stand-in where no Docker Engine answers, on util/sandbox.h.
 *
 * scripts.c makes the run folder and the command as for the process runner;
 * this file decides whether the sandbox runs it, reads the runner's options
 * (its own, or the Docker runner's mapped: cpu.cpus, memory.memory,
 * networkMode, volumes), hands the folders the task writes to the sandbox's
 * user and makes the sandbox. proc_run then starts the command through it.
 *
 * DESIGN
 * Docker's default network gives a container the network, so a Docker task
 * mapped here keeps the host's network unless networkMode is none;
 * runner.sandbox has none unless networkMode is host. A task that asked for
 * runner.sandbox fails where no sandbox can be made (isolation is never
 * dropped silently); a Docker task falls back to the process runner with a
 * warning saying why, as it did before the sandbox existed.
 */
#include "tasks/tasks_int.h"

#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const type_def *default_runner;

int tasks_set_default_runner(const char *type, kerr *e)
{
    if (!type || !*type) {
        default_runner = NULL;
        return 0;
    }
    const type_def *t = flow_type_find(type);
    if (t && t == flow_type_find("runner.process")) {
        default_runner = NULL;
        return 0;
    }
    if (!t || t != flow_type_find("runner.sandbox"))
        return kerr_setc(e, KERR_INVALID, "defaults.taskRunner: '%s' cannot be the default runner (runner.process, "
                                          "runner.sandbox)", type);
    default_runner = t;
    return 0;
}

typedef struct sbx_opts {
    int host_network;
    int64_t memory;
    double cpus;
    int64_t pids;
    sandbox_volume *vols;
    size_t nvols;
} sbx_opts;

static void sbx_opts_free(sbx_opts *o)
{
    for (size_t i = 0; i < o->nvols; i++) {
        free((char *)o->vols[i].host);
        free((char *)o->vols[i].target);
    }
    free(o->vols);
}

/* Reads the options o (rendered) of runner.sandbox, or of the Docker runner
 * when docker is set. */
static int read_opts(const json_t *o, int docker, sbx_opts *so, kerr *e)
{
    memset(so, 0, sizeof *so);
    const char *nm = json_string_value(json_object_get(o, "networkMode"));
    if (docker) {
        so->host_network = !(nm && !strcasecmp(nm, "none"));
    } else if (!nm || !strcmp(nm, "none")) {
        so->host_network = 0;
    } else if (!strcmp(nm, "host")) {
        so->host_network = 1;
    } else {
        return kerr_setc(e, KERR_INVALID, "property 'taskRunner.networkMode': '%s' is not one of none, host", nm);
    }
    const json_t *mem = json_object_get(json_object_get(o, "memory"), "memory");
    if (mem && !json_is_null(mem)) {
        so->memory = tasks__parse_bytes(mem);
        if (so->memory <= 0 || (so->memory > 0 && so->memory < (1 << 20)))
            return kerr_setc(e, KERR_INVALID, "property 'taskRunner.memory.memory': not a size of at least 1 MiB "
                                              "(e.g. 256Mi, 512Mb, 1g)");
    }
    const json_t *cpu = json_object_get(json_object_get(o, "cpu"), "cpus");
    if (cpu && !json_is_null(cpu)) {
        double n = json_is_number(cpu) ? json_number_value(cpu)
                   : json_is_string(cpu) ? strtod(json_string_value(cpu), NULL)
                                         : -1;
        if (!(n > 0) || n > 4096)
            return kerr_setc(e, KERR_INVALID, "property 'taskRunner.cpu.cpus': a positive number of CPUs");
        so->cpus = n;
    }
    const json_t *pl = json_object_get(o, "pidsLimit");
    if (pl && !json_is_null(pl)) {
        if (!json_is_integer(pl) || json_integer_value(pl) < 0)
            return kerr_setc(e, KERR_INVALID, "property 'taskRunner.pidsLimit': a number of processes (0: no limit of its own)");
        so->pids = json_integer_value(pl);
    }
    const json_t *vols = json_object_get(o, "volumes");
    if (json_is_string(vols) || json_is_array(vols)) {
        size_t n = json_is_array(vols) ? json_array_size(vols) : 1;
        so->vols = xcalloc(n ? n : 1, sizeof *so->vols);
        for (size_t i = 0; i < n; i++) {
            const char *v = json_string_value(json_is_array(vols) ? json_array_get(vols, i) : vols);
            if (!v)
                return kerr_setc(e, KERR_INVALID, "property 'taskRunner.volumes': a list of host:target[:ro]");
            const char *c1 = strchr(v, ':');
            if (!c1 || c1 == v || !c1[1])
                return kerr_setc(e, KERR_INVALID, "volume '%s': not host:target[:ro|:rw]", v);
            const char *c2 = strchr(c1 + 1, ':');
            int ro = 0;
            if (c2) {
                if (!strcmp(c2 + 1, "ro"))
                    ro = 1;
                else if (strcmp(c2 + 1, "rw"))
                    return kerr_setc(e, KERR_INVALID, "volume '%s': the mode must be ro or rw", v);
            }
            sandbox_volume *sv = &so->vols[so->nvols++];
            sv->host = xstrndup(v, (size_t)(c1 - v));
            sv->target = c2 ? xstrndup(c1 + 1, (size_t)(c2 - c1 - 1)) : xstrdup(c1 + 1);
            sv->read_only = ro;
            if (sv->host[0] != '/')
                return kerr_setc(e, KERR_INVALID, "volume '%s': %s is a named volume: the sandbox binds host folders "
                                                  "only", v, sv->host);
        }
    }
    return 0;
}

int tasks__sandbox_plan(task_ctx *c, const char *docker_prop, const json_t *docker_opts, const char *image,
                        const char *const *writable, sandbox **out, kerr *e)
{
    *out = NULL;
    const json_t *tr = json_object_get(c->task, "taskRunner");
    const char *type = json_string_value(json_object_get(tr, "type"));
    int docker = docker_prop != NULL;
    json_t *own = NULL;
    const json_t *opts = NULL;
    if (docker) {
        opts = docker_opts;
    } else if (type && flow_type_find(type) == flow_type_find("runner.sandbox")) {
        if (task_prop(c, "taskRunner", &own, e))
            return -1;
        opts = own;
    } else if (!type && default_runner) {
        opts = NULL;   /* kite.yml's default, with its defaults */
    } else {
        return 0;
    }
    kerr why = KERR_INIT;
    if (sandbox_available(&why)) {
        json_decref(own);
        if (docker) {
            task_log(c, LEVEL_WARN, "No Docker engine answers and no sandbox can be made on this host (%s): the "
                                    "task runs as a local process on kite's process runner, not isolated", why.msg);
            return 0;
        }
        return kerr_set(e, "runner.sandbox: %s", why.msg);
    }
    sbx_opts so;
    int rc = read_opts(opts, docker, &so, e);
    json_decref(own);
    if (!rc && docker) {
        task_log(c, LEVEL_INFO, "No Docker engine answers: the task runs in kite's sandbox runner (%s, %s network)",
                 !strcmp(docker_prop, "taskRunner") ? "taskRunner mapped" : "docker options mapped",
                 so.host_network ? "host" : "no");
        if (image && *image)
            task_log(c, LEVEL_WARN, "containerImage %s is not used: the sandbox runs the host's root filesystem", image);
        static const char *const ignored[] = {"user", "entryPoint", "privileged", "extraHosts", "shmSize",
                                              "portBindings", "deviceRequests", NULL};
        for (const char *const *k = ignored; *k; k++) {
            const json_t *v = json_object_get(opts, *k);
            if (v && !json_is_null(v) && !json_is_false(v) && !(json_is_array(v) && !json_array_size(v)))
                task_log(c, LEVEL_WARN, "taskRunner.%s is not used by the sandbox", *k);
        }
    }
    for (const char *const *w = writable; !rc && *w; w++)
        rc = sandbox_give_tree(*w, e);
    if (!rc) {
        sandbox_opts o = {.writable = writable, .volumes = so.vols, .nvolumes = so.nvols,
                          .host_network = so.host_network, .memory_bytes = so.memory, .cpus = so.cpus,
                          .pids_max = so.pids};
        rc = sandbox_new(&o, out, e);
    }
    sbx_opts_free(&so);
    return rc ? -1 : 1;
}

int tasks__sandbox_done(sandbox *sb, proc_result *pr, kerr *e)
{
    if (!sb)
        return 0;
    sandbox_task_status(sb, pr);
    sandbox_report r;
    sandbox_finish(sb, &r);
    sandbox_free(sb);
    if (r.oom_killed) {
        char h[32];
        sandbox_human_bytes(r.memory_bytes, h, sizeof h);
        return kerr_set(e, "killed: memory limit %s reached", h);
    }
    return 0;
}
