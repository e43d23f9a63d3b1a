/*
 * cmd_render.c: `kite render TEMPLATE [--context FILE.json]`, a flow
 * author's way to try an expression: prints the rendered text, or the error
 * with its line and column inside the template and exits 1.
 */
#include "cli/cli.h"
#include "expr/expr.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void render_usage(FILE *out)
{
    fprintf(out,
            "usage: kite render TEMPLATE [--context FILE.json] [--json]\n"
            "       kite render - [--context FILE.json]     (template read from stdin)\n\n"
            "Renders a template the way a flow property is rendered and prints the result.\n\n"
            "  --context FILE   a JSON object of variables (inputs, outputs, vars, ...);\n"
            "                   '-' reads it from stdin\n"
            "  --json           print the typed value as JSON (a single {{ expression }}\n"
            "                   keeps lists, maps and numbers typed)\n\n"
            "Errors print as LINE:COL: message and exit 1. Examples:\n"
            "  kite render \"{{ 'hello' | upper }}\"\n"
            "  kite render \"{{ inputs.name }}\" --context ctx.json\n");
}

static char *read_all(FILE *f)
{
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            char *ns = realloc(s, cap);
            if (!ns) {
                free(s);
                return NULL;
            }
            s = ns;
        }
    }
    s[len] = '\0';
    return s;
}

int cli_cmd_render(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        render_usage(stdout);
        return 0;
    }
    const char *tmpl = NULL, *ctx_path = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--context") || !strcmp(argv[i], "-c")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kite render: --context needs a file\n");
                return 2;
            }
            ctx_path = argv[++i];
        } else if (!strncmp(argv[i], "--context=", 10)) {
            ctx_path = argv[i] + 10;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--")) {
            if (i + 1 < argc && !tmpl)
                tmpl = argv[i + 1];
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "kite render: unknown option '%s'\n", argv[i]);
            render_usage(stderr);
            return 2;
        } else if (!tmpl) {
            tmpl = argv[i];
        } else {
            fprintf(stderr, "kite render: one template only (quote it)\n");
            return 2;
        }
    }
    if (!tmpl) {
        render_usage(stderr);
        return 2;
    }
    char *stdin_tmpl = NULL;
    if (!strcmp(tmpl, "-")) {
        if (ctx_path && !strcmp(ctx_path, "-")) {
            fprintf(stderr, "kite render: the template and the context cannot both come from stdin\n");
            return 2;
        }
        stdin_tmpl = read_all(stdin);
        if (!stdin_tmpl) {
            fprintf(stderr, "kite render: cannot read the template from stdin\n");
            return 2;
        }
        tmpl = stdin_tmpl;
    }
    json_t *ctx = NULL;
    if (ctx_path) {
        json_error_t je;
        ctx = !strcmp(ctx_path, "-") ? json_loadf(stdin, 0, &je) : json_load_file(ctx_path, 0, &je);
        if (!ctx) {
            char msg[JSON_ERROR_TEXT_LENGTH + 300];
            kerr_format_pos(msg, sizeof msg, ctx_path, je.line, je.column, je.text);
            fprintf(stderr, "kite render: %s\n", msg);
            free(stdin_tmpl);
            return 2;
        }
        if (!json_is_object(ctx)) {
            fprintf(stderr, "kite render: %s: the context must be a JSON object\n", ctx_path);
            json_decref(ctx);
            free(stdin_tmpl);
            return 2;
        }
    }
    kerr e = KERR_INIT;
    int rc = 0;
    expr_tmpl *t = expr_compile(tmpl, &e);
    if (t) {
        if (as_json) {
            json_t *v;
            if (expr_eval(t, ctx, NULL, &v, &e) == 0) {
                char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                printf("%s\n", s ? s : "null");
                free(s);
                json_decref(v);
            } else {
                rc = 1;
            }
        } else {
            char *out;
            if (expr_render(t, ctx, NULL, &out, &e) == 0) {
                fputs(out, stdout);
                if (!*out || out[strlen(out) - 1] != '\n')
                    putchar('\n');
                free(out);
            } else {
                rc = 1;
            }
        }
        expr_tmpl_free(t);
    } else {
        rc = 1;
    }
    if (rc) {
        char msg[KERR_MSG_MAX + 32];
        fprintf(stderr, "kite render: %s\n", kerr_format(msg, sizeof msg, &e, NULL));
    }
    json_decref(ctx);
    free(stdin_tmpl);
    return rc;
}
