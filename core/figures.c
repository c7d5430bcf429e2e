#include "figures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

#define W 720.0

static const char *colour(int i) { return bp_svg_colours[i % BP_SVG_NCOLOURS]; }
static const char *dash(int i) { return bp_svg_dashes[(i / BP_SVG_NCOLOURS + i) % BP_SVG_NDASHES]; }

/* An x axis over epochs 0 .. epochs with integer ticks. */
static void epoch_axis(struct bp_svg_plot *p, int epochs)
{
	p->xa.lo = 0;
	p->xa.hi = epochs > 0 ? epochs : 1;
	p->xstep = bp_svg_nice_step(p->xa.hi / 6.0);
	if (p->xstep < 1)
		p->xstep = 1;
}

/* ---- layer diagnostics ------------------------------------------------ */

enum col { WEIGHT, GRAD, RATIO, DEAD };

static double col_of(const struct bp_layer_row *r, enum col c)
{
	return c == WEIGHT ? r->weight_rms : c == GRAD ? r->grad_rms : c == RATIO ? r->update_ratio : r->dead_fraction;
}

/* The distinct layer indices of the rows, ascending, with their types. */
static int layer_list(const struct bp_layer_row *rows, int n, int *idx, const char **type, int cap)
{
	int m = 0;
	for (int i = 0; i < n; i++) {
		int j = 0;
		while (j < m && idx[j] != rows[i].layer)
			j++;
		if (j < m || m == cap)
			continue;
		while (j > 0 && idx[j - 1] > rows[i].layer) {
			idx[j] = idx[j - 1];
			type[j] = type[j - 1];
			j--;
		}
		idx[j] = rows[i].layer;
		type[j] = rows[i].type;
		m++;
	}
	return m;
}

static bool layer_has(const struct bp_layer_row *rows, int n, int layer, enum col c)
{
	for (int i = 0; i < n; i++)
		if (rows[i].layer == layer && isfinite(col_of(&rows[i], c)))
			return true;
	return false;
}

static void layer_plot(FILE *f, const struct bp_layer_row *rows, int n, const int *idx, int m, enum col c,
                       struct bp_svg_plot *p, double *xs, double *ys)
{
	static const char *const titles[] = { "weight RMS", "gradient RMS", "update ratio |\xce\x94w|/|w|",
	                                      "dead ReLU units (fraction)" };
	static const char *const names[] = { "weight_rms", "grad_rms", "update_ratio", "dead_fraction" };
	double lo = INFINITY, hi = -INFINITY;
	for (int i = 0; i < n; i++) {
		double v = col_of(&rows[i], c);
		if (isfinite(v) && (c == DEAD || v > 0)) {
			lo = fmin(lo, v);
			hi = fmax(hi, v);
		}
	}
	bool any = lo <= hi;
	if (c == DEAD) {
		p->ya.lo = 0;
		p->ya.hi = 1;
		p->ystep = 0.25;
	} else {
		if (c == RATIO) {   /* the band is always in view */
			lo = fmin(any ? lo : 1e-4, 1e-4);
			hi = fmax(any ? hi : 1e-2, 1e-2);
		}
		bp_svg_log_range(&lo, &hi);
		p->ya.lo = lo;
		p->ya.hi = hi;
		p->ya.log = true;
		p->ystep = NAN;
	}
	bp_svg_plot_place(p);
	bp_svg_text(f, p->x, p->y - 8, "start", NULL, "%s", titles[c]);
	bp_svg_plot_begin(f, p, names[c], "epoch", NULL);
	if (c == RATIO)
		bp_svg_band(f, p, pow(10, -3.5), pow(10, -2.5), "\xe2\x89\x88 1e-3");
	for (int j = 0; j < m; j++) {
		int k = 0;
		for (int i = 0; i < n; i++)
			if (rows[i].layer == idx[j]) {
				xs[k] = rows[i].epoch;
				ys[k++] = col_of(&rows[i], c);
			}
		char label[96];
		snprintf(label, sizeof label, "layer %d %s", idx[j], names[c]);
		bp_svg_series(f, p, xs, ys, k, label, colour(j), dash(j), "epoch");
	}
	if (!any)
		bp_svg_text(f, p->x + p->w / 2, p->y + p->h / 2, "middle", "note", "no values");
	bp_svg_plot_end(f);
}

void bp_fig_layers(FILE *f, const struct bp_layer_row *rows, int n, int epochs, const char *name)
{
	int idx[256];
	const char *type[256];
	int m = layer_list(rows, n, idx, type, 256);
	bool dead = false;
	for (int j = 0; j < m; j++)
		dead = dead || layer_has(rows, n, idx[j], DEAD);
	int panels = dead ? 4 : 3;
	double ph = 150, row_h = ph + 70, top = 34;
	int legend_rows = (m + 3) / 4;
	double h = top + row_h * ((panels + 1) / 2) + 18.0 * legend_rows + 10;
	char title[512];
	snprintf(title, sizeof title, "%s: layer diagnostics", name);
	bp_svg_begin(f, W, h, title,
	             "Per layer and epoch: the RMS of the main weight tensor, of its gradient, the update ratio "
	             "(the customary 1e-3 shaded) on log axes, and the fraction of dead ReLU units",
	             NULL, false);
	double *xs = malloc(2 * (size_t)(n ? n : 1) * sizeof *xs);
	if (!xs) {
		bp_svg_text(f, 10, 20, "start", "note", "out of memory drawing the diagnostics");
		bp_svg_end(f);
		return;
	}
	for (int c = 0; c < panels; c++) {
		struct bp_svg_plot p = { .x = c % 2 ? 440 : 76, .y = top + row_h * (c / 2), .w = 264, .h = ph };
		epoch_axis(&p, epochs);
		layer_plot(f, rows, n, idx, m, (enum col)c, &p, xs, xs + n);
	}
	free(xs);
	double ly = top + row_h * ((panels + 1) / 2) + 4;
	for (int j = 0; j < m; j++) {
		char label[64];
		snprintf(label, sizeof label, "%d %s", idx[j], type[j]);
		bool trained = layer_has(rows, n, idx[j], WEIGHT);
		bp_svg_legend(f, 76 + (j % 4) * 160, ly + 18 * (j / 4), trained ? colour(j) : "#bbb", dash(j), label);
	}
	bp_svg_end(f);
}

/* ---- the confusion matrix --------------------------------------------- */

void bp_fig_confusion(FILE *f, const uint64_t *cm, int k, const char *name)
{
	double cs = k > 0 ? 440.0 / k : 40;
	cs = cs > 44 ? 44 : cs < 12 ? 12 : cs;
	double left = 64, top = 44, size = cs * k;
	char title[512];
	snprintf(title, sizeof title, "%s: confusion matrix of best.ckpt on the test set", name);
	bp_svg_begin(f, left + size + 16, top + size + 16, title,
	             "Rows are the true classes, columns the predicted ones; each cell shows its count and is "
	             "shaded by its share of the true class's samples", NULL, false);
	bp_svg_text(f, left + size / 2, 14, "middle", "axis-label", "predicted class");
	fprintf(f, "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" class=\"axis-label\" "
	           "transform=\"rotate(-90 16 %.1f)\">true class</text>\n", top + size / 2, top + size / 2);
	double font = cs * 0.42 < 12 ? cs * 0.42 : 12;
	for (int i = 0; i < k; i++) {
		bp_svg_text(f, left + cs * i + cs / 2, top - 8, "middle", "tick", "%d", i);
		bp_svg_text(f, left - 8, top + cs * i + cs / 2 + 4, "end", "tick", "%d", i);
	}
	fputs("<g class=\"confusion\">\n", f);
	for (int i = 0; i < k; i++) {
		uint64_t row = 0;
		for (int j = 0; j < k; j++)
			row += cm[(size_t)i * k + j];
		for (int j = 0; j < k; j++) {
			uint64_t c = cm[(size_t)i * k + j];
			double r = row ? (double)c / (double)row : 0;
			/* white to the palette's blue (0, 114, 178) */
			int cr = (int)lround(255 - 255 * r), cg = (int)lround(255 - 141 * r), cb = (int)lround(255 - 77 * r);
			double x = left + cs * j, y = top + cs * i;
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\" "
			           "stroke=\"#ddd\" data-true=\"%d\" data-pred=\"%d\" data-count=\"%llu\"><title>true %d, "
			           "predicted %d: %llu (%.1f%% of class %d)</title></rect>\n",
			        x, y, cs, cs, cr, cg, cb, i, j, (unsigned long long)c, i, j, (unsigned long long)c, 100 * r, i);
			if (c > 0)
				fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" style=\"font-size:%.1fpx;fill:%s\">"
				           "%llu</text>\n", x + cs / 2, y + cs / 2 + font * 0.35, font, r > 0.55 ? "#fff" : "#222",
				        (unsigned long long)c);
		}
	}
	fputs("</g>\n", f);
	bp_svg_end(f);
}

/* ---- several runs ----------------------------------------------------- */

void bp_fig_overlay(FILE *f, const struct bp_runview *const *runs, const char *const *labels, int n,
                    bool classification)
{
	int epochs = 1, rows = 0;
	for (int i = 0; i < n; i++) {
		if (runs[i]->cfg->train.epochs > epochs)
			epochs = runs[i]->cfg->train.epochs;
		rows = runs[i]->nrows > rows ? runs[i]->nrows : rows;
	}
	int panels = classification ? 2 : 1;
	double ph = 200, top = 40, row_h = ph + 64;
	int cols = 3;
	for (int i = 0; i < n; i++)
		if (strlen(labels[i]) > 26)
			cols = 1;
	int legend_rows = (n + cols - 1) / cols;
	double h = top + row_h * panels + 20.0 * legend_rows + 6;
	bp_svg_begin(f, W, h, "validation curves of the runs",
	             "The validation loss (and accuracy) per epoch of every run, one line each", NULL, false);
	bp_svg_text(f, 76, 22, "start", "title", "Validation curves");
	double *xs = malloc(2 * (size_t)(rows ? rows : 1) * sizeof *xs);
	for (int c = 0; xs && c < panels; c++) {
		bool acc = c == 1;
		struct bp_svg_plot p = { .x = 76, .y = top + row_h * c, .w = W - 76 - 24, .h = ph };
		epoch_axis(&p, epochs);
		double lo = INFINITY, hi = -INFINITY;
		for (int i = 0; i < n; i++)
			for (int r = 0; r < runs[i]->nrows; r++) {
				double v = acc ? runs[i]->rows[r].val_acc : runs[i]->rows[r].val_loss;
				if (isfinite(v)) {
					lo = fmin(lo, v);
					hi = fmax(hi, v);
				}
			}
		bool any = lo <= hi;
		if (!any)
			lo = hi = NAN;
		p.ystep = bp_svg_nice_range(&lo, &hi, 5);
		if (acc) {
			lo = fmax(lo, 0);
			hi = fmin(hi, 1);
		}
		p.ya.lo = lo;
		p.ya.hi = hi;
		bp_svg_plot_place(&p);
		bp_svg_plot_begin(f, &p, acc ? "val_accuracy" : "val_loss", "epoch",
		                  acc ? "validation accuracy" : "validation loss");
		for (int i = 0; i < n; i++) {
			int m = runs[i]->nrows;
			for (int r = 0; r < m; r++) {
				xs[r] = runs[i]->rows[r].epoch;
				xs[rows + r] = acc ? runs[i]->rows[r].val_acc : runs[i]->rows[r].val_loss;
			}
			bp_svg_series(f, &p, xs, xs + rows, m, labels[i], colour(i), dash(i), "epoch");
		}
		if (!any)
			bp_svg_text(f, p.x + p.w / 2, p.y + p.h / 2, "middle", "note", "no run has validation numbers");
		bp_svg_plot_end(f);
	}
	free(xs);
	double ly = top + row_h * panels + 8;
	for (int i = 0; i < n; i++)
		bp_svg_legend(f, 76 + (i % cols) * 210, ly + 20 * (i / cols), colour(i), dash(i), labels[i]);
	bp_svg_end(f);
}

void bp_fig_swatch(FILE *f, int i)
{
	fprintf(f, "<svg class=\"swatch\" width=\"30\" height=\"10\" viewBox=\"0 0 30 10\" aria-hidden=\"true\">"
	           "<line x1=\"2\" y1=\"5\" x2=\"28\" y2=\"5\" stroke=\"%s\" stroke-width=\"2.5\"", colour(i));
	if (*dash(i))
		fprintf(f, " stroke-dasharray=\"%s\"", dash(i));
	fputs("/></svg>", f);
}
