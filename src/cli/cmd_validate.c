/*
 * cmd_validate.c: `kite validate PATH...`: check flow files and folders.
 *
 * Every problem is printed as file:line:col: error|warning: message, with the
 * source line and a caret; --json prints one object per file for tools and
 * editors. Warnings (a template reading an undeclared input...) leave a flow
 * valid, unless --strict. A
 * folder is searched for *.yml and *.yaml files, recursively; the flows of
 * all given paths are then checked together for subflow recursion.
 */
#include "cli/cli.h"
#include "flow/flow.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/sandbox.h"
#include "util/strutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_list {
    char **v;
    size_t n, cap;
} file_list;

static void add_file(file_list *l, const char *p)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = xstrdup(p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects YAML files under a folder, sorted, skipping hidden entries. */
static void walk(file_list *l, const char *dir, int depth)
{
    if (depth > 32)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    file_list here = {0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                add_file(&here, p); /* walked below, in order */
            else if (str_ends_with(e->d_name, ".yml") || str_ends_with(e->d_name, ".yaml"))
                add_file(&here, p);
        }
        free(p);
    }
    closedir(d);
    qsort(here.v, here.n, sizeof *here.v, cmp_str);
    for (size_t i = 0; i < here.n; i++) {
        struct stat st;
        if (stat(here.v[i], &st) == 0 && S_ISDIR(st.st_mode))
            walk(l, here.v[i], depth + 1);
        else
            add_file(l, here.v[i]);
        free(here.v[i]);
    }
    free(here.v);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: kite validate [--json] [--strict] [--quiet] PATH...\n\n"
                 "Checks flow files (and every *.yml / *.yaml under a folder) against the flow model,\n"
                 "the task types kite knows and the templates they hold. Prints each problem as\n"
                 "file:line:col: error|warning: message. A warning (a type kite declares but cannot\n"
                 "run yet, a template reading an undeclared input) leaves the flow valid.\n\n"
                 "  --json    one JSON object per file on stdout: {file, valid,\n"
                 "            errors:[{line,col,path,message,severity}], warnings:[...]}\n"
                 "  --strict  warnings count as errors\n"
                 "  --quiet   print only the problems, no summary line\n"
                 "  --color / --no-color   force colours on or off (default: on a terminal)\n\n"
                 "Exit status: 0 when every flow is valid (warnings are printed), 1 when one is not,\n"
                 "2 on usage errors.\n");
}

int cli_cmd_validate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    int json_out = 0, quiet = 0, strict = 0, color = isatty(STDERR_FILENO);
    file_list files = {0};
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json"))
            json_out = 1;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
            quiet = 1;
        else if (!strcmp(a, "--strict"))
            strict = 1;
        else if (!strcmp(a, "--color"))
            color = 1;
        else if (!strcmp(a, "--no-color"))
            color = 0;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "kite validate: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            struct stat st;
            if (!strcmp(a, "-")) {
                add_file(&files, "-");
            } else if (stat(a, &st) != 0) {
                fprintf(stderr, "kite validate: %s: %s\n", a, strerror(errno));
                rc = 1;
            } else if (S_ISDIR(st.st_mode)) {
                size_t before = files.n;
                walk(&files, a, 0);
                if (files.n == before && !quiet)
                    fprintf(stderr, "kite validate: %s: no .yml or .yaml file in this folder\n", a);
            } else {
                add_file(&files, a);
            }
        }
    }
    if (!files.n && !rc) {
        usage(stderr);
        return 2;
    }
    flow **flows = xcalloc(files.n ? files.n : 1, sizeof *flows);
    diags *per = xcalloc(files.n ? files.n : 1, sizeof *per);
    size_t invalid = 0, warned = 0;
    for (size_t i = 0; i < files.n; i++) {
        if (!strcmp(files.v[i], "-")) {
            buf b;
            buf_init(&b, 4u << 20);
            char chunk[65536];
            size_t n;
            while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
                if (buf_append(&b, chunk, n)) {
                    diags_add(&per[i], "<stdin>", 0, 0, NULL, "input too large");
                    break;
                }
            if (!per[i].n)
                flow_load_text(buf_str(&b), b.len, "<stdin>", &flows[i], &per[i]);
            buf_free(&b);
        } else {
            flow_load_file(files.v[i], &flows[i], &per[i]);
        }
    }
    /* recursion across all loaded flows */
    diags cross = DIAGS_INIT;
    flow_check_recursion(flows, files.n, &cross);
    for (size_t k = 0; k < cross.n; k++)
        for (size_t i = 0; i < files.n; i++)
            if (flows[i] && !strcmp(flows[i]->file, cross.v[k].file)) {
                diag *g = &cross.v[k];
                diags_add(&per[i], g->file, g->line, g->col, g->path, "%s", g->msg);
            }
    diags_free(&cross);

    /* runner.sandbox where this host cannot make a sandbox: its tasks would fail */
    kerr sbe = KERR_INIT;
    int no_sandbox = -1;
    for (size_t i = 0; i < files.n; i++)
        for (size_t t = 0; flows[i] && t < flows[i]->ntasks; t++) {
            const flow_task *ft = &flows[i]->tasks[t];
            const char *rt = json_string_value(json_object_get(json_object_get(ft->json, "taskRunner"), "type"));
            if (!rt || flow_type_find(rt) != flow_type_find("runner.sandbox"))
                continue;
            if (no_sandbox < 0)
                no_sandbox = sandbox_available(&sbe) != 0;
            if (!no_sandbox)
                break;
            char *ptr = xasprintf("%s/taskRunner", ft->path);
            const ypos *pos = posmap_get(flows[i]->pos, ptr);
            diags_warn(&per[i], flows[i]->file, pos ? pos->key_line : 0, pos ? pos->key_col : 0, ptr,
                       "task '%s': runner.sandbox cannot run on this host: %s", ft->id ? ft->id : "?", sbe.msg);
            free(ptr);
        }

    json_t *all = json_out ? json_array() : NULL;
    for (size_t i = 0; i < files.n; i++) {
        diags *d = &per[i];
        diags_sort(d);
        if (strict)
            for (size_t k = 0; k < d->n; k++)
                d->v[k].warning = 0;
        size_t nerr = diags_errors(d);
        if (nerr)
            invalid++;
        else
            warned += d->n > 0;
        if (json_out) {
            json_t *errs = json_array(), *warns = json_array();
            for (size_t k = 0; k < d->n; k++)
                json_array_append_new(d->v[k].warning ? warns : errs,
                                      json_pack("{s:i,s:i,s:s?,s:s,s:s}", "line", d->v[k].line, "col", d->v[k].col,
                                                "path", d->v[k].path, "message", d->v[k].msg, "severity",
                                                d->v[k].warning ? "warning" : "error"));
            json_t *o = json_pack("{s:s,s:b,s:o,s:o}", "file", files.v[i], "valid", nerr == 0, "errors", errs,
                                  "warnings", warns);
            if (flows[i]) {
                json_object_set_new(o, "id", json_string(flows[i]->id));
                json_object_set_new(o, "namespace", json_string(flows[i]->namespace));
            }
            json_array_append_new(all, o);
        } else {
            /* the source for carets: the flow keeps it when loaded; else re-read */
            buf src = BUF_INIT;
            if (d->n && strcmp(files.v[i], "-")) {
                kerr re = KERR_INIT;
                fs_read_file(files.v[i], 4u << 20, &src, &re); /* for the carets; best effort */
            }
            for (size_t k = 0; k < d->n; k++)
                diag_print(stderr, &d->v[k], src.data, src.len, color);
            buf_free(&src);
        }
    }
    if (json_out) {
        char *s = json_dumps(all, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(all);
    } else if (!quiet) {
        fprintf(stderr, "%zu flow%s checked, %zu valid, %zu invalid", files.n, files.n == 1 ? "" : "s",
                files.n - invalid, invalid);
        if (warned)
            fprintf(stderr, " (%zu valid with warnings)", warned);
        fputc('\n', stderr);
    }
    for (size_t i = 0; i < files.n; i++) {
        flow_free(flows[i]);
        diags_free(&per[i]);
        free(files.v[i]);
    }
    free(flows);
    free(per);
    free(files.v);
    return (invalid || rc) ? 1 : 0;
}
