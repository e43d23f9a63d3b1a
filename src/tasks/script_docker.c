/*
 * script_docker.c: the Docker task runner (Kestra's
 * io.kestra.plugin.scripts.runner.docker.Docker, kite's runner.docker), on
 * the Docker Engine API client of util/docker.h.
 *
 * One run goes like this (scripts.c has made the run folder, written the
 * input and namespace files into the working folder and built the command):
 *   1. the image is pulled according to pullPolicy (IF_NOT_PRESENT, ALWAYS,
 *      NEVER), with the registry credentials of `credentials` (or of the
 *      `config` file's auths) in X-Registry-Auth;
 *   2. a container is created: Entrypoint from entryPoint ([""] when unset,
 *      so that the command runs whatever the image's entry point is), Cmd the
 *      command, Env the task's env plus WORKING_DIR and OUTPUT_DIR,
 *      WorkingDir, User, and HostConfig: Memory (memory.memory), NanoCpus
 *      (cpu.cpus), Binds (volumes), NetworkMode, ExtraHosts, ShmSize,
 *      Privileged;
 *   3. the working folder (and the output folder, and for Python kite's
 *      stand-in kestra.py) are copied in as one tar archive at the same
 *      paths as on the host, so every path scripts.c wrote into the command,
 *      the {{ workingDir }} it rendered, and the files it localized are right
 *      inside the container too;
 *   4. start, then the logs are followed: each line goes to the output
 *      reader of script_io.c (markers, log lines), as a local process's do;
 *   5. wait gives the exit code; the output folder is copied back, and the
 *      working folder too when something reads it (outputFiles, or the later
 *      tasks of a WorkingDirectory: job.copy_workdir), and scripts.c stores
 *      the output files as usual;
 *   6. the container is removed (unless delete: false). A timeout or a kill
 *      stops it (killGracePeriod, then SIGKILL) and removes it.
 *
 * DESIGN
 * The engine's client belongs to this run (one connection, the worker's
 * thread). Secrets: the registry password, the auth and the tokens are
 * registered with task_secret (masked in every log line) and only ever
 * travel in the X-Registry-Auth header, which no message prints.
 */
#include "tasks/tasks_int.h"

#include "expr/expr.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/docker.h"
#include "util/mem.h"
#include "util/strutil.h"
#include "util/tar.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Most bytes of files copied back out of a container. */
#define OUT_MAX_BYTES (16ULL << 30)

const char *tasks__docker_wanted(const task_ctx *c)
{
    const json_t *t = c->task;
    const json_t *tr = json_object_get(t, "taskRunner");
    const char *type = json_string_value(json_object_get(tr, "type"));
    if (type)
        return flow_type_find(type) == flow_type_find("runner.docker") ? "taskRunner" : NULL;
    const char *runner = json_string_value(json_object_get(t, "runner"));
    if (runner && !strcasecmp(runner, "DOCKER"))
        return json_object_get(t, "dockerOptions") ? "dockerOptions" : "docker";
    return NULL;
}

/* "512Mb", "1g", "256Mi", "1073741824" or a number: bytes (1024-based
 * units, as Docker reads them). -1 when malformed. */
int64_t tasks__parse_bytes(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
    if (json_is_real(v))
        return json_real_value(v) >= 0 && json_real_value(v) < 9.2e18 ? (int64_t)json_real_value(v) : -1;
    long long n;
    return str_parse_bytes(json_string_value(v), &n) ? -1 : (int64_t)n;
}

static void human_bytes(int64_t b, char *out, size_t n)
{
    if (b >= (1LL << 30) && b % (1LL << 30) == 0)
        snprintf(out, n, "%lld GiB", (long long)(b >> 30));
    else if (b >= (1LL << 20))
        snprintf(out, n, "%lld MiB", (long long)(b >> 20));
    else
        snprintf(out, n, "%lld bytes", (long long)b);
}

/* A string option of the runner (or NULL). */
static const char *opt_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A list-of-strings option into a JSON array of strings (new), NULL when
 * absent; -1 (with e) when not a list. */
static int opt_strv(const json_t *o, const char *k, json_t **out, kerr *e)
{
    *out = NULL;
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        *out = json_pack("[s]", json_string_value(v));
        return 0;
    }
    if (!json_is_array(v))
        return kerr_setc(e, KERR_INVALID, "property 'taskRunner.%s' must be a list of strings", k);
    json_t *a = json_array();
    size_t i;
    const json_t *it;
    json_array_foreach(v, i, it) {
        if (json_is_string(it)) {
            json_array_append_new(a, json_string(json_string_value(it)));
        } else {
            char *t = expr_value_to_text(it);
            json_array_append_new(a, json_string(t));
            free(t);
        }
    }
    *out = a;
    return 0;
}

/* The registry host an image comes from ("docker.io" for Docker Hub's). */
static char *image_registry(const char *image)
{
    const char *slash = strchr(image, '/');
    if (slash) {
        size_t n = (size_t)(slash - image);
        if (memchr(image, '.', n) || memchr(image, ':', n) || (n == 9 && !strncmp(image, "localhost", 9)))
            return xstrndup(image, n);
    }
    return xstrdup("docker.io");
}

/* The credentials of the `config` property (a config.json, as a map or its
 * text) for the image's registry: an X-Registry-Auth value or NULL. */
static char *config_auth(task_ctx *c, const json_t *config, const char *image)
{
    json_t *own = NULL;
    if (json_is_string(config)) {
        json_error_t je;
        own = json_loads(json_string_value(config), 0, &je);
        config = own;
    }
    const json_t *auths = json_object_get(config, "auths");
    if (!json_is_object(auths)) {
        json_decref(own);
        return NULL;
    }
    char *reg = image_registry(image);
    const json_t *hit = NULL;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)auths, k, v) {
        const char *h = k;
        if (!strncmp(h, "https://", 8))
            h += 8;
        else if (!strncmp(h, "http://", 7))
            h += 7;
        size_t n = strcspn(h, "/");
        int hub = !strcmp(reg, "docker.io") &&
                  ((n == 9 && !strncmp(h, "docker.io", 9)) || (n == 15 && !strncmp(h, "index.docker.io", 15)) ||
                   (n == 20 && !strncmp(h, "registry-1.docker.io", 20)));
        if (hub || (strlen(reg) == n && !strncmp(h, reg, n))) {
            hit = v;
            break;
        }
    }
    char *out = NULL;
    if (hit) {
        const char *user = opt_str(hit, "username"), *pass = opt_str(hit, "password");
        const char *auth = opt_str(hit, "auth"), *idt = opt_str(hit, "identitytoken");
        task_secret(c, pass);
        task_secret(c, auth);
        task_secret(c, idt);
        out = docker_registry_auth(user, pass, auth, reg, idt, NULL);
    }
    free(reg);
    json_decref(own);
    return out;
}

/* The X-Registry-Auth value of the runner's credentials (or config), or
 * NULL when there are none. */
static char *registry_auth(task_ctx *c, const json_t *opts, const char *image)
{
    const json_t *cr = json_object_get(opts, "credentials");
    if (json_is_object(cr) && json_object_size(cr)) {
        const char *user = opt_str(cr, "username"), *pass = opt_str(cr, "password");
        const char *auth = opt_str(cr, "auth"), *reg = opt_str(cr, "registry");
        const char *rt = opt_str(cr, "registryToken"), *it = opt_str(cr, "identityToken");
        task_secret(c, pass);
        task_secret(c, auth);
        task_secret(c, rt);
        task_secret(c, it);
        char *u = NULL, *p = NULL;
        if (auth && !user && !pass) {
            /* auth is base64 of user:password */
            size_t n = 0, bad = 0;
            char *dec = base64_decode(auth, strlen(auth), &n, &bad);
            char *colon = dec ? strchr(dec, ':') : NULL;
            if (colon) {
                u = xstrndup(dec, (size_t)(colon - dec));
                p = xstrdup(colon + 1);
                task_secret(c, p);
            }
            if (dec) {
                explicit_bzero(dec, n);
                free(dec);
            }
        }
        char *r = docker_registry_auth(u ? u : user, p ? p : pass, u ? NULL : auth, reg, it, rt);
        free(u);
        if (p) {
            explicit_bzero(p, strlen(p));
            free(p);
        }
        return r;
    }
    const json_t *config = json_object_get(opts, "config");
    return config ? config_auth(c, config, image) : NULL;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Pulls the image as pullPolicy says. */
static int ensure_image(task_ctx *c, docker *d, const json_t *opts, const char *image, kerr *e)
{
    const char *policy = opt_str(opts, "pullPolicy");
    if (!policy)
        policy = "IF_NOT_PRESENT";
    int always = !strcasecmp(policy, "ALWAYS"), never = !strcasecmp(policy, "NEVER");
    if (!always && !never && strcasecmp(policy, "IF_NOT_PRESENT"))
        return kerr_setc(e, KERR_INVALID, "property 'taskRunner.pullPolicy': '%s' is not one of IF_NOT_PRESENT, "
                                          "ALWAYS, NEVER", policy);
    if (!always) {
        int present = 0;
        if (docker_image_present(d, image, &present, e))
            return -1;
        if (present)
            return 0;
        if (never)
            return kerr_setc(e, KERR_NOT_FOUND, "image %s is not on the Docker Engine at %s and pullPolicy is NEVER",
                             image, docker_host(d));
    }
    char *auth = registry_auth(c, opts, image);
    int64_t t0 = time_mono_us();
    int rc = docker_image_pull(d, image, auth, e);
    free_secret(auth);
    if (!rc)
        task_log(c, LEVEL_INFO, "pulled image %s in %.1f s", image, (double)(time_mono_us() - t0) / 1e6);
    return rc;
}

/* The container's Env: WORKING_DIR, OUTPUT_DIR (and for Python its
 * unbuffered output and kite's kestra.py), then the task's env. */
static int build_env(task_ctx *c, const tasks__docker_job *j, json_t *env, kerr *e)
{
    json_array_append_new(env, json_sprintf("WORKING_DIR=%s", j->workdir));
    json_array_append_new(env, json_sprintf("OUTPUT_DIR=%s", j->outdir));
    if (j->pydir) {
        json_array_append_new(env, json_string("PYTHONUNBUFFERED=1"));
        json_array_append_new(env, json_sprintf("PYTHONPATH=%s", j->pydir));
    }
    json_t *v;
    if (task_prop(c, "env", &v, e))
        return -1;
    if (v && !json_is_object(v)) {
        json_decref(v);
        return kerr_setc(e, KERR_INVALID, "property 'env' must be a map of name to value");
    }
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val) {
        if (!*k || strchr(k, '=')) {
            json_decref(v);
            return kerr_setc(e, KERR_INVALID, "property 'env': '%s' is not a variable name", k);
        }
        char *text = json_is_string(val) ? xstrdup(json_string_value(val))
                     : json_is_null(val) ? xstrdup("")
                                         : expr_value_to_text(val);
        json_array_append_new(env, json_sprintf("%s=%s", k, text));
        free(text);
    }
    json_decref(v);
    return 0;
}

/* The body of POST /containers/create. */
static json_t *create_body(task_ctx *c, const tasks__docker_job *j, const char *image, int64_t *mem_limit,
                           kerr *e)
{
    const json_t *o = j->opts;
    json_t *b = json_object();
    json_t *hc = json_object();
    json_object_set_new(b, "Image", json_string(image));
    json_t *cmd = json_array();
    for (char *const *a = j->argv; *a; a++)
        json_array_append_new(cmd, json_string(*a));
    json_object_set_new(b, "Cmd", cmd);
    json_t *ep = NULL, *binds = NULL, *hosts = NULL;
    if (opt_strv(o, "entryPoint", &ep, e) || opt_strv(o, "volumes", &binds, e) ||
        opt_strv(o, "extraHosts", &hosts, e))
        goto fail;
    json_object_set_new(b, "Entrypoint", ep ? ep : json_pack("[s]", ""));
    json_t *env = json_array();
    json_object_set_new(b, "Env", env);
    if (build_env(c, j, env, e))
        goto fail;
    json_object_set_new(b, "WorkingDir", json_string(j->workdir));
    if (opt_str(o, "user"))
        json_object_set_new(b, "User", json_string(opt_str(o, "user")));
    json_object_set_new(b, "AttachStdout", json_true());
    json_object_set_new(b, "AttachStderr", json_true());
    json_object_set_new(b, "Tty", json_false());
    json_object_set_new(b, "Labels",
                        json_pack("{s:s,s:s,s:s,s:s}", "io.kite.namespace", c->namespace ? c->namespace : "",
                                  "io.kite.flow", c->flow_id ? c->flow_id : "", "io.kite.execution",
                                  c->execution_id ? c->execution_id : "", "io.kite.task",
                                  c->task_id ? c->task_id : ""));
    json_object_set_new(b, "HostConfig", hc);
    if (binds)
        json_object_set_new(hc, "Binds", binds);
    if (hosts)
        json_object_set_new(hc, "ExtraHosts", hosts);
    binds = hosts = NULL;
    if (opt_str(o, "networkMode"))
        json_object_set_new(hc, "NetworkMode", json_string(opt_str(o, "networkMode")));
    if (json_is_true(json_object_get(o, "privileged")))
        json_object_set_new(hc, "Privileged", json_true());
    const json_t *shm = json_object_get(o, "shmSize");
    if (shm) {
        int64_t n = tasks__parse_bytes(shm);
        if (n < 0) {
            kerr_setc(e, KERR_INVALID, "property 'taskRunner.shmSize': not a size (e.g. 64m, 1g)");
            goto fail;
        }
        json_object_set_new(hc, "ShmSize", json_integer(n));
    }
    const json_t *cpu = json_object_get(json_object_get(o, "cpu"), "cpus");
    if (cpu && !json_is_null(cpu)) {
        double n = json_is_number(cpu) ? json_number_value(cpu)
                   : json_is_string(cpu) ? strtod(json_string_value(cpu), NULL)
                                         : -1;
        if (!(n > 0) || n > 4096) {
            kerr_setc(e, KERR_INVALID, "property 'taskRunner.cpu.cpus': a positive number of CPUs");
            goto fail;
        }
        json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)llround(n * 1e9)));
    }
    const json_t *mem = json_object_get(o, "memory");
    static const struct {
        const char *k, *api;
    } sizes[] = {{"memory", "Memory"}, {"memorySwap", "MemorySwap"}, {"memoryReservation", "MemoryReservation"},
                 {"kernelMemory", "KernelMemory"}};
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(mem, sizes[i].k);
        if (!v || json_is_null(v))
            continue;
        int64_t n = tasks__parse_bytes(v);
        if (n < 0 && !(i == 1 && json_is_integer(v) && json_integer_value(v) == -1)) {
            kerr_setc(e, KERR_INVALID, "property 'taskRunner.memory.%s': not a size (e.g. 512Mb, 1g)", sizes[i].k);
            goto fail;
        }
        json_object_set_new(hc, sizes[i].api, json_integer(n));
        if (i == 0)
            *mem_limit = n;
    }
    const json_t *sw = json_object_get(mem, "memorySwappiness");
    if (json_is_integer(sw))
        json_object_set_new(hc, "MemorySwappiness", json_integer(json_integer_value(sw)));
    if (json_is_true(json_object_get(mem, "oomKillDisable")))
        json_object_set_new(hc, "OomKillDisable", json_true());
    return b;
fail:
    json_decref(ep);
    json_decref(binds);
    json_decref(hosts);
    json_decref(b);
    return NULL;
}

/* The tar of what goes into the container, at its host paths. */
static int make_input_tar(const tasks__docker_job *j, const char *tar_path, kerr *e)
{
    int fd = open(tar_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return kerr_set(e, "cannot create %s: %s", tar_path, strerror(errno));
    tar_writer *w = tar_writer_new(fd);
    /* folders writable by any user the container runs as (`user`) */
    int rc = tar_add_tree(w, j->workdir + 1, j->workdir, 0777, e) ||
             tar_add_tree(w, j->outdir + 1, j->outdir, 0777, e) ||
             (j->pydir && tar_add_tree(w, j->pydir + 1, j->pydir, 0755, e)) || tar_finish(w, e);
    tar_writer_free(w);
    if (close(fd) && !rc)
        rc = kerr_set(e, "cannot write %s: %s", tar_path, strerror(errno));
    return rc ? -1 : 0;
}

/* Copies the container's folder path back into the host folder of the same
 * path (its files replace the host's). */
static int copy_out(docker *d, const char *id, const char *path, const char *tar_path, kerr *e)
{
    int missing = 0;
    if (docker_archive_get(d, id, path, tar_path, &missing, e))
        return -1;
    if (missing)
        return 0;
    int fd = open(tar_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kerr_set(e, "cannot read %s: %s", tar_path, strerror(errno));
    long n = tar_extract(fd, path, 1, OUT_MAX_BYTES, e);
    close(fd);
    unlink(tar_path);
    if (n < 0) {
        kerr_prefix(e, "copying %s out of the container", path);
        return -1;
    }
    return 0;
}

int tasks__docker_run(task_ctx *c, const tasks__docker_job *j, proc_result *r, kerr *e)
{
    memset(r, 0, sizeof *r);
    const json_t *o = j->opts;
    docker *d = NULL;
    char *id = NULL, *tar_in = NULL, *tar_out = NULL, *image = NULL;
    json_t *body = NULL;
    int rc = -1, keep = json_is_false(json_object_get(o, "delete"));
    int64_t mem_limit = 0;
    if (docker_open(opt_str(o, "host"), &d, e))
        goto out;
    image = xstrdup(opt_str(o, "image") && !j->image_set ? opt_str(o, "image") : j->image);
    if (!image[0]) {
        kerr_setc(e, KERR_INVALID, "the Docker runner needs an image: set containerImage");
        goto out;
    }
    if (json_is_false(json_object_get(o, "wait")))
        task_log(c, LEVEL_WARN, "taskRunner.wait: false is not supported by kite: the task waits for its container");
    const char *fhs = opt_str(o, "fileHandlingStrategy");
    if (fhs && strcasecmp(fhs, "VOLUME"))
        task_log(c, LEVEL_WARN, "taskRunner.fileHandlingStrategy: %s is not supported by kite: files are copied "
                                "in and out (VOLUME)", fhs);
    if (json_array_size(json_object_get(o, "portBindings")) || json_array_size(json_object_get(o, "deviceRequests")))
        task_log(c, LEVEL_WARN, "taskRunner.portBindings and deviceRequests are not passed to the container by kite");
    int64_t grace_us = 0;
    const char *kg = opt_str(o, "killGracePeriod");
    if (kg && duration_parse(kg, &grace_us, e)) {
        kerr_prefix(e, "property 'taskRunner.killGracePeriod'");
        goto out;
    }

    if (ensure_image(c, d, o, image, e))
        goto out;
    if (!(body = create_body(c, j, image, &mem_limit, e)))
        goto out;
    if (docker_container_create(d, body, &id, e))
        goto out;
    tar_in = xasprintf("%s/in.tar", j->rdir);
    tar_out = xasprintf("%s/out.tar", j->rdir);
    if (make_input_tar(j, tar_in, e) || docker_archive_put(d, id, "/", tar_in, e))
        goto out;
    unlink(tar_in);
    if (docker_container_start(d, id, e))
        goto out;
    int64_t t0 = time_mono_us();
    int64_t timeout_ms = 0;
    if (c->deadline_us) {
        timeout_ms = (c->deadline_us - t0) / 1000;
        if (timeout_ms < 1)
            timeout_ms = 1;
    }
    int stopped = 0;
    if (docker_container_logs(d, id, TASKS__SCRIPT_LINE_MAX, tasks__script_out_line, j->out, c->cancel, timeout_ms,
                              &stopped, e))
        goto out;
    if (stopped) {
        kerr se = KERR_INIT;
        if (docker_container_stop(d, id, (long)(grace_us / 1000000), &se))
            task_log(c, LEVEL_WARN, "%s", se.msg);
        r->cancelled = stopped == 1;
        r->timed_out = stopped == 2;
        r->pid = 1;
        r->duration_us = time_mono_us() - t0;
        r->term_signal = 9;
        rc = 0;
        goto out;
    }
    long status = -1;
    if (docker_container_wait(d, id, &status, e))
        goto out;
    r->duration_us = time_mono_us() - t0;
    r->pid = 1;
    r->exited = 1;
    r->exit_code = (int)status;
    if (status == 137) {
        int oom = 0;
        kerr ie = KERR_INIT;
        if (docker_container_oom(d, id, &oom, &ie) == 0 && oom) {
            char h[32];
            human_bytes(mem_limit, h, sizeof h);
            if (mem_limit > 0)
                kerr_set(e, "killed: memory limit %s reached", h);
            else
                kerr_set(e, "killed: out of memory (the kernel's OOM killer ended the container)");
            goto out;
        }
    }
    if ((j->copy_workdir && copy_out(d, id, j->workdir, tar_out, e)) || copy_out(d, id, j->outdir, tar_out, e))
        goto out;
    rc = 0;
out:
    if (id && !keep) {
        kerr re = KERR_INIT;
        if (docker_container_remove(d, id, &re))
            task_log(c, LEVEL_WARN, "%s", re.msg);
    } else if (id) {
        task_log(c, LEVEL_INFO, "container %.12s kept (delete: false)", id);
    }
    if (tar_in)
        unlink(tar_in);
    if (tar_out)
        unlink(tar_out);
    free(tar_in);
    free(tar_out);
    free(id);
    free(image);
    json_decref(body);
    docker_free(d);
    return rc;
}
