/* Internal to core/config*.c: the key tables that validate a config section,
 * fill its defaults into the tree and read its typed values. */
#ifndef BP_CONFIG_KEYS_H
#define BP_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"

enum bp_ktype {
	BP_K_INT,       /* int field */
	BP_K_LONG,      /* long field */
	BP_K_U64,       /* uint64_t field, from 0 */
	BP_K_NUM,       /* double field */
	BP_K_BOOL,      /* bool field */
	BP_K_CHOICE,    /* enum field: index into choices */
	BP_K_MAP,       /* a section: keys in sub */
	BP_K_CUSTOM,    /* custom() does it all, present or not */
};

enum {
	BP_KEY_REQUIRED = 1,    /* no default: missing is an error */
	BP_KEY_GT_MIN = 2,      /* min itself is out of range */
	BP_KEY_LT_MAX = 4,      /* max itself is out of range */
};

struct bp_cfgctx {
	struct bp_config *cfg;
	const char *base_dir;   /* absolute; where relative data paths start */
};

struct bp_key;
typedef int (*bp_key_fn)(struct bp_cfgctx *cx, struct bp_node *map, const struct bp_key *k, struct bp_err *err);

struct bp_key {
	const char *name;
	enum bp_ktype type;
	size_t off;                     /* offsetof(struct bp_config, ...) */
	double min, max;
	const char *dflt;               /* default, as YAML text; NULL: none */
	unsigned flags;
	const char *const *choices;     /* BP_K_CHOICE */
	const struct bp_key *sub;       /* BP_K_MAP: its keys, ending with { NULL } */
	bp_key_fn custom;               /* BP_K_CUSTOM */
	const char *only;               /* applies only in this context ("csv"), else refused */
};

/* Table rows. */
#define BP_OFF(member) offsetof(struct bp_config, member)
#define BP_KINT(n, m, lo, hi, d) { .name = n, .type = BP_K_INT, .off = BP_OFF(m), .min = lo, .max = hi, .dflt = d }
#define BP_KNUM(n, m, lo, hi, d, f) \
	{ .name = n, .type = BP_K_NUM, .off = BP_OFF(m), .min = lo, .max = hi, .dflt = d, .flags = f }
#define BP_KBOOL(n, m, d) { .name = n, .type = BP_K_BOOL, .off = BP_OFF(m), .dflt = d }
#define BP_KCHOICE(n, m, d, names) { .name = n, .type = BP_K_CHOICE, .off = BP_OFF(m), .dflt = d, .choices = names }
#define BP_KMAP(n, keys) { .name = n, .type = BP_K_MAP, .sub = keys }
#define BP_KCUSTOM(n, fn) { .name = n, .type = BP_K_CUSTOM, .custom = fn }
#define BP_KEND { .name = NULL }

/* Validates map against keys (ending with { NULL }), in context ctx (keys
 * whose `only` differs are refused), fills defaults, reads values into
 * cx->cfg, and puts map's children in table order. */
int bp_cfg_resolve_map(struct bp_cfgctx *cx, struct bp_node *map, const struct bp_key *keys,
                       const char *ctx, struct bp_err *err);
/* Appends key: value (a plain scalar without position) to map. */
struct bp_node *bp_cfg_add_scalar(struct bp_node *map, const char *key, const char *value, struct bp_err *err);
/* A config error at n, prefixed by n's dotted path: "'PATH' must ...". */
int bp_cfg_fail(struct bp_err *err, const struct bp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same at n's key, for a key that does not belong where it is. */
int bp_cfg_fail_key(struct bp_err *err, const struct bp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "missing required key 'PATH.key'" at map. */
int bp_cfg_missing(struct bp_err *err, const struct bp_node *map, const char *key);

/* The data section (core/config_data.c). */
int bp_cfg_resolve_data(struct bp_cfgctx *cx, struct bp_node *root, const struct bp_key *k, struct bp_err *err);

#endif
