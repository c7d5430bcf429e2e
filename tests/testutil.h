/* Helpers shared by the unit tests: build layer specs without a YAML file. */
#ifndef BP_TESTUTIL_H
#define BP_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node.h"

static inline void tu_set(struct bp_node *map, const char *key, const char *value)
{
	struct bp_node *n = bp_node_new(BP_NODE_SCALAR, "test.yaml", map->line, map->col);
	bp_node_set_key(n, key);
	bp_node_set_value(n, value);
	bp_node_append(map, n);
}

/* Each argument is "dense UNITS ACT", "dropout RATE" or "batch_norm [ACT
 * [MOMENTUM]]"; NULL ends the list.
 * Returns a model.layers list inside a root {model: {layers: [...]}}. */
static inline struct bp_node *tu_layers(const char *first, ...)
{
	struct bp_node *root = bp_node_new(BP_NODE_MAP, "test.yaml", 1, 1);
	struct bp_node *model = bp_node_new(BP_NODE_MAP, "test.yaml", 2, 1);
	bp_node_set_key(model, "model");
	bp_node_append(root, model);
	struct bp_node *list = bp_node_new(BP_NODE_LIST, "test.yaml", 3, 3);
	bp_node_set_key(list, "layers");
	bp_node_append(model, list);
	va_list ap;
	va_start(ap, first);
	int line = 4;
	for (const char *s = first; s; s = va_arg(ap, const char *)) {
		struct bp_node *spec = bp_node_new(BP_NODE_MAP, "test.yaml", line++, 5);
		bp_node_append(list, spec);
		char type[32] = "", a[32] = "", b[32] = "";
		sscanf(s, "%31s %31s %31s", type, a, b);
		tu_set(spec, "type", type);
		if (strcmp(type, "dense") == 0) {
			tu_set(spec, "units", a);
			if (b[0])
				tu_set(spec, "activation", b);
		} else if (strcmp(type, "dropout") == 0) {
			tu_set(spec, "rate", a);
		} else if (strcmp(type, "batch_norm") == 0) {
			if (a[0])
				tu_set(spec, "activation", a);
			if (b[0])
				tu_set(spec, "momentum", b);
		}
	}
	va_end(ap);
	return list;
}

static inline void tu_free_layers(struct bp_node *list)
{
	struct bp_node *root = list;
	while (root->parent)
		root = root->parent;
	bp_node_free(root);
}

#endif
