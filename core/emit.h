/* struct bp_node tree → YAML text: the one emitter behind --print-config,
 * a run's config.yaml and the config text embedded in checkpoints.
 *
 * Block style throughout, except that a mapping of single values inside a
 * list (a layer spec) is written on one line in flow style. A quoted scalar
 * is written quoted, so it reads back as a string; everything else is
 * written plain wherever YAML allows. Loading the text back (core/yaml_load.h)
 * gives the same tree, less positions. */
#ifndef BP_EMIT_H
#define BP_EMIT_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "node.h"

/* Writes root to out. 0, or -1 with a runtime error when writing fails. */
int bp_emit_file(const struct bp_node *root, FILE *out, struct bp_err *err);

/* The same text in a malloc'd, NUL-terminated buffer (the caller frees it);
 * *len (if not NULL) gets its length. NULL on failure. */
char *bp_emit_text(const struct bp_node *root, size_t *len, struct bp_err *err);

#endif
