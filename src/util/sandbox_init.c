/*
 * sandbox_init.c: the init (PID 1) of every sandbox (see sandbox.c).
 *
 * A PID 1 ignores every signal it has no handler for, so a task that is
 * its namespace's PID 1 does not die of the SIGTERM of a timeout (kite waits
 * the grace period, then SIGKILLs) and reaps no orphan. This program is the
 * PID 1 instead: the sandbox's set-up process starts the task as its child
 * (PID 2, in a process group of its own), then execs this, which
 *   - forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the task's process
 *     group,
 *   - reaps every child (orphans are re-parented to it),
 *   - when the task ends, writes the task's wait status to the status pipe
 *     (kite reads it: a PID 1 cannot die of a signal it sends itself, so the
 *     signal that ended the task goes that way) and exits with the task's
 *     exit code (128 + the signal when a signal ended it); the kernel then
 *     kills whatever is left in the namespace.
 * argv: kite-init <task pid> <status pipe fd>. It gets no environment and
 * fds 0-2 on /dev/null.
 *
 * DESIGN
 * It is built on its own (Makefile: -static -nostdlib, ~9 KB), not as part
 * of libkite: kite embeds the ELF and execs it from a memfd, so the set-up
 * process (which shares kite's memory) leaves kite's address space, and a
 * static program without libc loads in a fraction of a static glibc one
 * (~0.25 against ~1 ms here). Hence no libc: system calls through the
 * wrappers of sandbox_sys.h (x86_64, aarch64). Signals stay blocked and are
 * taken with rt_sigtimedwait, as tini does: a blocked signal is queued even
 * for a PID 1, and no handler (and no signal trampoline) is needed.
 *
 * In libkite this file compiles to nothing (KITE_SANDBOX_INIT unset).
 */
#ifdef KITE_SANDBOX_INIT

#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox_sys.h"

#define sys4(n, a, b, c, d) sbx_sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n xor %rbp, %rbp\n mov %rsp, %rdi\n and $-16, %rsp\n call init_main\n hlt\n");
#elif defined(__aarch64__)
__asm__(".globl _start\n_start:\n mov x29, #0\n mov x30, #0\n mov x0, sp\n bl init_main\n brk #0\n");
#endif

#define KSIGSET_BYTES 8   /* the kernel's sigset_t */

static long to_long(const char *s)
{
    long n = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        n = n * 10 + (*s - '0');
    }
    return n;
}

static __attribute__((noreturn)) void quit(int code)
{
    for (;;)
        sys4(SYS_exit_group, code, 0, 0, 0);
}

void init_main(long *sp);

void init_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    long task = argc >= 3 ? to_long(argv[1]) : -1;
    long status_fd = argc >= 3 ? to_long(argv[2]) : -1;
    if (task <= 1 || status_fd < 0)
        quit(127);
    unsigned long all = ~0UL, forwarded = 0;
    sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, KSIGSET_BYTES);
    static const int fwd[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (unsigned i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
        forwarded |= 1UL << (fwd[i] - 1);
    unsigned long wanted = forwarded | 1UL << (SIGCHLD - 1);
    /* nothing of it for the task to read or trace (it runs as the same user) */
    sys4(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0);
    sys4(SYS_prctl, PR_SET_NAME, (long)"kite-init", 0, 0);
    for (;;) {
        for (;;) {
            int st = 0;
            long pid = sys4(SYS_wait4, -1, (long)&st, WNOHANG, 0);
            if (pid <= 0)
                break;
            if (pid == task) {
                sys4(SYS_write, status_fd, (long)&st, sizeof st, 0);
                quit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            }
        }
        long sig = sys4(SYS_rt_sigtimedwait, (long)&wanted, 0, 0, KSIGSET_BYTES);
        if (sig > 0 && sig < 64 && (forwarded & (1UL << (sig - 1))))
            if (sys4(SYS_kill, -task, sig, 0, 0) < 0)
                sys4(SYS_kill, task, sig, 0, 0);
    }
}

#endif
