/* A small YAML document tree that keeps FILE:LINE:COL for every node.
 * The config loader builds it from libyaml events, --set edits it, and
 * each consumer (config sections, layer kinds) reads and validates it with
 * the typed readers below, which fail with positioned config errors. */
#ifndef BP_NODE_H
#define BP_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum bp_node_kind { BP_NODE_SCALAR, BP_NODE_MAP, BP_NODE_LIST };

struct bp_node {
	enum bp_node_kind kind;
	char *key;                      /* key in the parent map; NULL otherwise */
	char *value;                    /* scalar text; NULL for maps and lists */
	bool quoted;                    /* a quoted scalar: always a string */
	struct bp_node *parent;
	struct bp_node *child, *last;   /* children, in document order */
	struct bp_node *next;
	int nchild;
	char *file;                     /* config path, or "--set KEY=VALUE" */
	int line, col;                  /* 1-based; 0 = no position */
	int key_line, key_col;          /* the key's position in its map; 0 = none */
};

/* Heap nodes: the tree owns its children; bp_node_free(NULL) is a no-op. */
struct bp_node *bp_node_new(enum bp_node_kind kind, const char *file, int line, int col);
void bp_node_free(struct bp_node *n);
struct bp_node *bp_node_clone(const struct bp_node *n);
int bp_node_set_key(struct bp_node *n, const char *key);     /* 0, or -1 out of memory */
int bp_node_set_value(struct bp_node *n, const char *value); /* 0, or -1 out of memory */
void bp_node_append(struct bp_node *parent, struct bp_node *child);
/* Replaces old (a child somewhere in a tree) by new and frees old. */
void bp_node_replace(struct bp_node *old, struct bp_node *repl);
/* Unlinks n from its parent (does not free it). */
void bp_node_unlink(struct bp_node *n);

/* Lookup: NULL when absent or when the container is of another kind. */
struct bp_node *bp_node_get(const struct bp_node *map, const char *key);
struct bp_node *bp_node_at(const struct bp_node *list, int index);

/* "file:line:col", or "file" when the node has no position. */
const char *bp_node_where(const struct bp_node *n, char *buf, size_t size);
/* Where n's key is written in its map (for unknown or duplicate keys);
 * bp_node_where(n) when the key has no position. */
const char *bp_node_key_where(const struct bp_node *n, char *buf, size_t size);
/* A config (or other kind) error positioned at n; returns -1. */
int bp_node_fail(struct bp_err *e, enum bp_errkind kind, const struct bp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "'model.layers.0.units'": the dotted path of n from the root. */
const char *bp_node_path(const struct bp_node *n, char *buf, size_t size);

/* Typed scalar readers. Each fails with a config error at n naming the key. */
int bp_node_int(const struct bp_node *n, long min, long max, long *out, struct bp_err *e);
int bp_node_num(const struct bp_node *n, double min, double max, double *out, struct bp_err *e);
int bp_node_bool(const struct bp_node *n, bool *out, struct bp_err *e);
int bp_node_str(const struct bp_node *n, const char **out, struct bp_err *e);
/* One of names (NULL-terminated); the index goes to *out. */
int bp_node_choice(const struct bp_node *n, const char *const *names, int *out, struct bp_err *e);
/* n must be a map whose keys are all in allowed (NULL-terminated). */
int bp_node_check_keys(const struct bp_node *n, const char *const *allowed, struct bp_err *e);
/* n must be of this kind ("a mapping", "a list", "a scalar" in the message). */
int bp_node_expect(const struct bp_node *n, enum bp_node_kind kind, struct bp_err *e);

/* Scalar parsing without a node (also used by --set): locale independent. */
bool bp_parse_num(const char *s, double *out);
bool bp_parse_bool(const char *s, bool *out);

/* The name in names closest to word by edit distance, or NULL if none is
 * close enough to be a plausible typo. */
const char *bp_nearest(const char *word, const char *const *names);
/* "a, b or c" into buf. */
const char *bp_join_names(const char *const *names, char *buf, size_t size);

#endif
