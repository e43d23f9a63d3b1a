/*
 * scripts/store_seed.c: writes the seed of a new SQLite store (build/gen/store_seed.db), a
 * database file holding the schema of every migration and its version in meta, exactly as
 * sqlite.c's migrate() leaves a new file, with the header's read and write versions set to
 * 2 (WAL). sqlite.c embeds it and writes it as a new data folder's kite.db instead of
 * running the migrations there: creating the schema statement by statement costs about
 * 8 M instructions and four syncs more (docs/engine.md). test_store checks that a seeded
 * store and a migrated one hold the same schema and meta.
 *
 * Usage: store_seed OUT
 */
#include "store/store_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int die(const char *what, const char *msg)
{
    fprintf(stderr, "store_seed: %s: %s\n", what, msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return die("usage", "store_seed OUT");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    unlink(tmp);
    sqlite3 *db = NULL;
    char *msg = NULL;
    if (sqlite3_open(tmp, &db) != SQLITE_OK)
        return die(tmp, sqlite3_errmsg(db));
    if (sqlite3_exec(db, "PRAGMA journal_mode = DELETE; BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
        return die(tmp, msg);
    for (int v = 0; v < store__sqlite_migration_count; v++)
        if (sqlite3_exec(db, store__sqlite_migrations[v], NULL, NULL, &msg) != SQLITE_OK)
            return die("migration", msg);
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '%d')",
             store__sqlite_migration_count);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
        return die(tmp, msg);
    if (sqlite3_close(db) != SQLITE_OK)
        return die(tmp, "cannot close");
    FILE *in = fopen(tmp, "rb");
    if (!in)
        return die(tmp, "cannot read");
    static unsigned char buf[16 << 20];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    if (n < 100 || n == sizeof buf || memcmp(buf, "SQLite format 3", 16))
        return die(tmp, "not a database");
    buf[18] = buf[19] = 2; /* file format write and read versions: WAL */
    FILE *out = fopen(argv[1], "wb");
    if (!out || fwrite(buf, 1, n, out) != n || fclose(out))
        return die(argv[1], "cannot write");
    unlink(tmp);
    return 0;
}
