/*
 * bench_storage.c: the local storage backend against the machine's limit.
 *
 * For 1 KiB and 1 MiB files it prints operations per second of:
 *   bare write+fsync+rename   open a temp file, write, fsync, rename: what
 *                             any durable atomic write costs at least
 *   bare + fsync folder       the same plus the folder fsync that makes the
 *                             rename itself durable (what storage does)
 *   storage put (overwrite)   storage_put to one execution file, again
 *   storage put (new folders) storage_put to a new task run each time: the
 *                             folders are made and fsync'ed into their parents
 *   storage get               storage_read_all of the file
 *   storage put+get           one put and one get, per pair
 * Each case runs for about BENCH_SECONDS (default 1) seconds in a temporary
 * folder under TMPDIR (default /tmp), which is removed afterwards.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage.h"
#include "util/mem.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double budget;

static void report(const char *size, const char *what, long ops, double secs, size_t bytes)
{
    double rate = (double)ops / secs;
    printf("%-6s %-28s %9.0f ops/s %9.1f MB/s  (%ld in %.2f s)\n", size, what, rate,
           rate * (double)bytes / 1e6, ops, secs);
}

static void die(const char *what, const kerr *e)
{
    fprintf(stderr, "bench_storage: %s: %s\n", what, e ? e->msg : "failed");
    exit(1);
}

static void bare(const char *dir, const char *data, size_t n, int sync_dir, const char *size)
{
    char tmp[512], fin[512];
    snprintf(tmp, sizeof tmp, "%s/bare.tmp", dir);
    snprintf(fin, sizeof fin, "%s/bare", dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    long ops = 0;
    double t0 = now(), t;
    do {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, data, n) != (ssize_t)n || fsync(fd) || close(fd) ||
            rename(tmp, fin) || (sync_dir && fsync(dfd)))
            die("bare write", NULL);
        ops++;
        t = now() - t0;
    } while (t < budget || ops < 5);
    close(dfd);
    report(size, sync_dir ? "bare + fsync folder" : "bare write+fsync+rename", ops, t, n);
}

static void run_size(storage *s, const char *dir, size_t n, const char *size)
{
    char *data = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    kerr e = KERR_INIT;
    bare(dir, data, n, 0, size);
    bare(dir, data, n, 1, size);

    const char *uri = "kite:///io/kestra/bench/flow/executions/E1/tasks/t1/R1/out.bin";
    long ops = 0;
    double t0 = now(), t;
    do {
        if (storage_put(s, uri, data, n, &e))
            die("put", &e);
        ops++;
        t = now() - t0;
    } while (t < budget || ops < 5);
    report(size, "storage put (overwrite)", ops, t, n);

    ops = 0;
    t0 = now();
    do {
        char *u = xasprintf("kite:///io/kestra/bench/flow/executions/E2/tasks/t1/R%ld/out.bin", ops);
        if (storage_put(s, u, data, n, &e))
            die("put", &e);
        free(u);
        ops++;
        t = now() - t0;
    } while (t < budget || ops < 5);
    report(size, "storage put (new folders)", ops, t, n);

    buf b = BUF_INIT;
    ops = 0;
    t0 = now();
    do {
        if (storage_read_all(s, uri, 0, &b, &e) || b.len != n)
            die("get", &e);
        ops++;
        t = now() - t0;
    } while (t < budget || ops < 5);
    report(size, "storage get", ops, t, n);

    ops = 0;
    t0 = now();
    do {
        if (storage_put(s, uri, data, n, &e) || storage_read_all(s, uri, 0, &b, &e))
            die("put+get", &e);
        ops++;
        t = now() - t0;
    } while (t < budget || ops < 5);
    report(size, "storage put+get", ops, t, n);
    buf_free(&b);

    if (storage_delete_prefix(s, "kite:///io/kestra/bench/flow/executions/", &e) < 0)
        die("delete_prefix", &e);
    free(data);
}

int main(void)
{
    const char *secs = getenv("BENCH_SECONDS");
    budget = secs ? atof(secs) : 1.0;
    const char *tmpdir = getenv("TMPDIR");
    char *dir = xasprintf("%s/kite-bench-storage-XXXXXX", tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    char *root = xasprintf("%s/storage", dir);
    kerr e = KERR_INIT;
    storage *s = storage_open_local(root, &e);
    if (!s)
        die("open", &e);
    printf("local storage in %s, %.1f s per case\n", dir, budget);
    run_size(s, dir, 1024, "1 KiB");
    run_size(s, dir, 1024 * 1024, "1 MiB");
    storage_free(s);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_storage: could not remove %s\n", dir);
    free(cmd);
    free(root);
    free(dir);
    return 0;
}
