#include "cli/cli.h"

int cli_cmd_validate(int argc, char **argv)
{
    fprintf(stderr, "kite validate: not built yet\n");
    return 2;
}
