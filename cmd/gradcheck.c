#include <stdio.h>

#include "cmd.h"

int cmd_gradcheck(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "bptrain: error: 'gradcheck' is not built yet\n");
	return 1;
}
