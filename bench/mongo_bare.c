/*
 * mongo_bare.c: the bare libmongoc figure of bench_mongodb.sh: seeds
 * bench.people with 10 documents, then runs N finds of {city: "Paris"} on
 * one reused client, and N with a new client each (what one kite task run
 * costs in the driver), printing finds per second for both.
 * Usage: mongo_bare URI N
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int one_find(mongoc_client_t *c)
{
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "bench", "people");
    bson_t *f = BCON_NEW("city", BCON_UTF8("Paris"));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, f, NULL, NULL);
    const bson_t *d;
    int n = 0;
    while (mongoc_cursor_next(cur, &d))
        n++;
    bson_error_t err;
    int bad = mongoc_cursor_error(cur, &err);
    if (bad)
        fprintf(stderr, "find: %s\n", err.message);
    mongoc_cursor_destroy(cur);
    bson_destroy(f);
    mongoc_collection_destroy(coll);
    return bad ? -1 : n;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int n = atoi(argv[2]);
    mongoc_init();
    mongoc_client_t *c = mongoc_client_new(argv[1]);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "bench", "people");
    for (int i = 0; i < 10; i++) {
        bson_t *d = BCON_NEW("i", BCON_INT32(i), "city", BCON_UTF8(i % 3 ? "Rome" : "Paris"));
        mongoc_collection_insert_one(coll, d, NULL, NULL, NULL);
        bson_destroy(d);
    }
    mongoc_collection_destroy(coll);
    double t0 = now();
    for (int i = 0; i < n; i++)
        if (one_find(c) != 4)
            return 1;
    double t1 = now();
    mongoc_client_destroy(c);
    printf("bare libmongoc, one client: %d finds in %.2f s, %.0f finds/s\n", n, t1 - t0, n / (t1 - t0));
    t0 = now();
    for (int i = 0; i < n; i++) {
        c = mongoc_client_new(argv[1]);
        if (one_find(c) != 4)
            return 1;
        mongoc_client_destroy(c);
    }
    t1 = now();
    printf("bare libmongoc, a client per find: %d finds in %.2f s, %.0f finds/s\n", n, t1 - t0, n / (t1 - t0));
    mongoc_cleanup();
    return 0;
}
