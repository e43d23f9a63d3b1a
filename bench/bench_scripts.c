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
 *   2. the Windmill benchmark's workload (bench/scripts_fibo40.yaml: 40
 *      sequential Python tasks computing fibo(10)) as total seconds, against
 *      40 bare `/usr/bin/python3 -c` runs of the same code, and the per-task
 *      overhead above a bare Python start.
 * Each kite figure is the median of a few runs, each on a fresh data folder.
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

static double bare_sh_echo(void)
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

static double bare_python_fibo(void)
{
    const char *code = "def fibo(n):\n    return n if n < 2 else fibo(n - 1) + fibo(n - 2)\nprint(fibo(10))\n";
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        const char *av[] = {"/usr/bin/python3", "-c", code, NULL};
        spawn_wait(av, env);
    }
    return now_s() - t0;
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
    bare_sh_echo();
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

    char fibo[4096];
    const char *root = getenv("ROOT");
    snprintf(fibo, sizeof fibo, "%s/bench/scripts_fibo40.yaml", root && *root ? root : ".");
    if (access(fibo, R_OK) != 0) {
        fprintf(stderr, "bench_scripts: %s not found (run from the repository root)\n", fibo);
    } else {
        bare_python_fibo();
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
