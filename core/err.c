#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bp_fail(struct bp_err *e, enum bp_errkind kind, const char *where, const char *fmt, ...)
{
	if (!e)
		return -1;
	e->kind = kind;
	snprintf(e->where, sizeof e->where, "%s", where ? where : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int bp_fail_oom(struct bp_err *e, const char *what, size_t bytes)
{
	return bp_fail(e, BP_ERR_RUNTIME, NULL, "out of memory allocating %zu bytes for %s", bytes, what);
}

_Noreturn void bp_bug(const char *file, int line, const char *expr)
{
	char buf[256];
	snprintf(buf, sizeof buf, "bptrain: internal error: %s:%d: %s\n", file, line, expr);
	fputs(buf, stderr);
	abort();
}
