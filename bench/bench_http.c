/*
 * bench_http.c: HTTP Request tasks per second through kite, next to a bare
 * libcurl loop doing the same requests, and next to the engine's own cost of
 * a task (a Return task, which does nothing).
 *
 * The server is libmicrohttpd in this process on a loopback port (a 64-byte
 * answer from a thread pool), so the figures are kite's and libcurl's, not a
 * slow test server's. kite runs as a user runs it: `$KITE run` of a flow of
 * N sequential Request tasks (BENCH_HTTP_N, default 500), with the default
 * worker pool; the time of a 1-task flow (start-up, the data folder, the end)
 * is subtracted. The figure to watch: a Request task's cost less a Return
 * task's cost, against the bare request (the aim: within 1.5x). Medians of 3.
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char ANSWER[] = "{\"ok\":true,\"pad\":\"0123456789012345678901234567890123\"}\n";

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **ctx)
{
    if (!*ctx) {
        *ctx = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof ANSWER - 1, (void *)ANSWER, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t drop(char *p, size_t s, size_t n, void *ud)
{
    return s * n;
}

/* n GETs on one easy handle, as a task run's request: a fresh handle state
 * (reset) each time, the connection kept. */
static double bare_curl(const char *url, int n)
{
    CURL *h = curl_easy_init();
    double t0 = now();
    for (int i = 0; i < n; i++) {
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        if (curl_easy_perform(h) != CURLE_OK) {
            fprintf(stderr, "bare curl failed\n");
            exit(1);
        }
    }
    double t = now() - t0;
    curl_easy_cleanup(h);
    return t;
}

/* Writes a flow of n tasks (Request to url, or Return) and runs it with
 * $KITE; returns the wall time. */
static double kite_run(const char *kite, const char *dir, const char *url, int n, int http)
{
    char path[512], data[512];
    snprintf(path, sizeof path, "%s/flow-%d-%d.yaml", dir, http, n);
    snprintf(data, sizeof data, "%s/data-%d-%d-%ld", dir, http, n, (long)(now() * 1e6));
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "id: bench_http\nnamespace: bench.http\ntasks:\n");
    for (int i = 0; i < n; i++) {
        if (http)
            fprintf(f, "  - id: t%d\n    type: io.kestra.plugin.core.http.Request\n    uri: %s\n",
                    i, url);
        else
            fprintf(f, "  - id: t%d\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n",
                    i);
    }
    fclose(f);
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        execl(kite, kite, "run", path, "--data", data, "--quiet", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    double t = now() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s run %s failed (status %d)\n", kite, path, st);
        exit(1);
    }
    return t;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median3(double v[3])
{
    qsort(v, 3, sizeof v[0], cmp);
    return v[1];
}

int main(void)
{
    int n = getenv("BENCH_HTTP_N") ? atoi(getenv("BENCH_HTTP_N")) : 500;
    const char *kite = getenv("KITE") ? getenv("KITE") : "build/kite";
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bench_http-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_req, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot start the loopback server\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", (unsigned)info->port);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    double b[3], h[3], h1[3], r[3], r1[3];
    for (int i = 0; i < 3; i++) {
        b[i] = bare_curl(url, n);
        h1[i] = kite_run(kite, dir, url, 1, 1);
        h[i] = kite_run(kite, dir, url, n, 1);
        r1[i] = kite_run(kite, dir, url, 1, 0);
        r[i] = kite_run(kite, dir, url, n, 0);
    }
    double bare = median3(b) / n * 1e6;
    double req = (median3(h) - median3(h1)) / (n - 1) * 1e6;
    double ret = (median3(r) - median3(r1)) / (n - 1) * 1e6;
    printf("%d sequential requests to a loopback server (libmicrohttpd), median of 3:\n", n);
    printf("  bare libcurl loop (reset handle, kept connection) %8.0f req/s   %7.1f us/req\n",
           1e6 / bare, bare);
    printf("  kite run: Request tasks                           %8.0f tasks/s %7.1f us/task\n",
           1e6 / req, req);
    printf("  kite run: Return tasks (the engine's task cost)   %8.0f tasks/s %7.1f us/task\n",
           1e6 / ret, ret);
    printf("  a Request task less the engine's task cost: %.1f us, %.2fx the bare request\n",
           req - ret, (req - ret) / bare);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    MHD_stop_daemon(d);
    curl_global_cleanup();
    return 0;
}
