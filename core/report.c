#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "curves.h"
#include "figures.h"
#include "files.h"
#include "svg.h"

static const char page_css[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;color:#222;"
	"max-width:1120px;margin:24px auto;padding:0 16px;line-height:1.45;background:#fff}"
	"h1{font-size:1.55em;margin:.2em 0 .6em}"
	"h2{font-size:1.3em;border-top:2px solid #ddd;padding-top:.7em;margin-top:1.8em}"
	"h3{font-size:1.05em;margin:1.3em 0 .4em}"
	"table{border-collapse:collapse;margin:.4em 0 .8em}"
	"th,td{padding:3px 10px;border-bottom:1px solid #e4e4e4;text-align:right;font-variant-numeric:tabular-nums}"
	"th{background:#f3f3f3;font-weight:600}"
	".l{text-align:left}"
	".dir{font-size:.62em;color:#666;font-weight:normal;margin-left:.5em;word-break:break-all}"
	".missing{color:#6b3a00;background:#fff6e5;padding:.45em .8em;border-left:4px solid #E69F00;max-width:60em}"
	".figs{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}"
	"svg{max-width:100%;height:auto}"
	"tr.top td{font-weight:600}"
	"table.runs th{font-size:.88em}"
	"table.runs td.l{white-space:nowrap}"
	".swatch{vertical-align:middle}"
	"footer{margin-top:3em;color:#777;font-size:.85em}";

static void esc(FILE *f, const char *s) { bp_svg_escape(f, s); }

/* A number cell: "—" when NaN. */
static void num(FILE *f, double v, const char *fmt)
{
	fputs("<td>", f);
	if (isfinite(v))
		fprintf(f, fmt, v);
	else
		fputs("\xe2\x80\x94", f);
	fputs("</td>", f);
}

/* ---- config keys that differ between runs ----------------------------- */

struct kv {
	char key[256];
	const char *value;
};

struct kvlist {
	struct kv *v;
	int n, cap;
};

static int kv_add(struct kvlist *l, const char *key, const char *value)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		struct kv *v = realloc(l->v, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n].key, sizeof l->v[l->n].key, "%s", key);
	l->v[l->n++].value = value;
	return 0;
}

/* Every scalar of the tree as "a.b.0.c" = value. */
static int flatten(const struct bp_node *n, char *path, size_t len, struct kvlist *l)
{
	if (n->kind == BP_NODE_SCALAR)
		return kv_add(l, path, n->value ? n->value : "");
	if (!n->child)
		return kv_add(l, path, n->kind == BP_NODE_MAP ? "{}" : "[]");
	int i = 0;
	for (const struct bp_node *c = n->child; c; c = c->next, i++) {
		int w = n->kind == BP_NODE_MAP ? snprintf(path + len, 256 - len, "%s%s", len ? "." : "", c->key ? c->key : "")
		                               : snprintf(path + len, 256 - len, "%s%d", len ? "." : "", i);
		if (w > 0 && len + (size_t)w < 256 && flatten(c, path, len + (size_t)w, l))
			return -1;
		path[len] = '\0';
	}
	return 0;
}

static const char *kv_get(const struct kvlist *l, const char *key)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].value;
	return NULL;
}

struct diff {
	struct kvlist *runs;        /* each run's keys */
	struct kvlist keys;         /* the keys that differ (value unused) */
	char (*labels)[512];
};

static void diff_release(struct diff *d, int n)
{
	for (int i = 0; d->runs && i < n; i++)
		free(d->runs[i].v);
	free(d->runs);
	free(d->keys.v);
	free(d->labels);
}

/* The differing keys and the label of each run from them. */
static int diff_build(struct diff *d, const struct bp_runview *runs, int n, struct bp_err *err)
{
	memset(d, 0, sizeof *d);
	if (!(d->runs = calloc((size_t)n, sizeof *d->runs)) || !(d->labels = calloc((size_t)n, sizeof *d->labels)))
		return bp_fail_oom(err, "the report", (size_t)n * 512);
	char path[256] = "";
	for (int i = 0; i < n; i++)
		if (flatten(runs[i].cfg->root, path, 0, &d->runs[i]))
			return bp_fail_oom(err, "the report", 4096);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < d->runs[i].n; j++) {
			const char *key = d->runs[i].v[j].key;
			if (strcmp(key, "output.dir") == 0 || kv_get(&d->keys, key))
				continue;
			bool differs = false;
			for (int r = 0; r < n && !differs; r++) {
				const char *v = kv_get(&d->runs[r], key);
				differs = !v || strcmp(v, d->runs[i].v[j].value) != 0;
			}
			if (differs && kv_add(&d->keys, key, ""))
				return bp_fail_oom(err, "the report", 4096);
		}
	for (int i = 0; i < n; i++) {
		size_t len = 0;
		for (int k = 0; k < d->keys.n && len < sizeof d->labels[i]; k++) {
			const char *key = d->keys.v[k].key, *dot = strrchr(key, '.');
			const char *shortk = dot ? dot + 1 : key;
			for (int o = 0; o < d->keys.n; o++) {   /* the full key when the short one is ambiguous */
				const char *od = strrchr(d->keys.v[o].key, '.');
				if (o != k && strcmp(od ? od + 1 : d->keys.v[o].key, shortk) == 0)
					shortk = key;
			}
			const char *v = kv_get(&d->runs[i], key);
			int w = snprintf(d->labels[i] + len, sizeof d->labels[i] - len, "%s%s=%s", k ? ", " : "", shortk,
			                 v ? v : "(none)");
			len += w > 0 ? (size_t)w : 0;
		}
		if (d->keys.n == 0)
			snprintf(d->labels[i], sizeof d->labels[i], "%s", runs[i].label);
	}
	return 0;
}

/* ---- ordering --------------------------------------------------------- */

/* Whether run i goes before run j. */
static bool before(const struct bp_runview *runs, int i, int j)
{
	bool hi, hj;
	const char *wi, *wj;
	double vi = bp_runview_best(&runs[i], &hi, &wi), vj = bp_runview_best(&runs[j], &hj, &wj);
	int ri = isnan(vi) ? 2 : hi ? 0 : 1, rj = isnan(vj) ? 2 : hj ? 0 : 1;
	if (ri != rj)
		return ri < rj;
	if (ri < 2 && vi != vj)
		return hi ? vi > vj : vi < vj;
	return i < j;
}

void bp_report_order(const struct bp_runview *runs, int n, int *order)
{
	for (int i = 0; i < n; i++) {   /* insertion: a sweep is a few runs */
		int j = i;
		while (j > 0 && before(runs, i, order[j - 1])) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

/* ---- one run ---------------------------------------------------------- */

static void missing(FILE *f, const char *why)
{
	fputs("<p class=\"missing\">", f);
	esc(f, why);
	fputs("</p>\n", f);
}

static void summary_table(FILE *f, const struct bp_runview *v)
{
	const struct bp_run_summary *s = &v->summary;
	fputs("<table class=\"summary\"><tr><th class=\"l\">stopped</th><th>epochs</th><th>best epoch</th>"
	      "<th>best val accuracy</th><th>best val loss</th><th>test accuracy</th><th>test loss</th>"
	      "<th>seconds</th></tr>\n<tr><td class=\"l\">", f);
	esc(f, v->has_summary ? s->stopped : "(running or killed)");
	fputs("</td>", f);
	fprintf(f, "<td>%.0f of %d</td>", s->epochs_run, v->cfg->train.epochs);
	num(f, s->best_epoch, "%.0f");
	num(f, s->best_val_accuracy, "%.4f");
	num(f, s->best_val_loss, "%.4f");
	num(f, s->test_accuracy, "%.4f");
	num(f, s->test_loss, "%.4f");
	num(f, s->seconds, "%.1f");
	fputs("</tr></table>\n", f);
	if (!v->has_summary)
		missing(f, v->no_summary);
}

static void confusion_section(FILE *f, const struct bp_runview *v)
{
	fputs("<h3>Confusion matrix: best.ckpt on the test set</h3>\n", f);
	if (!v->confusion) {
		missing(f, v->no_confusion);
		return;
	}
	int k = v->k;
	uint64_t right = 0;
	for (int c = 0; c < k; c++)
		right += v->confusion[(size_t)c * k + c];
	fprintf(f, "<p>%llu test samples, accuracy %.4f. Rows are the true classes; each cell is shaded by its "
	           "share of its row.</p>\n<div class=\"figs\">\n",
	        (unsigned long long)v->ntest, v->ntest ? (double)right / (double)v->ntest : NAN);
	bp_fig_confusion(f, v->confusion, k, v->cfg->name);
	fputs("<table class=\"per-class\"><tr><th>class</th><th>samples</th><th>precision</th><th>recall</th></tr>\n", f);
	for (int c = 0; c < k; c++) {
		uint64_t tp = v->confusion[(size_t)c * k + c], pred = 0, truth = 0;
		for (int i = 0; i < k; i++) {
			pred += v->confusion[(size_t)i * k + c];
			truth += v->confusion[(size_t)c * k + i];
		}
		fprintf(f, "<tr><td>%d</td><td>%llu</td>", c, (unsigned long long)truth);
		num(f, pred ? (double)tp / (double)pred : NAN, "%.4f");
		num(f, truth ? (double)tp / (double)truth : NAN, "%.4f");
		fputs("</tr>\n", f);
	}
	fputs("</table>\n</div>\n", f);
}

static int run_section(FILE *f, const struct bp_runview *v, int id, const char *label)
{
	fprintf(f, "<section class=\"run\" id=\"run-%d\">\n<h2>", id);
	if (label)
		fprintf(f, "%d. ", id);
	esc(f, v->cfg->name);
	if (label) {
		fputs(": ", f);
		esc(f, label);
	}
	fputs("<span class=\"dir\">", f);
	esc(f, v->dir);
	fputs("</span></h2>\n", f);
	summary_table(f, v);
	fputs("<h3>Learning curves</h3>\n", f);
	struct bp_curves c = {
		.name = v->cfg->name, .rows = v->rows, .n = v->nrows, .epochs = v->cfg->train.epochs,
		.best_metric = v->cfg->output.best_metric, .classification = v->cfg->loss != BP_LOSS_MSE,
	};
	if (bp_curves_svg(f, &c, false))
		return -1;
	fputs("<h3>Layer diagnostics</h3>\n", f);
	if (v->layers) {
		fputs("<p>Per layer: the RMS of its main weight tensor at each epoch's end, the RMS of its gradient and "
		      "the ratio of its update to its weights averaged over the epoch's steps (around 1e-3, shaded, is "
		      "the usual rule of thumb: far below, the layer barely learns; far above, it may be unstable), and "
		      "the fraction of ReLU units that were zero for every training sample.</p>\n", f);
		bp_fig_layers(f, v->layers, v->nlayers, v->cfg->train.epochs, v->cfg->name);
	} else {
		missing(f, v->no_layers);
	}
	confusion_section(f, v);
	fputs("</section>\n", f);
	return 0;
}

/* ---- the page --------------------------------------------------------- */

static void runs_table(FILE *f, const struct bp_runview *runs, int n, const int *order, const struct diff *d)
{
	fputs("<table class=\"runs\"><tr><th>#</th><th class=\"l\">run</th>", f);
	for (int k = 0; k < d->keys.n; k++) {
		fputs("<th class=\"key\">", f);
		esc(f, d->keys.v[k].key);
		fputs("</th>", f);
	}
	fputs("<th>best val accuracy</th><th>best val loss</th><th>test accuracy</th><th>best epoch</th>"
	      "<th>epochs</th><th>seconds</th><th class=\"l\">stopped</th></tr>\n", f);
	for (int r = 0; r < n; r++) {
		int i = order[r];
		const struct bp_runview *v = &runs[i];
		fprintf(f, "<tr%s><td>%d</td><td class=\"l\">", r == 0 ? " class=\"top\"" : "", r + 1);
		bp_fig_swatch(f, r);
		fprintf(f, " <a href=\"#run-%d\">", r + 1);
		esc(f, v->label);
		fputs("</a></td>", f);
		for (int k = 0; k < d->keys.n; k++) {
			const char *val = kv_get(&d->runs[i], d->keys.v[k].key);
			fputs("<td class=\"key\">", f);
			esc(f, val ? val : "\xe2\x80\x94");
			fputs("</td>", f);
		}
		const struct bp_run_summary *s = &v->summary;
		num(f, s->best_val_accuracy, "%.4f");
		num(f, s->best_val_loss, "%.4f");
		num(f, s->test_accuracy, "%.4f");
		num(f, s->best_epoch, "%.0f");
		num(f, s->epochs_run, "%.0f");
		num(f, s->seconds, "%.1f");
		fputs("<td class=\"l\">", f);
		esc(f, v->has_summary ? s->stopped : "(no summary.json)");
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

int bp_report_html(FILE *f, struct bp_runview *runs, int n, const char *generator, struct bp_err *err)
{
	int *order = malloc((size_t)n * sizeof *order);
	const struct bp_runview **ordered = malloc((size_t)n * sizeof *ordered);
	const char **labels = malloc((size_t)n * sizeof *labels);
	struct diff d = { 0 };
	int rc = -1;
	if (!order || !ordered || !labels) {
		bp_fail_oom(err, "the report", (size_t)n * 24);
		goto out;
	}
	if (diff_build(&d, runs, n, err))
		goto out;
	bp_report_order(runs, n, order);
	bool classification = false;
	for (int r = 0; r < n; r++) {
		ordered[r] = &runs[order[r]];
		labels[r] = d.labels[order[r]];
		classification = classification || runs[r].cfg->loss != BP_LOSS_MSE;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>bptrain report: ", f);
	if (n == 1)
		esc(f, runs[0].cfg->name);
	else
		fprintf(f, "%d runs", n);
	fprintf(f, "</title>\n<style>%s%s</style>\n</head>\n<body>\n<h1>bptrain report: ", page_css, bp_svg_css);
	if (n == 1)
		esc(f, runs[0].cfg->name);
	else
		fprintf(f, "%d runs", n);
	fputs("</h1>\n", f);
	if (n > 1) {
		fputs("<h2>Runs, best first</h2>\n<p>Sorted by each run's best validation accuracy (its best validation "
		      "loss for regression); the columns between the run and the numbers are the config keys whose "
		      "values differ between the runs.</p>\n", f);
		runs_table(f, runs, n, order, &d);
		bp_fig_overlay(f, ordered, labels, n, classification);
	}
	for (int r = 0; r < n; r++)
		if (run_section(f, ordered[r], r + 1, n > 1 ? labels[r] : NULL)) {
			bp_fail_oom(err, "the report", 65536);
			goto out;
		}
	fputs("<footer>Written by ", f);
	esc(f, generator ? generator : "bptrain");
	fputs(". Hover over a point or a cell for its value.</footer>\n</body>\n</html>\n", f);
	rc = 0;
out:
	diff_release(&d, n);
	free(order);
	free(ordered);
	free(labels);
	return rc;
}

int bp_report_write(const char *out, char *const *dirs, int n, const char *generator, struct bp_err *err)
{
	struct bp_runview *runs = calloc((size_t)n, sizeof *runs);
	if (!runs)
		return bp_fail_oom(err, "the report", (size_t)n * sizeof *runs);
	int loaded = 0, rc = -1;
	char *text = NULL;
	size_t len = 0;
	/* Every folder is checked to be a run before any test set is evaluated. */
	for (; loaded < n; loaded++)
		if (bp_runview_load(&runs[loaded], dirs[loaded], err))
			goto out;
	for (int i = 0; i < n; i++)
		bp_runview_confusion(&runs[i]);
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		bp_fail_oom(err, out, 65536);
		goto out;
	}
	int drawn = bp_report_html(f, runs, n, generator, err);
	if (fclose(f) != 0) {
		if (!drawn)
			bp_fail_oom(err, out, len);
		goto out;
	}
	if (!drawn)
		rc = bp_write_atomic(out, text, len, err);
out:
	free(text);
	for (int i = 0; i < loaded; i++)
		bp_runview_release(&runs[i]);
	free(runs);
	return rc;
}
