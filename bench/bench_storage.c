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
 *   storage put, NOSYNC       storage_put on a storage opened with
 *                             STORAGE_LOCAL_NOSYNC (no fsync at all)
 * The cases run in turn, round after round, for about 6 x BENCH_SECONDS
 * (default 0.5) seconds per size, in a temporary folder under TMPDIR (default
 * /tmp), removed afterwards. Rates are operations over the time spent in
 * that case.
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
    printf("%-6s %-28s %9.0f ops/s %9.1f MB/s %8.3f ms/op\n", size, what, rate,
           rate * (double)bytes / 1e6, secs * 1e3 / (double)ops);
}

static void die(const char *what, const kerr *e)
{
    fprintf(stderr, "bench_storage: %s: %s\n", what, e ? e->msg : "failed");
    exit(1);
}

/* The cases, run in turn within each round so that all of them see the same
 * disk: on a shared machine fsync latency swings by 10x within seconds, and
 * timing the cases one after the other would compare different weather. */
enum { BARE, BARE_SYNC, PUT, PUT_NEW, GET, PUT_GET, PUT_NOSYNC, NCASES };
static const char *const case_name[NCASES] = {
    "bare write+fsync+rename", "bare + fsync folder", "storage put (overwrite)",
    "storage put (new folders)", "storage get", "storage put+get", "storage put, NOSYNC",
};

static void bare_write(const char *dir, int dfd, const char *data, size_t n, int sync_dir)
{
    char tmp[512], fin[512];
    snprintf(tmp, sizeof tmp, "%s/bare.tmp", dir);
    snprintf(fin, sizeof fin, "%s/bare", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n || fsync(fd) || close(fd) ||
        rename(tmp, fin) || (sync_dir && fsync(dfd)))
        die("bare write", NULL);
}

static void run_size(storage *s, storage *fast, const char *dir, size_t n, const char *size)
{
    char *data = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    kerr e = KERR_INIT;
    const char *uri = "kestra:///io/kestra/bench/flow/executions/E1/tasks/t1/R1/out.bin";
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    buf b = BUF_INIT;
    double spent[NCASES] = {0};
    long ops[NCASES] = {0};
    long round = 0;
    double t0 = now();
    if (storage_put(s, uri, data, n, &e))
        die("put", &e);
    while (now() - t0 < budget * NCASES || round < 5) {
        for (int c = 0; c < NCASES; c++) {
            double t = now();
            /* a get is ~100x faster than a put: repeat it to time it well */
            int reps = c == GET || c == PUT_NOSYNC ? 20 : 1;
            for (int r = 0; r < reps; r++) {
                switch (c) {
                case BARE:
                case BARE_SYNC:
                    bare_write(dir, dfd, data, n, c == BARE_SYNC);
                    break;
                case PUT:
                    if (storage_put(s, uri, data, n, &e))
                        die("put", &e);
                    break;
                case PUT_NEW: {
                    char *u = xasprintf("kestra:///io/kestra/bench/flow/executions/E2/tasks/t1/"
                                        "R%ld/out.bin", round);
                    if (storage_put(s, u, data, n, &e))
                        die("put", &e);
                    free(u);
                    break;
                }
                case GET:
                    if (storage_read_all(s, uri, 0, &b, &e) || b.len != n)
                        die("get", &e);
                    break;
                case PUT_NOSYNC:
                    if (storage_put(fast, uri, data, n, &e))
                        die("put", &e);
                    break;
                case PUT_GET:
                    if (storage_put(s, uri, data, n, &e) ||
                        storage_read_all(s, uri, 0, &b, &e))
                        die("put+get", &e);
                    break;
                }
            }
            spent[c] += now() - t;
            ops[c] += reps;
        }
        round++;
    }
    for (int c = 0; c < NCASES; c++)
        report(size, case_name[c], ops[c], spent[c], n);
    buf_free(&b);
    close(dfd);
    if (storage_delete_prefix(s, "kestra:///io/kestra/bench/flow/executions/", &e) < 0)
        die("delete_prefix", &e);
    free(data);
}

int main(void)
{
    const char *secs = getenv("BENCH_SECONDS");
    budget = secs ? atof(secs) : 0.5;
    const char *tmpdir = getenv("TMPDIR");
    char *dir = xasprintf("%s/kite-bench-storage-XXXXXX", tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    char *root = xasprintf("%s/storage", dir);
    kerr e = KERR_INIT;
    storage *s = storage_open_local(root, &e);
    if (!s)
        die("open", &e);
    char *root2 = xasprintf("%s/nosync", dir);
    storage *fast = storage_open_local_ex(root2, STORAGE_LOCAL_NOSYNC, &e);
    if (!fast)
        die("open", &e);
    printf("local storage in %s, cases interleaved, about %.1f s per size\n", dir,
           budget * NCASES);
    run_size(s, fast, dir, 1024, "1 KiB");
    run_size(s, fast, dir, 1024 * 1024, "1 MiB");
    storage_free(s);
    storage_free(fast);
    free(root2);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_storage: could not remove %s\n", dir);
    free(cmd);
    free(root);
    free(dir);
    return 0;
}
