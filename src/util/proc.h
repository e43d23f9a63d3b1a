/*
 * proc.h: the process runner. Runs one command as a child process and
 * reports its output line by line and how it ended.
 *
 * This is what script tasks (shell, Python, Node) and anything else in kite
 * that starts a program go through. One call, proc_run(), does the whole life
 * of a child: posix_spawn into a new session and process group, stdin from
 * /dev/null, stdout and stderr read concurrently through two pipes and cut
 * into lines, a timeout and a cancel flag that end the whole group (SIGTERM,
 * then SIGKILL after a grace period), and reaping. It returns only when no process of the
 * group is left. docs/process-runner.md explains the internals and what a task
 * author can rely on.
 *
 * Ownership: proc_run borrows everything in the spec for the duration of the
 * call and keeps nothing afterwards. Lines passed to the callback are
 * borrowed, valid only during the call.
 *
 * Threads: proc_run may be called from many threads at once; each call waits
 * for its own child only (never waitpid(-1)). Callbacks run on the thread that
 * called proc_run, never after it returned, never after a failure return.
 *
 * Requirements on the rest of kite: SIGCHLD is not set to SIG_IGN, no other
 * code reaps children with waitpid(-1) / wait(), and every fd kite opens is
 * close-on-exec anyway (the runner closes fds >= 3 in the child with
 * closefrom, so nothing leaks through proc_run, but a library spawning on
 * its own would leak them). Call proc_init_subreaper() at start-up: without
 * it, members of a group that outlive their parent are reaped by init, and a
 * run ends only when init gets to them (1.5 to 2 s on some hosts).
 */
#ifndef KITE_UTIL_PROC_H
#define KITE_UTIL_PROC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* ---- Running one command ---------------------------------------------- */

/* Longest timeout or grace period accepted: 30 days. */
#define PROC_MAX_MS (30LL * 24 * 3600 * 1000)

typedef enum proc_stream {
    PROC_STDOUT = 1,
    PROC_STDERR = 2,
} proc_stream;

/* Flags passed with each line. */
enum {
    /* The line was longer than max_line and this piece is not its last one
     * (split mode): the next piece of the same stream continues it. */
    PROC_LINE_SPLIT = 1 << 0,
    /* The line was longer than max_line and was cut (cut mode): line holds
     * its first max_line bytes followed by a marker " [... N bytes cut]". */
    PROC_LINE_CUT = 1 << 1,
    /* Not the child's output: kite's notice that the output cap was reached
     * and the rest of the output is dropped. Sent once per run. */
    PROC_LINE_NOTICE = 1 << 2,
};

/* One complete line of a stream, without its '\n' (and without a '\r' just
 * before it). line[len] == '\0' always, but the line may hold NUL bytes and
 * invalid UTF-8: use len. A final line without '\n' is delivered too. */
typedef void (*proc_line_fn)(void *ud, proc_stream stream, const char *line,
                             size_t len, int flags);

/* What proc_run hands a spawn hook (proc_spec.spawn). Borrowed for the
 * call. */
typedef struct proc_spawn_args {
    const char *const *argv;   /* argv[0] as given: not looked up in PATH */
    const char *const *envp;   /* the child's whole environment, marker included */
    const char *cwd;           /* NULL: kite's current directory */
    int out_fd, err_fd;        /* write ends of the pipes (> 2): the child's 1 and 2 */
} proc_spawn_args;

typedef struct proc_spec {
    /* What to run: either argv (argv[0] is a path, or a name looked up in
     * the PATH of env, or "/bin:/usr/bin" when env has no PATH) or command,
     * a shell command run as `shell -c command`. Exactly one of the two. */
    const char *const *argv;       /* NULL-terminated */
    const char *command;
    const char *shell;             /* NULL: "/bin/sh" */

    const char *cwd;               /* NULL: kite's current directory */
    /* The child's whole environment, "NAME=value" strings, NULL-terminated.
     * The child gets only this and the run's marker KITE_RUN_ID=<kite
     * pid>.<n> (how a stop finds the processes that left the group): NULL
     * means the marker alone. Nothing of kite's environment is passed unless
     * the caller copies it (proc_env). */
    const char *const *env;

    int64_t timeout_ms;            /* 0: none; at most PROC_MAX_MS */
    int64_t grace_ms;              /* SIGTERM -> SIGKILL delay (default 5000; 0: at once) */

    /* Caps. max_line: bytes per line delivered (0: the hard cap); longer
     * lines are split into pieces (default) or cut when cut_long_lines is set. Split
     * points are moved back to a UTF-8 character boundary when the bytes are
     * UTF-8. max_output: total bytes of both streams delivered as lines
     * (0: no cap); past it one PROC_LINE_NOTICE line is sent, then output is
     * still read (the child never blocks) but dropped. */
    size_t max_line;               /* default 64 KiB; 0: 16 MiB */
    int cut_long_lines;
    uint64_t max_output;           /* default 0 */

    /* Cancel: when *cancel becomes non-zero (from any thread, or from the
     * callback itself), the group is stopped as for a timeout. proc_run
     * checks it at least every 25 ms. NULL: no cancel. */
    atomic_int *cancel;

    proc_line_fn on_line;          /* NULL: output is read and counted only */
    /* Called once, right after the spawn succeeded, before any line (to log
     * "started pid N"); NULL: none. */
    void (*on_start)(void *ud, pid_t pid);
    void *ud;                      /* passed to on_line and on_start */

    /* Another way to start the child than posix_spawn (the sandbox,
     * util/sandbox.h); NULL: posix_spawn. The hook must start the child in a
     * new session (its pid is its pgid), stdin /dev/null, 1 and 2 on the
     * given fds, no other fd open, and return only once the program was
     * executed: 0 with *pid, or -1 with e set and nothing left running. It
     * looks argv[0] up in the PATH of envp itself. */
    int (*spawn)(void *spawn_ud, const proc_spawn_args *a, pid_t *pid, kerr *e);
    void *spawn_ud;
} proc_spec;

/* Fills *s with the defaults above (everything else zero/NULL). */
void proc_spec_init(proc_spec *s);

typedef struct proc_stream_stats {
    uint64_t bytes;        /* bytes the child wrote, dropped ones included */
    uint64_t lines;        /* lines the child wrote, dropped ones included */
    uint64_t long_lines;   /* lines longer than max_line (split or cut) */
    int truncated;         /* some output of this stream was dropped by max_output */
} proc_stream_stats;

typedef struct proc_result {
    pid_t pid;             /* the child's pid, also its process group and
                            * session id */
    int exited;            /* 1: exit_code is set; 0: killed by term_signal */
    int exit_code;
    int term_signal;
    int timed_out;         /* the timeout stopped it */
    int cancelled;         /* the cancel flag stopped it */
    int killed;            /* SIGKILL had to be sent (grace period ran out) */
    int leftovers;         /* processes of the group outlived the leader and
                            * were stopped by proc_run */
    int group_stuck;       /* members of the group could not be ended within
                            * 10 s after SIGKILL (EPERM, D state, zombies of a
                            * parent that does not reap): see the doc */
    proc_stream_stats out, err;
    int64_t duration_us;   /* from spawn to the group's end */
} proc_result;

/* Runs s to completion: spawns, reads, waits for the whole process group to
 * be gone; a run stopped by its timeout or cancel flag also ends, and waits
 * for, every process that left the group but carries the run's marker. Returns 0 when the child ran, whatever its exit status (look at
 * r), and also when the cancel flag was already set: then nothing is spawned,
 * r->cancelled is 1 and r->pid 0. Returns -1 with e set when it could not be
 * started: bad spec, a working
 * directory that cannot be opened, a program that cannot be executed
 * ("cannot execute '/usr/bin/pythonx': No such file or directory"), or a
 * system failure (then the child, if started, is killed and reaped before
 * returning). r is always filled (zeroed on failure to start). */
int proc_run(const proc_spec *s, proc_result *r /* OUT */, kerr *e);

/* One line describing how a run ended, for logs and task errors:
 * "exit code 3", "killed by signal 9 (Killed)", "timed out after 1.500 s",
 * "cancelled". Writes at most n bytes into out; returns out. */
char *proc_describe(const proc_result *r, char *out, size_t n);

/* ---- Cutting output into lines --------------------------------------- */

/* proc_run's line rules (max_line, cut_long_lines, max_output, the flags:
 * see proc_spec) for output that does not come from proc_run, such as an SSH
 * channel; proc_run itself uses them. Bytes are fed per stream in pieces of
 * any size; fn is called during the feed and end calls. max_line 0 means the
 * hard cap (16 MiB). */
typedef struct proc_lines proc_lines;

proc_lines *proc_lines_new(size_t max_line, int cut_long_lines, uint64_t max_output,
                           proc_line_fn fn, void *ud);
void proc_lines_free(proc_lines *p);
void proc_lines_feed(proc_lines *p, proc_stream s, const void *data, size_t n);
/* The stream ended: a last line without '\n' is delivered. */
void proc_lines_end(proc_lines *p, proc_stream s);
/* bytes, lines, long_lines and truncated so far; borrowed. */
const proc_stream_stats *proc_lines_stats(const proc_lines *p, proc_stream s);

/* ---- Orphans ----------------------------------------------------------- */

/* Makes kite the child subreaper (prctl PR_SET_CHILD_SUBREAPER): processes
 * orphaned by a task's child are re-parented to kite instead of init, so
 * proc_run can reap its group's members itself and none escapes unseen. Call
 * once, early, in the server and in `kite run`. Returns 0, or -1 with e set. */
int proc_init_subreaper(kerr *e);

/* Reaps zombie children of kite that belong to no running proc_run: processes
 * that left their task's group (setsid) and were re-parented to kite by the
 * subreaper, then exited. Safe to call from any thread while other threads
 * run proc_run (it never touches their children). Returns how many it reaped.
 * Only valid if every child kite starts goes through proc_run. */
int proc_reap_orphans(void);

/* ---- Environment ------------------------------------------------------- */

/* A child's environment, built explicitly. Later sets replace earlier ones. */
typedef struct proc_env proc_env;

proc_env *proc_env_new(void);
/* A starting point for tasks: only the variables a program needs to behave
 * normally, copied from kite's environment when set there (PATH, HOME, USER,
 * LOGNAME, LANG, LC_ALL, LC_CTYPE, TZ, TMPDIR), with PATH
 * "/usr/local/bin:/usr/bin:/bin" when kite has none. Nothing else: no
 * tokens, no SECRET_*, no KITE_*. */
proc_env *proc_env_new_base(void);
void proc_env_free(proc_env *v);
/* Sets NAME=value. Returns -1 with e set if name is empty or holds '=' or
 * a NUL. */
int proc_env_set(proc_env *v, const char *name, const char *value, kerr *e);
/* Copies NAME from kite's own environment when it is set there; returns 1 if
 * copied, 0 if absent. */
int proc_env_copy(proc_env *v, const char *name);
void proc_env_unset(proc_env *v, const char *name);
/* The value of NAME or NULL; borrowed. */
const char *proc_env_get(const proc_env *v, const char *name);
/* The NULL-terminated "NAME=value" array for proc_spec.env; borrowed, valid
 * until the next change to v. */
const char *const *proc_env_array(proc_env *v);

/* ---- Working folders --------------------------------------------------- */

/* Creates a fresh folder root/<prefix>XXXXXX (mode 0700) and returns its
 * path in *path (the caller frees). prefix NULL: "kite-run-". */
int proc_workdir_new(const char *root, const char *prefix, char **path /* OUT */,
                     kerr *e);

/* Removes the folder dir recursively, never following a symbolic link (links
 * are removed, not what they point to) and never crossing into another file
 * system. Regular files whose path relative to dir matches one of the keep
 * patterns are kept in place (with the folders leading to them); dir itself
 * is removed only if nothing was kept. Patterns: '*' and '?' within one path
 * segment, [abc] classes, and a segment that is exactly two stars matches
 * zero or more whole segments (docs/process-runner.md has examples). keep may be NULL. If kept is not NULL it receives the
 * NULL-terminated list of kept relative paths (free with proc_strv_free).
 * Returns the number kept, or -1 with e set (what could be removed was). */
int proc_workdir_remove(const char *dir, const char *const *keep,
                        char ***kept /* OUT */, kerr *e);

/* proc_workdir_new, or a folder of the same root and prefix given back by
 * proc_workdir_give (*reused 1): then it holds the sub-folders it was given
 * back with, empty (but the kept ones, as they were), and nothing else, all
 * mode 0700. */
int proc_workdir_take(const char *root, const char *prefix, char **path /* OUT */, int *reused /* OUT */,
                      kerr *e);

/* Gives back a folder of proc_workdir_take: emptied and kept for the next
 * take of the same root and prefix when it held, besides anything removable,
 * all the sub-folders named in subdirs (NULL-terminated), and a few are not
 * kept already; otherwise removed (proc_workdir_remove). Kept folders are
 * removed at exit (a kill -9 leaves them, empty). 0, or -1 with e set when
 * the removal failed. The sub-folders named in kept (NULL-terminated, may be
 * NULL) must be there too but keep their content as it is: the next taker
 * checks it before it relies on it. */
int proc_workdir_give(const char *dir, const char *const *subdirs, const char *const *kept, kerr *e);

/* Does the relative path match the pattern (syntax above)? */
int proc_glob_match(const char *pattern, const char *path);

void proc_strv_free(char **v);

#endif
