#include "curves.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "svg.h"

#define W 720.0
#define LEFT 78.0
#define RIGHT 24.0
#define TRAIN_COLOUR bp_svg_colours[0]
#define VAL_COLOUR bp_svg_colours[1]
#define VAL_DASH bp_svg_dashes[1]
#define LR_COLOUR bp_svg_colours[2]

enum column { TRAIN_LOSS, TRAIN_ACC, VAL_LOSS, VAL_ACC, LR };

static double cell(const struct bp_curve_row *r, enum column c)
{
	switch (c) {
	case TRAIN_LOSS: return r->train_loss;
	case TRAIN_ACC: return r->train_acc;
	case VAL_LOSS: return r->val_loss;
	case VAL_ACC: return r->val_acc;
	case LR: return r->lr;
	}
	return NAN;
}

int bp_curves_best(const struct bp_curves *c, double *value, const char **what)
{
	int best = -1;
	double bv = NAN;
	for (int i = 0; i < c->n; i++) {
		const struct bp_curve_row *r = &c->rows[i];
		bool has_val = !isnan(r->val_loss) || !isnan(r->val_acc);
		bool higher = has_val && c->best_metric == BP_METRIC_VAL_ACCURACY && !isnan(r->val_acc);
		double v = !has_val ? r->train_loss : higher ? r->val_acc : r->val_loss;
		if (isnan(v))
			continue;
		if (best < 0 || (higher ? v > bv : v < bv)) {
			best = i;
			bv = v;
			*what = !has_val ? "train_loss" : higher ? "val_accuracy" : "val_loss";
		}
	}
	*value = bv;
	return best;
}

struct panel {
	struct bp_svg_plot p;
	const char *name, *ylabel;
	enum column cols[2];
	int ncols;
};

/* The y range of the panel's columns over the rows (finite values only). */
static void y_range(const struct bp_curves *c, const struct panel *pn, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int i = 0; i < c->n; i++)
		for (int k = 0; k < pn->ncols; k++) {
			double v = cell(&c->rows[i], pn->cols[k]);
			if (isfinite(v)) {
				*lo = fmin(*lo, v);
				*hi = fmax(*hi, v);
			}
		}
	if (*lo > *hi)
		*lo = *hi = NAN;
}

static void draw_panel(FILE *f, const struct bp_curves *c, struct panel *pn, const double *xs, double *ys,
                       bool xlabel, int best, const char *best_what)
{
	bp_svg_plot_begin(f, &pn->p, pn->name, xlabel ? "epoch" : NULL, pn->ylabel);
	for (int k = 0; k < pn->ncols; k++) {
		enum column col = pn->cols[k];
		static const char *const names[] = { "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr" };
		bool val = col == VAL_LOSS || col == VAL_ACC;
		for (int i = 0; i < c->n; i++) {
			ys[i] = cell(&c->rows[i], col);
			if (isinf(ys[i])) {   /* an overflowed value: a marker at the top edge */
				double x = bp_svg_map(&pn->p.xa, xs[i]);
				fprintf(f, "<path d=\"M%.2f,%.2f l-4,7 h8 z\" fill=\"%s\"><title>epoch %d: %s %s</title></path>\n",
				        x, pn->p.y + 1, val ? VAL_COLOUR : TRAIN_COLOUR, c->rows[i].epoch, names[col],
				        ys[i] > 0 ? "inf" : "-inf");
			}
		}
		bp_svg_series(f, &pn->p, xs, ys, c->n, names[col],
		              col == LR ? LR_COLOUR : val ? VAL_COLOUR : TRAIN_COLOUR, val ? VAL_DASH : "", "epoch");
		if (best >= 0 && strcmp(names[col], best_what) == 0) {
			double x = bp_svg_map(&pn->p.xa, xs[best]), y = bp_svg_map(&pn->p.ya, ys[best]);
			fprintf(f, "<circle class=\"best-mark\" cx=\"%.2f\" cy=\"%.2f\" r=\"5.5\" fill=\"none\" stroke=\"#000\" "
			           "stroke-width=\"1.5\"/>\n", x, y);
			double ty = y - 10 < pn->p.y + 12 ? y + 20 : y - 10;
			bool right = x > pn->p.x + pn->p.w * 0.75;
			bp_svg_text(f, right ? x - 8 : x + 8, ty, right ? "end" : "start", "note", "best %.4g (epoch %d)",
			            ys[best], c->rows[best].epoch);
		}
	}
	if (best >= 0) {
		double x = bp_svg_map(&pn->p.xa, xs[best]);
		fprintf(f, "<line class=\"best\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, pn->p.y, x,
		        pn->p.y + pn->p.h);
	}
	if (c->n == 0)
		bp_svg_text(f, pn->p.x + pn->p.w / 2, pn->p.y + pn->p.h / 2, "middle", "note", "no epoch has finished yet");
	bp_svg_plot_end(f);
}

static bool lr_changes(const struct bp_curves *c)
{
	for (int i = 1; i < c->n; i++)
		if (c->rows[i].lr != c->rows[0].lr && !(isnan(c->rows[i].lr) && isnan(c->rows[0].lr)))
			return true;
	return false;
}

int bp_curves_svg(FILE *f, const struct bp_curves *c, bool standalone)
{
	double *xs = malloc(2 * (size_t)(c->n ? c->n : 1) * sizeof *xs);
	if (!xs)
		return -1;
	struct panel panels[3];
	int np = 0;
	panels[np++] = (struct panel){ .name = "loss", .ylabel = "loss", .cols = { TRAIN_LOSS, VAL_LOSS }, .ncols = 2 };
	if (c->classification)
		panels[np++] = (struct panel){ .name = "accuracy", .ylabel = "accuracy", .cols = { TRAIN_ACC, VAL_ACC },
		                               .ncols = 2 };
	if (lr_changes(c))
		panels[np++] = (struct panel){ .name = "lr", .ylabel = "learning rate", .cols = { LR }, .ncols = 1 };

	int xmax = c->epochs > 0 ? c->epochs : 1;
	for (int i = 0; i < c->n; i++)
		if (c->rows[i].epoch > xmax)
			xmax = c->rows[i].epoch;
	double xstep = bp_svg_nice_step(xmax / 8.0);
	if (xstep < 1)
		xstep = 1;
	double y = 62;
	for (int k = 0; k < np; k++) {
		struct panel *pn = &panels[k];
		double h = pn->cols[0] == LR ? 70 : k == 0 ? 210 : 170;
		pn->p = (struct bp_svg_plot){ .x = LEFT, .y = y, .w = W - LEFT - RIGHT, .h = h };
		pn->p.xa.lo = 0;
		pn->p.xa.hi = xmax;
		pn->p.xstep = xstep;
		double lo, hi;
		y_range(c, pn, &lo, &hi);
		if (pn->cols[0] == LR && isfinite(lo))
			lo = 0;
		pn->p.ystep = bp_svg_nice_range(&lo, &hi, pn->cols[0] == LR ? 2 : 5);
		if (pn->cols[0] == TRAIN_ACC) {
			lo = fmax(lo, 0);
			hi = fmin(hi, 1);
		}
		pn->p.ya.lo = lo;
		pn->p.ya.hi = hi;
		bp_svg_plot_place(&pn->p);
		y += h + (k + 1 < np ? 48 : 52);
	}

	double best_v = NAN;
	const char *best_what = "";
	int best = bp_curves_best(c, &best_v, &best_what);
	char title[512], desc[1024];
	snprintf(title, sizeof title, "%s: learning curves", c->name ? c->name : "run");
	int n = snprintf(desc, sizeof desc, "Training (solid) and validation (dashed) loss%s per epoch, %d of %d epochs",
	                 c->classification ? " and accuracy" : "", c->n ? c->rows[c->n - 1].epoch : 0, c->epochs);
	if (best >= 0 && n > 0 && (size_t)n < sizeof desc)
		snprintf(desc + n, sizeof desc - (size_t)n, "; best %s %.4g at epoch %d", best_what, best_v,
		         c->rows[best].epoch);
	bp_svg_begin(f, W, y, title, desc, standalone ? bp_svg_css : NULL, standalone);
	bp_svg_text(f, LEFT, 24, "start", "title", "%s", title);
	bp_svg_legend(f, LEFT, 46, TRAIN_COLOUR, "", "train");
	bp_svg_legend(f, LEFT + 100, 46, VAL_COLOUR, VAL_DASH, "validation");
	if (best >= 0)
		bp_svg_text(f, W - RIGHT, 46, "end", "note", "best %s %.4g at epoch %d of %d", best_what, best_v,
		            c->rows[best].epoch, c->epochs);
	for (int i = 0; i < c->n; i++)
		xs[i] = c->rows[i].epoch;
	for (int k = 0; k < np; k++)
		draw_panel(f, c, &panels[k], xs, xs + c->n, k == np - 1, best, best_what);
	free(xs);
	bp_svg_end(f);
	return 0;
}

int bp_curves_write(const char *path, const struct bp_curves *c, struct bp_err *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return bp_fail_oom(err, path, 65536);
	int drawn = bp_curves_svg(f, c, true);
	if (fclose(f) != 0 || drawn) {
		free(text);
		return bp_fail_oom(err, path, len);
	}
	int rc = bp_write_atomic(path, text, len, err);
	free(text);
	return rc;
}
