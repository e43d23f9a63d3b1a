/*
 * main.c: `kite <command>`: the command table and the dispatch to it.
 */
#include "cli/cli.h"
#include "flow/schema.h"
#include "sched/sched.h"
#include "tasks/tasks.h"
#include "util/json.h"

#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static int cmd_version(int argc, char **argv);

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"run", cli_cmd_run, "run one execution of a flow to its end, without a server"},
    {"execution", cli_cmd_execution, "restart, replay, resume, kill or show an execution"},
    {"flow", cli_cmd_flow, "sync flows from a folder or a Git repository into a namespace"},
    {"server", cli_cmd_server, "serve the HTTP API with the engine and the scheduler (local, standalone)"},
    {"secret", cli_cmd_secret, "set, get, list or delete a secret of kite's store (set reads stdin)"},
    {"user", cli_cmd_user, "add, list, passwd or remove users and service accounts"},
    {"token", cli_cmd_token, "create (shown once), list or revoke API tokens"},
    {"role", cli_cmd_role, "list, show, set or delete roles (allow/deny statements)"},
    {"binding", cli_cmd_binding, "add, list or remove bindings (a principal, a role, a namespace pattern)"},
    {"auth", cli_cmd_auth, "`auth check PRINCIPAL ACTION NAMESPACE`: which binding and statement decide"},
    {"audit", cli_cmd_audit, "the audit log of changes, newest first (filters)"},
    {"validate", cli_cmd_validate, "check flow files (file:line:col errors)"},
    {"render", cli_cmd_render, "render a template expression, to try one out"},
    {"plugins", cli_cmd_plugins, "list task types, or print one's JSON Schema"},
    {"version", cmd_version, "print kite's version"},
    {"help", cmd_help, "this help, or `kite help COMMAND`"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "kite %s: data orchestration in one small binary\n\n"
            "usage: kite <command> [options]\n\ncommands:\n",
            KITE_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`kite <command> --help` shows a command's options.\n");
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static int cmd_version(int argc, char **argv)
{
    printf("kite %s\n", KITE_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        const command *c = find(argv[1]);
        if (!c) {
            fprintf(stderr, "kite: unknown command '%s'\n", argv[1]);
            return 2;
        }
        char *args[] = {argv[1], "--help", NULL};
        return c->fn(2, args);
    }
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    kjson_init();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        return cmd_version(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return cmd_help(1, argv + 1);
    const command *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "kite: unknown command '%s' (see `kite help`)\n", argv[1]);
        return 2;
    }
    tasks_register_all();
    return c->fn(argc - 1, argv + 1);
}
