#include "svg.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

const char *const bp_svg_colours[BP_SVG_NCOLOURS] = {
	"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
};
const char *const bp_svg_dashes[BP_SVG_NDASHES] = { "", "7 4", "2 3", "9 3 2 3" };

const char bp_svg_css[] =
	"text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;"
	"font-size:12px;fill:#222}"
	".tick{font-size:11px;fill:#555}"
	".axis-label{font-size:12px;fill:#333}"
	".title{font-size:15px;font-weight:600}"
	".note{font-size:11px;fill:#444}"
	".grid{stroke:#e6e6e6;stroke-width:1}"
	".area{fill:#fff;stroke:#aaa;stroke-width:1}"
	".series{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}"
	".band{fill:#009E73;fill-opacity:.13}"
	".best{stroke:#444;stroke-width:1;stroke-dasharray:2 3}"
	".tip{fill-opacity:0}";

double bp_svg_map(const struct bp_svg_axis *a, double v)
{
	if (!isfinite(v) || (a->log && !(v > 0)))
		return NAN;
	double lo = a->lo, hi = a->hi;
	if (a->log) {
		v = log10(v);
		lo = log10(lo);
		hi = log10(hi);
	}
	if (!(hi > lo))
		return (a->p0 + a->p1) / 2;
	return a->p0 + (v - lo) / (hi - lo) * (a->p1 - a->p0);
}

double bp_svg_nice_step(double raw)
{
	if (!(raw > 0) || !isfinite(raw))
		return 1;
	double mag = pow(10, floor(log10(raw)));
	double f = raw / mag;
	double nice = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
	return nice * mag;
}

double bp_svg_nice_range(double *lo, double *hi, int target)
{
	if (!isfinite(*lo) || !isfinite(*hi) || *lo > *hi) {
		*lo = 0;
		*hi = 1;
	}
	if (*lo == *hi) {
		double pad = *lo == 0 ? 1 : fabs(*lo) * 0.1;
		*lo -= pad;
		*hi += pad;
	}
	double step = bp_svg_nice_step((*hi - *lo) / (target > 0 ? target : 5));
	*lo = floor(*lo / step + 1e-9) * step;
	*hi = ceil(*hi / step - 1e-9) * step;
	if (*hi <= *lo)
		*hi = *lo + step;
	return step;
}

void bp_svg_log_range(double *lo, double *hi)
{
	if (!(*lo > 0) || !isfinite(*lo) || !isfinite(*hi) || *lo > *hi) {
		*lo = 1e-3;
		*hi = 1;
		return;
	}
	double a = floor(log10(*lo) + 1e-9), b = ceil(log10(*hi) - 1e-9);
	if (b <= a)
		b = a + 1;
	*lo = pow(10, a);
	*hi = pow(10, b);
}

int bp_svg_ticks(double lo, double hi, double step, double *out, int cap)
{
	if (!(step > 0) || !(hi >= lo))
		return 0;
	double k0 = ceil(lo / step - 1e-6), k1 = floor(hi / step + 1e-6);
	int n = 0;
	for (double k = k0; k <= k1 && n < cap; k++) {
		double v = k * step;
		out[n++] = fabs(v) < step * 1e-9 ? 0.0 : v;
	}
	return n;
}

void bp_svg_tick_label(char *buf, size_t size, double v, double step)
{
	if (isnan(step)) {   /* a decade */
		int e = (int)lround(log10(v));
		if (e >= -2 && e <= 3)
			snprintf(buf, size, "%g", pow(10, e));
		else
			snprintf(buf, size, "1e%d", e);
		return;
	}
	int dec = step > 0 ? (int)-floor(log10(step) + 1e-9) : 0;
	if (dec < 0)
		dec = 0;
	if (fabs(v) >= 1e6 || dec > 6)
		snprintf(buf, size, "%.3g", v);
	else
		snprintf(buf, size, "%.*f", dec, v);
}

void bp_svg_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
				fputc(*s, f);
		}
	}
}

void bp_svg_begin(FILE *f, double w, double h, const char *title, const char *desc, const char *css,
                  bool standalone)
{
	if (standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f, "<svg%s viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\">\n",
	        standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "", w, h, w, h);
	fputs("<title>", f);
	bp_svg_escape(f, title);
	fputs("</title>\n<desc>", f);
	bp_svg_escape(f, desc);
	fputs("</desc>\n", f);
	if (css)
		fprintf(f, "<style>%s</style>\n", css);
	fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", w, h);
}

void bp_svg_end(FILE *f) { fputs("</svg>\n", f); }

void bp_svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
	if (anchor && strcmp(anchor, "start") != 0)
		fprintf(f, " text-anchor=\"%s\"", anchor);
	if (cls)
		fprintf(f, " class=\"%s\"", cls);
	fputc('>', f);
	bp_svg_escape(f, buf);
	fputs("</text>\n", f);
}

void bp_svg_plot_place(struct bp_svg_plot *p)
{
	p->xa.p0 = p->x;
	p->xa.p1 = p->x + p->w;
	p->ya.p0 = p->y + p->h;   /* up is larger */
	p->ya.p1 = p->y;
}

/* Grid line and label of one tick. */
static void tick(FILE *f, const struct bp_svg_plot *p, bool xaxis, double v, double step)
{
	char label[64];
	bp_svg_tick_label(label, sizeof label, v, step);
	if (xaxis) {
		double x = bp_svg_map(&p->xa, v);
		fprintf(f, "<line class=\"grid\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, p->y, x, p->y + p->h);
		bp_svg_text(f, x, p->y + p->h + 14, "middle", "tick", "%s", label);
	} else {
		double y = bp_svg_map(&p->ya, v);
		fprintf(f, "<line class=\"grid\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", p->x, y, p->x + p->w, y);
		bp_svg_text(f, p->x - 6, y + 4, "end", "tick", "%s", label);
	}
}

static void axis_ticks(FILE *f, const struct bp_svg_plot *p, bool xaxis)
{
	const struct bp_svg_axis *a = xaxis ? &p->xa : &p->ya;
	double t[64];
	if (a->log) {
		int d0 = (int)lround(log10(a->lo)), d1 = (int)lround(log10(a->hi));
		int every = (d1 - d0 + 5) / 6;
		for (int d = d0; d <= d1; d += every > 0 ? every : 1)
			tick(f, p, xaxis, pow(10, d), NAN);
		return;
	}
	double step = xaxis ? p->xstep : p->ystep;
	int n = bp_svg_ticks(a->lo, a->hi, step, t, 64);
	for (int i = 0; i < n; i++)
		tick(f, p, xaxis, t[i], step);
}

void bp_svg_plot_begin(FILE *f, const struct bp_svg_plot *p, const char *name, const char *xlabel,
                       const char *ylabel)
{
	fputs("<g class=\"plot\" data-name=\"", f);
	bp_svg_escape(f, name);
	fprintf(f, "\" data-x=\"%.17g %.17g %.17g %.17g\" data-y=\"%.17g %.17g %.17g %.17g %s\">\n", p->xa.lo,
	        p->xa.hi, p->xa.p0, p->xa.p1, p->ya.lo, p->ya.hi, p->ya.p0, p->ya.p1, p->ya.log ? "log" : "lin");
	fprintf(f, "<rect class=\"area\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>\n", p->x, p->y, p->w,
	        p->h);
	axis_ticks(f, p, true);
	axis_ticks(f, p, false);
	if (xlabel)
		bp_svg_text(f, p->x + p->w / 2, p->y + p->h + 30, "middle", "axis-label", "%s", xlabel);
	if (ylabel) {
		double x = p->x - 48, y = p->y + p->h / 2;
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"axis-label\" "
		           "transform=\"rotate(-90 %.1f %.1f)\">", x, y, x, y);
		bp_svg_escape(f, ylabel);
		fputs("</text>\n", f);
	}
}

void bp_svg_plot_end(FILE *f) { fputs("</g>\n", f); }

void bp_svg_band(FILE *f, const struct bp_svg_plot *p, double a, double b, const char *label)
{
	double ya = bp_svg_map(&p->ya, a), yb = bp_svg_map(&p->ya, b);
	if (isnan(ya) || isnan(yb))
		return;
	double top = fmax(fmin(ya, yb), p->y), bottom = fmin(fmax(ya, yb), p->y + p->h);
	if (bottom <= top)
		return;
	fprintf(f, "<rect class=\"band\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>\n", p->x, top, p->w,
	        bottom - top);
	if (label)
		bp_svg_text(f, p->x + 4, bottom - 3, "start", "note", "%s", label);
}

static void open_tag(FILE *f, const char *tag, const char *name, const char *colour, const char *dash)
{
	fprintf(f, "<%s class=\"series\" data-series=\"", tag);
	bp_svg_escape(f, name);
	fprintf(f, "\" stroke=\"%s\"", colour);
	if (dash && *dash)
		fprintf(f, " stroke-dasharray=\"%s\"", dash);
}

int bp_svg_series(FILE *f, const struct bp_svg_plot *p, const double *xs, const double *ys, int n,
                  const char *name, const char *colour, const char *dash, const char *tips)
{
	/* A run's first point waits until the next shows whether the run is a
	 * line or a lone dot. */
	int runs = 0, len = 0;
	double x0 = 0, y0 = 0;
	for (int i = 0; i <= n; i++) {
		double x = i < n ? bp_svg_map(&p->xa, xs[i]) : NAN, y = i < n ? bp_svg_map(&p->ya, ys[i]) : NAN;
		if (!isnan(x) && !isnan(y)) {
			if (len == 0) {
				x0 = x;
				y0 = y;
			} else if (len == 1) {
				open_tag(f, "polyline", name, colour, dash);
				fprintf(f, " points=\"%.2f,%.2f %.2f,%.2f", x0, y0, x, y);
			} else {
				fprintf(f, " %.2f,%.2f", x, y);
			}
			len++;
			continue;
		}
		if (len == 1) {
			open_tag(f, "circle", name, colour, NULL);
			fprintf(f, " style=\"fill:%s\" cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\"/>\n", colour, x0, y0);
		} else if (len > 1) {
			fputs("\"/>\n", f);
		}
		runs += len > 0;
		len = 0;
	}
	if (tips) {
		fputs("<g class=\"tips\">\n", f);
		for (int i = 0; i < n; i++) {
			double x = bp_svg_map(&p->xa, xs[i]), y = bp_svg_map(&p->ya, ys[i]);
			if (isnan(x) || isnan(y))
				continue;
			fprintf(f, "<circle class=\"tip\" fill=\"%s\" cx=\"%.2f\" cy=\"%.2f\" r=\"5\"><title>", colour, x, y);
			char buf[256];
			snprintf(buf, sizeof buf, "%s %g: %s %.6g", tips, xs[i], name ? name : "", ys[i]);
			bp_svg_escape(f, buf);
			fputs("</title></circle>\n", f);
		}
		fputs("</g>\n", f);
	}
	return runs;
}

void bp_svg_legend(FILE *f, double x, double y, const char *colour, const char *dash, const char *label)
{
	fprintf(f, "<line class=\"series\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"", x, y - 4,
	        x + 26, y - 4, colour);
	if (dash && *dash)
		fprintf(f, " stroke-dasharray=\"%s\"", dash);
	fputs("/>\n", f);
	bp_svg_text(f, x + 32, y, "start", NULL, "%s", label);
}
