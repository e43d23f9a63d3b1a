/*
 * cmd_secret.c: `kite secret set|get|list|delete NS [NAME]`: kite's own
 * secrets store, on the configured data folder (--data, $KITE_DATA, or
 * --config's `data`), the way `kite execution` finds it.
 *
 * `set` reads the value from standard input (so that it stays out of the
 * shell's history and of `ps`), one trailing newline removed; `list` prints
 * names, never values. A server running on the same data folder sees a
 * change at the next task that reads the secret: lookups are not cached.
 */
#include "cli/cli.h"
#include "flow/flow.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/fs.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kite secret set NAMESPACE NAME      (the value on standard input)\n"
            "       kite secret get NAMESPACE NAME      (as NAMESPACE sees it: its own, else a parent's)\n"
            "       kite secret list NAMESPACE [--json] (names, with the namespace each comes from)\n"
            "       kite secret delete NAMESPACE NAME\n"
            "options: --data DIR (default $KITE_DATA or ./kite-data), --config kite.yml\n"
            "The values are sealed with the data folder's key: $KITE_SECRET_KEY, or DIR/secret.key\n"
            "(created at the first start, mode 0600).\n");
}

/* The value on stdin, at most STORE_SECRET_MAX bytes, without one trailing
 * newline (what `echo` and a terminal add). */
static int read_value(buf *b)
{
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (b->len + n > STORE_SECRET_MAX) {
            fprintf(stderr, "kite secret: the value is larger than %d bytes\n", STORE_SECRET_MAX);
            return -1;
        }
        buf_append(b, chunk, n);
    }
    if (b->len && b->data[b->len - 1] == '\n')
        b->len--;
    if (b->len && b->data[b->len - 1] == '\r')
        b->len--;
    return 0;
}

int cli_cmd_secret(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *pos[3] = {NULL, NULL, NULL};
    size_t npos = 0;
    int json_out = 0, rc = 2;
    cli_config cfg;
    cli_config_defaults(&cfg);
    kerr e = KERR_INIT;
    store *st = NULL;
    const char *data = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            if (cli_config_load(&cfg, argv[++i], &e)) {
                fprintf(stderr, "kite secret: %s\n", e.msg);
                goto out;
            }
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(argv[i], "--json")) {
            json_out = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "kite secret: unknown option '%s'\n", argv[i]);
            goto out;
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "kite secret: too many arguments\n");
            goto out;
        }
    }
    if (data) {
        free(cfg.data);
        cfg.data = xstrdup(data);
    }
    const char *sub = pos[0], *ns = pos[1], *name = pos[2];
    int needs_name = sub && strcmp(sub, "list") != 0;
    if (!sub || !ns || (needs_name && !name) || (!needs_name && name) ||
        (strcmp(sub, "set") && strcmp(sub, "get") && strcmp(sub, "list") && strcmp(sub, "delete"))) {
        usage(stderr);
        goto out;
    }
    if (!flow_valid_namespace(ns)) {
        fprintf(stderr, "kite secret: '%s' is not a valid namespace (dot-separated ids)\n", ns);
        goto out;
    }
    if (name && store_secret_check_name(name, &e)) {
        fprintf(stderr, "kite secret: %s\n", e.msg);
        goto out;
    }
    buf value = BUF_INIT;
    if (!strcmp(sub, "set") && read_value(&value)) {
        buf_free(&value);
        goto out;
    }
    struct stat sst;
    if (strcmp(sub, "set") != 0 && stat(cfg.data, &sst) != 0) {
        fprintf(stderr, "kite secret: no data folder at %s (use --data)\n", cfg.data);
        buf_free(&value);
        goto out;
    }
    rc = 1;
    char *url = cli_store_url(&cfg);
    if (fs_mkdir_p(cfg.data, &e) || store_open(url, NULL, &st, &e) || cli_secrets_unlock(st, &cfg, &e)) {
        fprintf(stderr, "kite secret: %s\n", e.msg);
        free(url);
        buf_free(&value);
        goto out;
    }
    free(url);
    if (!strcmp(sub, "set")) {
        if (store_secret_put(st, ns, name, value.data ? value.data : "", value.len, &e))
            fprintf(stderr, "kite secret: %s\n", e.msg);
        else
            rc = 0;
    } else if (!strcmp(sub, "get")) {
        char *v = NULL;
        size_t n = 0;
        if (store_secret_lookup(st, ns, name, &v, &n, NULL, &e)) {
            fprintf(stderr, "kite secret: %s\n", e.msg);
        } else {
            fwrite(v, 1, n, stdout);
            if (isatty(STDOUT_FILENO))
                fputc('\n', stdout);
            explicit_bzero(v, n);
            free(v);
            rc = 0;
        }
    } else if (!strcmp(sub, "delete")) {
        if (store_secret_delete(st, ns, name, &e))
            fprintf(stderr, "kite secret: %s\n", e.code == KERR_NOT_FOUND
                        ? "no such secret in this namespace (a parent's secret is deleted in the parent)"
                        : e.msg);
        else
            rc = 0;
    } else {
        store_secret_info *v = NULL;
        size_t n = 0;
        if (store_secret_list(st, ns, &v, &n, &e)) {
            fprintf(stderr, "kite secret: %s\n", e.msg);
        } else {
            json_t *a = json_array();
            for (size_t i = 0; i < n; i++) {
                char when[40];
                datetime_format(v[i].updated_us, tz_utc(), when, sizeof when);
                if (json_out)
                    json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", v[i].name, "namespace",
                                                       v[i].namespace, "updated", when));
                else
                    printf("%-32s %-32s %s\n", v[i].name, v[i].namespace, when);
            }
            if (json_out) {
                char *s = json_dumps(a, JSON_INDENT(2));
                printf("%s\n", s);
                free(s);
            }
            json_decref(a);
            store_secret_infos_free(v, n);
            rc = 0;
        }
    }
    if (value.data)
        explicit_bzero(value.data, value.len);
    buf_free(&value);
out:
    store_free(st);
    cli_config_free(&cfg);
    return rc;
}
