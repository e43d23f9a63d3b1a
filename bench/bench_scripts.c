/*
 * bench_scripts.c: what a script task costs through the whole of kite
 * (`kite run`: engine, store, worker, process runner) against the bare
 * spawns of the same programs.
 *
 * Prints:
 *   1. a 40-step flow of `echo` shell tasks through `kite run` against 40
 *      bare posix_spawn of `sh -c 'echo step N'`, as totals and a ratio; and
 *      the same per task once kite's start-up is taken out (a 1-step flow's
 *      time subtracted);
 *   2. the same 40 tasks run through the task's hooks alone (no engine, no
 *      store: the cost of tasks/scripts.c and the process runner);
 *   3. the Windmill benchmark's workload (bench/scripts_fibo40.yaml: 40
 *      sequential Python tasks computing fibo(10)) as total seconds, against
 *      40 bare `/usr/bin/python3 -c` runs of the same code, and the per-task
 *      overhead above a bare Python start.
 * Each figure is the median of 3 runs (kite's each on a fresh data folder);
 * on a loaded machine they still move by tens of percent from one run to
 * the next.
 * The kite binary is $KITE (make bench sets it), else build/kite. Figures
 * only, no asserts.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flow/schema.h"
#include "tasks/tasks.h"

#define N 40
#define RUNS 3

static const char *const env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spawns av (stdout and stderr to /dev/null) and waits; its exit code or -1. */
static int spawn_wait(const char *const *av, const char *const *envp)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, av[0], &fa, NULL, (char *const *)av, (char *const *)envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median seconds of RUNS `kite run flow --data <fresh> --quiet`; -1 when a
 * run fails. */
static double kite_run(const char *kite, const char *flow, const char *dir)
{
    double t[RUNS];
    extern char **environ;
    for (int i = 0; i < RUNS; i++) {
        char data[512];
        snprintf(data, sizeof data, "%s/data-%d-%ld", dir, i, (long)(now_s() * 1e6));
        const char *av[] = {kite, "run", flow, "--data", data, "--quiet", NULL};
        double t0 = now_s();
        int rc = spawn_wait(av, (const char *const *)environ);
        t[i] = now_s() - t0;
        if (rc != 0) {
            fprintf(stderr, "bench_scripts: `%s run %s` exited %d\n", kite, flow, rc);
            return -1;
        }
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

static double bare_sh_echo_once(void)
{
    double t0 = now_s();
    for (int i = 1; i <= N; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "echo step %d", i);
        const char *av[] = {"/bin/sh", "-c", cmd, NULL};
        spawn_wait(av, env);
    }
    return now_s() - t0;
}

static double bare_python_fibo_once(void)
{
    const char *code = "def fibo(n):\n    return n if n < 2 else fibo(n - 1) + fibo(n - 2)\nprint(fibo(10))\n";
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        const char *av[] = {"/usr/bin/python3", "-c", code, NULL};
        spawn_wait(av, env);
    }
    return now_s() - t0;
}

/* ---- the task alone: a task_ctx with a trivial ops table ---------------- */

static json_t *b_render(task_ctx *c, const json_t *v, char **err_path, kerr *e)
{
    (void)c;
    (void)err_path;
    (void)e;
    return json_deep_copy(v);
}

static size_t b_lines;
static void b_log(task_ctx *c, store_level level, const char *msg)
{
    (void)c;
    (void)level;
    (void)msg;
    b_lines++;
}

static const task_ctx_ops b_ops = {.render = b_render, .log = b_log};

/* Runs the 40 echo tasks through the hooks of script.shell; seconds, or -1. */
static double hooks_echo(const char *tmp)
{
    tasks_register_all();
    const type_def *d = flow_type_find("io.kestra.plugin.scripts.shell.Commands");
    const struct task_hooks *h = d ? d->hooks : NULL;
    if (!h)
        return -1;
    atomic_int cancel = 0;
    double t0 = now_s();
    for (int i = 1; i <= N; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "echo step %d", i);
        json_t *task = json_pack("{s:s,s:[s]}", "type", "script.shell", "commands", cmd);
        task_ctx c;
        memset(&c, 0, sizeof c);
        c.ops = &b_ops;
        c.task = task;
        c.def = d;
        c.namespace = "bench.scripts";
        c.flow_id = "echo40";
        c.execution_id = "exec";
        c.task_id = "step";
        c.taskrun_id = "run";
        c.attempt = 1;
        c.tmp_root = tmp;
        c.cancel = &cancel;
        c.exit_state = -1;
        kerr e = KERR_INIT;
        task_result r = h->run(&c, &e);
        json_decref(c.outputs);
        json_decref(c.metrics);
        json_decref(task);
        if (r != TASK_SUCCESS) {
            fprintf(stderr, "bench_scripts: task failed: %s\n", e.msg);
            return -1;
        }
    }
    return now_s() - t0;
}

/* Median of RUNS calls of fn. */
static double median_of(double (*fn)(void))
{
    double t[RUNS];
    for (int i = 0; i < RUNS; i++)
        t[i] = fn();
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

static double bare_sh_echo(void)
{
    return median_of(bare_sh_echo_once);
}

static double bare_python_fibo(void)
{
    return median_of(bare_python_fibo_once);
}

static int write_echo_flow(const char *path, int steps)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "id: echo%d\nnamespace: bench.scripts\ntasks:\n", steps);
    for (int i = 1; i <= steps; i++)
        fprintf(f,
                "  - id: step%d\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n"
                "      - echo step %d\n",
                i, i);
    return fclose(f);
}

int main(void)
{
    const char *kite = getenv("KITE");
    if (!kite || !*kite)
        kite = "build/kite";
    char kite_abs[4096];
    if (!realpath(kite, kite_abs)) {
        fprintf(stderr, "bench_scripts: no kite binary at %s (run make first)\n", kite);
        return 1;
    }
    char dir[] = "/tmp/kite-bench-scripts-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char f40[600], f1[600];
    snprintf(f40, sizeof f40, "%s/echo40.yaml", dir);
    snprintf(f1, sizeof f1, "%s/echo1.yaml", dir);
    if (write_echo_flow(f40, N) || write_echo_flow(f1, 1))
        return 1;

    /* warm the page cache and the interpreters */
    bare_sh_echo_once();
    double sh = bare_sh_echo();
    double k1 = kite_run(kite_abs, f1, dir);
    double k40 = kite_run(kite_abs, f40, dir);
    if (k1 > 0 && k40 > 0) {
        double per_task = (k40 - k1) / (N - 1);
        printf("echo flow: kite run of %d shell tasks %.3f s; %d bare sh -c spawns %.3f s; ratio %.1f\n", N,
               k40, N, sh, k40 / sh);
        printf("echo flow: kite start-up and a 1-task flow %.3f s; each further task %.2f ms "
               "(bare sh -c %.2f ms): per-task ratio %.1f\n",
               k1, per_task * 1e3, sh / N * 1e3, per_task / (sh / N));
    }

    hooks_echo(dir);
    double hk = hooks_echo(dir);
    double sh2 = bare_sh_echo();
    if (hk > 0)
        printf("echo tasks through their hooks alone (no engine): %.2f ms a task against %.2f ms a bare "
               "sh -c: ratio %.2f, %.2f ms a task for tasks/scripts.c and the process runner\n",
               hk / N * 1e3, sh2 / N * 1e3, hk / sh2, (hk - sh2) / N * 1e3);

    char fibo[4096];
    const char *root = getenv("ROOT");
    snprintf(fibo, sizeof fibo, "%s/bench/scripts_fibo40.yaml", root && *root ? root : ".");
    if (access(fibo, R_OK) != 0) {
        fprintf(stderr, "bench_scripts: %s not found (run from the repository root)\n", fibo);
    } else {
        bare_python_fibo_once();
        double py = bare_python_fibo();
        double kf = kite_run(kite_abs, fibo, dir);
        if (kf > 0)
            printf("windmill fibo(10) x %d Python tasks: kite run %.3f s total; bare python3 x %d %.3f s "
                   "(%.1f ms a start); overhead %.1f ms a task above a bare Python start "
                   "(published, 4 vCPU: Kestra process runner 3.47 s, Docker 27 s, Windmill 1.6 s)\n",
                   N, kf, N, py, py / N * 1e3, (kf - py) / N * 1e3);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_scripts: could not remove %s\n", dir);
    return 0;
}
