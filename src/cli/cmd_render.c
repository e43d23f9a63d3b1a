#include "cli/cli.h"

int cli_cmd_render(int argc, char **argv)
{
    fprintf(stderr, "kite render: not built yet\n");
    return 2;
}
