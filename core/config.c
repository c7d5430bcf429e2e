#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_keys.h"
#include "emit.h"
#include "yaml_load.h"

const char *const bp_metric_names[] = { "val_loss", "val_accuracy", NULL };
const char *const bp_init_names[] = { "auto", "he", "glorot", "uniform", NULL };
_Static_assert(BP_INIT_AUTO == 0 && BP_INIT_HE == 1 && BP_INIT_GLOROT == 2 && BP_INIT_UNIFORM == 3,
               "bp_init_names follows enum bp_init");
_Static_assert(sizeof(enum bp_init) == sizeof(int) && sizeof(enum bp_loss) == sizeof(int),
               "choice fields are written as int");

#define BIG 1e7

/* ---- the generic engine ------------------------------------------------ */

int bp_cfg_fail(struct bp_err *err, const struct bp_node *n, const char *fmt, ...)
{
	char path[256], msg[sizeof err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return bp_node_fail(err, BP_ERR_CONFIG, n, "'%s' %s", bp_node_path(n, path, sizeof path), msg);
}

int bp_cfg_fail_key(struct bp_err *err, const struct bp_node *n, const char *fmt, ...)
{
	char path[256], where[sizeof err->where], msg[sizeof err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return bp_fail(err, BP_ERR_CONFIG, bp_node_key_where(n, where, sizeof where), "'%s' %s",
	               bp_node_path(n, path, sizeof path), msg);
}

int bp_cfg_missing(struct bp_err *err, const struct bp_node *map, const char *key)
{
	char path[256];
	bp_node_path(map, path, sizeof path);
	return bp_node_fail(err, BP_ERR_CONFIG, map, "missing required key '%s%s%s'", path, path[0] ? "." : "", key);
}

struct bp_node *bp_cfg_add_scalar(struct bp_node *map, const char *key, const char *value, struct bp_err *err)
{
	struct bp_node *n = bp_node_new(BP_NODE_SCALAR, map->file, 0, 0);
	if (!n || bp_node_set_key(n, key) || bp_node_set_value(n, value)) {
		bp_node_free(n);
		bp_fail_oom(err, "the config", strlen(value));
		return NULL;
	}
	bp_node_append(map, n);
	return n;
}

static struct bp_node *add_map(struct bp_node *map, const char *key, struct bp_err *err)
{
	struct bp_node *n = bp_node_new(BP_NODE_MAP, map->file, 0, 0);
	if (!n || bp_node_set_key(n, key)) {
		bp_node_free(n);
		bp_fail_oom(err, "the config", 64);
		return NULL;
	}
	bp_node_append(map, n);
	return n;
}

static int check_open_bounds(const struct bp_key *k, const struct bp_node *n, double v, struct bp_err *err)
{
	if ((k->flags & BP_KEY_GT_MIN) && v <= k->min)
		return bp_cfg_fail(err, n, "must be greater than %g, got %s", k->min, n->value);
	if ((k->flags & BP_KEY_LT_MAX) && v >= k->max)
		return bp_cfg_fail(err, n, "must be less than %g, got %s", k->max, n->value);
	return 0;
}

static int read_value(struct bp_cfgctx *cx, struct bp_node *map, struct bp_node *n, const struct bp_key *k,
                      const char *ctx, struct bp_err *err)
{
	char *field = (char *)cx->cfg + k->off;
	long l;
	double d;
	int i;
	switch (k->type) {
	case BP_K_INT:
	case BP_K_LONG:
	case BP_K_U64:
		if (bp_node_int(n, (long)k->min, (long)k->max, &l, err) || check_open_bounds(k, n, (double)l, err))
			return -1;
		if (k->type == BP_K_INT)
			*(int *)field = (int)l;
		else if (k->type == BP_K_LONG)
			*(long *)field = l;
		else
			*(uint64_t *)field = (uint64_t)l;
		return 0;
	case BP_K_NUM:
		if (bp_node_num(n, k->min, k->max, &d, err) || check_open_bounds(k, n, d, err))
			return -1;
		*(double *)field = d;
		return 0;
	case BP_K_BOOL:
		return bp_node_bool(n, (bool *)field, err);
	case BP_K_CHOICE:
		if (bp_node_choice(n, k->choices, &i, err))
			return -1;
		memcpy(field, &i, sizeof i);
		return 0;
	case BP_K_MAP:
		return bp_cfg_resolve_map(cx, n, k->sub, ctx, err);
	case BP_K_CUSTOM:
		return k->custom(cx, map, k, err);
	}
	return 0;
}

static bool applies(const struct bp_key *k, const char *ctx)
{
	return !k->only || (ctx && strcmp(k->only, ctx) == 0);
}

int bp_cfg_resolve_map(struct bp_cfgctx *cx, struct bp_node *map, const struct bp_key *keys,
                       const char *ctx, struct bp_err *err)
{
	const char *names[32];
	int nnames = 0;
	if (bp_node_expect(map, BP_NODE_MAP, err))
		return -1;
	for (const struct bp_key *k = keys; k->name; k++) {
		struct bp_node *n = bp_node_get(map, k->name);
		if (!applies(k, ctx)) {
			if (n)
				return bp_cfg_fail_key(err, n, "applies only to %s data", k->only);
			continue;
		}
		BP_BUG(nnames >= 31);
		names[nnames++] = k->name;
	}
	names[nnames] = NULL;
	if (bp_node_check_keys(map, names, err))
		return -1;
	for (const struct bp_key *k = keys; k->name; k++) {
		if (!applies(k, ctx))
			continue;
		struct bp_node *n = bp_node_get(map, k->name);
		if (!n && k->type != BP_K_CUSTOM) {
			if (k->flags & BP_KEY_REQUIRED)
				return bp_cfg_missing(err, map, k->name);
			else if (k->type == BP_K_MAP)
				n = add_map(map, k->name, err);
			else if (k->dflt)
				n = bp_cfg_add_scalar(map, k->name, k->dflt, err);
			else
				continue;
			if (!n)
				return -1;
		}
		if (read_value(cx, map, n, k, ctx, err))
			return -1;
	}
	/* Table order, so that every resolved config reads alike. */
	for (const struct bp_key *k = keys; k->name; k++) {
		struct bp_node *n = bp_node_get(map, k->name);
		if (n) {
			bp_node_unlink(n);
			bp_node_append(map, n);
		}
	}
	return 0;
}

/* ---- sections with a custom part ----------------------------------------- */

static int resolve_name(struct bp_cfgctx *cx, struct bp_node *root, const struct bp_key *k, struct bp_err *err)
{
	struct bp_node *n = bp_node_get(root, k->name);
	if (!n) {
		/* The config file's base name, without .yaml or .yml. */
		const char *file = root->file, *slash = strrchr(file, '/');
		const char *base = slash ? slash + 1 : file;
		size_t len = strlen(base);
		if (len > 5 && strcmp(base + len - 5, ".yaml") == 0)
			len -= 5;
		else if (len > 4 && strcmp(base + len - 4, ".yml") == 0)
			len -= 4;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)len, base);
		if (!(n = bp_cfg_add_scalar(root, k->name, name[0] ? name : "run", err)))
			return -1;
	}
	if (bp_node_str(n, &cx->cfg->name, err))
		return -1;
	if (!cx->cfg->name[0])
		return bp_cfg_fail(err, n, "must not be empty");
	return 0;
}

static int resolve_layers(struct bp_cfgctx *cx, struct bp_node *model, const struct bp_key *k, struct bp_err *err)
{
	struct bp_node *list = bp_node_get(model, k->name);
	if (!list)
		return bp_cfg_missing(err, model, k->name);
	if (bp_node_expect(list, BP_NODE_LIST, err))
		return -1;
	if (list->nchild == 0)
		return bp_cfg_fail(err, list, "is empty; list at least one layer, like '- {type: dense, units: 10}'");
	for (struct bp_node *l = list->child; l; l = l->next) {
		const char *type;
		if (bp_node_expect(l, BP_NODE_MAP, err))
			return -1;
		struct bp_node *t = bp_node_get(l, "type");
		if (!t)
			return bp_cfg_fail(err, l, "has no 'type' (dense, dropout, ...)");
		if (bp_node_str(t, &type, err))
			return -1;
	}
	cx->cfg->model.layers = list;
	return 0;
}

static const struct bp_key sched_any[] = {
	BP_KCHOICE("type", schedule.type, "constant", bp_sched_names),
	BP_KINT("warmup_epochs", schedule.warmup_epochs, 0, BIG, "0"),
	BP_KEND,
};
static const struct bp_key sched_step[] = {
	BP_KCHOICE("type", schedule.type, "constant", bp_sched_names),
	BP_KINT("step_size", schedule.step_size, 1, BIG, "10"),
	BP_KNUM("gamma", schedule.gamma, 0, 1, "0.1", BP_KEY_GT_MIN),
	BP_KINT("warmup_epochs", schedule.warmup_epochs, 0, BIG, "0"),
	BP_KEND,
};
static const struct bp_key sched_exponential[] = {
	BP_KCHOICE("type", schedule.type, "constant", bp_sched_names),
	BP_KNUM("gamma", schedule.gamma, 0, 1, "0.95", BP_KEY_GT_MIN),
	BP_KINT("warmup_epochs", schedule.warmup_epochs, 0, BIG, "0"),
	BP_KEND,
};
static const struct bp_key sched_cosine[] = {
	BP_KCHOICE("type", schedule.type, "constant", bp_sched_names),
	BP_KNUM("min_lr", schedule.min_lr, 0, 10, "0", 0),
	BP_KINT("warmup_epochs", schedule.warmup_epochs, 0, BIG, "0"),
	BP_KEND,
};
/* Indexed by enum bp_sched_type. */
static const struct bp_key *const sched_keys[] = { sched_any, sched_step, sched_exponential, sched_cosine };

static bool in_table(const struct bp_key *keys, const char *name)
{
	for (; keys->name; keys++)
		if (strcmp(keys->name, name) == 0)
			return true;
	return false;
}

static int resolve_schedule(struct bp_cfgctx *cx, struct bp_node *optim, const struct bp_key *k, struct bp_err *err)
{
	struct bp_node *s = bp_node_get(optim, k->name);
	if (!s && !(s = add_map(optim, k->name, err)))
		return -1;
	if (bp_node_expect(s, BP_NODE_MAP, err))
		return -1;
	struct bp_node *t = bp_node_get(s, "type");
	int type;
	if (!t && !(t = bp_cfg_add_scalar(s, "type", "constant", err)))
		return -1;
	if (bp_node_choice(t, bp_sched_names, &type, err))
		return -1;
	const struct bp_key *keys = sched_keys[type];
	for (const struct bp_node *c = s->child; c; c = c->next) {
		if (in_table(keys, c->key))
			continue;
		for (size_t i = 0; i < sizeof sched_keys / sizeof *sched_keys; i++)
			if (in_table(sched_keys[i], c->key))
				return bp_cfg_fail_key(err, c, "does not apply to a '%s' schedule", bp_sched_names[type]);
	}
	return bp_cfg_resolve_map(cx, s, keys, NULL, err);
}

static int resolve_out_dir(struct bp_cfgctx *cx, struct bp_node *out, const struct bp_key *k, struct bp_err *err)
{
	struct bp_node *n = bp_node_get(out, k->name);
	if (!n) {
		size_t len = strlen(cx->cfg->name) + 6;
		char *dir = malloc(len);
		if (!dir)
			return bp_fail_oom(err, "output.dir", len);
		snprintf(dir, len, "runs/%s", cx->cfg->name);
		n = bp_cfg_add_scalar(out, k->name, dir, err);
		free(dir);
		if (!n)
			return -1;
	}
	if (bp_node_str(n, &cx->cfg->output.dir, err))
		return -1;
	if (!cx->cfg->output.dir[0])
		return bp_cfg_fail(err, n, "must not be empty");
	return 0;
}

static int resolve_best(struct bp_cfgctx *cx, struct bp_node *out, const struct bp_key *k, struct bp_err *err)
{
	struct bp_node *n = bp_node_get(out, k->name);
	const char *dflt = bp_metric_names[cx->cfg->loss == BP_LOSS_MSE ? BP_METRIC_VAL_LOSS : BP_METRIC_VAL_ACCURACY];
	int m;
	if (!n && !(n = bp_cfg_add_scalar(out, k->name, dflt, err)))
		return -1;
	if (bp_node_choice(n, bp_metric_names, &m, err))
		return -1;
	cx->cfg->output.best_metric = (enum bp_metric)m;
	return 0;
}

/* ---- the tables -------------------------------------------------------- */

static const struct bp_key model_keys[] = {
	BP_KCHOICE("init", model.init, "auto", bp_init_names),
	BP_KCUSTOM("layers", resolve_layers),
	BP_KEND,
};

static const struct bp_key optim_keys[] = {
	BP_KCHOICE("type", optimizer.type, "adam", bp_optim_names),
	BP_KNUM("lr", optimizer.lr, 0, 10, "0.001", BP_KEY_GT_MIN),
	BP_KNUM("momentum", optimizer.momentum, 0, 1, "0.9", BP_KEY_LT_MAX),
	BP_KNUM("beta1", optimizer.beta1, 0, 1, "0.9", BP_KEY_LT_MAX),
	BP_KNUM("beta2", optimizer.beta2, 0, 1, "0.999", BP_KEY_LT_MAX),
	BP_KNUM("eps", optimizer.eps, 0, 1, "1.0e-8", BP_KEY_GT_MIN),
	BP_KNUM("weight_decay", optimizer.weight_decay, 0, 1e3, "0.0", 0),
	BP_KNUM("clip_norm", optimizer.clip_norm, 0, 1e30, "0", 0),
	BP_KCUSTOM("schedule", resolve_schedule),
	BP_KEND,
};

static const struct bp_key early_keys[] = {
	BP_KCHOICE("metric", train.early_stopping.metric, "val_loss", bp_metric_names),
	BP_KINT("patience", train.early_stopping.patience, 0, BIG, "0"),
	BP_KNUM("min_delta", train.early_stopping.min_delta, 0, 1e30, "0", 0),
	BP_KEND,
};

static const struct bp_key train_keys[] = {
	BP_KINT("epochs", train.epochs, 1, BIG, "20"),
	BP_KINT("batch_size", train.batch_size, 1, 1e6, "32"),
	BP_KBOOL("shuffle", train.shuffle, "true"),
	BP_KINT("threads", train.threads, 0, BP_MAX_THREADS, "0"),
	BP_KMAP("early_stopping", early_keys),
	BP_KEND,
};

static const struct bp_key output_keys[] = {
	BP_KCUSTOM("dir", resolve_out_dir),
	BP_KINT("checkpoint_every", output.checkpoint_every, 1, BIG, "1"),
	BP_KCUSTOM("best_metric", resolve_best),
	BP_KBOOL("diagnostics", output.diagnostics, "true"),
	BP_KEND,
};

/* In SPEC's order, which is also the order of the emitted config. */
static const struct bp_key top_keys[] = {
	BP_KCUSTOM("name", resolve_name),
	{ .name = "seed", .type = BP_K_U64, .off = BP_OFF(seed), .max = 9007199254740991.0, .dflt = "42" },
	BP_KCUSTOM("data", bp_cfg_resolve_data),
	{ .name = "model", .type = BP_K_MAP, .sub = model_keys, .flags = BP_KEY_REQUIRED },
	BP_KCHOICE("loss", loss, "cross_entropy", bp_loss_names),
	BP_KMAP("optimizer", optim_keys),
	BP_KMAP("train", train_keys),
	BP_KMAP("output", output_keys),
	BP_KEND,
};

/* Rules that tie keys of different sections together. */
static int cross_check(const struct bp_config *cfg, struct bp_err *err)
{
	const struct bp_node *root = cfg->root;
	const struct bp_node *data = bp_node_get(root, "data");
	const struct bp_node *optim = bp_node_get(root, "optimizer");
	const struct bp_node *early = bp_node_get(bp_node_get(root, "train"), "early_stopping");
	const struct bp_node *out = bp_node_get(root, "output");
	bool mse = cfg->loss == BP_LOSS_MSE;
	const struct bp_node *n = bp_node_get(data, "label_column");
	if (n && n->kind == BP_NODE_LIST && !mse)
		return bp_cfg_fail(err, n, "may be a list only with loss mse (several regression targets)");
	if (mse && cfg->output.best_metric == BP_METRIC_VAL_ACCURACY)
		return bp_cfg_fail(err, bp_node_get(out, "best_metric"),
		                   "cannot be val_accuracy with loss mse; use val_loss");
	if (mse && cfg->train.early_stopping.metric == BP_METRIC_VAL_ACCURACY)
		return bp_cfg_fail(err, bp_node_get(early, "metric"),
		                   "cannot be val_accuracy with loss mse; use val_loss");
	if (cfg->schedule.type == BP_SCHED_COSINE && cfg->schedule.min_lr > cfg->optimizer.lr)
		return bp_cfg_fail(err, bp_node_get(bp_node_get(optim, "schedule"), "min_lr"),
		                   "(%g) must not exceed 'optimizer.lr' (%g)", cfg->schedule.min_lr, cfg->optimizer.lr);
	return 0;
}

/* ---- loading ----------------------------------------------------------- */

/* The absolute folder of file: its dirname joined to the working directory. */
static char *folder_of(const char *file, struct bp_err *err)
{
	const char *slash = strrchr(file, '/');
	size_t dlen = slash ? (size_t)(slash - file) : 0;
	if (slash && file[0] == '/') {
		char *d = dlen ? strndup(file, dlen) : strdup("/");
		if (!d)
			bp_fail_oom(err, "a path", dlen + 1);
		return d;
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd)) {
		bp_fail(err, BP_ERR_RUNTIME, NULL, "cannot get the working directory: %s", strerror(errno));
		return NULL;
	}
	size_t len = strlen(cwd) + dlen + 2;
	char *d = malloc(len);
	if (!d) {
		bp_fail_oom(err, "a path", len);
		return NULL;
	}
	if (dlen && !(dlen == 1 && file[0] == '.'))
		snprintf(d, len, "%s%s%.*s", cwd, strcmp(cwd, "/") ? "/" : "", (int)dlen, file);
	else
		snprintf(d, len, "%s", cwd);
	return d;
}

static struct bp_config *resolve(struct bp_node *root, const char *base_dir, char *const *sets, int nsets,
                                 struct bp_err *err)
{
	struct bp_config *cfg = calloc(1, sizeof *cfg);
	char *dir = NULL;
	if (!cfg) {
		bp_fail_oom(err, "the config", sizeof *cfg);
		bp_node_free(root);
		return NULL;
	}
	cfg->root = root;
	if (root->kind != BP_NODE_MAP) {
		bp_node_fail(err, BP_ERR_CONFIG, root,
		             "the config must be a mapping of keys like 'data:' and 'model:', not %s",
		             root->kind == BP_NODE_LIST ? "a list" : "a single value");
		goto fail;
	}
	for (int i = 0; i < nsets; i++)
		if (bp_yaml_apply_set(root, sets[i], err))
			goto fail;
	if (!base_dir && !(base_dir = dir = folder_of(root->file, err)))
		goto fail;
	struct bp_cfgctx cx = { .cfg = cfg, .base_dir = base_dir };
	if (bp_cfg_resolve_map(&cx, root, top_keys, NULL, err) || cross_check(cfg, err))
		goto fail;
	free(dir);
	return cfg;
fail:
	free(dir);
	bp_config_free(cfg);
	return NULL;
}

struct bp_config *bp_config_load(const char *path, char *const *sets, int nsets, struct bp_err *err)
{
	struct bp_node *root = bp_yaml_load_file(path, err);
	return root ? resolve(root, NULL, sets, nsets, err) : NULL;
}

struct bp_config *bp_config_load_text(const char *text, size_t len, const char *file, const char *base_dir,
                                      char *const *sets, int nsets, struct bp_err *err)
{
	struct bp_node *root = bp_yaml_parse(text, len, file, err);
	return root ? resolve(root, base_dir, sets, nsets, err) : NULL;
}

void bp_config_free(struct bp_config *cfg)
{
	if (!cfg)
		return;
	bp_node_free(cfg->root);
	free(cfg);
}

int bp_config_emit(const struct bp_config *cfg, FILE *out, struct bp_err *err)
{
	return bp_emit_file(cfg->root, out, err);
}

char *bp_config_text(const struct bp_config *cfg, size_t *len, struct bp_err *err)
{
	return bp_emit_text(cfg->root, len, err);
}
