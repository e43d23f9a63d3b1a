/*
 * bench_sandbox.c: what the sandbox runner (util/sandbox.h) costs above the
 * process runner, and what bubblewrap costs for the same isolation.
 *
 * Prints, as medians of ROUNDS rounds of 40 sequential runs of
 * `sh -c 'echo hi'` (and of `python3 -c fibo(10)`): bare posix_spawn,
 * proc_run, proc_run in a sandbox (no network: an empty network namespace
 * of the pool; host network), and proc_run of /usr/bin/bwrap doing the same
 * isolation (--unshare-all, read-only root, private /tmp, /proc, /dev, the
 * folder writable, seccomp excepted: bwrap takes a compiled filter only
 * through a file descriptor); then where a sandbox's set-up time goes, step
 * by step (the child's clock, from the clone call), and a sandbox with a
 * fresh network namespace per run (the pool emptied each time) for
 * comparison. Figures only, no asserts.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"
#include "util/proc.h"
#include "util/sandbox.h"

#define N 40
#define ROUNDS 5

static const char *const env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL};
static char *dir, *bdir;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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
    return 0;
}

typedef struct steps {
    double sum[16];
    const char *names[16];
    int n, runs;
    double setup, t_new, t_run, t_finish, t_free;
} steps;

/* One run through proc_run; sandboxed when mode is 1 (no network) or 2
 * (host network). */
static int one(const char *const *av, int mode, steps *st)
{
    proc_spec s;
    proc_spec_init(&s);
    s.argv = av;
    s.env = env;
    s.cwd = dir;
    sandbox *sb = NULL;
    double a = now_ms(), b = a, c, d;
    if (mode) {
        const char *w[] = {dir, NULL};
        sandbox_opts o = {.writable = w, .host_network = mode == 2};
        kerr e = KERR_INIT;
        if (sandbox_new(&o, &sb, &e)) {
            fprintf(stderr, "bench_sandbox: %s\n", e.msg);
            return -1;
        }
        s.spawn = sandbox_spawn;
        s.spawn_ud = sb;
        b = now_ms();
    }
    proc_result r;
    kerr e = KERR_INIT;
    int rc = proc_run(&s, &r, &e);
    if (rc)
        fprintf(stderr, "bench_sandbox: %s\n", e.msg);
    else if (!r.exited || r.exit_code) {
        fprintf(stderr, "bench_sandbox: %s failed (exit %d, signal %d)\n", av[0], r.exit_code, r.term_signal);
        rc = -1;
    }
    c = now_ms();
    if (sb) {
        sandbox_report rep;
        sandbox_finish(sb, &rep);
        d = now_ms();
        if (st) {
            for (int i = 0; i < rep.nsteps && i < 16; i++) {
                st->sum[i] += (double)rep.step_us[i];
                st->names[i] = rep.step_names[i];
            }
            if (rep.nsteps > st->n)
                st->n = rep.nsteps;
            st->setup += (double)rep.setup_us;
            st->runs++;
        }
        sandbox_free(sb);
        if (st) {
            st->t_new += b - a;
            st->t_run += c - b;
            st->t_finish += d - c;
            st->t_free += now_ms() - d;
        }
    }
    return rc;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { K_BARE, K_PROC, K_SB_NONE, K_SB_HOST, K_BWRAP, K_N };
static const char *const kname[K_N] = {"bare posix_spawn", "process runner", "sandbox (no network)",
                                        "sandbox (host network)", "bwrap (same isolation)"};

static void measure(const char *label, const char *const *av, const char *const *bw)
{
    double t[K_N][ROUNDS];
    int ok[K_N] = {1, 1, 1, 1, access("/usr/bin/bwrap", X_OK) == 0};
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < K_N; k++) {
            if (!ok[k])
                continue;
            double t0 = now_ms();
            for (int i = 0; i < N; i++) {
                int rc = k == K_BARE ? bare(av) : k == K_BWRAP ? one(bw, 0, NULL) : one(av, k - 1, NULL);
                if (rc) {
                    ok[k] = 0;
                    break;
                }
            }
            t[k][r] = now_ms() - t0;
        }
    double m[K_N];
    for (int k = 0; k < K_N; k++)
        m[k] = ok[k] ? median(t[k], ROUNDS) : 0;
    printf("  %s: 40 sequential runs, median of %d rounds\n", label, ROUNDS);
    for (int k = 0; k < K_N; k++) {
        if (!ok[k]) {
            printf("    %-24s not available\n", kname[k]);
            continue;
        }
        printf("    %-24s %8.1f ms  %6.2f ms/run  %5.2fx bare", kname[k], m[k], m[k] / N, m[k] / m[K_BARE]);
        if (k >= K_SB_NONE)
            printf("  %+6.2f ms/run over the process runner", (m[k] - m[K_PROC]) / N);
        printf("\n");
    }
}

int main(void)
{
    kerr e = KERR_INIT;
    if (sandbox_available(&e)) {
        printf("bench_sandbox: the sandbox is not available here: %s\n", e.msg);
        return 0;
    }
    const char *t = getenv("TMPDIR");
    char *root = xasprintf("%s/kite-bench-sandbox-%d", t && *t ? t : "/tmp", (int)getpid());
    mkdir(root, 0755);
    chmod(root, 0755);
    /* bwrap maps the task's uid to kite's own: its folder stays kite's */
    if (proc_workdir_new(root, "run-", &dir, &e) || sandbox_give_tree(dir, &e) ||
        proc_workdir_new(root, "bwrap-", &bdir, &e)) {
        printf("bench_sandbox: %s\n", e.msg);
        return 1;
    }
    FILE *la = fopen("/proc/loadavg", "r");
    char load[64] = "?";
    if (la) {
        if (!fgets(load, sizeof load, la))
            strcpy(load, "?");
        fclose(la);
        load[strcspn(load, "\n")] = '\0';
    }
    printf("bench_sandbox: load average %s\n", load);
    const char *sh[] = {"/bin/sh", "-c", "echo hi", NULL};
#define BW "/usr/bin/bwrap", "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--die-with-parent", "--new-session", "--ro-bind", "/", "/", \
           "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", bdir, bdir, "--chdir", bdir
    const char *bwsh[] = {BW, "/bin/sh", "-c", "echo hi", NULL};
    /* warm-up: the user namespace, the seccomp filter, a network namespace for the pool */
    one(sh, 1, NULL);
    measure("sh -c 'echo hi'", sh, bwsh);
    const char *fib = "def fibo(n): return n if n < 2 else fibo(n - 1) + fibo(n - 2)\nprint(fibo(10))";
    const char *py[] = {"/usr/bin/python3", "-c", fib, NULL};
    const char *bwpy[] = {BW, "/usr/bin/python3", "-c", fib, NULL};
    measure("python3 fibo(10)", py, bwpy);

    /* interleaved, one run of each in turn, so that the machine's load
     * drifts over all of them alike: per-run medians */
    enum { M = 201 };
    static double tp[M], tn[M], th[M], tb[M];
    int have_bw = access("/usr/bin/bwrap", X_OK) == 0;
    steps st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < M; i++) {
        double t0 = now_ms();
        one(sh, 0, NULL);
        double t1 = now_ms();
        one(sh, 1, &st);
        double t2 = now_ms();
        one(sh, 2, NULL);
        double t3 = now_ms();
        if (have_bw)
            one(bwsh, 0, NULL);
        tp[i] = t1 - t0;
        tn[i] = t2 - t1;
        th[i] = t3 - t2;
        tb[i] = now_ms() - t3;
    }
    double mp = median(tp, M), mn = median(tn, M), mh = median(th, M), mb = have_bw ? median(tb, M) : 0;
    enum { MP = 41 };
    static double pp[MP], pn[MP], pb[MP];
    for (int i = 0; i < MP; i++) {
        double t0 = now_ms();
        one(py, 0, NULL);
        double t1 = now_ms();
        one(py, 1, NULL);
        double t2 = now_ms();
        if (have_bw)
            one(bwpy, 0, NULL);
        pp[i] = t1 - t0;
        pn[i] = t2 - t1;
        pb[i] = now_ms() - t2;
    }
    double mpp = median(pp, MP), mpn = median(pn, MP), mpb = have_bw ? median(pb, MP) : 0;
    printf("  python3 fibo(10), %d runs of each interleaved, median per run: process runner %.2f ms, sandbox %.2f ms "
           "(%+.2f ms), bwrap %.2f ms (%+.2f ms)\n", MP, mpp, mpn, mpn - mpp, mpb, mpb - mpp);
    printf("  sh -c 'echo hi', %d runs of each interleaved, median per run: process runner %.2f ms, sandbox %.2f ms "
           "(%+.2f ms), sandbox with the host's network %.2f ms (%+.2f ms), bwrap %.2f ms (%+.2f ms)\n", M, mp, mn,
           mn - mp, mh, mh - mp, mb, mb - mp);
    printf("  where a sandbox's set-up goes (mean of %d runs, no network, microseconds from the clone call):\n",
           st.runs);
    for (int i = 0; i < st.n; i++)
        printf("    %-12s %7.0f us\n", st.names[i], st.sum[i] / st.runs);
    printf("    %-12s %7.0f us (the spawn returns)\n", "exec'd", st.setup / st.runs);
    printf("  a whole sandboxed run (mean): sandbox_new %.0f us, proc_run %.0f us, sandbox_finish %.0f us, "
           "sandbox_free %.0f us\n", st.t_new * 1e3 / st.runs, st.t_run * 1e3 / st.runs, st.t_finish * 1e3 / st.runs,
           st.t_free * 1e3 / st.runs);
    proc_workdir_remove(dir, NULL, NULL, NULL);
    proc_workdir_remove(bdir, NULL, NULL, NULL);
    rmdir(root);
    free(dir);
    free(bdir);
    free(root);
    return 0;
}
