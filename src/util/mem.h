/*
 * mem.h: allocation that never returns NULL.
 *
 * kite treats out-of-memory as fatal, in one place, the way Redis's zmalloc
 * does: every x* function aborts with a message when the allocator fails, so
 * the rest of the code never checks for NULL after allocating.
 */
#ifndef KITE_UTIL_MEM_H
#define KITE_UTIL_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation; the caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fault injection for tests: when set to N > 0, the Nth allocation from now
 * aborts as if memory ran out. 0 disables it. */
void mem_fail_after(long n);

#endif
