#include "conv.h"

#include <string.h>

#include "blas.h"
#include "conv_avx512.h"
#include "simd.h"

bool bp_window_init(struct bp_window *g, int c, int h, int w, int kh, int kw, int sh, int sw, bool same)
{
	*g = (struct bp_window){ .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh, .sw = sw };
	if (same) {
		g->oh = (int)(((long)h + sh - 1) / sh);
		g->ow = (int)(((long)w + sw - 1) / sw);
		long ph = (long)(g->oh - 1) * sh + kh - h, pw = (long)(g->ow - 1) * sw + kw - w;
		g->pt = ph > 0 ? (int)(ph / 2) : 0;
		g->pl = pw > 0 ? (int)(pw / 2) : 0;
		return true;   /* the padded input always holds a window */
	}
	if (kh > h || kw > w)
		return false;
	g->oh = (h - kh) / sh + 1;
	g->ow = (w - kw) / sw + 1;
	return true;
}

/* The output columns [*x0, *x1) whose window column j lies inside the
 * input; the rest read padding. */
static void inside_cols(const struct bp_window *g, int j, int *x0, int *x1)
{
	int lo = g->pl - j, hi = g->w - 1 - j + g->pl;   /* need lo ≤ ox·sw ≤ hi */
	int a = lo <= 0 ? 0 : (lo + g->sw - 1) / g->sw;
	int b = hi < 0 ? 0 : hi / g->sw + 1;
	if (b > g->ow)
		b = g->ow;
	if (a > b)
		a = b;
	*x0 = a;
	*x1 = b;
}

/* im2col for stride 1 with the output as wide as the input ('same'
 * padding): each row of col is, per sample, the input plane shifted by
 * one offset, so one long copy per sample, then the padded cells zeroed. */
BP_HOT static void im2col_shifted(float *restrict col, const float *restrict x, const struct bp_window *g, int n)
{
	const int w = g->w;
	size_t ohw = bp_window_out(g), len = ohw * (size_t)n, hw = (size_t)g->h * w;
	for (int c = 0; c < g->c; c++)
		for (int i = 0; i < g->kh; i++)
			for (int j = 0; j < g->kw; j++) {
				float *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * len;
				int x0, x1;
				inside_cols(g, j, &x0, &x1);
				int y0 = g->pt - i > 0 ? g->pt - i : 0, y1 = g->h + g->pt - i < g->oh ? g->h + g->pt - i : g->oh;
				long shift = (long)(i - g->pt) * w + (j - g->pl);   /* input index − output index */
				long a = (long)y0 * w, b = (long)(y1 > y0 ? y1 : y0) * w;
				if (a < -shift)
					a = -shift;
				if (b > (long)hw - shift)
					b = (long)hw - shift;
				if (b < a)
					b = a;
				for (int s = 0; s < n; s++) {
					float *dst = row + (size_t)s * ohw;
					const float *plane = x + ((size_t)s * g->c + c) * hw;
					memset(dst, 0, (size_t)a * sizeof *dst);
					memcpy(dst + a, plane + a + shift, (size_t)(b - a) * sizeof *dst);
					memset(dst + b, 0, (ohw - (size_t)b) * sizeof *dst);
					for (int oy = y0; oy < y1; oy++) {
						float *r = dst + (size_t)oy * w;
						for (int ox = 0; ox < x0; ox++)
							r[ox] = 0.0f;
						for (int ox = x1; ox < w; ox++)
							r[ox] = 0.0f;
					}
				}
			}
}

BP_HOT void bp_im2col(float *restrict col, const float *restrict x, const struct bp_window *g, int n)
{
	if (g->sh == 1 && g->sw == 1 && bp_have_avx512()) {
		bp_im2col_s1_avx512(col, x, g, n);
		return;
	}
	if (g->sh == 1 && g->sw == 1 && g->ow == g->w) {
		im2col_shifted(col, x, g, n);
		return;
	}
	size_t ohw = bp_window_out(g), len = ohw * (size_t)n, hw = (size_t)g->h * g->w;
	const int ow = g->ow, sw = g->sw;
	for (int c = 0; c < g->c; c++)
		for (int i = 0; i < g->kh; i++)
			for (int j = 0; j < g->kw; j++) {
				float *dst = col + ((size_t)(c * g->kh + i) * g->kw + j) * len;
				int x0, x1;
				inside_cols(g, j, &x0, &x1);
				int shift = x0 * sw + j - g->pl;   /* input column of output column x0 */
				for (int s = 0; s < n; s++) {
					const float *plane = x + ((size_t)s * g->c + c) * hw;
					for (int oy = 0; oy < g->oh; oy++, dst += ow) {
						int iy = oy * g->sh + i - g->pt;
						if (iy < 0 || iy >= g->h) {
							for (int ox = 0; ox < ow; ox++)
								dst[ox] = 0.0f;
							continue;
						}
						const float *restrict src = plane + (size_t)iy * g->w + shift;
						for (int ox = 0; ox < x0; ox++)
							dst[ox] = 0.0f;
						if (sw == 1)
							for (int ox = x0; ox < x1; ox++)
								dst[ox] = src[ox - x0];
						else
							for (int ox = x0; ox < x1; ox++)
								dst[ox] = src[(size_t)(ox - x0) * sw];
						for (int ox = x1; ox < ow; ox++)
							dst[ox] = 0.0f;
					}
				}
			}
}

/* col2im for the layout im2col_shifted reads: the padded cells of dcol
 * are zeroed (dcol is the caller's scratch), then each sample's row adds
 * onto the plane in one long run. */
BP_HOT static void col2im_shifted(float *restrict dx, float *restrict dcol, const struct bp_window *g, int n)
{
	const int w = g->w;
	size_t ohw = bp_window_out(g), len = ohw * (size_t)n, hw = (size_t)g->h * w;
	for (int c = 0; c < g->c; c++) {
		for (int s = 0; s < n; s++)
			memset(dx + ((size_t)s * g->c + c) * hw, 0, hw * sizeof *dx);
		for (int i = 0; i < g->kh; i++)
			for (int j = 0; j < g->kw; j++) {
				float *row = dcol + ((size_t)(c * g->kh + i) * g->kw + j) * len;
				int x0, x1;
				inside_cols(g, j, &x0, &x1);
				int y0 = g->pt - i > 0 ? g->pt - i : 0, y1 = g->h + g->pt - i < g->oh ? g->h + g->pt - i : g->oh;
				long shift = (long)(i - g->pt) * w + (j - g->pl);
				long a = (long)y0 * w, b = (long)(y1 > y0 ? y1 : y0) * w;
				if (a < -shift)
					a = -shift;
				if (b > (long)hw - shift)
					b = (long)hw - shift;
				for (int s = 0; s < n; s++) {
					float *restrict v = row + (size_t)s * ohw;
					for (int oy = y0; oy < y1; oy++) {
						float *r = v + (size_t)oy * w;
						for (int ox = 0; ox < x0; ox++)
							r[ox] = 0.0f;
						for (int ox = x1; ox < w; ox++)
							r[ox] = 0.0f;
					}
					float *restrict d = dx + ((size_t)s * g->c + c) * hw + shift;
					for (long t = a; t < b; t++)
						d[t] += v[t];
				}
			}
	}
}

BP_HOT void bp_col2im(float *restrict dx, float *restrict dcol, const struct bp_window *g, int n)
{
	if (g->sh == 1 && g->sw == 1 && bp_have_avx512()) {
		bp_col2im_s1_avx512(dx, dcol, g, n);
		return;
	}
	if (g->sh == 1 && g->sw == 1 && g->ow == g->w) {
		col2im_shifted(dx, dcol, g, n);
		return;
	}
	size_t ohw = bp_window_out(g), len = ohw * (size_t)n, hw = (size_t)g->h * g->w;
	const int ow = g->ow, sw = g->sw;
	for (int c = 0; c < g->c; c++) {
		for (int s = 0; s < n; s++)
			memset(dx + ((size_t)s * g->c + c) * hw, 0, hw * sizeof *dx);
		for (int i = 0; i < g->kh; i++)
			for (int j = 0; j < g->kw; j++) {
				const float *src = dcol + ((size_t)(c * g->kh + i) * g->kw + j) * len;
				int x0, x1;
				inside_cols(g, j, &x0, &x1);
				int shift = x0 * sw + j - g->pl;
				for (int s = 0; s < n; s++) {
					float *plane = dx + ((size_t)s * g->c + c) * hw;
					for (int oy = 0; oy < g->oh; oy++, src += ow) {
						int iy = oy * g->sh + i - g->pt;
						if (iy < 0 || iy >= g->h)
							continue;
						float *restrict d = plane + (size_t)iy * g->w + shift;
						const float *restrict v = src + x0;
						if (sw == 1)
							for (int t = 0; t < x1 - x0; t++)
								d[t] += v[t];
						else
							for (int t = 0; t < x1 - x0; t++)
								d[(size_t)t * sw] += v[t];
					}
				}
			}
	}
}

/* Σ v[0..len), in 16 interleaved partial sums (vectorisable). */
static float row_sum(const float *restrict v, size_t len)
{
	float acc[16] = { 0 };
	size_t i = 0;
	for (; i + 16 <= len; i += 16)
		for (int k = 0; k < 16; k++)
			acc[k] += v[i + k];
	float s = 0.0f;
	for (; i < len; i++)
		s += v[i];
	for (int k = 0; k < 16; k++)
		s += acc[k];
	return s;
}

/* Samples per block: as many as keep the block's im2col matrix within
 * BP_CONV_BLOCK floats (at least one). */
static int block_samples(const struct bp_window *g, int n)
{
	size_t per = (size_t)g->c * g->kh * g->kw * bp_window_out(g);
	size_t m = BP_CONV_BLOCK / per;
	if (m < 1)
		m = 1;
	return (int)(m < (size_t)n ? m : (size_t)n);
}

static bool per_sample(const struct bp_window *g) { return bp_window_out(g) >= BP_CONV_PER_SAMPLE; }

size_t bp_conv_work(const struct bp_window *g, int f, int n)
{
	size_t m = (size_t)block_samples(g, n), k = (size_t)g->c * g->kh * g->kw;
	return (k + (per_sample(g) ? 0 : (size_t)f)) * m * bp_window_out(g);
}

/* plane (OH·OW) = act(plane + bias), while it is in cache. */
static void bias_act(float *restrict plane, size_t ohw, float bias, enum bp_act act)
{
	if (bias != 0.0f)
		for (size_t p = 0; p < ohw; p++)
			plane[p] += bias;
	if (act != BP_ACT_LINEAR)
		bp_act_forward(act, plane, NULL, 1, (int)ohw);
}

/* The direct forward kernel (no im2col) serves convolutions of stride 1
 * with few taps on AVX-512; their backward rebuilds every block's im2col. */
static bool direct(const struct bp_window *g)
{
	return g->sh == 1 && g->sw == 1 && g->c * g->kh * g->kw <= BP_CONV_DIRECT_K && bp_have_avx512();
}

BP_HOT void bp_conv_forward(float *y, float *work, const float *x, const float *w, const float *b, enum bp_act act,
                            const struct bp_window *g, int f, int n)
{
	if (direct(g)) {
		bp_conv_direct_forward_avx512(y, x, w, b, act, g, f, n);
		return;
	}
	int k = g->c * g->kh * g->kw, bs = block_samples(g, n);
	size_t ohw = bp_window_out(g), in = (size_t)g->c * g->h * g->w;
	float *col = work, *ycol = work + (size_t)k * bs * ohw;
	for (int s0 = 0; s0 < n; s0 += bs) {
		int m = n - s0 < bs ? n - s0 : bs;
		size_t len = (size_t)m * ohw;
		float *yb = y + (size_t)s0 * f * ohw;
		bp_im2col(col, x + (size_t)s0 * in, g, m);
		if (per_sample(g)) {
			for (int s = 0; s < m; s++) {
				float *ys = yb + (size_t)s * f * ohw;
				bp_sgemm(false, false, f, (int)ohw, k, 1.0f, w, k, col + (size_t)s * ohw, (int)len, 0.0f, ys,
				         (int)ohw);
				for (int o = 0; o < f; o++)
					bias_act(ys + (size_t)o * ohw, ohw, b ? b[o] : 0.0f, act);
			}
			continue;
		}
		bp_sgemm(false, false, f, (int)len, k, 1.0f, w, k, col, (int)len, 0.0f, ycol, (int)len);
		/* (F, m·OH·OW) → (m, F, OH, OW), adding the bias, then the activation. */
		for (int s = 0; s < m; s++)
			for (int o = 0; o < f; o++) {
				float *restrict dst = yb + ((size_t)s * f + o) * ohw;
				const float *restrict src = ycol + (size_t)o * len + (size_t)s * ohw;
				float bias = b ? b[o] : 0.0f;
				for (size_t p = 0; p < ohw; p++)
					dst[p] = src[p] + bias;
				bias_act(dst, ohw, 0.0f, act);
			}
	}
}

BP_HOT void bp_conv_backward(float *dx, float *dw, float *db, float *work, float *dy, const float *x,
                             const float *y, const float *w, enum bp_act act, const struct bp_window *g, int f,
                             int n)
{
	int k = g->c * g->kh * g->kw, bs = block_samples(g, n);
	size_t ohw = bp_window_out(g), in = (size_t)g->c * g->h * g->w;
	float *col = work, *dycol = work + (size_t)k * bs * ohw;
	for (int o = 0; db && o < f; o++)
		db[o] = 0.0f;
	if (n == 0)
		memset(dw, 0, (size_t)f * k * sizeof *dw);
	/* Blocks last to first: the forward left the last block's im2col in
	 * col, the others are rebuilt (in cache). */
	int last = n > 0 ? (n - 1) / bs * bs : 0;
	for (int s0 = last; s0 >= 0 && n > 0; s0 -= bs) {
		int m = n - s0 < bs ? n - s0 : bs;
		size_t len = (size_t)m * ohw;
		float *dyb = dy + (size_t)s0 * f * ohw, beta = s0 == last ? 0.0f : 1.0f;
		if (s0 != last || direct(g))   /* the direct forward left no im2col */
			bp_im2col(col, x + (size_t)s0 * in, g, m);
		/* The activation's derivative and the bias gradient over the
		 * block's planes, each while it is in cache for the GEMMs. */
		for (size_t pl = 0; pl < (size_t)m * f; pl++) {
			float *plane = dyb + pl * ohw;
			if (act != BP_ACT_LINEAR)
				bp_act_backward(act, plane, y + (size_t)s0 * f * ohw + pl * ohw, 1, (int)ohw);
			if (db)
				db[pl % (size_t)f] += row_sum(plane, ohw);
		}
		if (per_sample(g)) {
			for (int s = 0; s < m; s++)
				bp_sgemm(false, true, f, k, (int)ohw, 1.0f, dyb + (size_t)s * f * ohw, (int)ohw,
				         col + (size_t)s * ohw, (int)len, s ? 1.0f : beta, dw, k);
			if (!dx)
				continue;
			for (int s = 0; s < m; s++)
				bp_sgemm(true, false, k, (int)ohw, f, 1.0f, w, k, dyb + (size_t)s * f * ohw, (int)ohw, 0.0f,
				         col + (size_t)s * ohw, (int)len);
		} else {
			for (int s = 0; s < m; s++)
				for (int o = 0; o < f; o++) {
					const float *restrict src = dyb + ((size_t)s * f + o) * ohw;
					float *restrict dst = dycol + (size_t)o * len + (size_t)s * ohw;
					for (size_t p = 0; p < ohw; p++)
						dst[p] = src[p];
				}
			bp_sgemm(false, true, f, k, (int)len, 1.0f, dycol, (int)len, col, (int)len, beta, dw, k);
			if (!dx)
				continue;
			bp_sgemm(true, false, k, (int)len, f, 1.0f, w, k, dycol, (int)len, 0.0f, col, (int)len);
		}
		bp_col2im(dx + (size_t)s0 * in, col, g, m);
	}
}

/* The in-bounds rows [*a, *b) of output row o's window (and likewise
 * for columns). */
static inline void window_span(int o, int stride, int pad, int k, int size, int *a, int *b)
{
	int lo = o * stride - pad, hi = lo + k;
	*a = lo < 0 ? 0 : lo;
	*b = hi > size ? size : hi;
}

/* The usual 2×2 window, stride 2, no padding: two input rows at a time,
 * branch-free (without AVX-512; bp_maxpool_2x2_avx512 otherwise). Not
 * cloned: its rows of 7 or 14 outputs are shorter than a vector, and the
 * baseline build measured 3× faster than the compiler's AVX-512 code. */
static void maxpool_2x2(float *restrict y, int32_t *restrict arg, const float *restrict x,
                        const struct bp_window *g, int n)
{
	const int w = g->w, ow = g->ow;
	size_t hw = (size_t)g->h * w;
	for (size_t pl = 0; pl < (size_t)n * g->c; pl++) {
		const float *plane = x + pl * hw;
		for (int oy = 0; oy < g->oh; oy++, y += ow, arg += ow) {
			const float *restrict r0 = plane + (size_t)(2 * oy) * w, *restrict r1 = r0 + w;
			int base = 2 * oy * w;
			for (int ox = 0; ox < ow; ox++) {
				float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
				int ia = base + 2 * ox;
				float m = a;
				int at = ia;
				at = b > m ? ia + 1 : at;
				m = b > m ? b : m;
				at = c > m ? ia + w : at;
				m = c > m ? c : m;
				at = d > m ? ia + w + 1 : at;
				m = d > m ? d : m;
				y[ox] = m;
				arg[ox] = at;
			}
		}
	}
}

BP_HOT void bp_maxpool_forward(float *y, int32_t *arg, const float *x, const struct bp_window *g, int n)
{
	if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->pt == 0 && g->pl == 0
	    && 2 * g->oh <= g->h && 2 * g->ow <= g->w) {
		if (bp_have_avx512())
			bp_maxpool_2x2_avx512(y, arg, x, (size_t)n * g->c, g->h, g->w, g->oh, g->ow);
		else
			maxpool_2x2(y, arg, x, g, n);
		return;
	}
	size_t hw = (size_t)g->h * g->w;
	for (size_t pl = 0; pl < (size_t)n * g->c; pl++) {
		const float *plane = x + pl * hw;
		for (int oy = 0; oy < g->oh; oy++) {
			int y0, y1;
			window_span(oy, g->sh, g->pt, g->kh, g->h, &y0, &y1);
			for (int ox = 0; ox < g->ow; ox++) {
				int x0, x1;
				window_span(ox, g->sw, g->pl, g->kw, g->w, &x0, &x1);
				int best = y0 * g->w + x0;
				float m = plane[best];
				for (int iy = y0; iy < y1; iy++)
					for (int ix = x0; ix < x1; ix++)
						if (plane[iy * g->w + ix] > m) {
							m = plane[iy * g->w + ix];
							best = iy * g->w + ix;
						}
				*y++ = m;
				*arg++ = best;
			}
		}
	}
}

/* Backward of maxpool_2x2: the windows tile the plane, so each pixel is
 * written once (its window's gradient or 0) instead of zeroed and then
 * added to. */
static void maxpool_2x2_backward(float *restrict dx, const float *restrict dy, const int32_t *restrict arg,
                                 const struct bp_window *g, int n)
{
	const int w = g->w, ow = g->ow;
	size_t hw = (size_t)g->h * w;
	for (size_t pl = 0; pl < (size_t)n * g->c; pl++) {
		float *plane = dx + pl * hw;
		for (int oy = 0; oy < g->oh; oy++, dy += ow, arg += ow) {
			float *restrict r0 = plane + (size_t)(2 * oy) * w, *restrict r1 = r0 + w;
			int base = 2 * oy * w;
			for (int ox = 0; ox < ow; ox++) {
				int at = arg[ox] - base - 2 * ox;   /* 0, 1, w or w + 1 */
				float d = dy[ox];
				r0[2 * ox] = at == 0 ? d : 0.0f;
				r0[2 * ox + 1] = at == 1 ? d : 0.0f;
				r1[2 * ox] = at == w ? d : 0.0f;
				r1[2 * ox + 1] = at == w + 1 ? d : 0.0f;
			}
			for (int x = 2 * ow; x < w; x++)   /* an odd width's last column */
				r0[x] = r1[x] = 0.0f;
		}
		for (size_t p = (size_t)(2 * g->oh) * w; p < hw; p++)   /* an odd height's last row */
			plane[p] = 0.0f;
	}
}

BP_HOT void bp_maxpool_backward(float *dx, const float *dy, const int32_t *arg, const struct bp_window *g, int n)
{
	if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->pt == 0 && g->pl == 0
	    && 2 * g->oh <= g->h && 2 * g->ow <= g->w) {
		if (bp_have_avx512())
			bp_maxpool_2x2_backward_avx512(dx, dy, arg, (size_t)n * g->c, g->h, g->w, g->oh, g->ow);
		else
			maxpool_2x2_backward(dx, dy, arg, g, n);
		return;
	}
	size_t hw = (size_t)g->h * g->w, ohw = bp_window_out(g);
	for (size_t pl = 0; pl < (size_t)n * g->c; pl++) {
		float *plane = dx + pl * hw;
		memset(plane, 0, hw * sizeof *plane);
		for (size_t p = 0; p < ohw; p++)
			plane[*arg++] += *dy++;
	}
}

BP_HOT void bp_avgpool_forward(float *y, const float *x, const struct bp_window *g, int n)
{
	size_t hw = (size_t)g->h * g->w;
	for (size_t pl = 0; pl < (size_t)n * g->c; pl++) {
		const float *plane = x + pl * hw;
		for (int oy = 0; oy < g->oh; oy++) {
			int y0, y1;
			window_span(oy, g->sh, g->pt, g->kh, g->h, &y0, &y1);
			for (int ox = 0; ox < g->ow; ox++) {
				int x0, x1;
				window_span(ox, g->sw, g->pl, g->kw, g->w, &x0, &x1);
				float s = 0.0f;
				for (int iy = y0; iy < y1; iy++)
					for (int ix = x0; ix < x1; ix++)
						s += plane[iy * g->w + ix];
				*y++ = s / (float)((y1 - y0) * (x1 - x0));
			}
		}
	}
}

BP_HOT void bp_avgpool_backward(float *dx, const float *dy, const struct bp_window *g, int n)
{
	size_t hw = (size_t)g->h * g->w;
	for (size_t pl = 0; pl < (size_t)n * g->c; pl++) {
		float *plane = dx + pl * hw;
		memset(plane, 0, hw * sizeof *plane);
		for (int oy = 0; oy < g->oh; oy++) {
			int y0, y1;
			window_span(oy, g->sh, g->pt, g->kh, g->h, &y0, &y1);
			for (int ox = 0; ox < g->ow; ox++) {
				int x0, x1;
				window_span(ox, g->sw, g->pl, g->kw, g->w, &x0, &x1);
				float d = *dy++ / (float)((y1 - y0) * (x1 - x0));
				for (int iy = y0; iy < y1; iy++)
					for (int ix = x0; ix < x1; ix++)
						plane[iy * g->w + ix] += d;
			}
		}
	}
}

BP_HOT void bp_gap_forward(float *y, const float *x, int n, int c, int hw)
{
	for (size_t pl = 0; pl < (size_t)n * c; pl++)
		y[pl] = row_sum(x + pl * (size_t)hw, (size_t)hw) / (float)hw;
}

BP_HOT void bp_gap_backward(float *dx, const float *dy, int n, int c, int hw)
{
	for (size_t pl = 0; pl < (size_t)n * c; pl++) {
		float d = dy[pl] / (float)hw, *restrict plane = dx + pl * (size_t)hw;
		for (int p = 0; p < hw; p++)
			plane[p] = d;
	}
}
