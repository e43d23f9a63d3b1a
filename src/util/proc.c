/*
 * proc.c: the process runner (see proc.h and docs/process-runner.md).
 *
 * One proc_run call owns one child from spawn to reaping. It is a single
 * poll() loop on the calling thread over three fds: the read ends of the
 * stdout and stderr pipes and a pidfd of the child (readable when it exits).
 * Reading both pipes in one loop is what keeps a child that writes megabytes
 * to one stream while kite waits on the other from blocking forever.
 *
 * DESIGN
 * - Spawning: posix_spawn, which glibc implements with clone(CLONE_VM |
 *   CLONE_VFORK): the parent resumes only once the child has exec'd or
 *   failed, and an exec failure comes back as posix_spawn's return value (the
 *   errno of execve), so "cannot execute" is known before any output is read.
 *   The child gets a new session and process group (setsid: its sid and
 *   pgid are its pid, and it has no controlling terminal, so a program that
 *   would prompt on /dev/tty fails instead of hanging), stdin from
 *   /dev/null, the pipes on 1 and 2, every other fd closed (closefrom 3), an
 *   empty signal mask and default dispositions (kite may ignore SIGPIPE; a
 *   shell pipeline in a task must not), and only the environment of the spec.
 * - Lines: what is read is fed to a proc_lines (proc_lines.c), which calls
 *   the spec's callback on this thread; after a failure of the loop, output
 *   is only drained, so no callback runs before the failure return.
 * - Ending: a timeout, the cancel flag, or the leader exiting while other
 *   members of its group still run, all lead to the same sequence: SIGTERM
 *   and SIGCONT to the whole group, then SIGKILL after the grace period,
 *   repeated every 100 ms until kill(-pgid, 0) says the group is empty.
 * - Reaping: waitid(P_PID) on the leader and waitid(P_PGID) on the group,
 *   never waitpid(-1), so concurrent proc_run calls on other threads never
 *   steal each other's children. With the subreaper set, members orphaned by
 *   the leader are re-parented to kite and reaped here by P_PGID.
 * - Escapees: a process that leaves the group (setsid, a double fork, a
 *   daemon) is out of reach of kill(-pgid). Every child therefore carries a
 *   marker in its environment, KITE_RUN_ID=<kite pid>.<run number>, which its
 *   descendants inherit; when a run is stopped (timeout, cancel, failure),
 *   each signal to the group also goes to every process whose environment
 *   holds this run's marker or whose session or group is the run's (a /proc
 *   scan, sweep() below), and proc_run returns only once none is left. The
 *   marker names one run, so concurrent runs in one worker pool never touch
 *   each other's processes. Only a process that also scrubs its environment
 *   escapes (a cgroup per run would catch it; see docs/process-runner.md).
 * - Orphans that leave the group (setsid) of a run that ended normally are
 *   left running; proc_reap_orphans() reaps them when they exit. It must not race a spawn
 *   (a new child, not yet registered, would look like an orphan), so spawns
 *   hold a read lock and the orphan reaper the write lock; the registry of
 *   live groups has its own mutex.
 */
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"

#define CHUNK          (64 * 1024)
#define CANCEL_TICK_MS 25
#define KILL_TICK_MS   100
#define STUCK_MS       10000
#define ESCAPED_MS     200

/* ---- Registry of running groups --------------------------------------- */

static pthread_rwlock_t spawn_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *reg_pids;
static size_t reg_len, reg_cap;

static void reg_add(pid_t p)
{
    pthread_mutex_lock(&reg_lock);
    if (reg_len == reg_cap) {
        reg_cap = reg_cap ? reg_cap * 2 : 16;
        reg_pids = xrealloc(reg_pids, reg_cap * sizeof *reg_pids);
    }
    reg_pids[reg_len++] = p;
    pthread_mutex_unlock(&reg_lock);
}

static void reg_del(pid_t p)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < reg_len; i++)
        if (reg_pids[i] == p) {
            reg_pids[i] = reg_pids[--reg_len];
            break;
        }
    pthread_mutex_unlock(&reg_lock);
}

static int reg_has(pid_t p)
{
    int found = 0;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < reg_len && !found; i++)
        found = reg_pids[i] == p;
    pthread_mutex_unlock(&reg_lock);
    return found;
}

/* ---- Small helpers ------------------------------------------------------ */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void) { return now_us() / 1000; }

/* Moves fd above 2 so that dup2 onto 0..2 in the child never collides with
 * a source fd (kite started with a closed stdio would get pipes there). */
static int fd_above2(int fd)
{
    if (fd > 2)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return n;
}

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    p[0] = fd_above2(p[0]);
    p[1] = fd_above2(p[1]);
    if (p[0] < 0 || p[1] < 0) {
        if (p[0] >= 0) close(p[0]);
        if (p[1] >= 0) close(p[1]);
        return -1;
    }
    /* Only our end is non-blocking: the child's writes must block. */
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    return 0;
}

static const char *env_lookup(const char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* Finds the program to run: a name with a '/' is used as given (relative to
 * the child's cwd); a bare name is looked up in the PATH the child will get.
 * Returns a malloc'd path, or NULL with e set. */
static char *resolve_program(const char *name, const char *const *env, int dirfd,
                             kerr *e)
{
    if (!*name) {
        kerr_set(e, "process: empty program name");
        return NULL;
    }
    if (strchr(name, '/'))
        return xstrdup(name);
    const char *path = env_lookup(env, "PATH");
    if (!path)
        path = "/bin:/usr/bin";
    int saw_eacces = 0;
    const char *p = path;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t dl = colon ? (size_t)(colon - p) : strlen(p);
        char *cand = dl ? xasprintf("%.*s/%s", (int)dl, p, name) : xasprintf("./%s", name);
        struct stat st;
        if (fstatat(dirfd, cand, &st, 0) == 0 && S_ISREG(st.st_mode)) {
            if (faccessat(dirfd, cand, X_OK, 0) == 0)
                return cand;
            saw_eacces = 1;
        }
        free(cand);
        if (!colon)
            break;
        p = colon + 1;
    }
    if (saw_eacces)
        kerr_set(e, "cannot execute '%s': %s", name, strerror(EACCES));
    else
        kerr_set(e, "cannot execute '%s': not found in PATH (%s)", name, path);
    return NULL;
}

/* ---- The run ------------------------------------------------------------ */

void proc_spec_init(proc_spec *s)
{
    memset(s, 0, sizeof *s);
    s->grace_ms = 5000;
    s->max_line = 64 * 1024;
}

static void record_status(proc_result *r, const siginfo_t *si)
{
    if (si->si_code == CLD_EXITED) {
        r->exited = 1;
        r->exit_code = si->si_status;
    } else {
        r->exited = 0;
        r->term_signal = si->si_status;
    }
}

typedef struct waitstate {
    pid_t pid;
    int leader_done;
    int lost;               /* the leader's status could not be read */
} waitstate;

/* Reaps the leader and any member of the group that is our child now. */
static void reap(waitstate *w, proc_result *r)
{
    siginfo_t si;
    if (!w->leader_done) {
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG) == 0) {
            if (si.si_pid == w->pid) {
                record_status(r, &si);
                w->leader_done = 1;
            }
        } else if (errno == ECHILD) {
            w->leader_done = 1;
            w->lost = 1;
        }
    }
    for (;;) {
        memset(&si, 0, sizeof si);
        if (waitid(P_PGID, (id_t)w->pid, &si, WEXITED | WNOHANG) != 0 || si.si_pid == 0)
            break;
        if (si.si_pid == w->pid && !w->leader_done) {
            record_status(r, &si);
            w->leader_done = 1;
        }
    }
}

static void stream_eof(proc_lines *lp, proc_stream st, int *fd, int failed)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    if (!failed)
        proc_lines_end(lp, st);
}

/* Reads from a readable pipe: again while it returns full chunks, up to
 * 1 MiB, which saves a poll per chunk on a busy stream without starving the
 * other one. Once the loop failed, output is only drained: no callback may
 * run before the failure return. */
static void stream_read(proc_lines *lp, proc_stream st, int *fd, char *buf, int failed)
{
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(*fd, buf, CHUNK);
        if (n > 0) {
            if (!failed)
                proc_lines_feed(lp, st, buf, (size_t)n);
            if (n < CHUNK)
                return;
        } else {
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                stream_eof(lp, st, fd, failed);
            return;
        }
    }
}


static int group_alive(pid_t pgid)
{
    return kill(-pgid, 0) == 0 || errno == EPERM;
}

/* ---- Escapees: the run's marker ---------------------------------------- */

#define RUN_ID_VAR "KITE_RUN_ID"

static atomic_uint_fast64_t run_seq;

/* Reads state, parent, group and session of pid from /proc/<pid>/stat. */
static int read_stat4(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp, pid_t *sid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');   /* the command name may hold ')' */
    int pp, pg, ss;
    if (!rp || sscanf(rp + 1, " %c %d %d %d", state, &pp, &pg, &ss) != 4)
        return -1;
    *ppid = pp;
    *pgrp = pg;
    *sid = ss;
    return 0;
}

/* Does /proc/<pid>/environ hold the entry `entry` ("KITE_RUN_ID=...")? An
 * environment that cannot be read (another user's, a zombie's) does not. */
static int environ_has(pid_t pid, const char *entry, size_t elen)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    /* entries are NUL-terminated; keep the tail of one chunk for the next */
    char buf[8192];
    size_t have = 0;
    int found = 0, at_start = 1;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t i = 0;
        while (i < have) {
            char *z = memchr(buf + i, '\0', have - i);
            if (!z)
                break;
            size_t len = (size_t)(z - (buf + i));
            if (at_start && len == elen && !memcmp(buf + i, entry, elen)) {
                found = 1;
                break;
            }
            at_start = 1;
            i += len + 1;
        }
        if (found)
            break;
        if (i == 0 && have == sizeof buf) {
            /* one entry longer than the buffer: not ours, skip its rest */
            at_start = 0;
            have = 0;
        } else {
            memmove(buf, buf + i, have - i);
            have -= i;
        }
    }
    close(fd);
    return found;
}

typedef struct escapees {
    char entry[64];         /* "KITE_RUN_ID=<pid>.<n>" */
    size_t elen;
    pid_t leader;           /* the run's pid = its pgid and sid */
    int on;                 /* the run is being stopped: signal them too */
    struct esc_proc { int fd; pid_t pid; } *v;   /* signalled, to reap */
    size_t n, cap;
} escapees;

static int esc_known(const escapees *x, pid_t pid)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->v[i].pid == pid)
            return 1;
    return 0;
}

/* Signals sig (0: none, only counts) to every live process of the run other
 * than the leader's group members reachable by kill(-pgid): those whose
 * environment holds the marker or whose session or group is the leader's.
 * Returns how many live ones it found. Each is opened as a pidfd before it
 * is checked, so the signal reaches the process checked, never a process
 * that took its pid since. */
static size_t sweep(escapees *x, int sig)
{
    pid_t self = getpid();
    size_t live = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        pid_t pid = (pid_t)atoi(de->d_name);
        if (pid == self)
            continue;
        char st;
        pid_t ppid, pgrp, sid;
        if (read_stat4(pid, &st, &ppid, &pgrp, &sid) != 0 || st == 'Z' || st == 'X')
            continue;
        int cand = sid == x->leader || pgrp == x->leader;
        if (!cand && !environ_has(pid, x->entry, x->elen))
            continue;
        int fd = (int)pidfd_open(pid, 0);
        if (fd < 0)
            continue;
        /* checked again through the pidfd's process: still alive, still ours */
        if (read_stat4(pid, &st, &ppid, &pgrp, &sid) != 0 || st == 'Z' || st == 'X' ||
            !(sid == x->leader || pgrp == x->leader || environ_has(pid, x->entry, x->elen)) ||
            pidfd_send_signal(fd, 0, NULL, 0) != 0) {
            close(fd);
            continue;
        }
        live++;
        if (sig)
            pidfd_send_signal(fd, sig, NULL, 0);
        if (esc_known(x, pid)) {
            close(fd);
            continue;
        }
        if (x->n == x->cap) {
            x->cap = x->cap ? x->cap * 2 : 8;
            x->v = xrealloc(x->v, x->cap * sizeof *x->v);
        }
        x->v[x->n].fd = fd;
        x->v[x->n++].pid = pid;
    }
    if (d)
        closedir(d);
    return live;
}

/* Reaps the signalled processes that are kite's children (re-parented by the
 * subreaper) and closes every pidfd. */
static void esc_free(escapees *x)
{
    for (size_t i = 0; i < x->n; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        waitid((idtype_t)P_PIDFD, (id_t)x->v[i].fd, &si, WEXITED | WNOHANG);
        close(x->v[i].fd);
    }
    free(x->v);
    x->v = NULL;
    x->n = x->cap = 0;
}

/* Signals the group and, while it is unreaped, the leader itself (belt and
 * braces: a session leader cannot leave its group); when the run is being
 * stopped (x->on), every escapee of the run too. */
static void signal_run(const waitstate *w, escapees *x, int sig)
{
    kill(-w->pid, sig);
    if (!w->leader_done)
        kill(w->pid, sig);   /* safe: an unreaped pid is never reused */
    if (x->on)
        sweep(x, sig);
}

enum { PH_RUN, PH_TERM, PH_KILL };

int proc_run(const proc_spec *s, proc_result *r, kerr *e)
{
    memset(r, 0, sizeof *r);
    if (!s)
        return kerr_set(e, "process: no spec");
    if (!!s->argv == !!s->command)
        return kerr_set(e, "process: give either argv or command (exactly one)");
    if (s->argv && !s->argv[0])
        return kerr_set(e, "process: argv is empty");
    if (s->timeout_ms < 0 || s->timeout_ms > PROC_MAX_MS)
        return kerr_set(e, "process: timeout of %lld ms out of range (0 to %lld)",
                        (long long)s->timeout_ms, (long long)PROC_MAX_MS);
    if (s->grace_ms < 0 || s->grace_ms > PROC_MAX_MS)
        return kerr_set(e, "process: grace period of %lld ms out of range (0 to %lld)",
                        (long long)s->grace_ms, (long long)PROC_MAX_MS);
    if (s->cancel && atomic_load(s->cancel)) {
        r->cancelled = 1;          /* killed before it started: spawn nothing */
        return 0;
    }

    const char *shell_av[4];
    const char *const *av = s->argv;
    if (s->command) {
        shell_av[0] = s->shell ? s->shell : "/bin/sh";
        shell_av[1] = "-c";
        shell_av[2] = s->command;
        shell_av[3] = NULL;
        av = shell_av;
    }
    /* the child's environment: the spec's, less any marker of an outer run,
     * plus this run's marker (see "Escapees" at the top) */
    escapees esc = {.leader = 0};
    esc.elen = (size_t)snprintf(esc.entry, sizeof esc.entry, RUN_ID_VAR "=%d.%llu",
                                (int)getpid(),
                                (unsigned long long)atomic_fetch_add(&run_seq, 1) + 1);
    size_t nenv = 0;
    for (const char *const *p = s->env; p && *p; p++)
        nenv++;
    const char **envp = xcalloc(nenv + 2, sizeof *envp);
    size_t ne = 0;
    for (const char *const *p = s->env; p && *p; p++)
        if (strncmp(*p, RUN_ID_VAR "=", sizeof RUN_ID_VAR))
            envp[ne++] = *p;
    envp[ne++] = esc.entry;

    int cwdfd = AT_FDCWD;
    if (s->cwd) {
        cwdfd = open(s->cwd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cwdfd < 0) {
            free(envp);
            return kerr_set(e, "process: working directory '%s': %s", s->cwd, strerror(errno));
        }
    }
    int rc = -1;
    char *path = NULL;
    int out[2] = {-1, -1}, err[2] = {-1, -1}, pidfd = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_ok = 0, attr_ok = 0;
    proc_lines *lp = NULL;
    char *buf = NULL;
    int fds[2] = {-1, -1};      /* our ends of stdout and stderr, -1 at EOF */
    int failed = 0;             /* the loop failed: no more callbacks */

    path = s->spawn ? xstrdup(av[0]) : resolve_program(av[0], envp, cwdfd, e);
    if (!path)
        goto done;
    if (make_pipe(out) != 0 || make_pipe(err) != 0) {
        kerr_set(e, "process: pipe: %s", strerror(errno));
        goto done;
    }

    posix_spawn_file_actions_init(&fa);
    fa_ok = 1;
    posix_spawnattr_init(&attr);
    attr_ok = 1;
    int erc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!erc) erc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (!erc) erc = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    if (!erc && cwdfd != AT_FDCWD) erc = posix_spawn_file_actions_addfchdir_np(&fa, cwdfd);
    if (!erc) erc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    /* SETSID rather than SETPGROUP: a new group as well, no controlling
     * terminal, and no way for the child to join a group of kite's session
     * (setpgid across sessions is refused). */
    if (!erc) erc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
                                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!erc) erc = posix_spawnattr_setsigmask(&attr, &none);
    if (!erc) erc = posix_spawnattr_setsigdefault(&attr, &all);
    if (erc) {
        kerr_set(e, "process: spawn attributes: %s", strerror(erc));
        goto done;
    }

    pid_t pid = 0;
    pthread_rwlock_rdlock(&spawn_lock);
    int64_t t0 = now_us();
    if (s->spawn) {
        proc_spawn_args sa = {.argv = av, .envp = envp, .cwd = s->cwd, .out_fd = out[1], .err_fd = err[1]};
        erc = s->spawn(s->spawn_ud, &sa, &pid, e) ? -1 : 0;
    } else {
        erc = posix_spawn(&pid, path, &fa, &attr, (char *const *)av, (char *const *)envp);
    }
    if (!erc)
        reg_add(pid);
    pthread_rwlock_unlock(&spawn_lock);
    if (erc == -1)
        goto done;    /* the hook said why */
    if (erc) {
        if (erc == EAGAIN || erc == ENOMEM)
            kerr_set(e, "cannot start '%s': %s", path, strerror(erc));
        else
            kerr_set(e, "cannot execute '%s': %s", path, strerror(erc));
        goto done;
    }
    r->pid = pid;
    esc.leader = pid;
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;
    pidfd = (int)pidfd_open(pid, 0);   /* -1 on old kernels: we then poll */
    if (s->on_start)
        s->on_start(s->ud, pid);

    lp = proc_lines_new(s->max_line, s->cut_long_lines, s->max_output, s->on_line, s->ud);
    buf = xmalloc(CHUNK);
    fds[0] = out[0];
    fds[1] = err[0];
    out[0] = err[0] = -1;   /* owned by fds now */

    waitstate w = {.pid = pid};
    int phase = PH_RUN;
    int64_t start = t0 / 1000;
    int64_t deadline = s->timeout_ms ? start + s->timeout_ms : 0;
    int64_t kill_at = 0, kill_sent = 0, last_kill = 0, gone_at = 0, backoff = 1;

    for (;;) {
        int64_t now = now_ms();
        reap(&w, r);
        int alive = -1;        /* is the group still there? asked once a turn */
        if (phase == PH_RUN) {
            int stop = 0;
            if (s->cancel && atomic_load(s->cancel))
                stop = esc.on = r->cancelled = 1;
            else if (deadline && now >= deadline)
                stop = esc.on = r->timed_out = 1;
            else if (w.leader_done && (alive = group_alive(pid)))
                stop = r->leftovers = 1;
            if (stop) {
                signal_run(&w, &esc, SIGTERM);
                signal_run(&w, &esc, SIGCONT);   /* a stopped member must see SIGTERM */
                phase = PH_TERM;
                kill_at = now + s->grace_ms;
            }
        }
        if (phase == PH_TERM && now >= kill_at) {
            signal_run(&w, &esc, SIGKILL);
            r->killed = 1;
            phase = PH_KILL;
            kill_sent = last_kill = now;
        }
        if (phase == PH_KILL && now - last_kill >= KILL_TICK_MS) {
            /* again: a member may have forked between two signals */
            signal_run(&w, &esc, SIGKILL);
            last_kill = now;
            if (now - kill_sent >= STUCK_MS) {
                r->group_stuck = 1;
                break;
            }
        }
        int pipes_open = fds[0] >= 0 || fds[1] >= 0;
        if (w.leader_done && alive < 0)
            alive = group_alive(pid);
        if (w.leader_done && !alive) {
            if (!pipes_open)
                break;
            /* Only a process outside the group (setsid) can still hold a
             * pipe: read what it has written for a moment, then leave it. */
            if (!gone_at)
                gone_at = now;
            else if (now - gone_at >= ESCAPED_MS)
                break;
        }

        int64_t t = -1;
#define TMIN(x) do { int64_t x_ = (x); if (x_ < 0) x_ = 0; \
                        if (t < 0 || x_ < t) t = x_; } while (0)
        if (phase == PH_RUN && s->cancel) TMIN(CANCEL_TICK_MS);
        if (phase == PH_RUN && deadline) TMIN(deadline - now);
        if (phase == PH_TERM) TMIN(kill_at - now);
        if (phase == PH_KILL) TMIN(KILL_TICK_MS);
        if (w.leader_done) TMIN(10);    /* no event tells when members are gone */
        if (!w.leader_done && pidfd < 0) {
            TMIN(backoff);
            if (backoff < 10) backoff++;
        }
#undef TMIN
        if (t > INT32_MAX) t = INT32_MAX;

        struct pollfd pf[3];
        int nf = 0, idx[2] = {-1, -1};
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0) {
                idx[i] = nf;
                pf[nf++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
            }
        if (pidfd >= 0 && !w.leader_done)
            pf[nf++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        int n = poll(pf, (nfds_t)nf, (int)(t < 0 ? -1 : t));
        if (n < 0 && errno != EINTR) {
            /* cannot happen with valid fds; do not spin: stop the group */
            if (!failed)
                kerr_set(e, "process: poll: %s", strerror(errno));
            failed = 1;
            esc.on = 1;
            if (phase != PH_KILL) {
                signal_run(&w, &esc, SIGKILL);
                phase = PH_KILL;
                kill_sent = last_kill = now;
            }
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        for (int i = 0; i < 2 && n > 0; i++)
            if (idx[i] >= 0 && pf[idx[i]].revents)
                stream_read(lp, i ? PROC_STDERR : PROC_STDOUT, &fds[i], buf, failed);
    }

    /* A stopped run returns only once its escapees are gone too: they had
     * SIGTERM with the group; SIGKILL once the grace period is over. */
    while (esc.on && !r->group_stuck) {
        int64_t now = now_ms();
        int term = phase == PH_TERM && now < kill_at;
        if (!sweep(&esc, term ? 0 : SIGKILL))
            break;
        if (!term) {
            r->killed = 1;
            if (!kill_sent)
                kill_sent = now;
            if (now - kill_sent >= STUCK_MS)
                r->group_stuck = 1;
        }
        struct timespec ts = {0, (term ? 50 : 20) * 1000000L};
        nanosleep(&ts, NULL);
    }
    esc_free(&esc);

    for (int i = 0; i < 2; i++)
        stream_eof(lp, i ? PROC_STDERR : PROC_STDOUT, &fds[i], failed);
    r->out = *proc_lines_stats(lp, PROC_STDOUT);
    r->err = *proc_lines_stats(lp, PROC_STDERR);
    r->duration_us = now_us() - t0;
    if (w.lost) {
        kerr_set(e, "process: lost the exit status of pid %d (reaped elsewhere: "
                 "SIGCHLD ignored, or a wait for any child)", (int)pid);
    } else if (!w.leader_done) {
        r->exit_code = -1;
        rc = 0;
    } else {
        rc = failed ? -1 : 0;
    }
    reg_del(pid);

done:
    if (fa_ok) posix_spawn_file_actions_destroy(&fa);
    if (attr_ok) posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
    }
    if (pidfd >= 0) close(pidfd);
    if (cwdfd != AT_FDCWD) close(cwdfd);
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    proc_lines_free(lp);
    free(buf);
    free(path);
    free(envp);
    esc_free(&esc);
    return rc;
}

char *proc_describe(const proc_result *r, char *out, size_t n)
{
    char how[96];
    if (r->exited)
        snprintf(how, sizeof how, "exit code %d", r->exit_code);
    else if (r->term_signal)
        snprintf(how, sizeof how, "killed by signal %d (%s)", r->term_signal,
                 strsignal(r->term_signal));
    else
        snprintf(how, sizeof how, "exit status unknown");
    if (r->timed_out)
        snprintf(out, n, "timed out after %.3f s (%s)", (double)r->duration_us / 1e6, how);
    else if (r->cancelled)
        snprintf(out, n, "cancelled (%s)", how);
    else
        snprintf(out, n, "%s", how);
    return out;
}

/* ---- Orphans ------------------------------------------------------------ */

int proc_init_subreaper(kerr *e)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        return kerr_set(e, "process: cannot become child subreaper: %s", strerror(errno));
    return 0;
}

/* Reads state and process group of pid from /proc/<pid>/stat. */
static int read_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');   /* the command name may hold ')' */
    int pp, pg;
    if (!rp || sscanf(rp + 1, " %c %d %d", state, &pp, &pg) != 3)
        return -1;
    *ppid = pp;
    *pgrp = pg;
    return 0;
}

static int reap_if_orphan(pid_t pid, pid_t self)
{
    char state;
    pid_t ppid, pgrp;
    if (read_stat(pid, &state, &ppid, &pgrp) != 0 || ppid != self || state != 'Z')
        return 0;
    if (reg_has(pid) || reg_has(pgrp))
        return 0;
    return waitpid(pid, NULL, WNOHANG) == pid;
}

int proc_reap_orphans(void)
{
    pid_t self = getpid();
    int reaped = 0;
    pthread_rwlock_wrlock(&spawn_lock);
    /* Children hang off the thread they were re-parented to. */
    DIR *d = opendir("/proc/self/task");
    int have_children_files = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[320];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        have_children_files = 1;
        int pid;
        while (fscanf(f, "%d", &pid) == 1)
            reaped += reap_if_orphan(pid, self);
        fclose(f);
    }
    if (d)
        closedir(d);
    if (!have_children_files) {   /* kernel without CONFIG_PROC_CHILDREN */
        d = opendir("/proc");
        while (d && (de = readdir(d))) {
            if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
                reaped += reap_if_orphan(atoi(de->d_name), self);
        }
        if (d)
            closedir(d);
    }
    pthread_rwlock_unlock(&spawn_lock);
    return reaped;
}
