/*
 * bench_proc.c: what the process runner costs above a bare spawn.
 *
 * Prints: 40 bare posix_spawn + waitpid of `sh -c 'echo hi'` (stdout to
 * /dev/null) against 40 proc_run of the same command with line capture, as
 * totals, ratio and microseconds per spawn; the start time of
 * `/usr/bin/python3 -c pass` (median of 10, bare and through proc_run); and
 * 40 sequential Python runs of fibo(10) through proc_run (the Windmill
 * benchmark's workload without the engine). Figures only, no asserts.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/proc.h"

#define N 40

static const char *const env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bare(const char *const *av)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, av[0], &fa, NULL, (char *const *)av, (char *const *)env);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Spawns av with stdout on a pipe and reads it to the end: the floor for
 * reading a big output. Returns the bytes read. */
static long long bare_read(const char *const *av)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    pid_t pid;
    int rc = posix_spawn(&pid, av[0], &fa, NULL, (char *const *)av, (char *const *)env);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc) {
        close(p[0]);
        return -1;
    }
    static char buf[65536];
    long long total = 0;
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0)
        total += n;
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return total;
}

static void count_line(void *ud, proc_stream s, const char *line, size_t len, int flags)
{
    (*(long *)ud)++;
}

static int run(const char *const *av, long *lines)
{
    proc_spec s;
    proc_spec_init(&s);
    s.argv = av;
    s.env = env;
    s.on_line = count_line;
    s.ud = lines;
    proc_result r;
    kerr e = KERR_INIT;
    if (proc_run(&s, &r, &e) != 0) {
        fprintf(stderr, "bench_proc: %s\n", e.msg);
        exit(1);
    }
    return r.exit_code;
}

/* CPU seconds (user + system) used by this process so far. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void)
{
    kerr e = KERR_INIT;
    proc_init_subreaper(&e);
    const char *echo[] = {"/bin/sh", "-c", "echo hi", NULL};

    /* warm the page cache and the dynamic loader */
    bare(echo);
    long lines = 0;
    run(echo, &lines);

    /* interleaved, so that load from other processes weighs on both alike */
    double t, c, t_bare = 0, t_run = 0, c_bare = 0, c_run = 0, each_bare[N], each_run[N];
    lines = 0;
    for (int i = 0; i < N; i++) {
        c = cpu_s();
        t = now_s();
        bare(echo);
        each_bare[i] = now_s() - t;
        c_bare += cpu_s() - c;
        t_bare += each_bare[i];
        c = cpu_s();
        t = now_s();
        run(echo, &lines);
        each_run[i] = now_s() - t;
        c_run += cpu_s() - c;
        t_run += each_run[i];
    }

    printf("%d x sh -c 'echo hi', bare posix_spawn+waitpid: %.1f ms total, %.0f us per spawn\n",
           N, t_bare * 1e3, t_bare / N * 1e6);
    printf("%d x sh -c 'echo hi', proc_run with line capture: %.1f ms total, %.0f us per spawn"
           " (%ld lines)\n", N, t_run * 1e3, t_run / N * 1e6, lines);
    printf("ratio proc_run / bare: %.2f (overhead %.0f us per run)\n", t_run / t_bare,
           (t_run - t_bare) / N * 1e6);
    double m_bare = median(each_bare, N), m_run = median(each_run, N);
    printf("median per spawn: bare %.0f us, proc_run %.0f us, ratio %.2f (less sensitive to "
           "other load)\n", m_bare * 1e6, m_run * 1e6, m_run / m_bare);
    printf("CPU time of kite per spawn: bare %.0f us, proc_run %.0f us\n", c_bare / N * 1e6,
           c_run / N * 1e6);

    /* throughput: 50 MB of 41-byte lines, read with a plain loop vs proc_run */
    const char *big[] = {"/bin/sh", "-c",
                         "yes 0123456789012345678901234567890123456789 | head -c 52428800",
                         NULL};
    c = cpu_s();
    t = now_s();
    long long got = bare_read(big);
    double t_bare_big = now_s() - t, c_bare_big = cpu_s() - c;
    lines = 0;
    c = cpu_s();
    t = now_s();
    run(big, &lines);
    double t_run_big = now_s() - t, c_run_big = cpu_s() - c;
    printf("50 MB on stdout: bare read loop %.0f ms (%.0f MB/s, %lld bytes); proc_run with "
           "line capture %.0f ms (%.0f MB/s, %ld lines)\n", t_bare_big * 1e3,
           52.4288 / t_bare_big, got, t_run_big * 1e3, 52.4288 / t_run_big, lines);
    printf("50 MB on stdout, CPU time of the reader (kite's side only): bare %.0f ms, "
           "proc_run %.0f ms\n", c_bare_big * 1e3, c_run_big * 1e3);

    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("/usr/bin/python3 not found: python figures skipped\n");
        return 0;
    }
    const char *py[] = {"/usr/bin/python3", "-c", "pass", NULL};
    double v[10], w[10];
    bare(py);
    for (int i = 0; i < 10; i++) {   /* interleaved: load changes hit both alike */
        t = now_s();
        bare(py);
        v[i] = now_s() - t;
        t = now_s();
        run(py, &lines);
        w[i] = now_s() - t;
    }
    double py_bare = median(v, 10);
    double py_run = median(w, 10);
    printf("/usr/bin/python3 -c pass: median of 10 %.1f ms bare, %.1f ms through proc_run\n",
           py_bare * 1e3, py_run * 1e3);

    const char *fibo[] = {"/usr/bin/python3", "-c",
                          "def fibo(n):\n"
                          "    return n if n < 2 else fibo(n - 1) + fibo(n - 2)\n"
                          "print(fibo(10))\n", NULL};
    lines = 0;
    double t_fibo = 0, each_fibo[N];
    for (int i = 0; i < N; i++) {
        t = now_s();
        run(fibo, &lines);
        each_fibo[i] = now_s() - t;
        t_fibo += each_fibo[i];
    }
    double m_fibo = median(each_fibo, N);
    printf("%d sequential python3 fibo(10) through proc_run: %.2f s total, median %.1f ms per "
           "task, %.1f ms above the median bare python start (%ld lines)\n", N, t_fibo,
           m_fibo * 1e3, (m_fibo - py_bare) * 1e3, lines);
    return 0;
}
