/* Subcommands and the helpers they share. Each cmd/<name>.c parses its own
 * options and returns an exit status (SPEC: Exit status). */
#ifndef BP_CMD_H
#define BP_CMD_H

#include "err.h"
#include "json.h"

#define BP_EXIT_USAGE 2

#include <stdbool.h>
#include <stdio.h>

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_time(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);

struct bp_config;
/* The run and --check of `bptrain train` (cmd/train_run.c); exit statuses. */
int bp_train_run(struct bp_config *cfg, const char *resume, bool force, bool quiet, int progress);
int bp_train_check(struct bp_config *cfg);

/* cmd/errors.c. Prints "bptrain: error: WHERE: MSG" (or without WHERE) and returns the
 * exit status for e->kind. */
/* The last message bp_usage_error printed (or would have, on a rank other
 * than 0), with its "(see ...)" hint; "" before any. */
const char *bp_last_usage_error(void);
int bp_report(const struct bp_err *e);
/* A usage error: one line, exit status 2. */
int bp_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "--opt" must be one of names (NULL-terminated): index, or -1 after a usage error. */
int bp_parse_choice(const char *cmd, const char *opt, const char *arg, const char *const *names);

#endif
