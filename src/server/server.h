/*
 * server.h: the HTTP API (libmicrohttpd), the server layer's whole contract.
 *
 * A server answers Kestra's REST paths under /api/v1/ (and /api/v1/main/,
 * the tenant segment) on top of an engine, its store and its storage: flows,
 * executions (with server-sent events to follow them), logs, webhooks, the
 * kv store, triggers, /metrics, /health and an OpenAPI document. Every
 * /api call needs `Authorization: Bearer <token>` except webhooks (their key
 * guards them) and health; see docs/server.md and docs/api.md.
 *
 * Ownership: the server borrows the engine, the store and the storage for
 * its whole life; the caller frees them after server_free().
 *
 * DESIGN
 * libmicrohttpd runs one thread per connection (MHD_USE_THREAD_PER_CONNECTION
 * under its internal polling thread): handlers may block (`wait=true`, SSE
 * streams poll the store) without stalling other clients, and the number of
 * connections is capped so threads stay bounded. Routes are one const table
 * (server.c) that also produces the OpenAPI document, so the two cannot
 * disagree.
 */
#ifndef KITE_SERVER_SERVER_H
#define KITE_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/engine.h"
#include "sched/sched.h"
#include "storage/storage.h"
#include "store/store.h"
#include "util/err.h"

typedef struct server server;

typedef struct server_opts {
    engine *engine;             /* required */
    store *store;               /* required: the engine's store */
    storage *storage;           /* required: the engine's storage */
    const char *host;           /* address to bind; NULL: 127.0.0.1 */
    int port;                   /* 0: any free port (see server_port) */
    const char *tmp_dir;        /* where uploads are written; NULL: $TMPDIR or /tmp */
    size_t max_body;            /* cap on a JSON/YAML/form body; 0: 10 MiB */
    size_t max_upload;          /* cap on the files of one request; 0: 1 GiB */
    unsigned timeout_s;         /* idle connection timeout; 0: 60 s */
    unsigned max_connections;   /* 0: 512 (past it, the oldest unfinished request is closed) */
    unsigned max_per_address;   /* connections one client address holds; 0: 128 */
    unsigned header_timeout_s;  /* headers complete this long after accept; 0: 10 s */
    unsigned request_timeout_s; /* the whole request (headers, body) after accept; 0: 120 s */
    size_t max_inflight;        /* request body bytes held in memory server-wide; 0: 64 MiB */
    int quiet;                  /* 1: no access log on stderr */
    sched *sched;               /* webhooks, backfills, flow changes; NULL: webhooks
                                 * and backfills answer 503 */
    unsigned session_ttl_s;     /* how long a login session lasts; 0: 12 h (server.sessionTtl) */
    /* TLS (docs/server.md, "TLS"): PEM texts, borrowed until server_start
     * returns; both NULL: plain HTTP */
    const char *tls_cert_pem;
    const char *tls_key_pem;
    const char *tls_priorities; /* GnuTLS priority string; NULL: SERVER_TLS_PRIORITIES */
    /* server.trustedProxies: peers whose X-Forwarded-For, -Proto and -Host
     * are believed (a JSON list of CIDRs, borrowed; NULL: none) */
    const json_t *trusted_proxies;
} server_opts;

/* TLS 1.2 and 1.3 only, AEAD ciphers, forward-secret key exchanges. */
#define SERVER_TLS_PRIORITIES                                                                              \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
    "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

/* Checks a certificate chain and its key (PEM texts) and a priority string
 * (NULL: the default) as server_start will use them: 0, or -1 with e set to
 * a message naming what is wrong by the names given (cert_name, key_name:
 * "server.tls.cert /etc/kite/cert.pem" for instance): not a PEM
 * certificate, not a PEM key, a key that does not match the certificate, a
 * bad priority string. */
int server_tls_check(const char *cert_pem, const char *cert_name, const char *key_pem, const char *key_name,
                     const char *priorities, kerr *e);

/* Creates a server (no socket yet). Returns NULL with e set when an option
 * is missing. */
server *server_new(const server_opts *o, kerr *e);

/* Makes sure an admin token exists: the one in token (KITE_ADMIN_TOKEN) is
 * stored hashed, replacing the previous admin token; without one, a token is
 * generated at the first start only, and its text is written to *generated
 * (the caller prints it once and frees it; NULL otherwise). */
int server_auth_init(server *s, const char *token, char **generated /* OUT */, kerr *e);

/* Every role, binding and token scope of the store compiled into a policy
 * (util/policy.h), as the server decides with it; the caller frees it. */
struct policy;
int server_access_load(store *st, struct policy **out /* OUT */, kerr *e);

/* 0 when name may name a principal (1 to 64 letters, digits, _ - . @). */
int server_principal_check(const char *name, kerr *e);
/* A password hashed with Argon2id (libsodium crypto_pwhash_str); the
 * caller frees *out. Fails for fewer than 8 characters. */
int server_password_hash(const char *password, char **out /* OUT */, kerr *e);
/* A new random token's text ("kite_" and 48 hex digits from getrandom);
 * the caller frees it. */
int server_token_generate(char **out /* OUT */, kerr *e);
/* 1 when password matches hash. */
int server_password_verify(const char *hash, const char *password);

/* Binds and starts serving. Returns 0, or -1 with e set (port in use...). */
int server_start(server *s, kerr *e);
/* The port the server listens on (useful with port 0). */
int server_port(const server *s);
/* "https" when serving TLS, else "http". */
const char *server_scheme(const server *s);
/* Stops accepting connections, ends open event streams, and waits for the
 * requests in progress. The engine is not stopped. */
void server_stop(server *s);
void server_free(server *s);

#endif
