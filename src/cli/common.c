/*
 * common.c: what every command shares (kept out of main.c so that the
 * commands link into libkite for tests and fuzz targets).
 */
#include "cli/cli.h"

#include <string.h>

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    }
    return 0;
}
