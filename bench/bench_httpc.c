/*
 * bench_httpc.c: the HTTP client (util/httpc.c) against the machine's limit,
 * a bare libcurl loop doing the same requests on one reused easy handle.
 *
 * The server is libmicrohttpd in this process on a loopback port, answering
 * every request with a 64-byte body from a thread pool, so the figure is the
 * client's cost and the loopback round trip, not a slow test server. Both
 * loops run N keep-alive GETs (BENCH_HTTPC_N, default 20000) and the
 * client's loop also a POST with a 1 KiB JSON body; medians of 3 runs.
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/httpc.h"

static const char ANSWER[] = "{\"ok\":true,\"pad\":\"0123456789012345678901234567890123\"}\n";

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **ctx)
{
    if (!*ctx) {            /* first call: headers only */
        *ctx = (void *)1;
        return MHD_YES;
    }
    if (*size) {            /* a body piece: drop it */
        *size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof ANSWER - 1, (void *)ANSWER, MHD_RESPMEM_PERSISTENT);
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

static double bare_curl(const char *url, int n)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    double t0 = now();
    for (int i = 0; i < n; i++)
        if (curl_easy_perform(h) != CURLE_OK) {
            fprintf(stderr, "bare curl failed\n");
            exit(1);
        }
    double t = now() - t0;
    curl_easy_cleanup(h);
    return t;
}

static double with_httpc(const char *url, int n, int post)
{
    static char body[1024];
    memset(body, ' ', sizeof body);
    body[0] = '{', body[sizeof body - 1] = '}';
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    httpc *c = httpc_new();
    httpc_req rq = {.url = url, .headers = post ? hdrs : NULL, .body = post ? body : NULL,
                    .body_len = post ? sizeof body : 0};
    double t0 = now();
    for (int i = 0; i < n; i++) {
        httpc_resp r;
        kerr e = KERR_INIT;
        if (httpc_do(c, &rq, NULL, &r, &e) != 0 || r.status != 200) {
            fprintf(stderr, "httpc failed: %s\n", e.msg);
            exit(1);
        }
        httpc_resp_free(&r);
    }
    double t = now() - t0;
    if (httpc_connects(c) != 1)
        fprintf(stderr, "warning: %ld connections for %d requests\n", httpc_connects(c), n);
    httpc_free(c);
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
    int n = getenv("BENCH_HTTPC_N") ? atoi(getenv("BENCH_HTTPC_N")) : 20000;
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
    double b[3], g[3], p[3];
    for (int i = 0; i < 3; i++) {
        b[i] = bare_curl(url, n);
        g[i] = with_httpc(url, n, 0);
        p[i] = with_httpc(url, n, 1);
    }
    double bm = median3(b), gm = median3(g), pm = median3(p);
    printf("%d keep-alive requests to a loopback server, median of 3:\n", n);
    printf("  bare libcurl GET          %8.0f req/s  %6.1f us/req\n", n / bm, bm / n * 1e6);
    printf("  httpc GET                 %8.0f req/s  %6.1f us/req  (%.2fx bare)\n", n / gm,
           gm / n * 1e6, gm / bm);
    printf("  httpc POST 1 KiB JSON     %8.0f req/s  %6.1f us/req\n", n / pm, pm / n * 1e6);
    MHD_stop_daemon(d);
    curl_global_cleanup();
    return 0;
}
