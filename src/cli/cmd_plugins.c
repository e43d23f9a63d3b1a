#include "cli/cli.h"

int cli_cmd_plugins(int argc, char **argv)
{
    fprintf(stderr, "kite plugins: not built yet\n");
    return 2;
}
