/* Error reporting for core/: functions return 0 or -1 and fill a bp_err.
 * core/ never prints or exits; cmd/ prints "bptrain: error: WHERE: MSG" and
 * exits with the error kind. */
#ifndef BP_ERR_H
#define BP_ERR_H

#include <stddef.h>

enum bp_errkind {
	BP_ERR_NONE = 0,
	BP_ERR_RUNTIME = 1,   /* I/O, out of memory */
	BP_ERR_CONFIG = 2,    /* usage or configuration */
	BP_ERR_DATA = 3,      /* missing, malformed or inconsistent data */
	BP_ERR_DIVERGED = 4,  /* a non-finite loss or weight */
};

struct bp_err {
	enum bp_errkind kind;
	char where[512];      /* "cfg.yaml:12:9", "data.csv:7", "FILE" or "" */
	char msg[512];
};

/* Fills e (if not NULL) and returns -1. where may be NULL. */
int bp_fail(struct bp_err *e, enum bp_errkind kind, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* An out-of-memory error: "out of memory allocating N bytes for WHAT". */
int bp_fail_oom(struct bp_err *e, const char *what, size_t bytes);

/* Programmer errors only, never bad input. */
_Noreturn void bp_bug(const char *file, int line, const char *expr);
#define BP_BUG(cond) do { if (cond) bp_bug(__FILE__, __LINE__, #cond); } while (0)

#endif
