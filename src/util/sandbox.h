/*
 * sandbox.h: the sandbox runner. Runs one program of the process runner
 * (util/proc.h) isolated like a container, at about the cost of a spawn.
 *
 * A sandboxed program gets its own user, PID, mount, IPC and UTS namespaces
 * and, unless the network is allowed, a network namespace of its own with
 * only its own loopback. Its root is the host's root filesystem (or the
 * configured sandbox.root folder) bound read-only, nosuid and nodev, with
 * the folders it may write (its run folder, a shared working folder) bound
 * writable at their own paths, a private /tmp, a fresh /proc of its PID
 * namespace, a minimal /dev and no /sys or /run. It runs as an unprivileged
 * user (sandbox.uid, default nobody when kite is root, else kite's own user)
 * with no capabilities, no new privileges and a seccomp filter that answers
 * EPERM to the system calls a task never needs (mount, ptrace, kexec, module
 * loading, keyctl, bpf, namespaces...). It is PID 2 of its namespace: PID 1
 * is the sandbox's init (sandbox_init.c), which forwards SIGTERM, SIGINT,
 * SIGHUP and SIGQUIT to it, reaps orphans and ends with it (the kernel then
 * ends whatever is left). Memory, CPU and the number of
 * processes are limited through cgroups, per controller: v2 where the
 * controller is enabled, v1 otherwise. docs/scripts.md says what each runner
 * isolates and costs; src/util/sandbox.c says how.
 *
 * Use: sandbox_new() for one run, then proc_run() with
 * spec.spawn = sandbox_spawn and spec.spawn_ud = the sandbox, then
 * sandbox_task_status() for the task's exit status, sandbox_finish() to
 * learn whether the memory limit ended it, then sandbox_free().
 *
 * Ownership: sandbox_new copies what it needs of the options. Threads: any
 * number of sandboxes may run at once on different threads; one sandbox is
 * used by one thread.
 */
#ifndef KITE_UTIL_SANDBOX_H
#define KITE_UTIL_SANDBOX_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"
#include "util/proc.h"

/* ---- Configuration (kite.yml `sandbox`) ------------------------------- */

/* Sets the process's sandbox settings from kite.yml's `sandbox` mapping (NULL:
 * the defaults): root (a folder used as the root filesystem; default "/"),
 * allowedVolumes (host folders a task's volumes may come from; default
 * none), hide (paths covered by an empty folder or file inside every
 * sandbox), uid and gid (the host user a task runs as). hidden: paths hidden
 * as well whatever the file says (kite's data folder), NULL-terminated, may
 * be NULL. Call before the first run; returns 0, or -1 with e naming the key. */
int sandbox_configure(const json_t *cfg, const char *const *hidden, kerr *e);

/* Can a sandbox be made on this host? 0, or -1 with e saying why (no user
 * namespaces, no seccomp, ...). The answer is computed once and kept. */
int sandbox_available(kerr *e);

/* The host uid and gid sandboxed programs run as. */
void sandbox_ids(uid_t *uid /* OUT */, gid_t *gid /* OUT */);

/* ---- One run -------------------------------------------------------------- */

typedef struct sandbox_volume {
    const char *host;       /* a host path within allowedVolumes */
    const char *target;     /* where it appears inside */
    int read_only;
} sandbox_volume;

/* Processes (and threads) all sandboxed tasks of a kite may have at once
 * when a task sets no limit of its own: a fork bomb's stop. */
#define SANDBOX_NPROC_SHARED 8192

typedef struct sandbox_opts {
    /* The folders the program may write, bound at their own paths; the
     * first is also where the sandbox keeps its staging folder. */
    const char *const *writable;   /* NULL-terminated, at least one */
    const sandbox_volume *volumes;
    size_t nvolumes;
    int host_network;       /* 1: the host's network; 0: an own namespace */
    int64_t memory_bytes;   /* 0: no limit */
    double cpus;            /* 0: no limit */
    /* Processes of the run at once, through its pids cgroup; 0: none of its
     * own, only the limit every sandbox shares (SANDBOX_NPROC_SHARED, an
     * RLIMIT_NPROC of the sandbox's user, which costs nothing: attaching a
     * process to a v1 cgroup costs ~0.4 to 3 ms here). */
    int64_t pids_max;
} sandbox_opts;

typedef struct sandbox sandbox;

/* Prepares a run: checks the volumes against allowedVolumes ("volume
 * '/srv/x:/data': /srv/x is not within sandbox.allowedVolumes"), makes the
 * run's cgroups with their limits, plans the mounts. A limit asked for is
 * never dropped: without a cgroup kite may write for it (kite not root and
 * no cgroup delegated to its user) the run is refused, "sandbox:
 * memory.memory needs a delegated cgroup: kite runs as uid 1000, its memory
 * cgroup ... is not writable by it, ...". Returns 0 with *out,
 * or -1 with e set (nothing left behind). */
int sandbox_new(const sandbox_opts *o, sandbox **out /* OUT */, kerr *e);

/* proc_spec.spawn for a sandbox (spawn_ud: the sandbox). */
int sandbox_spawn(void *sb, const proc_spawn_args *a, pid_t *pid /* OUT */, kerr *e);

typedef struct sandbox_report {
    int oom_killed;           /* the memory limit ended a process of the run */
    int64_t memory_bytes;     /* the limit, for the message */
    int64_t setup_us;         /* from the clone to the exec */
    /* Steps of the setup in the child, in microseconds since the clone
     * call (for the bench): names in step_names, -1 when not reached. */
    int nsteps;
    const char *step_names[16];
    int64_t step_us[16];
} sandbox_report;

/* After proc_run: r's exit status is that of the sandbox's init (its PID
 * 1), which exits with the task's code, or 128 + the signal that ended the
 * task (a PID 1 cannot die of its own signal). This puts the task's own
 * status in r: exited and exit_code, or term_signal. r is left as it is when
 * the init did not see the task end (it was itself killed: SIGKILL after
 * the grace period, the OOM killer). */
void sandbox_task_status(sandbox *sb, proc_result *r /* IN/OUT */);

/* After proc_run: ends whatever is left in the run's cgroups, reads whether
 * the memory limit was hit, removes the cgroups. Fills *r. */
void sandbox_finish(sandbox *sb, sandbox_report *r /* OUT */);

/* Frees sb (calls sandbox_finish if it was not). NULL is fine. */
void sandbox_free(sandbox *sb);

/* Hands path and everything under it (never following a symbolic link) to
 * the sandbox's user, so a task can write its run folder. 0, or -1 with e. */
int sandbox_give_tree(const char *path, kerr *e);

/* "256 MiB", "1 GiB": the figure of a memory limit as messages give it. */
void sandbox_human_bytes(int64_t b, char *out, size_t n);

#endif
