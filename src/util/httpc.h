/*
 * httpc.h: the one HTTP client of kite, a thin layer over libcurl.
 *
 * Everything in kite that speaks HTTP (the HTTP tasks, alerts, S3, Vault,
 * SMTP through libcurl, the Docker Engine API) goes through this file, so
 * timeouts, TLS options, proxies, redirects and the cap on what a server may
 * send back are set in one place (curl's own "easy" options and DYNBUF cap
 * are the model). No other file calls libcurl.
 *
 * A client (httpc) belongs to one thread at a time: it keeps one libcurl easy
 * handle whose connection cache, TLS session cache and DNS cache survive
 * from one request to the next, so 100 requests to one host cost one TLS
 * handshake. Give each worker thread its own client.
 *
 * Ownership: a request borrows everything it points at. A response owns its
 * body, its header list and its effective URL; httpc_resp_free releases them
 * and leaves the response reusable.
 *
 * Errors: a request that could not complete (DNS, connect, TLS, timeout, a
 * body over its cap, a callback that stopped) fails with a message of one
 * line naming the target and the cause, for example
 *   POST https://hooks.example.com/x: connect: Connection refused
 * and the URL in it has its user and password removed. With the SSRF guard
 * on (security.ssrf, util/netguard.h), every address libcurl connects to is
 * checked first (each redirect's too), and a refusal reads
 *   GET http://127.0.0.1:8080/x: security.ssrf: 127.0.0.1 is in the denied
 *   range 127.0.0.0/8 (loopback); allow it in kite.yml security.ssrf.allow An HTTP status of any
 * value is not an error here: the caller decides what 404 or 500 means.
 */
#ifndef KITE_UTIL_HTTPC_H
#define KITE_UTIL_HTTPC_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct httpc httpc;

/* Limits and transport settings; zero values take the defaults named. */
typedef struct httpc_opts {
    long connect_timeout_ms;  /* 0: 10 s */
    long timeout_ms;          /* whole request; 0: none (use idle_timeout_ms) */
    long idle_timeout_ms;     /* no byte received for this long; 0: 60 s */
    size_t max_body;          /* bytes of body kept; 0: 10 MiB; larger fails */
    int follow_redirects;     /* 0: do not follow */
    long max_redirects;       /* 0: 10 */
    int insecure;             /* 1: do not verify the peer's certificate */
    const char *ca_file;      /* PEM bundle instead of the system's, or NULL */
    const char *proxy;        /* "http://host:port", "socks5://...", or NULL */
    const char *user_agent;   /* NULL: "kite" */
    const char *unix_socket;  /* connect to this Unix socket instead (the Docker
                                 Engine API); the URL still names the host */
    int trusted;              /* 1: the target comes from kite.yml (Vault), not from a flow:
                               * the SSRF guard (security.ssrf) does not apply */
} httpc_opts;

/* Called with each piece of the body as it arrives, instead of keeping it
 * (a download streams to a file this way). Return 0 to go on, non-zero to
 * stop the transfer: the request then fails with "stopped by the receiver". */
typedef int (*httpc_sink)(void *ud, const char *data, size_t n);

typedef struct httpc_req {
    const char *method;            /* NULL: GET, or POST when body is set */
    const char *url;
    const char *const *headers;    /* "Name: value" strings, NULL-terminated */
    const void *body;              /* request body, or NULL */
    size_t body_len;
    const char *upload_path;       /* stream this file as the body instead */
    const char *basic_user;        /* HTTP basic auth, or NULL */
    const char *basic_password;
    const char *bearer;            /* Authorization: Bearer, or NULL */
    httpc_sink sink;               /* stream the body here instead of keeping it */
    void *sink_ud;
} httpc_req;

typedef struct httpc_hdr {
    char *name;                    /* as the server spelled it */
    char *value;
} httpc_hdr;

typedef struct httpc_resp {
    long status;                   /* 200, 404, ...; 0 before a response */
    buf body;                      /* empty when a sink took the body */
    uint64_t body_bytes;           /* bytes of body received, kept or streamed */
    httpc_hdr *headers;            /* of the last response (after redirects) */
    size_t nheaders;
    char *effective_url;           /* the URL answered last (after redirects) */
    double total_s;                /* time the request took */
} httpc_resp;

#define HTTPC_RESP_INIT {0, BUF_INIT, 0, NULL, 0, NULL, 0}

/* NULL when libcurl is there (loading and initialising it on the first
 * call, util/dl.h), else why not: "HTTP requests need libcurl.so.4 (Debian
 * package libcurl4): ...". A type that speaks HTTP names it in
 * type_def.needs. */
const char *httpc_unavailable(void);

/* A client; aborts on out of memory. Without libcurl (httpc_unavailable)
 * each of its requests fails with that reason. */
httpc *httpc_new(void);
void httpc_free(httpc *c);

/* One client per thread and per user of it (the HTTP tasks, the alerts,
 * Vault): a user declares one `static httpc_per_thread pt =
 * HTTPC_PER_THREAD_INIT;` and calls httpc_thread(&pt), which makes the
 * calling thread's client on first use and frees it when the thread ends.
 * Users keep separate clients so that one never reenters another's handle
 * (secret() reading Vault while a task's request is being prepared). */
typedef struct httpc_per_thread {
    pthread_once_t once;
    pthread_key_t key;
} httpc_per_thread;
#define HTTPC_PER_THREAD_INIT {PTHREAD_ONCE_INIT, 0}
httpc *httpc_thread(httpc_per_thread *pt);

/* Performs one request. Returns 0 when a response arrived (whatever its
 * status) and fills *out (which the caller frees with httpc_resp_free),
 * -1 with e set otherwise. opts may be NULL for the defaults. */
int httpc_do(httpc *c, const httpc_req *req, const httpc_opts *opts,
             httpc_resp *out /* OUT */, kerr *e);

void httpc_resp_free(httpc_resp *r);

/* The value of a response header (case-insensitive name), the last one when
 * it repeats, or NULL; borrowed from r. */
const char *httpc_resp_header(const httpc_resp *r, const char *name);

/* Writes url into out with any "user:password@" removed, for messages. */
void httpc_redact_url(const char *url, buf *out);

/* Percent-encodes s for a URL component (RFC 3986 unreserved kept). */
void httpc_escape(const char *s, size_t n, buf *out);

/* How many connections this client opened so far (a test and bench figure:
 * reuse keeps it at one per host). */
long httpc_connects(const httpc *c);

/* ---- for the HTTP tasks (tasks/http.c) ------------------------------------
 * A request with a multipart/form-data body and a cancel flag. */

#include <stdatomic.h>

/* One part of a multipart/form-data body: a field (data, len) or a file
 * (path, streamed from disk when the body is sent). */
typedef struct httpc_part {
    const char *name;
    const char *data;             /* the field's value, or NULL for a file */
    size_t len;
    const char *path;             /* the file whose content is the part, or NULL */
    const char *filename;         /* the part's file name, or NULL */
    const char *type;             /* the part's Content-Type, or NULL */
} httpc_part;

typedef struct httpc_more {
    const httpc_part *parts;      /* sent as multipart/form-data (req->body unused) */
    size_t nparts;
    const atomic_int *cancel;     /* non-zero stops the transfer: "...: cancelled" */
} httpc_more;

/* httpc_do with more (may be NULL: the same as httpc_do). A file part that
 * cannot be read fails with "METHOD URL: cannot read the file of form field
 * 'x': ...". */
int httpc_do_more(httpc *c, const httpc_req *req, const httpc_more *more,
                  const httpc_opts *opts, httpc_resp *out /* OUT */, kerr *e);

/* ---- SMTP (for the mail tasks, tasks/notify_mail.c: the alerts helper) ----
 *
 * libcurl speaks SMTP too, so mail goes through this file as well
 * (httpc_smtp.c). One call sends one message: it connects, says EHLO,
 * upgrades with STARTTLS when asked, authenticates when a user is given,
 * sends MAIL FROM, one RCPT TO per recipient and the MIME message built with
 * curl_mime, and quits. Errors are one line naming the server and the cause:
 *   SMTP smtps://127.0.0.1:2465: connect: Connection refused
 *   SMTP smtp://mail.example.com:25: the server answered 535 ... */

typedef enum httpc_smtp_tls {
    HTTPC_SMTP_PLAIN,      /* no TLS (Kestra's SMTP) */
    HTTPC_SMTP_IMPLICIT,   /* TLS from the first byte (SMTPS) */
    HTTPC_SMTP_STARTTLS,   /* STARTTLS, required (SMTP_TLS) */
} httpc_smtp_tls;

typedef struct httpc_mail_file {
    const char *name;          /* the file name the reader sees */
    const char *content_type;  /* NULL: application/octet-stream */
    const void *data;          /* the bytes (borrowed) */
    size_t len;
    int is_inline;             /* 1: an embedded image, Content-ID <name> */
} httpc_mail_file;

typedef struct httpc_mail {
    const char *host;
    long port;
    httpc_smtp_tls tls;
    const char *username, *password;   /* AUTH, or NULL */
    const char *from;                  /* the envelope sender */
    const char *const *rcpt;           /* envelope recipients (To and Cc), NULL-terminated */
    const char *const *headers;        /* "From: ...", "To: ...", "Subject: ..." lines, NULL-terminated */
    const char *text;                  /* the text/plain part, or NULL */
    const char *html;                  /* the text/html part, or NULL */
    const httpc_mail_file *files;      /* attachments and inline images */
    size_t nfiles;
    long timeout_ms;                   /* the whole session; 0: 60 s */
    int insecure;                      /* 1: do not verify the server's certificate */
    const char *ca_file;               /* PEM bundle instead of the system's, or NULL */
} httpc_mail;

/* Sends one message. 0, or -1 with e set (one line, as above). */
int httpc_smtp_send(const httpc_mail *m, kerr *e);

/* ---- AWS Signature Version 4 (user: s3sec: the S3 tasks and storage) ------------------------ */

/* Credentials and scope for a request signed with SigV4. */
typedef struct httpc_aws {
    const char *access_key;
    const char *secret_key;
    const char *session_token;     /* temporary credentials, or NULL */
    const char *region;            /* NULL: "us-east-1" */
    const char *service;           /* NULL: "s3" */
} httpc_aws;

/* httpc_do, signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4). The caller
 * sends the payload hash in an "x-amz-content-sha256: <hex>" header (S3
 * requires it; "UNSIGNED-PAYLOAD" is allowed). Query parameters must be in
 * canonical order (sorted, RFC 3986 encoded): this libcurl signs the query
 * as written. */
int httpc_do_aws(httpc *c, const httpc_req *req, const httpc_opts *opts, const httpc_aws *aws,
                 httpc_resp *out /* OUT */, kerr *e);

#endif
