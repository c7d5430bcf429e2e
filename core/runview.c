#include "runview.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "evaluate.h"
#include "files.h"
#include "metrics.h"
#include "model.h"

#define EVAL_BATCH 256

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- summary.json: the flat object train.c writes --------------------- */

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

/* A JSON string at s (after its quote) into buf; NULL when malformed. */
static const char *read_str(const char *s, char *buf, size_t size)
{
	size_t n = 0;
	for (; *s && *s != '"'; s++) {
		char c = *s;
		if (c == '\\') {
			s++;
			if (*s == 'u') {   /* kept as '?': only names carry such characters */
				for (int i = 0; i < 4; i++)
					if (!*++s)
						return NULL;
				c = '?';
			} else {
				c = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
				if (!c)
					return NULL;
			}
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	if (*s != '"')
		return NULL;
	buf[n] = '\0';
	return s + 1;
}

static int parse_summary(struct bp_run_summary *sm, const char *text)
{
	static const char *const keys[] = { "epochs_run", "best_epoch", "best_val_accuracy", "best_val_loss",
	                                    "test_loss", "test_accuracy", "seconds", NULL };
	double *vals[] = { &sm->epochs_run, &sm->best_epoch, &sm->best_val_accuracy, &sm->best_val_loss,
	                   &sm->test_loss, &sm->test_accuracy, &sm->seconds };
	for (int i = 0; keys[i]; i++)
		*vals[i] = NAN;
	sm->stopped[0] = '\0';
	const char *s = skip_ws(text);
	if (*s++ != '{')
		return -1;
	for (;;) {
		s = skip_ws(s);
		if (*s == '}')
			return 0;
		char key[64], str[256];
		if (*s != '"' || !(s = read_str(s + 1, key, sizeof key)))
			return -1;
		s = skip_ws(s);
		if (*s++ != ':')
			return -1;
		s = skip_ws(s);
		double v = NAN;
		str[0] = '\0';
		if (*s == '"') {
			if (!(s = read_str(s + 1, str, sizeof str)))
				return -1;
		} else if (strncmp(s, "null", 4) == 0) {
			s += 4;
		} else {
			char *end;
			v = strtod(s, &end);
			if (end == s)
				return -1;
			s = end;
		}
		for (int i = 0; keys[i]; i++)
			if (strcmp(key, keys[i]) == 0)
				*vals[i] = v;
		if (strcmp(key, "stopped") == 0)
			snprintf(sm->stopped, sizeof sm->stopped, "%s", str);
		s = skip_ws(s);
		if (*s == ',')
			s++;
		else if (*s != '}')
			return -1;
	}
}

static int load_summary(struct bp_runview *v, struct bp_err *err)
{
	char path[4200], *text;
	size_t len;
	snprintf(path, sizeof path, "%s/summary.json", v->dir);
	if (!exists(path)) {
		snprintf(v->no_summary, sizeof v->no_summary,
		         "no summary.json: the run is still training, or was killed before it ended; "
		         "the numbers above come from metrics.csv");
		/* What metrics.csv tells: the epochs so far and the best of them. */
		struct bp_run_summary *sm = &v->summary;
		sm->epochs_run = v->nrows ? v->rows[v->nrows - 1].epoch : 0;
		sm->best_epoch = sm->best_val_accuracy = sm->best_val_loss = NAN;
		sm->test_loss = sm->test_accuracy = sm->seconds = NAN;
		struct bp_curves c = { .rows = v->rows, .n = v->nrows, .best_metric = v->cfg->output.best_metric };
		double best;
		const char *what;
		int b = bp_curves_best(&c, &best, &what);
		if (b >= 0) {
			sm->best_epoch = v->rows[b].epoch;
			sm->best_val_accuracy = v->rows[b].val_acc;
			sm->best_val_loss = v->rows[b].val_loss;
		}
		return 0;
	}
	if (bp_read_file(path, &text, &len, BP_ERR_DATA, err))
		return -1;
	int rc = parse_summary(&v->summary, text);
	free(text);
	if (rc)
		return bp_fail(err, BP_ERR_DATA, path, "not a summary.json that bptrain writes");
	v->has_summary = true;
	return 0;
}

/* ---- layers.csv ------------------------------------------------------- */

/* The next comma-separated cell of *s, NUL-terminated in place. */
static char *next_cell(char **s)
{
	char *c = *s;
	if (!c)
		return NULL;
	char *comma = strchr(c, ',');
	if (comma) {
		*comma = '\0';
		*s = comma + 1;
	} else {
		*s = NULL;
	}
	return c;
}

static bool num_cell(const char *c, double *v)
{
	if (!c)
		return false;
	if (!*c || strcmp(c, "\r") == 0) {
		*v = NAN;
		return true;
	}
	char *end;
	*v = strtod(c, &end);
	return end != c && (!*end || strcmp(end, "\r") == 0);
}

static int load_layers(struct bp_runview *v, struct bp_err *err)
{
	char path[4200], *text;
	size_t len;
	snprintf(path, sizeof path, "%s/layers.csv", v->dir);
	if (!exists(path)) {
		snprintf(v->no_layers, sizeof v->no_layers, "no layers.csv: the run had output.diagnostics off");
		return 0;
	}
	if (bp_read_file(path, &text, &len, BP_ERR_DATA, err))
		return -1;
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	if (!(v->layers = malloc(cap * sizeof *v->layers))) {
		free(text);
		return bp_fail_oom(err, path, cap * sizeof *v->layers);
	}
	size_t hlen = strlen(bp_diag_header) - 1;
	int rc = 0, line = 0;
	for (char *s = text, *next; *s && rc == 0; s = next) {
		char *nl = strchr(s, '\n');
		next = nl ? nl + 1 : s + strlen(s);
		if (nl)
			*nl = '\0';
		if (++line == 1) {
			if (strncmp(s, bp_diag_header, hlen) != 0)
				rc = bp_fail(err, BP_ERR_DATA, path, "not a layers.csv: the first line is not its header");
			continue;
		}
		if (!*s)
			continue;
		struct bp_layer_row *r = &v->layers[v->nlayers];
		char *p = s, *type;
		double e, l;
		bool ok = num_cell(next_cell(&p), &e) && num_cell(next_cell(&p), &l) && (type = next_cell(&p))
		          && num_cell(next_cell(&p), &r->weight_rms) && num_cell(next_cell(&p), &r->grad_rms)
		          && num_cell(next_cell(&p), &r->update_ratio) && num_cell(next_cell(&p), &r->dead_fraction)
		          && !p && e >= 1 && e <= 1e9 && l >= 0 && l <= 1e6;
		if (!ok) {
			char where[4300];
			snprintf(where, sizeof where, "%s:%d", path, line);
			rc = bp_fail(err, BP_ERR_DATA, where, "not a layers.csv row");
			break;
		}
		r->epoch = (int)e;
		r->layer = (int)l;
		snprintf(r->type, sizeof r->type, "%s", type);
		v->nlayers++;
	}
	free(text);
	return rc;
}

/* ---- the confusion matrix of best.ckpt on the test split -------------- */

static void why(struct bp_runview *v, const char *what, const struct bp_err *e)
{
	if (e && e->where[0])
		snprintf(v->no_confusion, sizeof v->no_confusion, "%s: %s: %s", what, e->where, e->msg);
	else if (e)
		snprintf(v->no_confusion, sizeof v->no_confusion, "%s: %s", what, e->msg);
	else
		snprintf(v->no_confusion, sizeof v->no_confusion, "%s", what);
}

void bp_runview_confusion(struct bp_runview *v)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/best.ckpt", v->dir);
	if (v->cfg->loss != BP_LOSS_CROSS_ENTROPY) {
		why(v, "no confusion matrix: it is for cross_entropy classification, and this run's loss is ", NULL);
		strncat(v->no_confusion, bp_loss_names[v->cfg->loss], sizeof v->no_confusion - strlen(v->no_confusion) - 1);
		return;
	}
	if (!exists(path)) {
		why(v, "no confusion matrix: the run has no best.ckpt (no epoch finished)", NULL);
		return;
	}
	struct bp_err e = { 0 };
	struct bp_model m;
	if (bp_model_load(&m, path, EVAL_BATCH, &e)) {
		why(v, "no confusion matrix: best.ckpt could not be read", &e);
		return;
	}
	struct bp_dataset ds = { 0 };
	struct bp_batch b = { 0 };
	struct bp_label_spec spec;
	int k = (int)bp_net_out_width(m.net);
	if (!m.cfg->data.test.present) {
		why(v, "no confusion matrix: the run's config has no test set (data.test)", NULL);
	} else if (bp_model_label_spec(m.cfg, &spec, &e) || bp_dataset_load(&ds, &m.cfg->data.test, &m.cfg->data, &spec, &e)) {
		why(v, "no confusion matrix: the test data could not be read", &e);
	} else if (ds.d != bp_net_in_width(m.net)) {
		snprintf(v->no_confusion, sizeof v->no_confusion,
		         "no confusion matrix: the test samples have %zu features, the model takes %zu", ds.d,
		         bp_net_in_width(m.net));
	} else if (bp_model_check_labels(m.net, &ds, &e) || bp_batch_init(&b, EVAL_BATCH, ds.d, ds.k, &e)) {
		why(v, "no confusion matrix", &e);
	} else if (!(v->confusion = calloc((size_t)k * k, sizeof *v->confusion))) {
		why(v, "no confusion matrix: out of memory", NULL);
	} else {
		struct bp_stats s;
		bp_evaluate(m.net, &ds, &m.norm, NULL, 0, ds.n, &b, &s, v->confusion);
		v->k = k;
		v->ntest = ds.n;
	}
	bp_batch_release(&b);
	bp_dataset_release(&ds);
	bp_model_release(&m);
}

/* ---- the view --------------------------------------------------------- */

int bp_runview_load(struct bp_runview *v, const char *dir, struct bp_err *err)
{
	memset(v, 0, sizeof *v);
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n >= sizeof v->dir)
		return bp_fail(err, BP_ERR_DATA, dir, "path too long");
	memcpy(v->dir, dir, n);
	v->dir[n] = '\0';
	const char *base = strrchr(v->dir, '/');
	snprintf(v->label, sizeof v->label, "%.200s", base && base[1] ? base + 1 : v->dir);
	struct stat st;
	if (stat(v->dir, &st) != 0)
		return bp_fail(err, BP_ERR_DATA, v->dir, "not a run folder: %s", strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return bp_fail(err, BP_ERR_DATA, v->dir, "not a run folder: not a folder");
	char metrics[4200], config[4200];
	snprintf(metrics, sizeof metrics, "%s/metrics.csv", v->dir);
	snprintf(config, sizeof config, "%s/config.yaml", v->dir);
	if (!exists(metrics) || !exists(config))
		return bp_fail(err, BP_ERR_DATA, v->dir, "not a run folder: it has no %s",
		               exists(metrics) ? "config.yaml" : "metrics.csv");
	if (!(v->cfg = bp_config_load(config, NULL, 0, err))) {
		if (err && err->kind == BP_ERR_CONFIG)
			err->kind = BP_ERR_DATA;   /* a damaged run, not the user's config */
		return -1;
	}
	if (bp_metrics_read(metrics, &v->rows, &v->nrows, BP_ERR_DATA, err) || load_layers(v, err)
	    || load_summary(v, err)) {
		bp_runview_release(v);
		return -1;
	}
	snprintf(v->no_confusion, sizeof v->no_confusion, "no confusion matrix: not computed");
	return 0;
}

void bp_runview_release(struct bp_runview *v)
{
	bp_config_free(v->cfg);
	free(v->rows);
	free(v->layers);
	free(v->confusion);
	v->cfg = NULL;
	v->rows = NULL;
	v->layers = NULL;
	v->confusion = NULL;
}


double bp_runview_best(const struct bp_runview *v, bool *higher, const char **what)
{
	struct bp_curves c = { .rows = v->rows, .n = v->nrows, .best_metric = v->cfg->output.best_metric };
	double best = NAN;
	*what = "";
	if (bp_curves_best(&c, &best, what) < 0)
		best = NAN;
	*higher = strcmp(*what, "val_accuracy") == 0;
	return best;
}
