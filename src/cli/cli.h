/*
 * cli.h: the `kite <command>` entry points.
 *
 * Each command lives in its own file (cmd_<name>.c) and has the signature of
 * main(): it parses its own flags, prints its own errors and returns the
 * process exit code. main.c holds the table that dispatches to them.
 */
#ifndef KITE_CLI_H
#define KITE_CLI_H

#include <stdio.h>

#define KITE_VERSION "0.1.0"

int cli_cmd_validate(int argc, char **argv);
int cli_cmd_render(int argc, char **argv);
int cli_cmd_plugins(int argc, char **argv);

/* True when argv holds -h or --help (commands call it first). */
int cli_wants_help(int argc, char **argv);

#endif
