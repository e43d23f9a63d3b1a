/*
 * test_expr_cases.c: runs the data-driven expression cases in
 * the tests/expr/NAME.cases files, one cmocka test per case.
 *
 * File format (see tests/expr/README.md):
 *
 *   @@@ context              default context for the cases below (JSON)
 *   {"inputs": {"name": "kite"}}
 *   === case name
 *   template lines (up to the next '---' line; no trailing newline)
 *   --- context              optional: this case's context
 *   {...}
 *   --- output               the rendered text, exactly
 *   --- error                or: the error as "LINE:COL: message"
 *   --- json                 or: expr_eval's typed value as compact JSON
 *   --- match                or: an extended regex the whole output must match
 *
 * Sections are optional except one of output/error/json/match. A case may
 * have both output and json. Lines starting with '#' between cases are
 * comments (blank lines are content: end a case right before the next ===).
 * Cases render with TZ=UTC, at most 2,000,000 loop iterations, and with a
 * small host environment (secret, kv, hostArgs) so the hook path is covered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <oniguruma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"

typedef struct tcase {
    char *name;
    char *file;
    int line;
    char *tmpl;
    char *ctx;
    char *output, *error, *json, *match;
} tcase;

static tcase *cases;
static size_t ncases, capcases;

static char *xdup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- host functions for the cases -------------------------------------------- */

static json_t *host_secret(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    const char *k = json_string_value(json_array_get(args, 0));
    if (!k) {
        kerr_set(e, "secret() needs a name");
        return NULL;
    }
    if (!strcmp(k, "API_KEY"))
        return json_string("s3cr3t");
    kerr_set(e, "secret '%s' not found", k);
    return NULL;
}

static json_t *host_kv(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    const char *k = json_string_value(json_array_get(args, 0));
    json_t *dflt = json_object_get(kwargs, "default");
    if (k && !strcmp(k, "counter"))
        return json_integer(41);
    if (dflt)
        return json_incref(dflt);
    if (json_is_false(json_object_get(kwargs, "errorOnMissing")))
        return json_null();
    kerr_set(e, "kv '%s' not found", k ? k : "?");
    return NULL;
}

static json_t *host_args(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    json_t *o = json_object();
    json_object_set(o, "args", (json_t *)args);
    json_object_set(o, "kwargs", (json_t *)kwargs);
    return o;
}

static const expr_func host_funcs[] = {
    {"secret", host_secret, NULL},
    {"kv", host_kv, NULL},
    {"hostArgs", host_args, NULL},
};
/* a lower loop cap than the default, so that the cap's case runs fast */
static const expr_env host_env = {.funcs = host_funcs, .nfuncs = 3, .max_iterations = 2000000};

/* ---- parsing the files ------------------------------------------------------------ */

static void add_case(tcase *c)
{
    if (ncases == capcases) {
        capcases = capcases ? capcases * 2 : 256;
        cases = realloc(cases, capcases * sizeof *cases);
    }
    cases[ncases++] = *c;
}

/* Joins lines [a, b) without the final newline. */
static char *join(char **lines, int a, int b)
{
    size_t len = 0;
    for (int i = a; i < b; i++)
        len += strlen(lines[i]) + 1;
    char *s = malloc(len + 1), *o = s;
    for (int i = a; i < b; i++) {
        size_t l = strlen(lines[i]);
        memcpy(o, lines[i], l);
        o += l;
        if (i + 1 < b)
            *o++ = '\n';
    }
    *o = '\0';
    return s;
}

static void load_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    char **lines = NULL;
    int n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            lines = realloc(lines, (size_t)cap * sizeof *lines);
        }
        lines[n++] = xdup(line, (size_t)len);
    }
    free(line);
    fclose(f);
    char *dflt_ctx = strdup("{}");
    int i = 0;
    while (i < n) {
        if (!strncmp(lines[i], "@@@ context", 11)) {
            int j = i + 1;
            while (j < n && strncmp(lines[j], "===", 3) && strncmp(lines[j], "@@@", 3))
                j++;
            free(dflt_ctx);
            dflt_ctx = join(lines, i + 1, j);
            i = j;
            continue;
        }
        if (strncmp(lines[i], "=== ", 4)) {
            i++; /* comment or blank */
            continue;
        }
        tcase c = {0};
        c.name = strdup(lines[i] + 4);
        c.file = strdup(path);
        c.line = i + 1;
        int j = i + 1;
        while (j < n && strncmp(lines[j], "--- ", 4) && strncmp(lines[j], "=== ", 4))
            j++;
        c.tmpl = join(lines, i + 1, j);
        i = j;
        while (i < n && !strncmp(lines[i], "--- ", 4)) {
            const char *sec = lines[i] + 4;
            j = i + 1;
            while (j < n && strncmp(lines[j], "--- ", 4) && strncmp(lines[j], "=== ", 4) &&
                   strncmp(lines[j], "@@@", 3))
                j++;
            /* trailing comment/blank lines before the next case are not content */
            int end = j;
            if (j >= n || !strncmp(lines[j], "=== ", 4) || !strncmp(lines[j], "@@@", 3))
                while (end > i + 1 && lines[end - 1][0] == '#')
                    end--;
            char *body = join(lines, i + 1, end);
            if (!strcmp(sec, "context"))
                c.ctx = body;
            else if (!strcmp(sec, "output"))
                c.output = body;
            else if (!strcmp(sec, "error"))
                c.error = body;
            else if (!strcmp(sec, "json"))
                c.json = body;
            else if (!strcmp(sec, "match"))
                c.match = body;
            else {
                fprintf(stderr, "%s:%d: unknown section '%s'\n", path, i + 1, sec);
                exit(2);
            }
            i = j;
        }
        if (!c.ctx)
            c.ctx = strdup(dflt_ctx);
        if (!c.output && !c.error && !c.json && !c.match) {
            fprintf(stderr, "%s:%d: case '%s' has no expected result\n", path, c.line, c.name);
            exit(2);
        }
        add_case(&c);
    }
    for (int k = 0; k < n; k++)
        free(lines[k]);
    free(lines);
    free(dflt_ctx);
}

/* ---- running one case ----------------------------------------------------------------- */

static void run_case(void **state)
{
    const tcase *c = *state;
    json_error_t je;
    json_t *ctx = json_loads(c->ctx, 0, &je);
    if (!ctx) {
        print_error("%s:%d: case '%s': bad context JSON: %s\n", c->file, c->line, c->name, je.text);
        fail();
    }
    kerr e = KERR_INIT;
    char *out = NULL;
    int rc = expr_render_string(c->tmpl, ctx, &host_env, &out, &e);
    char got[KERR_MSG_MAX + 64];
    if (rc)
        snprintf(got, sizeof got, "%d:%d: %s", e.line, e.col, e.msg);
    int ok = 1;
    if (c->error) {
        if (!rc) {
            print_error("%s:%d: case '%s'\n  template: %s\n  expected error: %s\n  got output: %s\n",
                        c->file, c->line, c->name, c->tmpl, c->error, out);
            ok = 0;
        } else if (strcmp(got, c->error)) {
            print_error("%s:%d: case '%s'\n  template: %s\n  expected error: %s\n  got error:      %s\n",
                        c->file, c->line, c->name, c->tmpl, c->error, got);
            ok = 0;
        }
    } else if (rc) {
        print_error("%s:%d: case '%s'\n  template: %s\n  expected: %s\n  got error: %s\n", c->file,
                    c->line, c->name, c->tmpl, c->output ? c->output : c->json ? c->json : c->match, got);
        ok = 0;
    } else {
        if (c->output && strcmp(out, c->output)) {
            print_error("%s:%d: case '%s'\n  template: %s\n  expected: [%s]\n  got:      [%s]\n", c->file,
                        c->line, c->name, c->tmpl, c->output, out);
            ok = 0;
        }
        if (c->match) {
            /* Oniguruma, not <regex.h>: libonig exports its own regcomp/regexec,
             * which shadow glibc's in any program linked with -lonig */
            regex_t *re;
            OnigErrorInfo einfo;
            char *anch = malloc(strlen(c->match) + 5);
            snprintf(anch, strlen(c->match) + 5, "\\A%s\\z", c->match);
            const UChar *pat = (const UChar *)anch, *str = (const UChar *)out;
            if (onig_new(&re, pat, pat + strlen(anch), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                         ONIG_SYNTAX_JAVA, &einfo) != ONIG_NORMAL) {
                print_error("%s:%d: bad regex %s\n", c->file, c->line, c->match);
                ok = 0;
            } else {
                const UChar *end = str + strlen(out);
                if (onig_search(re, str, end, str, end, NULL, ONIG_OPTION_NONE) < 0) {
                    print_error("%s:%d: case '%s'\n  template: %s\n  expected match: %s\n  got: [%s]\n",
                                c->file, c->line, c->name, c->tmpl, c->match, out);
                    ok = 0;
                }
                onig_free(re);
            }
            free(anch);
        }
        if (c->json) {
            json_t *v = NULL;
            kerr e2 = KERR_INIT;
            if (expr_eval_string(c->tmpl, ctx, &host_env, &v, &e2)) {
                print_error("%s:%d: case '%s': expr_eval failed: %s\n", c->file, c->line, c->name, e2.msg);
                ok = 0;
            } else {
                char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                json_t *want = json_loads(c->json, JSON_DECODE_ANY, &je);
                if (!want || !json_equal(want, v)) {
                    print_error("%s:%d: case '%s'\n  template: %s\n  expected json: %s\n  got json:      %s\n",
                                c->file, c->line, c->name, c->tmpl, c->json, s);
                    ok = 0;
                }
                json_decref(want);
                free(s);
                json_decref(v);
            }
        }
    }
    free(out);
    json_decref(ctx);
    if (!ok)
        fail();
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    const char *root = getenv("ROOT");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/expr", root ? root : ".");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 2;
    }
    char *names[256];
    int nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 256) {
        size_t l = strlen(de->d_name);
        if (l > 6 && !strcmp(de->d_name + l - 6, ".cases"))
            names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, by_name);
    for (int i = 0; i < nn; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        load_file(path);
        free(names[i]);
    }
    struct CMUnitTest *tests = calloc(ncases ? ncases : 1, sizeof *tests);
    for (size_t i = 0; i < ncases; i++) {
        char *full = malloc(strlen(cases[i].file) + strlen(cases[i].name) + 16);
        const char *base = strrchr(cases[i].file, '/');
        sprintf(full, "%s: %s", base ? base + 1 : cases[i].file, cases[i].name);
        tests[i].name = full;
        tests[i].test_func = run_case;
        tests[i].initial_state = &cases[i];
    }
    int rc = _cmocka_run_group_tests("expr_cases", tests, ncases, NULL, NULL);
    expr_thread_cleanup(); /* cached jq programs, for the leak checkers */
    for (size_t i = 0; i < ncases; i++) {
        free((char *)tests[i].name);
        tcase *c = &cases[i];
        free(c->name);
        free(c->file);
        free(c->tmpl);
        free(c->ctx);
        free(c->output);
        free(c->error);
        free(c->json);
        free(c->match);
    }
    free(tests);
    free(cases);
    return rc;
}
