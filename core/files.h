/* Files a run writes: whole files replaced atomically (PATH.tmp, fsync,
 * rename), folders created on demand, stale temporaries removed. */
#ifndef BP_FILES_H
#define BP_FILES_H

#include <stddef.h>

#include "err.h"

/* Writes len bytes to PATH.tmp, fsyncs and renames it over path. On failure
 * the temporary is removed and path is untouched (runtime error). */
int bp_write_atomic(const char *path, const void *data, size_t len, struct bp_err *err);
/* mkdir -p; a runtime error names the part that could not be made. */
int bp_mkdirs(const char *path, struct bp_err *err);
/* "dir/name" into buf; a runtime error when it does not fit. */
int bp_path_join(char *buf, size_t size, const char *dir, const char *name, struct bp_err *err);
/* Reads a whole (small) file; *out is NUL-terminated and malloc'd. */
int bp_read_file(const char *path, char **out, size_t *len, enum bp_errkind kind, struct bp_err *err);

#endif
