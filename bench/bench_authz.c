/*
 * bench_authz.c: the cost of access control.
 *
 *  1. In process (util/policy.c): ns per decision with 1,000 bindings,
 *     (a) spread over 250 principals, (b) all held by one principal (on
 *     1,000 team namespaces, with a deny below one of them), against a
 *     linear evaluation of the same bindings measured in the same run.
 *  2. A real `kite server local` over loopback: requests per second of
 *     GET /api/v1/flows/{namespace}/{id} (a route checked by namespace)
 *     with the admin token while the store holds only the admin binding,
 *     then, in the same run, once 1,000 bindings exist: with the admin
 *     token, and with a token of a service account holding all 1,000.
 *
 * Environment: KITE (default build/kite), BENCH_AUTHZ_SECONDS (per load,
 * default 3).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/policy.h"

#define ADMIN "bench-token-0123456789abcdef"
#define CONNS 4

static int port;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- 1. decisions in process ---------------------------------------------------------- */

static volatile int sink;

static double per_decision(const policy *p, const char *who, const char *const *nss, int nn, long iters)
{
    int64_t t0 = now_ns();
    int acc = 0;
    for (long i = 0; i < iters; i++)
        acc += policy_decide(p, who, (int)(i % PA__COUNT), nss[i % nn]);
    sink = acc;
    return (double)(now_ns() - t0) / (double)iters;
}

/* The same decision by walking every binding (what a policy without an
 * index does): the baseline. */
typedef struct lin {
    const char *who, *pat;
    uint32_t allow, deny;
} lin;

static double per_linear(const lin *v, int n, const char *who, const char *const *nss, int nn, long iters)
{
    int64_t t0 = now_ns();
    int acc = 0;
    for (long i = 0; i < iters; i++) {
        uint32_t a = 0, d = 0, bit = 1u << (i % PA__COUNT);
        const char *ns = nss[i % nn];
        for (int k = 0; k < n; k++)
            if (!strcmp(v[k].who, who) && policy_match(v[k].pat, ns)) {
                a |= v[k].allow;
                d |= v[k].deny;
            }
        acc += (d & bit) ? 2 : (a & bit) ? 1 : 0;
    }
    sink = acc;
    return (double)(now_ns() - t0) / (double)iters;
}

static void bench_policy(void)
{
    static char names[1000][32], pats[1000][64];
    static const char *nss[64];
    static char nsbuf[64][64];
    lin v[1000];
    uint32_t viewer = 0, editor = 0;
    json_t *vj = policy_builtin_role("viewer"), *ej = policy_builtin_role("editor");
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(json_array_get(vj, 0), "actions"), k, a) viewer |= policy_action_mask(json_string_value(a));
    json_array_foreach(json_object_get(json_array_get(ej, 0), "actions"), k, a) editor |= policy_action_mask(json_string_value(a));
    json_decref(vj);
    json_decref(ej);
    for (int i = 0; i < 64; i++) {
        snprintf(nsbuf[i], sizeof nsbuf[i], "company.team%d.app%d.jobs", (i * 37) % 1000, i % 5);
        nss[i] = nsbuf[i];
    }
    /* (a) 1,000 bindings over 250 principals */
    policy *p = policy_new();
    for (int i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof names[i], "user%d", i % 250);
        snprintf(pats[i], sizeof pats[i], "company.team%d.*", i);
        policy_bind(p, names[i], i % 2 ? "viewer" : "editor", pats[i], NULL, NULL);
        v[i] = (lin){names[i], pats[i], i % 2 ? viewer : editor, 0};
    }
    policy_compile(p, NULL);
    long it = 2000000;
    double a1 = per_decision(p, "user37", nss, 64, it);
    double l1 = per_linear(v, 1000, "user37", nss, 64, it / 20);
    printf("decision, 1,000 bindings over 250 principals: %.0f ns (linear walk of the bindings: %.0f ns)\n", a1,
           l1);
    policy_free(p);
    /* (b) one principal holds all 1,000, with a deny below one */
    p = policy_new();
    json_t *deny = json_loads("[{\"effect\":\"deny\",\"actions\":[\"*\"]}]", 0, NULL);
    policy_add_role(p, "nothing", deny, NULL);
    json_decref(deny);
    for (int i = 0; i < 999; i++) {
        policy_bind(p, "ci", i % 2 ? "viewer" : "editor", pats[i], NULL, NULL);
        v[i] = (lin){"ci", pats[i], i % 2 ? viewer : editor, 0};
    }
    policy_bind(p, "ci", "nothing", "company.team37.app2.*", NULL, NULL);
    v[999] = (lin){"ci", "company.team37.app2.*", 0, (1u << PA__COUNT) - 1};
    policy_compile(p, NULL);
    double a2 = per_decision(p, "ci", nss, 64, it);
    double l2 = per_linear(v, 1000, "ci", nss, 64, it / 200);
    printf("decision, one principal with 1,000 bindings:   %.0f ns (linear walk: %.0f ns; aim < 5,000 ns)\n", a2,
           l2);
    policy_free(p);
}

/* ---- 2. a real server ------------------------------------------------------------------ */

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int http(int *fd, const char *token, const char *method, const char *path, const char *ctype, const char *body,
                buf *out)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (*fd < 0 && (*fd = dial()) < 0)
            return -1;
        size_t blen = body ? strlen(body) : 0;
        char head[1024];
        int hl = snprintf(head, sizeof head,
                          "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          method, path, token, ctype ? ctype : "application/json", blen);
        if (write(*fd, head, (size_t)hl) != hl || (blen && write(*fd, body, blen) != (ssize_t)blen))
            goto broken;
        buf_reset(out);
        char chunk[16384];
        size_t header_end = 0;
        long clen = 0;
        for (;;) {
            ssize_t r = read(*fd, chunk, sizeof chunk);
            if (r <= 0)
                goto broken;
            buf_append(out, chunk, (size_t)r);
            if (!header_end) {
                char *e = strstr(out->data, "\r\n\r\n");
                if (!e)
                    continue;
                header_end = (size_t)(e - out->data) + 4;
                char *cl = strcasestr(out->data, "\r\nContent-Length:");
                clen = cl && cl < e ? strtol(cl + 17, NULL, 10) : 0;
            }
            if (out->len >= header_end + (size_t)clen)
                break;
        }
        int status = atoi(out->data + 9);
        memmove(out->data, out->data + header_end, out->len - header_end);
        out->len -= header_end;
        out->data[out->len] = '\0';
        return status;
    broken:
        close(*fd);
        *fd = -1;
    }
    return -1;
}

typedef struct load {
    const char *token;
    int64_t until;
    long ok, bad;
} load;

static void *load_main(void *arg)
{
    load *l = arg;
    int fd = -1;
    buf b;
    buf_init(&b, 0);
    while (now_ns() < l->until) {
        if (http(&fd, l->token, "GET", "/api/v1/flows/company.team37/f", NULL, NULL, &b) == 200)
            l->ok++;
        else
            l->bad++;
    }
    if (fd >= 0)
        close(fd);
    buf_free(&b);
    return NULL;
}

static double rps(const char *token, int seconds, long *bad)
{
    pthread_t th[CONNS];
    load l[CONNS];
    int64_t t0 = now_ns();
    for (int i = 0; i < CONNS; i++) {
        l[i] = (load){token, t0 + (int64_t)seconds * 1000000000, 0, 0};
        pthread_create(&th[i], NULL, load_main, &l[i]);
    }
    long ok = 0;
    *bad = 0;
    for (int i = 0; i < CONNS; i++) {
        pthread_join(th[i], NULL);
        ok += l[i].ok;
        *bad += l[i].bad;
    }
    return (double)ok / ((double)(now_ns() - t0) / 1e9);
}

static int bench_server(void)
{
    const char *kite = getenv("KITE");
    if (!kite)
        kite = "build/kite";
    if (access(kite, X_OK)) {
        printf("bench_authz: %s not found (set KITE): server part skipped\n", kite);
        return 1;
    }
    const char *secs = getenv("BENCH_AUTHZ_SECONDS");
    int seconds = secs ? atoi(secs) : 3;
    if (seconds < 1 || seconds > 120)
        seconds = 3;
    char tmpl[] = "/tmp/kite-bench-authz-XXXXXX";
    char *dir = mkdtemp(tmpl);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    close(s);
    char portstr[16], data[512];
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(data, sizeof data, "%s/data", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        setenv("KITE_ADMIN_TOKEN", ADMIN, 1);
        execl(kite, kite, "server", "local", "--port", portstr, "--data", data, "--quiet", (char *)NULL);
        _exit(127);
    }
    buf b;
    buf_init(&b, 0);
    int fd = -1, up = 0;
    for (int i = 0; i < 2000 && !up; i++) {
        up = http(&fd, ADMIN, "GET", "/health", NULL, NULL, &b) == 200;
        if (!up)
            usleep(5000);
    }
    if (!up) {
        printf("bench_authz: the server did not start\n");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 1;
    }
    http(&fd, ADMIN, "POST", "/api/v1/flows", "application/x-yaml",
         "id: f\nnamespace: company.team37\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n",
         &b);
    long bad = 0;
    double base = rps(ADMIN, seconds, &bad);
    printf("GET a flow, admin token, only the admin binding: %.0f requests/s (%d connections; %ld refused)\n",
           base, CONNS, bad);
    /* 1,000 bindings, all held by the service account bench */
    http(&fd, ADMIN, "POST", "/api/v1/tokens", NULL,
         "{\"name\":\"bench\",\"bindings\":[{\"role\":\"viewer\",\"namespace\":\"company.team0.*\"}]}", &b);
    json_t *j = json_loads(b.data, 0, NULL);
    char *tok = xstrdup(json_string_value(json_object_get(j, "token")) ? json_string_value(json_object_get(j, "token"))
                                                                         : "none");
    json_decref(j);
    http(&fd, ADMIN, "POST", "/api/v1/users", NULL, "{\"name\":\"bench2\",\"kind\":\"service\"}", &b);
    int made = 1;
    for (int i = 1; i < 1000; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"principal\":\"%s\",\"role\":\"%s\",\"namespace\":\"company.team%d.*\"}",
                 "bench", i % 2 ? "viewer" : "editor", i);
        made += http(&fd, ADMIN, "POST", "/api/v1/bindings", NULL, body, &b) == 201;
    }
    /* the scope of bench's token is company.team0.*: a second token, unscoped, for the load */
    http(&fd, ADMIN, "POST", "/api/v1/tokens", NULL, "{\"name\":\"bench-all\",\"owner\":\"bench\"}", &b);
    j = json_loads(b.data, 0, NULL);
    char *all = xstrdup(json_string_value(json_object_get(j, "token")) ? json_string_value(json_object_get(j, "token"))
                                                                         : "none");
    json_decref(j);
    double admin2 = rps(ADMIN, seconds, &bad);
    printf("the same with %d bindings in the store, admin token: %.0f requests/s (%+.1f%%; %ld refused)\n", made + 1,
           admin2, 100.0 * (admin2 - base) / base, bad);
    double svc = rps(all, seconds, &bad);
    printf("the same, a service account holding %d bindings:  %.0f requests/s (%+.1f%% against the admin token "
           "alone; aim within 10%%; %ld refused)\n",
           made, svc, 100.0 * (svc - base) / base, bad);
    /* the admin token once more: what drifted with time (the WAL, the
     * machine) rather than with the bindings */
    double admin3 = rps(ADMIN, seconds, &bad);
    printf("the admin token again, last:                  %.0f requests/s (%+.1f%%; the service account against "
           "the mean of the two admin runs with bindings: %+.1f%%)\n",
           admin3, 100.0 * (admin3 - base) / base, 100.0 * (svc - (admin2 + admin3) / 2) / ((admin2 + admin3) / 2));
    free(tok);
    free(all);
    if (fd >= 0)
        close(fd);
    buf_free(&b);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_policy();
    return bench_server() ? 1 : 0;
}
