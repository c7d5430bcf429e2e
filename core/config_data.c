/* The data: section of a config, read into struct bp_data_cfg. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "augment.h"
#include "config_keys.h"

const char *const bp_normalize_names[] = { "none", "scale", "standardize", "auto", NULL };
const char *const bp_format_names[] = { "idx", "csv", NULL };
_Static_assert(BP_NORM_AUTO == 3 && BP_FMT_CSV == 1, "names follow the enums of data_cfg.h");

#define MAX_COLUMN 1000000
#define MAX_SIDE 1000000

static const char *const idx_files[] = { "images", "labels", NULL };
static const char *const csv_files[] = { "path", NULL };
static const char *const any_files[] = { "images", "labels", "path", NULL };
static const char *const any_validation[] = { "images", "labels", "path", "split", NULL };

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* SPEC Details: .csv / .csv.gz → csv; "idx" in the name or "-ubyte" → idx. */
static int format_of_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (ends_with(base, ".csv") || ends_with(base, ".csv.gz"))
		return BP_FMT_CSV;
	if (strstr(base, "idx") || strstr(base, "-ubyte"))
		return BP_FMT_IDX;
	return -1;
}

/* data.format when absent: from the train file names, else from the keys
 * used (path: csv; images, labels: idx). */
static int infer_format(struct bp_node *data, struct bp_err *err)
{
	struct bp_node *train = bp_node_get(data, "train");
	int fmt = -1;
	if (train && train->kind == BP_NODE_MAP && train->nchild > 0) {
		for (int i = 0; any_files[i] && fmt < 0; i++) {
			struct bp_node *f = bp_node_get(train, any_files[i]);
			if (f && f->kind == BP_NODE_SCALAR)
				fmt = format_of_name(f->value);
		}
		if (fmt < 0 && bp_node_get(train, "path"))
			fmt = BP_FMT_CSV;
		else if (fmt < 0 && (bp_node_get(train, "images") || bp_node_get(train, "labels")))
			fmt = BP_FMT_IDX;
		/* None of the file keys: an unknown key, and perhaps a typo. */
		if (fmt < 0 && bp_node_check_keys(train, any_files, err))
			return -1;
	}
	/* Without usable train files, the train check reports the problem. */
	if (fmt < 0)
		fmt = BP_FMT_IDX;
	return bp_cfg_add_scalar(data, "format", bp_format_names[fmt], err) ? 0 : -1;
}

/* Makes n's path absolute: relative to the config's folder, or for a --set
 * value to the working directory. */
static int absolutize(struct bp_cfgctx *cx, struct bp_node *n, struct bp_err *err)
{
	const char *s;
	if (bp_node_str(n, &s, err))
		return -1;
	if (!s[0])
		return bp_cfg_fail(err, n, "must not be empty");
	if (s[0] == '/')
		return 0;
	char cwd[PATH_MAX];
	const char *base = cx->base_dir;
	if (strncmp(n->file, "--set ", 6) == 0) {
		if (!getcwd(cwd, sizeof cwd))
			return bp_fail(err, BP_ERR_RUNTIME, NULL, "cannot get the working directory: %s", strerror(errno));
		base = cwd;
	}
	while (s[0] == '.' && s[1] == '/')
		s += 2 + strspn(s + 2, "/");
	size_t len = strlen(base) + strlen(s) + 2;
	char *abs = malloc(len);
	if (!abs)
		return bp_fail_oom(err, "a data path", len);
	snprintf(abs, len, "%s%s%s", base, ends_with(base, "/") ? "" : "/", s);
	/* "configs/../data/x.csv" reads better as "data/x.csv"; a file that does
	 * not exist keeps the joined path, which its error message then names. */
	char *real = realpath(abs, NULL);
	int rc = bp_node_set_value(n, real ? real : abs);
	free(real);
	free(abs);
	return rc ? bp_fail_oom(err, "a data path", len) : 0;
}

static bool listed(const char *const *names, const char *s)
{
	for (; *names; names++)
		if (strcmp(*names, s) == 0)
			return true;
	return false;
}

static int resolve_split(struct bp_cfgctx *cx, struct bp_node *n, struct bp_node *split, struct bp_err *err)
{
	double f;
	if (n->nchild > 1)
		return bp_cfg_fail(err, n, "takes either 'split' or files, not both");
	if (bp_node_num(split, 0, 1, &f, err))
		return -1;
	if (f <= 0 || f >= 1)
		return bp_cfg_fail(err, split, "must be between 0 and 1 (exclusive), got %s", split->value);
	cx->cfg->data.val_split = f;
	return 0;
}

static int resolve_fileset(struct bp_cfgctx *cx, struct bp_node *data, const struct bp_key *k, struct bp_err *err)
{
	struct bp_fileset *fs = (struct bp_fileset *)((char *)cx->cfg + k->off);
	struct bp_node *n = bp_node_get(data, k->name);
	bool validation = strcmp(k->name, "validation") == 0;
	if (!n)
		return strcmp(k->name, "train") == 0 ? bp_cfg_missing(err, data, k->name) : 0;
	if (bp_node_check_keys(n, validation ? any_validation : any_files, err))
		return -1;
	bp_node_where(n, fs->where, sizeof fs->where);
	struct bp_node *split = bp_node_get(n, "split");
	if (split)
		return resolve_split(cx, n, split, err);
	bool csv = cx->cfg->data.format == BP_FMT_CSV;
	const char *const *files = csv ? csv_files : idx_files;
	for (struct bp_node *c = n->child; c; c = c->next)
		if (!listed(files, c->key))
			return bp_cfg_fail_key(err, c, csv ? "is for idx data; csv data takes 'path'"
			                              : "is for csv data; idx data takes 'images' and 'labels'");
	for (int i = 0; files[i]; i++) {
		struct bp_node *f = bp_node_get(n, files[i]);
		if (!f)
			return bp_cfg_missing(err, n, files[i]);
		if (absolutize(cx, f, err))
			return -1;
		/* Table order, as for every other section. */
		bp_node_unlink(f);
		bp_node_append(n, f);
	}
	fs->images = csv ? NULL : bp_node_get(n, "images")->value;
	fs->labels = csv ? NULL : bp_node_get(n, "labels")->value;
	fs->path = csv ? bp_node_get(n, "path")->value : NULL;
	fs->present = true;
	return 0;
}

static int resolve_normalize(struct bp_cfgctx *cx, struct bp_node *data, const struct bp_key *k, struct bp_err *err)
{
	struct bp_node *n = bp_node_get(data, k->name);
	const char *dflt = bp_normalize_names[cx->cfg->data.format == BP_FMT_CSV ? BP_NORM_NONE : BP_NORM_AUTO];
	int v;
	if (!n && !(n = bp_cfg_add_scalar(data, k->name, dflt, err)))
		return -1;
	if (bp_node_choice(n, bp_normalize_names, &v, err))
		return -1;
	cx->cfg->data.normalize = (enum bp_normalize)v;
	return 0;
}

static int resolve_label_column(struct bp_cfgctx *cx, struct bp_node *data, const struct bp_key *k,
                                struct bp_err *err)
{
	struct bp_data_cfg *d = &cx->cfg->data;
	struct bp_node *n = bp_node_get(data, k->name);
	long col;
	if (!n && !(n = bp_cfg_add_scalar(data, k->name, "-1", err)))
		return -1;
	if (n->kind == BP_NODE_MAP)
		return bp_cfg_fail(err, n, "must be a column number or a list of them, not a mapping");
	if (n->kind == BP_NODE_SCALAR) {
		if (bp_node_int(n, -MAX_COLUMN, MAX_COLUMN, &col, err))
			return -1;
		d->label_column[0] = col;
		d->nlabel_columns = 1;
		return 0;
	}
	if (n->nchild < 1 || n->nchild > BP_MAX_TARGETS)
		return bp_cfg_fail(err, n, "must list between 1 and %d columns, got %d", BP_MAX_TARGETS, n->nchild);
	d->nlabel_columns = 0;
	for (struct bp_node *c = n->child; c; c = c->next) {
		if (bp_node_int(c, -MAX_COLUMN, MAX_COLUMN, &col, err))
			return -1;
		for (int i = 0; i < d->nlabel_columns; i++)
			if (d->label_column[i] == col)
				return bp_cfg_fail(err, c, "repeats column %ld", col);
		d->label_column[d->nlabel_columns++] = col;
	}
	return 0;
}

static int resolve_delimiter(struct bp_cfgctx *cx, struct bp_node *data, const struct bp_key *k,
                             struct bp_err *err)
{
	struct bp_node *n = bp_node_get(data, k->name);
	const char *s;
	if (!n && !(n = bp_cfg_add_scalar(data, k->name, ",", err)))
		return -1;
	if (bp_node_str(n, &s, err))
		return -1;
	char c = strcmp(s, "\\t") == 0 ? '\t' : s[0];
	if (c == '\0' || (s[1] && c != '\t'))
		return bp_cfg_fail(err, n, "must be one character, like ',' or \"\\t\", got '%s'", s);
	if (strchr("0123456789.+-eE\r\n", c))
		return bp_cfg_fail(err, n, "cannot be '%c': that character is part of numbers or lines", c);
	cx->cfg->data.delimiter = c;
	return 0;
}

/* data.shape: [C, H, W], or auto (what an absent key resolves to, as
 * normalize does: the dataset settles it from the IDX header, or (D,1,1)). */
static int resolve_shape(struct bp_cfgctx *cx, struct bp_node *data, const struct bp_key *k, struct bp_err *err)
{
	struct bp_data_cfg *d = &cx->cfg->data;
	struct bp_node *n = bp_node_get(data, k->name);
	long v[3];
	int i = 0;
	if (!n && !(n = bp_cfg_add_scalar(data, k->name, "auto", err)))
		return -1;
	bp_node_where(n, d->shape_where, sizeof d->shape_where);
	if (n->kind == BP_NODE_SCALAR && strcmp(n->value, "auto") == 0)
		return 0;
	if (n->kind != BP_NODE_LIST)
		return bp_cfg_fail(err, n, "must be a list [C, H, W] of three positive integers, or auto; got %s",
		                   n->kind == BP_NODE_MAP ? "a mapping" : n->value);
	if (n->nchild != 3)
		return bp_cfg_fail(err, n, "must list three sizes [C, H, W], got %d", n->nchild);
	for (struct bp_node *c = n->child; c; c = c->next)
		if (bp_node_int(c, 1, MAX_SIDE, &v[i++], err))
			return -1;
	if ((double)v[0] * (double)v[1] * (double)v[2] > INT_MAX)
		return bp_cfg_fail(err, n, "[%ld, %ld, %ld] has more than %d values per sample", v[0], v[1], v[2],
		                   INT_MAX);
	d->shape = (struct bp_shape){ (int)v[0], (int)v[1], (int)v[2] };
	return 0;
}

static const struct bp_key augment_keys[] = {
	BP_KINT("shift", data.augment.shift, 0, MAX_SIDE, "0"),
	BP_KBOOL("flip", data.augment.flip, "false"),
	BP_KEND,
};

/* data.augment: {shift, flip}, filled in as {shift: 0, flip: false} (off)
 * when absent. Checked against data.shape here when it is given; IDX data
 * without it is checked once the header is read. */
static int resolve_augment(struct bp_cfgctx *cx, struct bp_node *data, const struct bp_key *k, struct bp_err *err)
{
	struct bp_data_cfg *d = &cx->cfg->data;
	struct bp_node *n = bp_node_get(data, k->name);
	if (!n) {
		if (!(n = bp_node_new(BP_NODE_MAP, data->file, 0, 0)) || bp_node_set_key(n, k->name)) {
			bp_node_free(n);
			return bp_fail_oom(err, "the config", 64);
		}
		bp_node_append(data, n);
	}
	bp_node_where(n, d->augment_where, sizeof d->augment_where);
	if (bp_cfg_resolve_map(cx, n, augment_keys, NULL, err))
		return -1;
	bp_node_where(bp_node_get(n, "shift"), d->shift_where, sizeof d->shift_where);
	if (!bp_augment_on(&d->augment))
		return 0;
	if (d->shape.c > 0)
		return bp_augment_check(&d->augment, d->shape, d->augment_where, d->shift_where, err);
	if (d->format == BP_FMT_CSV)
		return bp_cfg_fail(err, n, "needs image samples, but CSV samples are flat (D, 1, 1); "
		                   "give them a shape with 'data.shape: [C, H, W]'");
	return 0;
}

static const struct bp_key data_keys[] = {
	BP_KCHOICE("format", data.format, NULL, bp_format_names),
	{ .name = "train", .type = BP_K_CUSTOM, .off = BP_OFF(data.train), .custom = resolve_fileset },
	{ .name = "test", .type = BP_K_CUSTOM, .off = BP_OFF(data.test), .custom = resolve_fileset },
	{ .name = "validation", .type = BP_K_CUSTOM, .off = BP_OFF(data.val), .custom = resolve_fileset },
	BP_KCUSTOM("normalize", resolve_normalize),
	BP_KCUSTOM("shape", resolve_shape),
	BP_KCUSTOM("augment", resolve_augment),
	{ .name = "label_column", .type = BP_K_CUSTOM, .custom = resolve_label_column, .only = "csv" },
	{ .name = "skip_rows", .type = BP_K_LONG, .off = BP_OFF(data.skip_rows), .max = 1e12, .dflt = "0",
	  .only = "csv" },
	{ .name = "header", .type = BP_K_BOOL, .off = BP_OFF(data.header), .dflt = "false", .only = "csv" },
	{ .name = "delimiter", .type = BP_K_CUSTOM, .custom = resolve_delimiter, .only = "csv" },
	BP_KEND,
};

int bp_cfg_resolve_data(struct bp_cfgctx *cx, struct bp_node *root, const struct bp_key *k, struct bp_err *err)
{
	struct bp_data_cfg *d = &cx->cfg->data;
	struct bp_node *n = bp_node_get(root, k->name);
	int fmt;
	if (!n)
		return bp_cfg_missing(err, root, k->name);
	if (bp_node_expect(n, BP_NODE_MAP, err))
		return -1;
	struct bp_node *f = bp_node_get(n, "format");
	if (!f && infer_format(n, err))
		return -1;
	if (bp_node_choice(bp_node_get(n, "format"), bp_format_names, &fmt, err))
		return -1;
	/* What the csv-only keys mean for idx data, should anyone look. */
	d->label_column[0] = -1;
	d->nlabel_columns = 1;
	d->delimiter = ',';
	d->format = (enum bp_data_format)fmt;
	return bp_cfg_resolve_map(cx, n, data_keys, bp_format_names[fmt], err);
}
