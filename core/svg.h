/* A small SVG writer for the pictures bptrain draws (curves.svg, the
 * report): escaped text, nice 1-2-5 ticks, plots with linear or log axes,
 * and series drawn as polylines that break at non-finite values.
 *
 * It writes to a FILE (an open_memstream buffer in practice, so a picture
 * is written whole through bp_write_atomic). Every plot's group carries its
 * axes as data attributes, data-x="LO HI P0 P1" and data-y="LO HI P0 P1
 * lin|log", so that a reader (the tests) can map a point's pixels back to
 * its value: v = LO + (px − P0)/(P1 − P0)·(HI − LO), in log10 for log. */
#ifndef BP_SVG_H
#define BP_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The Okabe-Ito palette (colour-blind safe), in the order series use it. */
#define BP_SVG_NCOLOURS 8
extern const char *const bp_svg_colours[BP_SVG_NCOLOURS];
/* Dash patterns ("" = solid) cycled with the colours as a second cue. */
#define BP_SVG_NDASHES 4
extern const char *const bp_svg_dashes[BP_SVG_NDASHES];

struct bp_svg_axis {
	double lo, hi;              /* data values at the ends (lo < hi; > 0 for log) */
	double p0, p1;              /* their pixel positions */
	bool log;                   /* log10 scale */
};

/* The pixel of v, or NaN when v cannot be placed (non-finite, ≤ 0 on log). */
double bp_svg_map(const struct bp_svg_axis *a, double v);

/* The nice step (1, 2 or 5 × 10^k) nearest above raw > 0. */
double bp_svg_nice_step(double raw);
/* Widens [*lo, *hi] to multiples of a nice step giving about target
 * intervals; an empty or one-value range becomes a small range around it
 * ([0, 1] when nothing is finite). Returns the step. */
double bp_svg_nice_range(double *lo, double *hi, int target);
/* The same on a log10 axis: whole decades around the positive range. */
void bp_svg_log_range(double *lo, double *hi);
/* The multiples of step inside [lo, hi] (with a little slack for
 * rounding), at most cap of them into out; returns how many. */
int bp_svg_ticks(double lo, double hi, double step, double *out, int cap);
/* v as a tick label: as many decimals as step needs ("0.25", "1e-05" on
 * log axes where step is NaN). */
void bp_svg_tick_label(char *buf, size_t size, double v, double step);

/* Text with &, <, >, " and ' escaped and control characters dropped. */
void bp_svg_escape(FILE *f, const char *s);

/* <svg> with a viewBox of w × h, role img, <title> and <desc> (escaped),
 * and css (not escaped; NULL = none) in a <style>. standalone adds the XML
 * declaration and the namespace a file needs. */
void bp_svg_begin(FILE *f, double w, double h, const char *title, const char *desc, const char *css,
                  bool standalone);
void bp_svg_end(FILE *f);
/* A <text> at (x, y); anchor "start", "middle" or "end"; cls may be NULL. */
void bp_svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* The CSS classes bp_svg_frame and bp_svg_series use. */
extern const char bp_svg_css[];

/* A plot: its area in pixels and its axes (set p->xa and p->ya's ranges,
 * then bp_svg_plot_place fills their pixel ends from the area). */
struct bp_svg_plot {
	double x, y, w, h;
	struct bp_svg_axis xa, ya;
	double xstep, ystep;        /* tick steps (NaN on log axes) */
};
void bp_svg_plot_place(struct bp_svg_plot *p);

/* Opens the plot's group (with its data-x/data-y) and draws the grid, the
 * tick labels and the axis labels (NULL = none). Close with bp_svg_plot_end. */
void bp_svg_plot_begin(FILE *f, const struct bp_svg_plot *p, const char *name, const char *xlabel,
                       const char *ylabel);
void bp_svg_plot_end(FILE *f);
/* A shaded band between y values a and b (clipped to the plot). */
void bp_svg_band(FILE *f, const struct bp_svg_plot *p, double a, double b, const char *label);

/* The series (xs[i], ys[i]), i < n: one polyline per run of points that
 * can be placed, a dot for a run of one; nothing for an empty series.
 * colour is a CSS colour, dash a stroke-dasharray ("" = solid); name
 * (escaped) goes into data-series. When tips is set, each point also gets
 * a hover title "LABEL x: y". Returns the number of polylines and dots. */
int bp_svg_series(FILE *f, const struct bp_svg_plot *p, const double *xs, const double *ys, int n,
                  const char *name, const char *colour, const char *dash, const char *tips);

/* A legend entry at (x, y): a short line in colour and dash, then label. */
void bp_svg_legend(FILE *f, double x, double y, const char *colour, const char *dash, const char *label);

#endif
