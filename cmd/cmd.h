/* Subcommands and the helpers they share. Each cmd/<name>.c parses its own
 * options and returns an exit status (SPEC: Exit status). */
#ifndef BP_CMD_H
#define BP_CMD_H

#include "err.h"

#define BP_EXIT_USAGE 2

int cmd_train(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);

/* Prints "bptrain: error: WHERE: MSG" (or without WHERE) and returns the
 * exit status for e->kind. */
int bp_report(const struct bp_err *e);
/* A usage error: one line, exit status 2. */
int bp_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
