/*
 * httpc_int.h: what httpc.c and httpc_smtp.c share: the SSRF guard's hook
 * into libcurl. Nobody outside src/util/httpc*.c includes it.
 */
#ifndef KITE_UTIL_HTTPC_INT_H
#define KITE_UTIL_HTTPC_INT_H

#include "util/dl_curl.h"

#include "util/err.h"

/* One transfer's guard: libcurl asks it for every socket it opens (the
 * first connection, each redirect's, each address it tries), with the
 * address it is about to connect to. */
typedef struct httpc_guard {
    CURL *h;
    const char *proxy;             /* the proxy connected to instead of the URL's host, or NULL */
    int unix_ok;                   /* 1: the caller chose a Unix socket (a local engine's API):
                                    * it is let through (the guard judges network addresses) */
    char refused[KERR_MSG_MAX];    /* the first refusal, for the error message */
} httpc_guard;

/* Installs g on h (CURLOPT_OPENSOCKETFUNCTION) when security.ssrf is on;
 * does nothing otherwise. g must outlive the transfer. */
void httpc__guard_install(CURL *h, httpc_guard *g, const char *proxy);

#endif
