#include <stdio.h>

#include "cmd.h"

int cmd_train(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "bptrain: error: 'train' is not built yet\n");
	return 1;
}
