/*
 * libpq_queries.c: the bare-library baseline of bench_sql.sh: N times the
 * query a kite PostgreSQL Query task runs in the bench (one parameter
 * bound, one row fetched), on one connection, as fast as libpq goes.
 *
 *   libpq_queries CONNINFO N   prints "queries/s"
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int n = atoi(argv[2]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    PGconn *c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "%s", PQerrorMessage(c));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        const char *p[1] = {v};
        PGresult *r = PQexecParams(c, "SELECT $1::int * 2 AS v, now() AS at", 1, NULL, p, NULL,
                                   NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            return 1;
        PQclear(r);
    }
    PQfinish(c);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%.0f\n", n / s);
    return 0;
}
