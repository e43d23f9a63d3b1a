/*
 * sandbox_sys.h: raw system calls for the sandbox's code that must not touch
 * libc: the init (sandbox_init.c, built without libc) and the task's process
 * of a spawn (sandbox.c, child_c), which runs on kite's memory and the kite
 * thread's TLS at the same time as the sandbox's PID 1, so it may not write
 * errno nor call into libc (or a sanitizer's interceptors). Private to the
 * sandbox. Each returns the kernel's answer: >= 0, or -errno.
 */
#ifndef KITE_UTIL_SANDBOX_SYS_H
#define KITE_UTIL_SANDBOX_SYS_H

#if defined(__x86_64__)
static inline long sbx_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}
#elif defined(__aarch64__)
static inline long sbx_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}
#else
#error "the sandbox has raw system call wrappers for x86_64 and aarch64 only"
#endif

#define sbx_sys(n, a, b, c) sbx_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

#endif
