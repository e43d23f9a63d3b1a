/*
 * bench_tls.c: what the server's edges cost, measured in one run so that
 * the machine's load weighs on both sides alike:
 *  - requests per second on GET /health, THREADS keep-alive connections,
 *    plain HTTP against HTTPS (server.tls, a self-signed RSA-2048
 *    certificate made by tests/lib/mkcert.sh), two servers of the same
 *    binary started here;
 *  - new connections per second (one request each): plain connects, and
 *    TLS handshakes (full handshakes: libcurl's session cache is off);
 *  - the SSRF guard's check per connection, in-process (µs): an address
 *    against the built-in ranges and a kite.yml allow/deny list, and
 *    netguard_resolve of an address literal (getaddrinfo plus the check).
 *
 * Environment: KITE (default build/kite), BENCH_TLS_SECONDS (per figure,
 * default 3). Figures only: nothing is asserted.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/netguard.h"

#define THREADS 4
#define TOKEN "bench-token-0123456789abcdef"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t s, size_t n, void *ud) { return s * n; }

typedef struct load {
    const char *url, *ca;
    int reuse;
    double seconds;
    long done, failed;
} load;

static void *load_main(void *arg)
{
    load *l = arg;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, l->url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (l->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, l->ca);
    if (!l->reuse) {
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
    double end = now_s() + l->seconds;
    while (now_s() < end) {
        long code = 0;
        if (curl_easy_perform(h) == CURLE_OK && !curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) && code == 200)
            l->done++;
        else
            l->failed++;
    }
    curl_easy_cleanup(h);
    return NULL;
}

static double rate(const char *url, const char *ca, int reuse, double seconds, long *failed)
{
    pthread_t t[THREADS];
    load l[THREADS];
    double t0 = now_s();
    for (int i = 0; i < THREADS; i++) {
        l[i] = (load){url, ca, reuse, seconds, 0, 0};
        pthread_create(&t[i], NULL, load_main, &l[i]);
    }
    long n = 0;
    *failed = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        n += l[i].done;
        *failed += l[i].failed;
    }
    return (double)n / (now_s() - t0);
}

static pid_t start(const char *kite, const char *cfg, int port)
{
    pid_t pid = fork();
    if (pid == 0) {
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        setenv("KITE_ADMIN_TOKEN", TOKEN, 1);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(kite, kite, "server", "local", "--port", ps, "--config", cfg, "--quiet", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_up(const char *url, const char *ca)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    if (ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    int ok = 0;
    for (int i = 0; i < 400 && !ok; i++) {
        ok = curl_easy_perform(h) == CURLE_OK;
        if (!ok)
            usleep(25000);
    }
    curl_easy_cleanup(h);
    return ok ? 0 : -1;
}

static int free_port(int k) { return 20000 + (int)(getpid() % 20000) + k; }

static void guard_figures(void)
{
    json_t *j = json_loads("{\"enabled\": true, \"allow\": [\"10.20.0.0/16\", \"db.internal\", \"192.168.7.7\"], "
                           "\"deny\": [\"198.51.100.0/24\", \"2001:db8::/32\"]}",
                           0, NULL);
    netguard_configure(j, NULL);
    json_decref(j);
    struct sockaddr_in pub = {.sin_family = AF_INET}, lo = {.sin_family = AF_INET};
    inet_pton(AF_INET, "93.184.216.34", &pub.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2606:4700::1111", &v6.sin6_addr);
    const int n = 2000000;
    struct {
        const char *what;
        const struct sockaddr *sa;
    } cases[] = {{"a public IPv4 address (allowed)", (struct sockaddr *)&pub},
                 {"127.0.0.1 (refused, with its message)", (struct sockaddr *)&lo},
                 {"a public IPv6 address (allowed)", (struct sockaddr *)&v6}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double t0 = now_s();
        int refused = 0;
        for (int i = 0; i < n; i++) {
            kerr e = KERR_INIT;
            refused += netguard_check_sa(cases[c].sa, "api.example.com", &e) != 0;
        }
        double us = (now_s() - t0) / n * 1e6;
        printf("ssrf check, %-40s %8.3f us per connection (%d refused)\n", cases[c].what, us, refused);
    }
    const int m = 20000;
    double t0 = now_s();
    for (int i = 0; i < m; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        kerr e = KERR_INIT;
        netguard_resolve("93.184.216.34", 443, 0, &ss, &len, NULL, &e);
    }
    printf("netguard_resolve of an address literal (getaddrinfo + check): %.3f us\n", (now_s() - t0) / m * 1e6);
    netguard_configure(NULL, NULL);
    t0 = now_s();
    for (int i = 0; i < n; i++)
        netguard_check_sa((struct sockaddr *)&lo, NULL, NULL);
    printf("ssrf check with the guard off: %.3f us\n", (now_s() - t0) / n * 1e6);
}

int main(void)
{
    const char *kite = getenv("KITE") ? getenv("KITE") : "build/kite";
    const char *sec = getenv("BENCH_TLS_SECONDS");
    double seconds = sec ? atof(sec) : 3;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], cmd[1200], cfg_plain[600], cfg_tls[600], ca[600];
    snprintf(dir, sizeof dir, "%s/bench_tls.XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cmd, sizeof cmd, "sh tests/lib/mkcert.sh %s && chmod 600 %s/key.pem", dir, dir);
    if (system(cmd)) {
        fprintf(stderr, "bench_tls: openssl could not make a certificate\n");
        return 1;
    }
    snprintf(ca, sizeof ca, "%s/cert.pem", dir);
    snprintf(cfg_plain, sizeof cfg_plain, "%s/plain.yml", dir);
    snprintf(cfg_tls, sizeof cfg_tls, "%s/tls.yml", dir);
    FILE *f = fopen(cfg_plain, "w");
    fprintf(f, "data: %s/data-plain\n", dir);
    fclose(f);
    f = fopen(cfg_tls, "w");
    fprintf(f, "data: %s/data-tls\nserver:\n  tls:\n    cert: %s/cert.pem\n    key: %s/key.pem\n", dir, dir, dir);
    fclose(f);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int pp = free_port(0), tp = free_port(1);
    pid_t plain = start(kite, cfg_plain, pp), tls = start(kite, cfg_tls, tp);
    char purl[128], turl[128];
    snprintf(purl, sizeof purl, "http://127.0.0.1:%d/health", pp);
    snprintf(turl, sizeof turl, "https://127.0.0.1:%d/health", tp);
    int rc = 0;
    if (wait_up(purl, NULL) || wait_up(turl, ca)) {
        fprintf(stderr, "bench_tls: the servers did not start (ports %d, %d)\n", pp, tp);
        rc = 1;
        goto out;
    }
    long fp, ft;
    printf("%d threads, %.0f s per figure, GET /health\n", THREADS, seconds);
    double rp = rate(purl, NULL, 1, seconds, &fp);
    double rt = rate(turl, ca, 1, seconds, &ft);
    printf("keep-alive, plain HTTP: %8.0f requests/s (%ld failed)\n", rp, fp);
    printf("keep-alive, HTTPS:      %8.0f requests/s (%ld failed): %.0f%% of plain\n", rt, ft, 100 * rt / rp);
    double cp = rate(purl, NULL, 0, seconds, &fp);
    double ct = rate(turl, ca, 0, seconds, &ft);
    printf("new connection each, plain: %6.0f connections/s (%ld failed)\n", cp, fp);
    printf("new connection each, HTTPS: %6.0f full TLS handshakes/s (%ld failed)\n", ct, ft);
    guard_figures();
out:
    kill(plain, SIGTERM);
    kill(tls, SIGTERM);
    waitpid(plain, NULL, 0);
    waitpid(tls, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        rc = 1;
    curl_global_cleanup();
    return rc;
}
