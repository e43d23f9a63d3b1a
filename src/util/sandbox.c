/*
 * sandbox.c: the sandbox runner (see sandbox.h, docs/scripts.md), written on
 * the kernel's interfaces rather than on bubblewrap: bwrap costs a further
 * exec of a setuid-less helper and its own setup per task (~19 ms a task
 * here against ~3 ms; bench/bench_runners.sh), and kite can prepare once per
 * process what bwrap redoes every time.
 *
 * One spawn goes like this, from the worker's thread, inside proc_run:
 *   kite thread --clone(VM|VFORK|FILES)--> A --clone(VM|VFORK|PARENT|NEWPID|
 *   NEWNS|NEWIPC|NEWUTS)--> B --clone(VM|FS|CHILD_CLEARTID)--> C, which
 *   waits until B has built the root, then execs the task's program; B
 *   execs the sandbox's init (sandbox_init.c).
 *   A enters the user namespace kite made once at start-up (setns: the uid
 *   and gid maps are written once, not per task) and a network namespace:
 *   one of a pool of empty ones left by earlier runs, or a fresh one (whose
 *   loopback it brings up, then it is kept for the pool). A network
 *   namespace costs ~2 ms to create and more to destroy; entering one is a
 *   system call. B is the sandbox's PID 1 and kite's own child
 *   (CLONE_PARENT), so proc_run waits for it as for any child; it joins the
 *   run's cgroups, builds its root under a staging folder (binds, tmpfs,
 *   proc), moves it onto / and enters it (see child_b), takes the task's uid
 *   and gid, sets no_new_privs and the seccomp filter (built once, as BPF, by
 *   libseccomp) and execs the init. C (PID 2, the task), made by B
 *   before the mounts (a process just made waits for a CPU, ~3 ms under
 *   load: better while B works), waits on a futex until the root is built,
 *   then drops the same way, takes a process group of its own and execs;
 *   it runs while B does, on the same TLS, so on raw system calls only
 *   (sandbox_sys.h). A waits for C's exec before it ends, so the kite
 *   thread resumes only once no child runs on its memory.
 *   The init is a static program of ~9 KB embedded in kite and
 *   exec'd from a memfd. Every clone shares kite's memory (nothing of kite's
 *   address space is copied) and the kite thread goes on only once B has
 *   exec'd the init (A and B are vforks) and C has exec'd the task (the
 *   kernel clears C's tid then: CLONE_CHILD_CLEARTID, a futex), so a failure
 *   is reported in memory before the spawn returns.
 *
 * DESIGN
 * - Between the clone and the exec A and B run on stacks of their own in
 *   kite's memory while the kite thread that called them is suspended; other
 *   threads of kite still run, so A and B call only system calls (no malloc,
 *   no stdio, no locks): everything they use is computed before, in
 *   sandbox_new (the mount plan) and sandbox_spawn (argv, PATH candidates).
 *   Signals are blocked around the clone and reset in B before exec.
 * - The init, as Docker's --init (tini): a PID 1 ignores the signals it has
 *   no handler for, so a task that is PID 1 would sit out a timeout's
 *   SIGTERM until the SIGKILL of the grace period, and reap no orphan. The
 *   init forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the task's process
 *   group, reaps every process re-parented to it, and exits when the task
 *   ends, with its exit code; the task's wait status also goes through a
 *   pipe (sandbox_task_status), since a PID 1 cannot die of a signal it
 *   sends itself. When the init ends, the kernel kills everything left in
 *   the namespace, so a timeout or a kill never leaves a process behind.
 *   The init runs as the task's user, under the same filter, not dumpable:
 *   it has nothing the task has not. It costs a further process and exec
 *   per run (bench_sandbox; docs/scripts.md).
 * - The user namespace is shared by every run of a kite process (made
 *   once); each run has its own PID, mount, IPC and UTS namespaces, and its
 *   own network namespace while it runs. Runs cannot see each other:
 *   different PID namespaces and /proc, no capability after the exec.
 * - Cgroups: one folder per run under kite's own cgroup of each controller
 *   (memory, cpu, pids), v2 where the controller is enabled in kite's v2
 *   cgroup, v1 otherwise; B writes itself into cgroup.procs (opened by kite)
 *   before it execs, so no process of the run is ever outside its limits.
 */
#include "util/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/sandbox_sys.h"

#define STACK_SIZE  (256 * 1024)
/* code that runs while another of the sandbox's children runs on kite's
 * memory (and the kite thread's TLS): not instrumented by ThreadSanitizer */
#if defined(__SANITIZE_THREAD__)
#define NO_TSAN __attribute__((no_sanitize("thread")))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef NO_TSAN
#define NO_TSAN
#endif
/* glibc's clone under its own name: ThreadSanitizer intercepts clone() and
 * takes a clone of shared memory without CLONE_VFORK for a fork, resetting
 * its state (in kite's memory) in the child */
extern int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
#define raw_clone __clone
/* how the children end: the system call itself (sanitizers intercept
 * _exit, and would run their end-of-process work in kite's memory) */
static __attribute__((noreturn)) void child_exit(int code)
{
    for (;;)
        syscall(SYS_exit_group, code);
}
#define NET_POOL    64
#define MAX_STEPS   16

/* ---- Settings ------------------------------------------------------------ */

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static char *cfg_root;            /* NULL: "/" */
static char **cfg_allowed;        /* realpaths, NULL-terminated */
static char **cfg_hide;
static uid_t cfg_uid;
static gid_t cfg_gid;
static int cfg_ids_set;

static void strv_push(char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 2) * sizeof **v);
    (*v)[(*n)++] = xstrdup(s);
    (*v)[*n] = NULL;
}

static void strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static int cfg_paths(const json_t *v, const char *key, int resolve, char ***out, kerr *e)
{
    *out = NULL;
    size_t n = 0;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return kerr_setc(e, KERR_INVALID, "sandbox.%s must be a list of absolute paths", key);
    size_t i;
    const json_t *it;
    json_array_foreach(v, i, it) {
        const char *p = json_string_value(it);
        if (!p || p[0] != '/') {
            strv_free(*out);
            *out = NULL;
            return kerr_setc(e, KERR_INVALID, "sandbox.%s[%zu] must be an absolute path", key, i);
        }
        char real[PATH_MAX];
        if (resolve && realpath(p, real))
            strv_push(out, &n, real);
        else
            strv_push(out, &n, p);
    }
    return 0;
}

int sandbox_configure(const json_t *c, const char *const *hidden, kerr *e)
{
    static const char *const keys[] = {"root", "allowedVolumes", "hide", "uid", "gid", NULL};
    if (c && !json_is_object(c))
        return kerr_setc(e, KERR_INVALID, "sandbox must be a mapping (root, allowedVolumes, hide, uid, gid)");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)c, k, v) {
        int ok = 0;
        for (const char *const *p = keys; *p; p++)
            ok |= !strcmp(*p, k);
        if (!ok)
            return kerr_setc(e, KERR_INVALID, "sandbox: unknown key '%s' (root, allowedVolumes, hide, uid, gid)", k);
    }
    const json_t *root = json_object_get(c, "root");
    if (root && (!json_is_string(root) || json_string_value(root)[0] != '/'))
        return kerr_setc(e, KERR_INVALID, "sandbox.root must be the absolute path of a folder");
    char rroot[PATH_MAX];
    if (root) {
        struct stat st;
        if (!realpath(json_string_value(root), rroot) || stat(rroot, &st) || !S_ISDIR(st.st_mode))
            return kerr_setc(e, KERR_INVALID, "sandbox.root %s: not a folder", json_string_value(root));
    }
    const json_t *uid = json_object_get(c, "uid"), *gid = json_object_get(c, "gid");
    if ((uid && (!json_is_integer(uid) || json_integer_value(uid) < 0 || json_integer_value(uid) > 0x7fffffff)) ||
        (gid && (!json_is_integer(gid) || json_integer_value(gid) < 0 || json_integer_value(gid) > 0x7fffffff)))
        return kerr_setc(e, KERR_INVALID, "sandbox.uid and sandbox.gid must be numeric ids");
    if ((uid || gid) && geteuid() != 0 && ((uid && (uid_t)json_integer_value(uid) != geteuid()) ||
                                           (gid && (gid_t)json_integer_value(gid) != getegid())))
        return kerr_setc(e, KERR_INVALID, "sandbox.uid/gid: kite does not run as root, so a task can only run as "
                                          "kite's own user (%d:%d)", (int)geteuid(), (int)getegid());
    char **allowed = NULL, **hide = NULL;
    if (cfg_paths(json_object_get(c, "allowedVolumes"), "allowedVolumes", 1, &allowed, e) ||
        cfg_paths(json_object_get(c, "hide"), "hide", 0, &hide, e)) {
        strv_free(allowed);
        return -1;
    }
    size_t nh = 0;
    for (char **p = hide; p && *p; p++)
        nh++;
    for (const char *const *p = hidden; p && *p; p++) {
        char real[PATH_MAX];
        strv_push(&hide, &nh, realpath(*p, real) ? real : *p);
    }
    pthread_mutex_lock(&cfg_lock);
    free(cfg_root);
    cfg_root = root && strcmp(rroot, "/") ? xstrdup(rroot) : NULL;
    strv_free(cfg_allowed);
    strv_free(cfg_hide);
    cfg_allowed = allowed;
    cfg_hide = hide;
    cfg_ids_set = uid || gid;
    cfg_uid = uid ? (uid_t)json_integer_value(uid) : 65534;
    cfg_gid = gid ? (gid_t)json_integer_value(gid) : 65534;
    pthread_mutex_unlock(&cfg_lock);
    return 0;
}

void sandbox_ids(uid_t *uid, gid_t *gid)
{
    if (geteuid() != 0) {
        *uid = geteuid();
        *gid = getegid();
        return;
    }
    pthread_mutex_lock(&cfg_lock);
    *uid = cfg_ids_set ? cfg_uid : 65534;
    *gid = cfg_ids_set ? cfg_gid : 65534;
    pthread_mutex_unlock(&cfg_lock);
}

/* ---- What is made once ---------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
static char init_msg[KERR_MSG_MAX];
static int userns_fd = -1;
static int userns_setgroups;      /* setgroups(2) is allowed in it (kite is root) */
static uid_t run_uid;
static gid_t run_gid;
static struct sock_fprog seccomp_prog;

typedef struct cg_ctrl {
    const char *name;
    int v2;
    char *base;                   /* kite's own cgroup of this controller; NULL: none */
    char *why;                    /* when base is NULL: why, for the message */
} cg_ctrl;
enum { CG_MEMORY, CG_CPU, CG_PIDS, CG_N };
static cg_ctrl cgs[CG_N] = {{"memory", 0, NULL, NULL}, {"cpu", 0, NULL, NULL}, {"pids", 0, NULL, NULL}};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int net_pool[NET_POOL];
static int net_pool_n;
/* empty v1 pids and cpu cgroups of ended runs, reused (a mkdir and an rmdir
 * of a v1 cgroup cost more than the rest of a run's set-up); memory cgroups
 * are always fresh, so that no charge or OOM count of a run is seen by the
 * next */
#define CG_POOL 32
static char *cg_pool[CG_N][CG_POOL];
static int cg_pool_n[CG_N];

static void init_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void init_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(init_msg, sizeof init_msg, fmt, ap);
    va_end(ap);
    init_rc = -1;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int err = errno;
    close(fd);
    errno = err;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The user namespace every sandbox enters: a helper process is cloned into
 * a new one, kite writes its maps (the task's uid and gid, mapped to
 * themselves), keeps a handle on it and lets the helper go. */
static int make_userns(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return -1;
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        /* fork-like child of a threaded process: system calls only */
        char c;
        close(p[1]);
        while (read(p[0], &c, 1) < 0 && errno == EINTR)
            ;
        child_exit(0);
    }
    int err = errno;
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        init_fail("user namespaces are not available on this host (clone(CLONE_NEWUSER): %s)", strerror(err));
        return -1;
    }
    char path[64], map[64];
    int rc = 0;
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
        rc = write_file(path, "deny");
    } else {
        userns_setgroups = 1;
    }
    /* kite as root maps root as well: the setup (B, still host root until
     * it takes the task's user) creates mount points in its own tmpfs, which
     * needs its ids mapped; the task's user has no capability after exec */
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    if (geteuid() == 0 && run_uid != 0)
        snprintf(map, sizeof map, "0 0 1\n%u %u 1\n", (unsigned)run_uid, (unsigned)run_uid);
    else
        snprintf(map, sizeof map, "%u %u 1\n", (unsigned)run_uid, (unsigned)run_uid);
    if (!rc)
        rc = write_file(path, map);
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    if (geteuid() == 0 && run_gid != 0)
        snprintf(map, sizeof map, "0 0 1\n%u %u 1\n", (unsigned)run_gid, (unsigned)run_gid);
    else
        snprintf(map, sizeof map, "%u %u 1\n", (unsigned)run_gid, (unsigned)run_gid);
    if (!rc)
        rc = write_file(path, map);
    err = errno;
    if (!rc) {
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        userns_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (userns_fd < 0)
            rc = -1, err = errno;
    }
    close(p[1]);
    while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
        ;
    if (rc)
        init_fail("cannot set up the sandbox's user namespace (uid %u, gid %u): %s", (unsigned)run_uid,
                  (unsigned)run_gid, strerror(err));
    return rc;
}

/* The seccomp filter, compiled once to BPF by libseccomp. */
static int make_seccomp(void)
{
    static const char *const denied[] = {
        "mount", "umount", "umount2", "pivot_root", "chroot", "ptrace", "process_vm_readv", "process_vm_writev",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "keyctl", "add_key",
        "request_key", "bpf", "perf_event_open", "unshare", "setns", "swapon", "swapoff", "reboot",
        "open_by_handle_at", "name_to_handle_at", "userfaultfd", "fsopen", "fsconfig", "fsmount", "fspick",
        "move_mount", "open_tree", "mount_setattr", "acct", "quotactl", "quotactl_fd", "syslog", "iopl", "ioperm",
        "lookup_dcookie", "vhangup", "settimeofday", "clock_settime", "clock_adjtime", "uselib", "nfsservctl",
        "fanotify_init", "lsm_set_self_attr", NULL};
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        init_fail("seccomp: cannot make a filter");
        return -1;
    }
    int rc = 0;
    if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
        /* the 32-bit ABIs get the same rules, not a way around them */
        seccomp_arch_add(ctx, SCMP_ARCH_X86);
        seccomp_arch_add(ctx, SCMP_ARCH_X32);
    }
    for (const char *const *n = denied; *n && !rc; n++) {
        int nr = seccomp_syscall_resolve_name(*n);
        if (nr != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) == -EFAULT ? -1 : 0;
    }
    /* clone with a namespace flag; clone3 (whose flags a filter cannot read)
     * answers ENOSYS, so libc falls back to clone */
    static const unsigned long nsflags[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
                                            CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP};
    for (size_t i = 0; i < sizeof nsflags / sizeof nsflags[0] && !rc; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, nsflags[i], nsflags[i]));
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TIOCSTI));
    int fd = rc ? -1 : memfd_create("kite-seccomp", MFD_CLOEXEC);
    if (fd >= 0 && seccomp_export_bpf(ctx, fd) == 0) {
        off_t n = lseek(fd, 0, SEEK_END);
        if (n > 0 && n % (off_t)sizeof(struct sock_filter) == 0) {
            struct sock_filter *f = xmalloc((size_t)n);
            if (pread(fd, f, (size_t)n, 0) == n) {
                seccomp_prog.filter = f;
                seccomp_prog.len = (unsigned short)(n / (off_t)sizeof *f);
            } else {
                free(f);
            }
        }
    }
    if (fd >= 0)
        close(fd);
    seccomp_release(ctx);
    if (!seccomp_prog.filter) {
        init_fail("seccomp: cannot compile the sandbox's filter (rc %d)", rc);
        return -1;
    }
    return 0;
}

/* The sandbox's init (sandbox_init.c), built on its own and embedded here
 * by the Makefile; exec'd from a sealed memfd opened read-only (a file open
 * for writing cannot be exec'd), made once per process. */
#ifdef KITE_SANDBOX_INIT_ELF
__asm__(".section .rodata\n.balign 16\n.globl sandbox__init_elf\n.hidden sandbox__init_elf\n"
        "sandbox__init_elf:\n.incbin \"" KITE_SANDBOX_INIT_ELF "\"\n"
        ".globl sandbox__init_elf_end\n.hidden sandbox__init_elf_end\nsandbox__init_elf_end:\n.previous\n");
extern const char sandbox__init_elf[], sandbox__init_elf_end[];
#endif
static int init_fd = -1;

static int make_init(void)
{
#ifdef KITE_SANDBOX_INIT_ELF
    size_t n = (size_t)(sandbox__init_elf_end - sandbox__init_elf);
#ifdef MFD_EXEC
    int fd = memfd_create("kite-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL)
#else
    int fd = -1;
#endif
        fd = memfd_create("kite-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int err = errno;
    if (fd >= 0) {
        ssize_t w = write(fd, sandbox__init_elf, n);
        err = errno;
        if (w == (ssize_t)n && fchmod(fd, 0555) == 0 &&
            fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) == 0) {
            char path[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            init_fd = open(path, O_RDONLY | O_CLOEXEC);
            err = errno;
        } else if (w == (ssize_t)n) {
            err = errno;
        }
        close(fd);
    }
    if (init_fd < 0) {
        init_fail("cannot load the sandbox's init into a memfd: %s", strerror(err ? err : EIO));
        return -1;
    }
    return 0;
#else
    init_fail("this kite was built without the sandbox's init (build it with the Makefile)");
    return -1;
#endif
}

/* mountinfo's escapes (\040 for a space...) decoded in place. */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
            s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

/* Reads /proc/self/mountinfo: the cgroup mounts. */
static void scan_mounts(char **v2_mount, char **v1_mounts /* [CG_N] */)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        char *fields[12];
        int nf = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \n", &save); t && nf < 12; t = strtok_r(NULL, " \n", &save))
            fields[nf++] = t;
        int dash = -1;
        for (int i = 6; i < nf; i++)
            if (!strcmp(fields[i], "-")) {
                dash = i;
                break;
            }
        if (dash < 0 || dash + 3 >= nf)
            continue;
        char *mp = fields[4], *type = fields[dash + 1], *super = fields[dash + 3];
        unescape(mp);
        if (!strcmp(type, "cgroup2")) {
            free(*v2_mount);
            *v2_mount = xstrdup(mp);
            continue;
        }
        if (!strcmp(type, "cgroup")) {
            for (int c = 0; c < CG_N; c++) {
                char *o = xasprintf(",%s,", super);
                char *want = xasprintf(",%s,", cgs[c].name);
                if (strstr(o, want) && !v1_mounts[c])
                    v1_mounts[c] = xstrdup(mp);
                free(o);
                free(want);
            }
            continue;
        }
    }
    fclose(f);
}

/* kite's own cgroup of each controller, where its runs' cgroups go. */
static void find_cgroups(void)
{
    char *v2_mount = NULL, *v1_mounts[CG_N] = {0};
    scan_mounts(&v2_mount, v1_mounts);
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[4096];
    char *v2_path = NULL, *v1_paths[CG_N] = {0};
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        if (!strcmp(line, "0") && !c1[1]) {
            v2_path = xstrdup(c2 + 1);
            continue;
        }
        char *ctl = xasprintf(",%s,", c1 + 1);
        for (int c = 0; c < CG_N; c++) {
            char *want = xasprintf(",%s,", cgs[c].name);
            if (strstr(ctl, want))
                v1_paths[c] = xstrdup(c2 + 1);
            free(want);
        }
        free(ctl);
    }
    if (f)
        fclose(f);
    for (int c = 0; c < CG_N; c++) {
        char *v2_base = NULL, *v1_base = NULL;
        int v2_has = 0;
        if (v2_mount && v2_path) {
            char *base = xasprintf("%s%s", v2_mount, strcmp(v2_path, "/") ? v2_path : "");
            v2_base = xstrdup(base);
            char *sc = xasprintf("%s/cgroup.subtree_control", base);
            buf b = BUF_INIT;
            kerr e = KERR_INIT;
            int ok = 0;
            if (!fs_read_file(sc, 4096, &b, &e)) {
                char *words = xasprintf(" %s ", buf_str(&b));
                for (char *p = words; *p; p++)
                    if (*p == '\n')
                        *p = ' ';
                char *want = xasprintf(" %s ", cgs[c].name);
                v2_has = strstr(words, want) != NULL;
                ok = v2_has && access(base, W_OK) == 0;
                free(words);
                free(want);
            }
            buf_free(&b);
            free(sc);
            if (ok) {
                cgs[c].v2 = 1;
                cgs[c].base = base;
                free(v2_base);
                continue;
            }
            free(base);
        }
        if (v1_mounts[c] && v1_paths[c]) {
            char *base = xasprintf("%s%s", v1_mounts[c], strcmp(v1_paths[c], "/") ? v1_paths[c] : "");
            if (access(base, W_OK) == 0) {
                cgs[c].base = base;
                free(v2_base);
                continue;
            }
            v1_base = base;
        }
        /* why not, in the words of the message of a limit that needs it */
        buf w = BUF_INIT;
        if (geteuid() != 0)
            buf_printf(&w, "kite runs as uid %u, ", (unsigned)geteuid());
        if (v1_base)
            buf_printf(&w, "its %s cgroup %s (v1) is not writable by it", cgs[c].name, v1_base);
        else
            buf_printf(&w, "no cgroup v1 hierarchy of %s is mounted", cgs[c].name);
        if (v2_base && v2_has)
            buf_printf(&w, ", its cgroup v2 %s is not writable by it", v2_base);
        else if (v2_base)
            buf_printf(&w, ", its cgroup v2 %s does not delegate %s (cgroup.subtree_control)", v2_base,
                       cgs[c].name);
        else
            buf_printf(&w, ", no cgroup v2 is mounted");
        cgs[c].why = xstrdup(buf_str(&w));
        buf_free(&w);
        free(v1_base);
        free(v2_base);
    }
    free(v2_mount);
    free(v2_path);
    for (int c = 0; c < CG_N; c++) {
        free(v1_mounts[c]);
        free(v1_paths[c]);
    }
}

static void cg_pool_drain(void)
{
    pthread_mutex_lock(&pool_lock);
    for (int c = 0; c < CG_N; c++)
        while (cg_pool_n[c] > 0) {
            char *d = cg_pool[c][--cg_pool_n[c]];
            rmdir(d);
            free(d);
        }
    pthread_mutex_unlock(&pool_lock);
}

static int cg_poolable(int c)
{
    return c != CG_MEMORY && cgs[c].base && !cgs[c].v2;
}

static void init_all(void)
{
    sandbox_ids(&run_uid, &run_gid);
    atexit(cg_pool_drain);
    if (make_seccomp())
        return;
    if (make_init())
        return;
    if (make_userns())
        return;
    pthread_mutex_lock(&cfg_lock);
    find_cgroups();
    pthread_mutex_unlock(&cfg_lock);
}

int sandbox_available(kerr *e)
{
    pthread_once(&init_once, init_all);
    if (init_rc)
        return kerr_setc(e, KERR_UNAVAILABLE, "%s", init_msg);
    return 0;
}

/* ---- The mount plan -------------------------------------------------------- */

enum {
    OP_BIND_ROOT,    /* bind src and every mount under it on dst, read-only */
    OP_BIND_RO,      /* bind src on dst, read-only, nosuid, nodev */
    OP_BIND_RW,      /* bind src on dst, nosuid, nodev */
    OP_BIND_DEV,     /* bind a device node as it is */
    OP_TMPFS,        /* a tmpfs on dst, options in src */
    OP_PROC,
    OP_SYMLINK,      /* dst -> src */
};

typedef struct sb_op {
    int kind;
    int is_dir;      /* for binds: the target is a folder (else a file) */
    int seal;        /* made read-only once every mount is in place */
    char *src, *dst; /* dst: the path under the staging folder */
} sb_op;

typedef struct child_state {
    int err;                    /* errno of the failed step, 0: none */
    const char *step;           /* what failed */
    pid_t pid;                  /* B's pid */
    int op;                     /* 1 + the index of the mount that failed */
    int new_net_fd;             /* a fresh network namespace A made, for the pool */
    atomic_int nsteps;
    /* C's tid while C runs on this memory: the kernel clears it and wakes
     * the futex when C execs or dies (CLONE_CHILD_CLEARTID) */
    _Atomic pid_t c_tid;
    atomic_int go;              /* B has built the root: C may go on */
    const char *names[MAX_STEPS];
    struct timespec t[MAX_STEPS];
} child_state;

struct sandbox {
    int host_network;
    int64_t memory_bytes;
    sb_op *ops;
    size_t nops;
    char *stage;
    char *cg_dir[CG_N];         /* per controller; may repeat for one v2 folder */
    int cg_fd[CG_N];            /* their cgroup.procs, -1 */
    int net_fd;                 /* the network namespace entered, -1: a fresh one */
    char *stack;                /* three stacks: A's, B's, the task's (C) */
    /* for the spawn */
    const char *const *argv;
    const char *const *envp;
    char **cands;               /* program paths to try, in order */
    const char *cwd;
    int null_fd, out_fd, err_fd;
    int status_r, status_w;     /* the init's status pipe (-1) */
    child_state cs;
    struct timespec t0;
    int finished;
    sandbox_report rep;
};

static void add_op(sandbox *sb, int kind, const char *src, const char *dst, int is_dir, int seal)
{
    sb->ops = xrealloc(sb->ops, (sb->nops + 1) * sizeof *sb->ops);
    sb->ops[sb->nops++] = (sb_op){kind, is_dir, seal, src ? xstrdup(src) : NULL, xasprintf("%s%s", sb->stage, dst)};
}

/* Can the task's user walk through folder path (on the host)? */
static int searchable(const char *path)
{
    if (geteuid() != 0)
        return access(path, X_OK) == 0;
    struct stat st;
    if (stat(path, &st))
        return 0;
    if (run_uid == 0)
        return 1;
    if (st.st_uid == run_uid)
        return (st.st_mode & S_IXUSR) != 0;
    if (st.st_gid == run_gid)
        return (st.st_mode & S_IXGRP) != 0;
    return (st.st_mode & S_IXOTH) != 0;
}

/* The host path of path inside the sandbox's root. */
static char *in_root(const char *path)
{
    return cfg_root ? xasprintf("%s%s", cfg_root, path) : xstrdup(path);
}

static int is_tmp(const char *path)
{
    return under(path, "/tmp");
}

/* Each folder above a writable folder must be walkable by the task's user:
 * the first that is not (or does not exist in sandbox.root) gets an empty
 * tmpfs, in which the path down to the folder is made. Returns -1 when that
 * folder would be the root itself. */
static int plan_reach(sandbox *sb, const char *path, char ***tmpfs_done, size_t *ntd, kerr *e)
{
    if (is_tmp(path))
        return 0;
    char *p = xstrdup(path);
    for (char *s = strchr(p + 1, '/'); ; s = strchr(s + 1, '/')) {
        if (s)
            *s = '\0';
        /* p: an ancestor (or the folder itself when s is NULL) */
        for (char **d = *tmpfs_done; d && *d; d++)
            if (under(p, *d)) {
                free(p);
                return 0;
            }
        char *h = in_root(p);
        struct stat st;
        int ok = stat(h, &st) == 0 && S_ISDIR(st.st_mode) && (!s || searchable(h));
        free(h);
        if (!ok) {
            char *parent = xstrdup(p);
            char *slash = strrchr(parent, '/');
            if (!s || slash == parent) {
                /* the folder itself, or a top-level folder: cover its parent */
                if (slash == parent) {
                    free(parent);
                    int rc = kerr_set(e, "sandbox: %s is not reachable inside the sandbox's root (%s): "
                                         "create it there or use a folder under /tmp", path,
                                      cfg_root ? cfg_root : "/");
                    free(p);
                    return rc;
                }
                *slash = '\0';
            } else {
                free(parent);
                parent = xstrdup(p);
            }
            add_op(sb, OP_TMPFS, "mode=0755", parent, 1, 1);
            strv_push(tmpfs_done, ntd, parent);
            free(parent);
            free(p);
            return 0;
        }
        if (!s)
            break;
        *s = '/';
    }
    free(p);
    return 0;
}

static int dotdot_end(const char *p)
{
    size_t n = strlen(p);
    return n >= 3 && !strcmp(p + n - 3, "/..");
}

static int plan(sandbox *sb, const sandbox_opts *o, kerr *e)
{
    const char *root = cfg_root ? cfg_root : "/";
    /* recursive: a user namespace may not bind a mount without the mounts
     * under it (that would reveal what they cover); what must not be seen
     * of them (/sys, /run, the host's /dev, /proc and /tmp) is covered */
    add_op(sb, OP_BIND_ROOT, root, "", 1, 0);
    add_op(sb, OP_PROC, NULL, "/proc", 1, 0);
    static const char *const covered[] = {"/sys", "/run", NULL};
    for (const char *const *c = covered; *c; c++) {
        char *h = in_root(*c);
        struct stat st;
        if (lstat(h, &st) == 0 && S_ISDIR(st.st_mode))
            add_op(sb, OP_TMPFS, "mode=0755,size=4k", *c, 1, 1);
        free(h);
    }
    add_op(sb, OP_TMPFS, "mode=0755,size=1m", "/dev", 1, 1);
    static const char *const devs[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};
    for (const char *const *d = devs; *d; d++) {
        char *src = xasprintf("/dev/%s", *d);
        add_op(sb, OP_BIND_DEV, src, src, 0, 0);
        free(src);
    }
    add_op(sb, OP_TMPFS, "mode=1777", "/dev/shm", 1, 0);
    add_op(sb, OP_SYMLINK, "/proc/self/fd", "/dev/fd", 0, 0);
    add_op(sb, OP_SYMLINK, "/proc/self/fd/0", "/dev/stdin", 0, 0);
    add_op(sb, OP_SYMLINK, "/proc/self/fd/1", "/dev/stdout", 0, 0);
    add_op(sb, OP_SYMLINK, "/proc/self/fd/2", "/dev/stderr", 0, 0);
    add_op(sb, OP_TMPFS, "mode=1777", "/tmp", 1, 0);
    for (char **h = cfg_hide; h && *h; h++) {
        char *hp = in_root(*h);
        struct stat st;
        if (!is_tmp(*h) && lstat(hp, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                add_op(sb, OP_TMPFS, "mode=0755,size=64k", *h, 1, 1);
            else if (S_ISREG(st.st_mode))
                add_op(sb, OP_BIND_RO, "/dev/null", *h, 0, 0);
        }
        free(hp);
    }
    char **tmpfs_done = NULL;
    size_t ntd = 0;
    int rc = 0;
    for (const char *const *w = o->writable; *w && !rc; w++) {
        char real[PATH_MAX];
        if (!realpath(*w, real)) {
            rc = kerr_set(e, "sandbox: writable folder %s: %s", *w, strerror(errno));
            break;
        }
        rc = plan_reach(sb, real, &tmpfs_done, &ntd, e);
        if (!rc)
            add_op(sb, OP_BIND_RW, real, real, 1, 0);
    }
    strv_free(tmpfs_done);
    for (size_t i = 0; i < o->nvolumes && !rc; i++) {
        const sandbox_volume *v = &o->volumes[i];
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(v->host, real) || stat(real, &st)) {
            rc = kerr_setc(e, KERR_INVALID, "volume '%s:%s': %s: %s", v->host, v->target, v->host, strerror(errno));
            break;
        }
        int ok = 0;
        for (char **a = cfg_allowed; a && *a && !ok; a++)
            ok = under(real, *a);
        if (!ok) {
            rc = kerr_setc(e, KERR_INVALID, "volume '%s:%s': %s is not within sandbox.allowedVolumes (kite.yml)",
                           v->host, v->target, v->host);
            break;
        }
        if (v->target[0] != '/' || strstr(v->target, "/../") || dotdot_end(v->target)) {
            rc = kerr_setc(e, KERR_INVALID, "volume '%s:%s': the target must be an absolute path", v->host,
                           v->target);
            break;
        }
        char *t = in_root(v->target);
        struct stat ts;
        int exists = stat(t, &ts) == 0;
        free(t);
        if (!exists && !is_tmp(v->target)) {
            rc = kerr_setc(e, KERR_INVALID, "volume '%s:%s': %s does not exist in the sandbox's read-only root: "
                                            "use an existing folder or one under /tmp", v->host, v->target,
                           v->target);
            break;
        }
        add_op(sb, v->read_only ? OP_BIND_RO : OP_BIND_RW, real, v->target, S_ISDIR(st.st_mode), 0);
    }
    return rc;
}

/* ---- Cgroups of a run ---------------------------------------------------------- */

static atomic_uint run_seq;

static int cg_write(const char *dir, const char *file, const char *text)
{
    char *p = xasprintf("%s/%s", dir, file);
    int rc = write_file(p, text);
    free(p);
    return rc;
}

static int cg_setup(sandbox *sb, const sandbox_opts *o, kerr *e)
{
    int want[CG_N] = {o->memory_bytes > 0, o->cpus > 0, o->pids_max > 0};
    static const char *const what[CG_N] = {"a memory limit", "a CPU limit", "a process limit"};
    static const char *const prop[CG_N] = {"memory.memory", "cpu.cpus", "pidsLimit"};
    unsigned seq = atomic_fetch_add(&run_seq, 1) + 1;
    for (int c = 0; c < CG_N; c++) {
        if (!want[c])
            continue;
        /* a limit asked for is never dropped: no cgroup, no run */
        if (!cgs[c].base)
            return kerr_setc(e, KERR_UNAVAILABLE,
                             "sandbox: %s needs a delegated cgroup: %s (delegate a cgroup with the %s controller "
                             "to kite's user, e.g. systemd's Delegate=yes, run kite as root, or remove the limit)",
                             prop[c], cgs[c].why ? cgs[c].why : "none found", cgs[c].name);
        /* one folder for every v2 controller */
        int shared = -1;
        for (int d = 0; d < c; d++)
            if (sb->cg_dir[d] && cgs[d].v2 && cgs[c].v2)
                shared = d;
        char *dir = NULL;
        if (shared >= 0) {
            dir = xstrdup(sb->cg_dir[shared]);
        } else if (cg_poolable(c)) {
            pthread_mutex_lock(&pool_lock);
            if (cg_pool_n[c] > 0)
                dir = cg_pool[c][--cg_pool_n[c]];
            pthread_mutex_unlock(&pool_lock);
        }
        if (!dir)
            dir = xasprintf("%s/kite-%d-%u-%d", cgs[c].base, (int)getpid(), seq, c);
        if (shared < 0 && mkdir(dir, 0755) && errno != EEXIST) {
            int rc = kerr_set(e, "sandbox: cannot make the cgroup %s: %s", dir, strerror(errno));
            free(dir);
            return rc;
        }
        sb->cg_dir[c] = dir;
        char v[64];
        int rc = 0;
        if (c == CG_MEMORY) {
            snprintf(v, sizeof v, "%lld", (long long)o->memory_bytes);
            if (cgs[c].v2) {
                rc = cg_write(dir, "memory.max", v);
                cg_write(dir, "memory.swap.max", "0");
                cg_write(dir, "memory.oom.group", "1");
            } else {
                rc = cg_write(dir, "memory.limit_in_bytes", v);
                cg_write(dir, "memory.memsw.limit_in_bytes", v);   /* no swap beyond it, where accounted */
            }
        } else if (c == CG_CPU) {
            long long q = (long long)(o->cpus * 100000.0);
            if (q < 1000)
                q = 1000;
            if (cgs[c].v2) {
                snprintf(v, sizeof v, "%lld 100000", q);
                rc = cg_write(dir, "cpu.max", v);
            } else {
                snprintf(v, sizeof v, "%lld", q);
                rc = cg_write(dir, "cpu.cfs_period_us", "100000") || cg_write(dir, "cpu.cfs_quota_us", v);
            }
        } else {
            snprintf(v, sizeof v, "%lld", (long long)o->pids_max);
            rc = cg_write(dir, "pids.max", v);
        }
        if (rc)
            return kerr_set(e, "sandbox: cannot set %s in %s: %s", what[c], dir, strerror(errno));
        if (shared < 0) {
            char *p = xasprintf("%s/cgroup.procs", dir);
            sb->cg_fd[c] = open(p, O_WRONLY | O_CLOEXEC);
            free(p);
            if (sb->cg_fd[c] < 0)
                return kerr_set(e, "sandbox: cannot open %s/cgroup.procs: %s", dir, strerror(errno));
        }
    }
    return 0;
}

/* The number after `key ` in a cgroup's flat-keyed file, 0 when absent. */
static long long cg_key(const char *dir, const char *file, const char *key)
{
    char *p = xasprintf("%s/%s", dir, file);
    buf b = BUF_INIT;
    kerr e = KERR_INIT;
    long long n = 0;
    if (!fs_read_file(p, 1 << 16, &b, &e)) {
        size_t kl = strlen(key);
        for (const char *l = buf_str(&b); l && *l;) {
            if (!strncmp(l, key, kl) && l[kl] == ' ')
                n = atoll(l + kl + 1);
            l = strchr(l, '\n');
            if (l)
                l++;
        }
    }
    buf_free(&b);
    free(p);
    return n;
}

static void cg_kill_all(const char *dir)
{
    char *p = xasprintf("%s/cgroup.procs", dir);
    FILE *f = fopen(p, "re");
    free(p);
    int pid;
    while (f && fscanf(f, "%d", &pid) == 1)
        if (pid > 0)
            kill(pid, SIGKILL);
    if (f)
        fclose(f);
}

/* ---- The children -------------------------------------------------------------- */

/* B and C stamp at once: each takes its own slot */
static void stamp(child_state *cs, const char *name)
{
    int i = atomic_fetch_add(&cs->nsteps, 1);
    if (i < MAX_STEPS) {
        clock_gettime(CLOCK_MONOTONIC, &cs->t[i]);
        cs->names[i] = name;
    }
}

static int fail_at(child_state *cs, const char *step)
{
    cs->err = errno ? errno : EINVAL;
    cs->step = step;
    return -1;
}

/* Makes the mount point dst (a folder or an empty file), and the folders
 * above it below the first `from` bytes (the staging folder). System calls
 * only. */
static int make_target(const char *dst, size_t from, int is_dir)
{
    char p[PATH_MAX];
    size_t n = strlen(dst);
    if (n >= sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(p, dst, n + 1);
    struct stat st;
    for (size_t i = from + 1; i < n; i++) {
        if (p[i] != '/')
            continue;
        p[i] = '\0';
        if (mkdir(p, 0755) && errno != EEXIST && (stat(p, &st) || !S_ISDIR(st.st_mode)))
            return -1;
        p[i] = '/';
    }
    if (is_dir)
        return mkdir(p, 0755) && errno != EEXIST && (stat(p, &st) || !S_ISDIR(st.st_mode)) ? -1 : 0;
    int fd = open(p, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int set_attr(const char *dst, uint64_t set)
{
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = set;
    return mount_setattr(AT_FDCWD, dst, 0, &a, sizeof a);
}

static void lo_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
}

/* Decimal digits of v into out (16 bytes). System calls only: no stdio. */
static void fmt_uint(char *out, unsigned v)
{
    char t[16];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 15);
    for (int i = 0; i < n; i++)
        out[i] = t[n - 1 - i];
    out[n] = '\0';
}

static int child_c(void *arg);

/* What B (for the init) and C (for the task) each take before their exec:
 * the task's user and group, the shared process limit, stdin on /dev/null
 * and out and err on 1 and 2, no_new_privs and the seccomp filter, default
 * signal dispositions. Exits the process (127) on a failure, noted in cs. */
static void drop_all(sandbox *sb, int out, int err)
{
    child_state *cs = &sb->cs;
    if ((userns_setgroups && setgroups(0, NULL)) || setresgid(run_gid, run_gid, run_gid) ||
        setresuid(run_uid, run_uid, run_uid)) {
        fail_at(cs, "taking the task's user");
        child_exit(127);
    }
    struct rlimit nproc = {SANDBOX_NPROC_SHARED, SANDBOX_NPROC_SHARED};
    if (setrlimit(RLIMIT_NPROC, &nproc)) {
        fail_at(cs, "the process limit");
        child_exit(127);
    }
    if (dup2(sb->null_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
        fail_at(cs, "dup2");
        child_exit(127);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccomp_prog)) {
        fail_at(cs, "the seccomp filter");
        child_exit(127);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < _NSIG; s++)
        sigaction(s, &sa, NULL);
}

/* B: the sandbox's PID 1. Builds the root, drops everything, starts the
 * task (C) and execs the init (sandbox_init.c), which waits for it. */
static int child_b(void *arg)
{
    sandbox *sb = arg;
    child_state *cs = &sb->cs;
    stamp(cs, "namespaces");
    if (setsid() < 0) {
        fail_at(cs, "setsid");
        child_exit(127);
    }
    for (int c = 0; c < CG_N; c++)
        if (sb->cg_fd[c] >= 0 && write(sb->cg_fd[c], "0", 1) != 1) {
            fail_at(cs, "joining the run's cgroups");
            child_exit(127);
        }
    stamp(cs, "cgroups");
    /* the task's process (C, PID 2) now, waiting for the root: a process
     * just made waits for a CPU (long, under load), and C does so while B
     * builds the root rather than after. It shares B's memory (kite's) and
     * root and working folder (CLONE_FS) until it is let go. */
    atomic_store(&cs->c_tid, 1);
    pid_t c = raw_clone(child_c, sb->stack + 3 * STACK_SIZE, CLONE_VM | CLONE_FS | CLONE_CHILD_CLEARTID | SIGCHLD, sb,
                    NULL, NULL, (pid_t *)&cs->c_tid);
    if (c < 0) {
        atomic_store(&cs->c_tid, 0);
        fail_at(cs, "starting the task");
        child_exit(127);
    }
    sethostname("sandbox", 7);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
        fail_at(cs, "making the mounts private");
        child_exit(127);
    }
    size_t sl = strlen(sb->stage);
    for (size_t i = 0; i < sb->nops; i++) {
        const sb_op *op = &sb->ops[i];
        int rc = 0;
        cs->op = (int)i + 1;   /* which op, should it fail */
        struct mount_attr ma;
        switch (op->kind) {
        case OP_BIND_ROOT:
            memset(&ma, 0, sizeof ma);
            ma.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
            rc = mount(op->src, op->dst, NULL, MS_BIND | MS_REC, NULL) ||
                 mount_setattr(AT_FDCWD, op->dst, AT_RECURSIVE, &ma, sizeof ma);
            break;
        case OP_BIND_RO:
        case OP_BIND_RW:
            rc = (i && make_target(op->dst, sl, op->is_dir)) || mount(op->src, op->dst, NULL, MS_BIND, NULL) ||
                 set_attr(op->dst, (op->kind == OP_BIND_RO ? MOUNT_ATTR_RDONLY : 0) | MOUNT_ATTR_NOSUID |
                                       MOUNT_ATTR_NODEV);
            break;
        case OP_BIND_DEV:
            rc = make_target(op->dst, sl, 0) || mount(op->src, op->dst, NULL, MS_BIND, NULL) ||
                 set_attr(op->dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
            break;
        case OP_TMPFS:
            rc = make_target(op->dst, sl, 1) || mount("tmpfs", op->dst, "tmpfs", MS_NOSUID | MS_NODEV, op->src);
            break;
        case OP_PROC:
            rc = mount("proc", op->dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
            break;
        case OP_SYMLINK:
            rc = symlink(op->src, op->dst) && errno != EEXIST;
            break;
        }
        if (rc) {
            fail_at(cs, "mount");
            child_exit(127);
        }
    }
    for (size_t i = 0; i < sb->nops; i++)
        if (sb->ops[i].seal && set_attr(sb->ops[i].dst, MOUNT_ATTR_RDONLY)) {
            cs->op = (int)i + 1;
            fail_at(cs, "mount");
            child_exit(127);
        }
    cs->op = 0;
    stamp(cs, "mounts");
    /* the new root moved onto / and entered with chroot, as runc's
     * no_pivot: pivot_root and detaching the old tree of ~25 mounts cost
     * 0.3 to 1 ms a run here (RCU waits, worse under load), and the old
     * tree, left under the new root, is out of reach: no path leads to it,
     * and the task can neither chroot, umount nor change namespace (no
     * capability, and seccomp refuses them). It shows in
     * /proc/self/mountinfo (mount points, not contents). */
    if (chdir(sb->stage) || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/")) {
        fail_at(cs, "entering the new root");
        child_exit(127);
    }
    if (sb->cwd && chdir(sb->cwd)) {
        fail_at(cs, "the working folder");
        child_exit(127);
    }
    stamp(cs, "new root");
    atomic_store(&cs->go, 1);
    syscall(SYS_futex, &cs->go, FUTEX_WAKE, 1, NULL, NULL, 0);
    /* the init as much as the task: it has nothing the task has not */
    drop_all(sb, sb->null_fd, sb->null_fd);
    /* B becomes the init: every fd but the status pipe closed at the
     * exec, 0-2 on /dev/null, every signal blocked (the init takes them
     * with sigtimedwait), no environment. It does not wait for C's exec (a
     * further hand-over between processes costs a scheduling delay under
     * load): the kite thread does, on C's tid, which the kernel clears at
     * C's exec or death. */
    char pidbuf[16], fdbuf[16];
    fmt_uint(pidbuf, (unsigned)c);
    fmt_uint(fdbuf, (unsigned)sb->status_w);
    char *const iargv[] = {"kite-init", pidbuf, fdbuf, NULL};
    char *const ienv[] = {NULL};
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) || fcntl(sb->status_w, F_SETFD, 0)) {
        fail_at(cs, "starting the sandbox's init");
        child_exit(127);
    }
    stamp(cs, "init");
    syscall(SYS_execveat, init_fd, "", iargv, ienv, AT_EMPTY_PATH);
    fail_at(cs, "starting the sandbox's init");
    child_exit(127);
}

/* C, the task's process, runs at the same time as B, on kite's memory and
 * the kite thread's TLS: it uses raw system calls only (sandbox_sys.h), so
 * that it never writes errno nor enters libc or a sanitizer's interceptors
 * while B does. */
NO_TSAN static void c_stamp(child_state *cs, const char *name)
{
    int i = atomic_fetch_add(&cs->nsteps, 1);
    if (i < MAX_STEPS) {
        sbx_sys(SYS_clock_gettime, CLOCK_MONOTONIC, &cs->t[i], 0);
        cs->names[i] = name;
    }
}

NO_TSAN static __attribute__((noreturn)) void c_fail(child_state *cs, const char *step, long rc)
{
    cs->err = rc < 0 ? (int)-rc : EINVAL;
    cs->step = step;
    for (;;)
        sbx_sys(SYS_exit_group, 127, 0, 0);
}

/* C: the task. Waits until B has built the root, takes its own copy of B's
 * root and working folder, takes what B takes (drop_all), leaves B's
 * process group (the init forwards signals to its own) and execs the
 * program over the PATH candidates. If B fails, C dies with the namespace. */
NO_TSAN static int child_c(void *arg)
{
    sandbox *sb = arg;
    child_state *cs = &sb->cs;
    while (!atomic_load(&cs->go))
        sbx_sys6(SYS_futex, (long)&cs->go, FUTEX_WAIT, 0, 0, 0, 0);
    c_stamp(cs, "task");
    long rc;
    if ((rc = sbx_sys(SYS_unshare, CLONE_FS, 0, 0)) < 0)   /* its own root and working folder */
        c_fail(cs, "taking the root", rc);
    if ((userns_setgroups && (rc = sbx_sys(SYS_setgroups, 0, 0, 0)) < 0) ||
        (rc = sbx_sys(SYS_setresgid, run_gid, run_gid, run_gid)) < 0 ||
        (rc = sbx_sys(SYS_setresuid, run_uid, run_uid, run_uid)) < 0)
        c_fail(cs, "taking the task's user", rc);
    struct rlimit nproc = {SANDBOX_NPROC_SHARED, SANDBOX_NPROC_SHARED};
    if ((rc = sbx_sys6(SYS_prlimit64, 0, RLIMIT_NPROC, (long)&nproc, 0, 0, 0)) < 0)
        c_fail(cs, "the process limit", rc);
    const int to[3] = {sb->null_fd, sb->out_fd, sb->err_fd};
    for (int fd = 0; fd < 3; fd++)
        if (to[fd] != fd && (rc = sbx_sys(SYS_dup3, to[fd], fd, 0)) < 0)
            c_fail(cs, "dup2", rc);
    if ((rc = sbx_sys6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0)) < 0 ||
        (rc = sbx_sys6(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (long)&seccomp_prog, 0, 0, 0)) < 0)
        c_fail(cs, "the seccomp filter", rc);
    /* default dispositions: the kernel's struct sigaction, all zero is SIG_DFL */
    struct {
        unsigned long handler, flags, restorer, mask;
    } ksa = {0, 0, 0, 0};
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sbx_sys6(SYS_rt_sigaction, sig, (long)&ksa, 0, 8, 0, 0);
    sbx_sys(SYS_setpgid, 0, 0, 0);
    unsigned long none = 0;
    sbx_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0, 0);
    sbx_sys(SYS_close_range, 3, ~0U, 0);
    c_stamp(cs, "exec");
    int eacces = 0;
    rc = -ENOENT;
    for (char **c = sb->cands; *c; c++) {
        rc = sbx_sys(SYS_execve, *c, sb->argv, sb->envp);
        if (rc == -EACCES)
            eacces = 1;
        else if (rc != -ENOENT && rc != -ENOTDIR)
            break;
    }
    c_fail(cs, "exec", eacces ? -EACCES : rc);
}

static void a_wait(child_state *cs);

/* A: enters the user and network namespaces, clones B, waits for the
 * task's exec, ends. */
static int child_a(void *arg)
{
    sandbox *sb = arg;
    child_state *cs = &sb->cs;
    stamp(cs, "clone");
    if (setns(userns_fd, CLONE_NEWUSER)) {
        fail_at(cs, "entering the sandbox's user namespace");
        child_exit(0);
    }
    stamp(cs, "userns");
    if (!sb->host_network) {
        if (sb->net_fd >= 0) {
            if (setns(sb->net_fd, CLONE_NEWNET)) {
                fail_at(cs, "entering an empty network namespace");
                child_exit(0);
            }
        } else {
            if (unshare(CLONE_NEWNET)) {
                fail_at(cs, "making a network namespace");
                child_exit(0);
            }
            lo_up();
            cs->new_net_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        }
        stamp(cs, "netns");
    }
    pid_t b = raw_clone(child_b, sb->stack + 2 * STACK_SIZE,
                        CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PARENT | CLONE_VM |
                            CLONE_VFORK | SIGCHLD,
                        sb);
    if (b < 0) {
        fail_at(cs, "creating the namespaces");
    } else {
        cs->pid = b;   /* also when B failed: it is to be reaped */
    }
    a_wait(cs);
    child_exit(0);
}

/* A, once B has exec'd the init (or died), waits for C's exec (or death)
 * before it ends and so lets the kite thread go on: C runs on kite's memory
 * until then. Not instrumented: it runs while C works. */
NO_TSAN static void a_wait(child_state *cs)
{
    for (pid_t t; (t = atomic_load(&cs->c_tid)) != 0;)
        syscall(SYS_futex, &cs->c_tid, FUTEX_WAIT, t, NULL, NULL, 0);
}

/* ---- A run ---------------------------------------------------------------------- */

static pthread_mutex_t stage_lock = PTHREAD_MUTEX_INITIALIZER;
static char *stage_dir;

static void stage_remove(void)
{
    if (stage_dir)
        rmdir(stage_dir);
}

int sandbox_new(const sandbox_opts *o, sandbox **out, kerr *e)
{
    *out = NULL;
    if (sandbox_available(e))
        return -1;
    if (!o->writable || !o->writable[0])
        return kerr_set(e, "sandbox: no writable folder");
    sandbox *sb = xcalloc(1, sizeof *sb);
    sb->host_network = o->host_network;
    sb->memory_bytes = o->memory_bytes;
    sb->net_fd = sb->null_fd = sb->status_r = sb->status_w = -1;
    for (int c = 0; c < CG_N; c++)
        sb->cg_fd[c] = -1;
    /* one staging folder for every run of this process: each run mounts
     * on it in its own mount namespace only, and removing a folder that
     * was a mount point (in a namespace being torn down) costs ~1 ms */
    pthread_mutex_lock(&stage_lock);
    if (!stage_dir) {
        char *parent = xstrdup(o->writable[0]);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent)
            *slash = '\0';
        char *d = xasprintf("%s/.kite-sandbox-%d", parent, (int)getpid());
        free(parent);
        if (mkdir(d, 0700) && errno != EEXIST) {
            pthread_mutex_unlock(&stage_lock);
            kerr_set(e, "sandbox: cannot make %s: %s", d, strerror(errno));
            free(d);
            sandbox_free(sb);
            return -1;
        }
        stage_dir = d;
        atexit(stage_remove);
    }
    sb->stage = xstrdup(stage_dir);
    pthread_mutex_unlock(&stage_lock);
    pthread_mutex_lock(&cfg_lock);
    int rc = plan(sb, o, e);
    pthread_mutex_unlock(&cfg_lock);
    if (!rc)
        rc = cg_setup(sb, o, e);
    if (rc) {
        sandbox_free(sb);
        return -1;
    }
    *out = sb;
    return 0;
}

static const char *env_get(const char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static int64_t ts_us(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000 + (b->tv_nsec - a->tv_nsec) / 1000;
}

int sandbox_spawn(void *ud, const proc_spawn_args *a, pid_t *pid, kerr *e)
{
    sandbox *sb = ud;
    *pid = 0;
    const char *name = a->argv[0];
    const char *path = env_get(a->envp, "PATH");
    if (!path)
        path = "/bin:/usr/bin";
    char **cands = NULL;
    size_t nc = 0;
    if (strchr(name, '/')) {
        strv_push(&cands, &nc, name);
    } else if (*name) {
        for (const char *p = path;;) {
            const char *colon = strchr(p, ':');
            size_t dl = colon ? (size_t)(colon - p) : strlen(p);
            char *c = dl ? xasprintf("%.*s/%s", (int)dl, p, name) : xasprintf("./%s", name);
            strv_push(&cands, &nc, c);
            free(c);
            if (!colon)
                break;
            p = colon + 1;
        }
    } else {
        return kerr_set(e, "process: empty program name");
    }
    strv_free(sb->cands);
    sb->cands = cands;
    sb->argv = a->argv;
    sb->envp = a->envp;
    sb->cwd = a->cwd;
    sb->out_fd = a->out_fd;
    sb->err_fd = a->err_fd;
    if (sb->null_fd < 0)
        sb->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!sb->stack) {
        void *st = mmap(NULL, 3 * STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (st == MAP_FAILED)
            return kerr_set(e, "sandbox: cannot map the stacks: %s", strerror(errno));
        sb->stack = st;
    }
    if (!sb->host_network && sb->net_fd < 0) {
        pthread_mutex_lock(&pool_lock);
        if (net_pool_n)
            sb->net_fd = net_pool[--net_pool_n];
        pthread_mutex_unlock(&pool_lock);
    }
    if (sb->status_r >= 0)
        close(sb->status_r);
    sb->status_r = -1;
    int sp[2];
    if (pipe2(sp, O_CLOEXEC | O_NONBLOCK))
        return kerr_set(e, "sandbox: pipe: %s", strerror(errno));
    sb->status_r = sp[0];
    sb->status_w = sp[1];
    memset(&sb->cs, 0, sizeof sb->cs);
    sb->cs.new_net_fd = -1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    clock_gettime(CLOCK_MONOTONIC, &sb->t0);
    pid_t apid = raw_clone(child_a, sb->stack + STACK_SIZE, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, sb);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (apid < 0) {
        close(sb->status_w);
        sb->status_w = -1;
        return kerr_set(e, "sandbox: clone: %s", strerror(err));
    }
    while (waitpid(apid, NULL, __WALL) < 0 && errno == EINTR)
        ;
    close(sb->status_w);   /* the init has its own */
    sb->status_w = -1;
    child_state *cs = &sb->cs;
    /* the task's process (C) runs on this memory until it execs */
    for (pid_t t; (t = atomic_load(&cs->c_tid)) != 0;)
        syscall(SYS_futex, &cs->c_tid, FUTEX_WAIT, t, NULL, NULL, 0);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sb->rep.setup_us = ts_us(&sb->t0, &t1);
    if (sb->cs.new_net_fd >= 0)
        sb->net_fd = sb->cs.new_net_fd;
    if (cs->err) {
        if (cs->pid > 0)
            while (waitpid(cs->pid, NULL, __WALL) < 0 && errno == EINTR)
                ;
        if (!strcmp(cs->step, "exec")) {
            if (cs->err == ENOENT && !strchr(name, '/'))
                return kerr_set(e, "cannot execute '%s': not found in PATH (%s)", name, path);
            return kerr_set(e, "cannot execute '%s': %s", name, strerror(cs->err));
        }
        if (!strcmp(cs->step, "mount") && cs->op > 0) {
            const sb_op *op = &sb->ops[cs->op - 1];
            const char *d = op->dst + strlen(sb->stage);
            return kerr_set(e, "sandbox: cannot mount %s on %s: %s", op->src ? op->src : "proc", *d ? d : "/",
                            strerror(cs->err));
        }
        return kerr_set(e, "sandbox: %s: %s", cs->step, strerror(cs->err));
    }
    *pid = cs->pid;
    return 0;
}

void sandbox_task_status(sandbox *sb, proc_result *r)
{
    int st;
    if (sb->status_r < 0 || read(sb->status_r, &st, sizeof st) != (ssize_t)sizeof st)
        return;   /* the init did not see the task end (it was killed itself) */
    if (WIFEXITED(st)) {
        r->exited = 1;
        r->exit_code = WEXITSTATUS(st);
        r->term_signal = 0;
    } else if (WIFSIGNALED(st)) {
        r->exited = 0;
        r->exit_code = 0;
        r->term_signal = WTERMSIG(st);
    }
}

void sandbox_finish(sandbox *sb, sandbox_report *r)
{
    if (!sb->finished) {
        sb->finished = 1;
        sb->rep.memory_bytes = sb->memory_bytes;
        if (sb->cg_dir[CG_MEMORY])
            sb->rep.oom_killed = cg_key(sb->cg_dir[CG_MEMORY], cgs[CG_MEMORY].v2 ? "memory.events" : "memory.oom_control",
                                        "oom_kill") > 0;
        int n = 0;
        for (int i = 0; i < sb->cs.nsteps && n < MAX_STEPS; i++, n++) {
            sb->rep.step_names[n] = sb->cs.names[i];
            sb->rep.step_us[n] = ts_us(&sb->t0, &sb->cs.t[i]);
        }
        sb->rep.nsteps = n;
        for (int c = 0; c < CG_N; c++) {
            if (sb->cg_fd[c] >= 0)
                close(sb->cg_fd[c]);
            sb->cg_fd[c] = -1;
        }
        for (int c = 0; c < CG_N; c++) {
            int dup = 0;
            for (int d = 0; d < c && sb->cg_dir[c]; d++)
                dup |= sb->cg_dir[d] && !strcmp(sb->cg_dir[c], sb->cg_dir[d]);
            if (!sb->cg_dir[c] || dup)
                continue;
            if (cg_poolable(c)) {
                pthread_mutex_lock(&pool_lock);
                int kept = cg_pool_n[c] < CG_POOL;
                if (kept) {
                    cg_pool[c][cg_pool_n[c]++] = sb->cg_dir[c];
                    sb->cg_dir[c] = NULL;
                }
                pthread_mutex_unlock(&pool_lock);
                if (kept)
                    continue;
            }
            /* the PID namespace is gone with its PID 1; what is left is
             * only what the kernel has not finished reaping */
            for (int tries = 0; tries < 200 && rmdir(sb->cg_dir[c]) && errno == EBUSY; tries++) {
                cg_kill_all(sb->cg_dir[c]);
                struct timespec ts = {0, 5 * 1000000};
                nanosleep(&ts, NULL);
            }
        }
    }
    if (r)
        *r = sb->rep;
}

void sandbox_free(sandbox *sb)
{
    if (!sb)
        return;
    sandbox_finish(sb, NULL);
    if (sb->net_fd >= 0) {
        /* every process of the run is gone: its network namespace is empty
         * again, and the task had no capability to change it */
        pthread_mutex_lock(&pool_lock);
        if (net_pool_n < NET_POOL) {
            net_pool[net_pool_n++] = sb->net_fd;
            sb->net_fd = -1;
        }
        pthread_mutex_unlock(&pool_lock);
        if (sb->net_fd >= 0)
            close(sb->net_fd);
    }
    if (sb->null_fd >= 0)
        close(sb->null_fd);
    if (sb->status_r >= 0)
        close(sb->status_r);
    if (sb->stack)
        munmap(sb->stack, 3 * STACK_SIZE);
    for (size_t i = 0; i < sb->nops; i++) {
        free(sb->ops[i].src);
        free(sb->ops[i].dst);
    }
    free(sb->ops);
    for (int c = 0; c < CG_N; c++)
        free(sb->cg_dir[c]);
    free(sb->stage);
    strv_free(sb->cands);
    free(sb);
}

static uid_t give_uid;
static gid_t give_gid;

static int give_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return lchown(p, give_uid, give_gid) ? -1 : 0;
}

int sandbox_give_tree(const char *path, kerr *e)
{
    uid_t u;
    gid_t g;
    sandbox_ids(&u, &g);
    if (geteuid() != 0 || u == 0)
        return 0;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    give_uid = u;
    give_gid = g;
    int rc = nftw(path, give_one, 16, FTW_PHYS);
    pthread_mutex_unlock(&lock);
    if (rc)
        return kerr_set(e, "sandbox: cannot hand %s to uid %u: %s", path, (unsigned)u, strerror(errno));
    return 0;
}

void sandbox_human_bytes(int64_t b, char *out, size_t n)
{
    if (b >= (1LL << 30) && b % (1LL << 30) == 0)
        snprintf(out, n, "%lld GiB", (long long)(b >> 30));
    else if (b >= (1LL << 20))
        snprintf(out, n, "%lld MiB", (long long)(b >> 20));
    else
        snprintf(out, n, "%lld bytes", (long long)b);
}
