#include "cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node.h"
#include "world.h"

/* In a data-parallel run every process meets the same error (they agree
 * on it first, core/world.h); rank 0 alone prints it. */
int bp_report(const struct bp_err *e)
{
	if (bp_world_launch_rank() != 0)
		;
	else if (e->where[0])
		fprintf(stderr, "bptrain: error: %s: %s\n", e->where, e->msg);
	else
		fprintf(stderr, "bptrain: error: %s\n", e->msg);
	return e->kind ? (int)e->kind : 1;
}

static char last_usage[640];

const char *bp_last_usage_error(void) { return last_usage; }

int bp_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(last_usage, sizeof last_usage, "%s (see 'bptrain %s --help')", msg, cmd);
	if (bp_world_launch_rank() == 0)
		fprintf(stderr, "bptrain: error: %s (see 'bptrain %s --help')\n", msg, cmd);
	return BP_EXIT_USAGE;
}

int bp_parse_choice(const char *cmd, const char *opt, const char *arg, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(arg, names[i]) == 0)
			return i;
	char list[256];
	bp_usage_error(cmd, "'%s' must be %s, got '%s'", opt, bp_join_names(names, list, sizeof list), arg);
	return -1;
}
