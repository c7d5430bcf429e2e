/* YAML text → struct bp_node tree (core/node.h), through libyaml's event
 * parser, and the --set KEY=VALUE edits of such a tree.
 *
 * Positions are libyaml marks + 1. Hostile input is refused, not expanded:
 * anchors and aliases are errors (no alias bomb can grow the tree), nesting
 * deeper than BP_YAML_MAX_DEPTH is an error, duplicate keys are errors, and
 * a config file larger than BP_YAML_MAX_BYTES is not read. All errors are
 * BP_ERR_CONFIG (out of memory: BP_ERR_RUNTIME). */
#ifndef BP_YAML_LOAD_H
#define BP_YAML_LOAD_H

#include <stddef.h>

#include "err.h"
#include "node.h"

#define BP_YAML_MAX_DEPTH 64
#define BP_YAML_MAX_BYTES (16u << 20)

/* Parses one YAML document from text (len bytes, need not be
 * NUL-terminated). file names the source in every node and error. The root
 * may be of any kind; an empty document is an error. NULL on failure. */
struct bp_node *bp_yaml_parse(const char *text, size_t len, const char *file, struct bp_err *err);

/* Reads and parses the file at path (errors name path: missing, a folder,
 * unreadable, too large). NULL on failure. */
struct bp_node *bp_yaml_load_file(const char *path, struct bp_err *err);

/* Applies one override "a.b.0.c=VALUE" to root (a mapping). VALUE is read as
 * YAML (a scalar, or a flow collection such as {type: dense, units: 3});
 * an empty VALUE is the empty string. Missing map keys on the way are
 * created; a list index must exist. The new nodes carry the file name
 * "--set ARG" and no line, so later errors about them are reported at
 * "--set ARG" too. A malformed ARG is a config error at "--set ARG". */
int bp_yaml_apply_set(struct bp_node *root, const char *arg, struct bp_err *err);

#endif
