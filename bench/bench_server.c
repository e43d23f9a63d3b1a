/*
 * bench_server.c: `kite server local` measured from outside, over loopback
 * HTTP, as a user sees it:
 *  - time from exec to the first answered request (GET /health);
 *  - resident memory (VmRSS) idle, and after the load below;
 *  - Kestra's benchmark shape: a webhook starting a two-task flow
 *    (OutputValues then Log) at a fixed rate of executions per minute for a
 *    fixed time, with p50/p99/max from the moment the request is written to
 *    the execution's end (the last date of its state.histories, read back
 *    through the API once every execution ended; one machine, one clock).
 *
 * The load is open-loop: request i is due at start + i/rate; CONNS threads,
 * each with one keep-alive connection, send their share (a thread that
 * falls behind sends at once, and the lag shows in the latencies).
 * Everything is bounded in count and time.
 *
 * Environment: KITE (the binary; default build/kite), BENCH_SERVER_RATES
 * (executions per minute, comma-separated; default 1000,5000,20000,60000),
 * BENCH_SERVER_SECONDS (per rate; default 30).
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include "util/datetime.h"
#include "util/mem.h"

#define TOKEN "bench-token-0123456789abcdef"
#define CONNS 16
#define DRAIN_SECONDS 180

static int port;

static int64_t now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* One request on a keep-alive connection (*fd, dialled when -1). Returns
 * the status, or -1 when the connection failed (closed: *fd = -1). */
static int http_once(int *fd, const char *method, const char *path, const char *ctype, const char *body,
                     buf *out)
{
    if (*fd < 0 && (*fd = dial()) < 0)
        return -1;
    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " TOKEN
                      "\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                      method, path, ctype ? ctype : "application/json", blen);
    if (write_all(*fd, head, (size_t)hl) || (blen && write_all(*fd, body, blen)))
        goto broken;
    buf_reset(out);
    char chunk[65536];
    size_t header_end = 0;
    long clen = -1;
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
        if (header_end && out->len >= header_end + (size_t)clen)
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
    return -1;
}

static int http(int *fd, const char *method, const char *path, const char *ctype, const char *body, buf *out)
{
    int st = http_once(fd, method, path, ctype, body, out);
    if (st < 0)
        st = http_once(fd, method, path, ctype, body, out);
    return st;
}

static long rss_kb(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* ---- the load ---------------------------------------------------------------- */

typedef struct sent {
    char id[32];
    int64_t at_us;
    int64_t answer_us;          /* request written -> answer read */
} sent;

typedef struct loader {
    int k;
    const char *path;
    int64_t start_mono;
    double interval_us;
    size_t total;
    sent *out;
    size_t n, errors;
} loader;

static void *load_main(void *arg)
{
    loader *l = arg;
    int fd = -1;
    buf b;
    buf_init(&b, 0);
    l->out = xcalloc(l->total / CONNS + 2, sizeof *l->out);
    for (size_t i = (size_t)l->k; i < l->total; i += CONNS) {
        int64_t due = l->start_mono + (int64_t)((double)i * l->interval_us);
        int64_t wait = due - now_mono();
        if (wait > 0)
            usleep((useconds_t)wait);
        int64_t at = now_real();
        int st = http(&fd, "POST", l->path, "application/json", "{\"n\":1}", &b);
        char *id = st == 200 ? strstr(b.data, "\"id\":\"") : NULL;
        if (!id) {
            l->errors++;
            continue;
        }
        sent *s = &l->out[l->n++];
        snprintf(s->id, sizeof s->id, "%.22s", id + 6);
        s->at_us = at;
        s->answer_us = now_real() - at;
    }
    if (fd >= 0)
        close(fd);
    buf_free(&b);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void run_rate(int rate_per_min, int seconds)
{
    char ns[64], path[256], flow[1024];
    snprintf(ns, sizeof ns, "bench.r%d", rate_per_min);
    snprintf(flow, sizeof flow,
             "id: wh\nnamespace: %s\ntasks:\n  - id: out\n    type: io.kestra.plugin.core.output.OutputValues\n"
             "    values:\n      v: \"{{ trigger.body.n }}\"\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n"
             "    message: \"got {{ outputs.out.values.v }}\"\ntriggers:\n  - id: hook\n"
             "    type: io.kestra.plugin.core.trigger.Webhook\n    key: benchkey\n",
             ns);
    int fd = -1;
    buf b;
    buf_init(&b, 0);
    int st = http(&fd, "POST", "/api/v1/flows", "application/x-yaml", flow, &b);
    if (st != 200) {
        printf("  cannot create the flow: %d %s\n", st, buf_str(&b));
        buf_free(&b);
        return;
    }
    snprintf(path, sizeof path, "/api/v1/executions/webhook/%s/wh/benchkey", ns);
    size_t total = (size_t)rate_per_min * (size_t)seconds / 60;
    loader L[CONNS];
    pthread_t th[CONNS];
    int64_t t0 = now_mono() + 10000;
    for (int k = 0; k < CONNS; k++) {
        L[k] = (loader){.k = k, .path = path, .start_mono = t0, .interval_us = 60e6 / rate_per_min, .total = total};
        pthread_create(&th[k], NULL, load_main, &L[k]);
    }
    size_t nsent = 0, errors = 0;
    for (int k = 0; k < CONNS; k++) {
        pthread_join(th[k], NULL);
        nsent += L[k].n;
        errors += L[k].errors;
    }
    double send_s = (double)(now_mono() - t0) / 1e6;
    /* wait until every execution ended */
    char q[512];
    int64_t drain0 = now_mono();
    long ended = 0;
    while (now_mono() - drain0 < DRAIN_SECONDS * 1000000LL) {
        ended = 0;
        static const char *const states[] = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"};
        for (int i = 0; i < 5; i++) {
            snprintf(q, sizeof q, "/api/v1/executions/search?namespace=%s&state=%s&size=1", ns, states[i]);
            if (http(&fd, "GET", q, NULL, NULL, &b) == 200) {
                json_t *j = json_loads(b.data, 0, NULL);
                ended += (long)json_integer_value(json_object_get(j, "total"));
                json_decref(j);
            }
        }
        if ((size_t)ended >= nsent)
            break;
        usleep(200000);
    }
    /* read the end dates back */
    json_t *ends = json_object();
    long failed = 0;
    for (int page = 1;; page++) {
        snprintf(q, sizeof q, "/api/v1/executions/search?namespace=%s&size=1000&page=%d", ns, page);
        if (http(&fd, "GET", q, NULL, NULL, &b) != 200)
            break;
        json_t *j = json_loads(b.data, 0, NULL);
        json_t *res = json_object_get(j, "results");
        size_t i;
        json_t *x;
        json_array_foreach(res, i, x)
        {
            json_t *st_ = json_object_get(x, "state");
            if (strcmp(json_string_value(json_object_get(st_, "current")), "SUCCESS"))
                failed++;
            json_t *h = json_object_get(st_, "histories");
            const char *d = json_string_value(json_object_get(json_array_get(h, json_array_size(h) - 1), "date"));
            int64_t us = 0;
            kerr e = KERR_INIT;
            if (d && !datetime_parse(d, NULL, &us, NULL, &e))
                json_object_set_new(ends, json_string_value(json_object_get(x, "id")), json_integer(us));
        }
        size_t got = json_array_size(res);
        json_decref(j);
        if (got < 1000)
            break;
    }
    int64_t *lat = xcalloc(nsent + 1, sizeof *lat), *ans = xcalloc(nsent + 1, sizeof *ans);
    size_t nl = 0, na = 0;
    for (int k = 0; k < CONNS; k++) {
        for (size_t i = 0; i < L[k].n; i++) {
            ans[na++] = L[k].out[i].answer_us;
            json_t *e = json_object_get(ends, L[k].out[i].id);
            if (e)
                lat[nl++] = json_integer_value(e) - L[k].out[i].at_us;
        }
        free(L[k].out);
    }
    json_decref(ends);
    qsort(lat, nl, sizeof *lat, cmp_i64);
    printf("  %6d/min for %ds: %zu requests in %.1f s (%.0f/min), %zu errors, %zu ended (%ld not SUCCESS)\n",
           rate_per_min, seconds, nsent, send_s, (double)nsent / send_s * 60, errors, nl, failed);
    if (nl)
        printf("          request -> execution end: p50 %.1f ms  p99 %.1f ms  max %.1f ms\n",
               (double)lat[nl / 2] / 1000, (double)lat[(size_t)((double)(nl - 1) * 0.99)] / 1000,
               (double)lat[nl - 1] / 1000);
    qsort(ans, na, sizeof *ans, cmp_i64);
    if (na)
        printf("          request -> webhook answer:  p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", (double)ans[na / 2] / 1000,
               (double)ans[(size_t)((double)(na - 1) * 0.99)] / 1000, (double)ans[na - 1] / 1000);
    free(ans);
    free(lat);
    if (fd >= 0)
        close(fd);
    buf_free(&b);
}

int main(void)
{
    const char *kite = getenv("KITE");
    if (!kite)
        kite = "build/kite";
    if (access(kite, X_OK)) {
        printf("bench_server: %s not found (set KITE)\n", kite);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char tmpl[] = "/tmp/kite-bench-server-XXXXXX";
    char *dir = mkdtemp(tmpl);
    /* a free port */
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

    int64_t t0 = now_mono();
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        setenv("KITE_ADMIN_TOKEN", TOKEN, 1);
        execl(kite, kite, "server", "local", "--port", portstr, "--data", data, "--quiet", (char *)NULL);
        _exit(127);
    }
    buf b;
    buf_init(&b, 0);
    int64_t first = -1;
    while (now_mono() - t0 < 10000000) {
        int fd = -1;
        if (http_once(&fd, "GET", "/health", NULL, NULL, &b) == 200) {
            first = now_mono() - t0;
            close(fd);
            break;
        }
        if (fd >= 0)
            close(fd);
        usleep(500);
    }
    if (first < 0) {
        printf("bench_server: the server did not answer within 10 s\n");
        kill(pid, SIGKILL);
        return 1;
    }
    printf("start to first answered request: %.1f ms (fresh data folder)\n", (double)first / 1000);
    usleep(1000000);
    printf("idle RSS: %.1f MB\n", (double)rss_kb(pid) / 1024);

    const char *rates = getenv("BENCH_SERVER_RATES");
    const char *secs = getenv("BENCH_SERVER_SECONDS");
    int seconds = secs ? atoi(secs) : 30;
    if (seconds < 1 || seconds > 600)
        seconds = 30;
    char *list = xstrdup(rates ? rates : "1000,5000,20000,60000");
    printf("webhook -> OutputValues -> Log (Kestra's benchmark shape), %d connections:\n", CONNS);
    for (char *save = NULL, *r = strtok_r(list, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        int rate = atoi(r);
        if (rate < 1 || rate > 600000)
            continue;
        run_rate(rate, seconds);
        printf("          RSS now: %.1f MB\n", (double)rss_kb(pid) / 1024);
    }
    free(list);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("SIGTERM: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    buf_free(&b);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
    return 0;
}
