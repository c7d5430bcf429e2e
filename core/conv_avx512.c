#include "conv_avx512.h"

#include <string.h>

#include "conv.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define BP_AVX512 1
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#endif

#ifdef BP_AVX512

bool bp_have_avx512(void)
{
	static int have = -1;
	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("avx512f") ? 1 : 0;
	}
	return have == 1;
}

/* The lanes [0, n) of a 16-lane mask, n clamped to [0, 16]. */
static inline __mmask16 lanes(int n)
{
	return n <= 0 ? 0 : n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
}

/* One pair of input rows, r0 and r0 + w, 32 columns (16 windows) at a
 * time: the vertical max of each column (r0 kept on ties), then of each
 * pair of columns, keeping the smaller plane index on ties. */
AVX512 void bp_maxpool_2x2_avx512(float *y, int32_t *arg, const float *x, size_t planes, int h, int w, int oh,
                                  int ow)
{
	const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	const __m512i vw = _mm512_set1_epi32(w), v16 = _mm512_set1_epi32(16);
	size_t hw = (size_t)h * w;
	for (size_t pl = 0; pl < planes; pl++) {
		const float *plane = x + pl * hw;
		for (int oy = 0; oy < oh; oy++, y += ow, arg += ow) {
			const float *r0 = plane + (size_t)(2 * oy) * w, *r1 = r0 + w;
			for (int x0 = 0; x0 < 2 * ow; x0 += 32) {
				int nin = 2 * ow - x0;
				__mmask16 lo = lanes(nin), hi = lanes(nin - 16);
				__m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + x0), a1 = _mm512_maskz_loadu_ps(hi, r0 + x0 + 16);
				__m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + x0), b1 = _mm512_maskz_loadu_ps(hi, r1 + x0 + 16);
				__m512i i0 = _mm512_add_epi32(_mm512_set1_epi32(2 * oy * w + x0), iota);
				__m512i i1 = _mm512_add_epi32(i0, v16);
				__mmask16 k0 = _mm512_cmp_ps_mask(b0, a0, _CMP_GT_OQ), k1 = _mm512_cmp_ps_mask(b1, a1, _CMP_GT_OQ);
				__m512 m0 = _mm512_mask_blend_ps(k0, a0, b0), m1 = _mm512_mask_blend_ps(k1, a1, b1);
				i0 = _mm512_mask_add_epi32(i0, k0, i0, vw);
				i1 = _mm512_mask_add_epi32(i1, k1, i1, vw);
				__m512 ve = _mm512_permutex2var_ps(m0, even, m1), vo = _mm512_permutex2var_ps(m0, odd, m1);
				__m512i ie = _mm512_permutex2var_epi32(i0, even, i1), io = _mm512_permutex2var_epi32(i0, odd, i1);
				__mmask16 pick = _mm512_cmp_ps_mask(vo, ve, _CMP_GT_OQ)
				                 | (_mm512_cmp_ps_mask(vo, ve, _CMP_EQ_OQ) & _mm512_cmplt_epi32_mask(io, ie));
				__mmask16 out = lanes(nin / 2);
				_mm512_mask_storeu_ps(y + x0 / 2, out, _mm512_mask_blend_ps(pick, ve, vo));
				_mm512_mask_storeu_epi32(arg + x0 / 2, out, _mm512_mask_blend_epi32(pick, ie, io));
			}
		}
	}
}

/* Each window's dy spread to its four pixels (two of each row), kept
 * where the pixel is the arg-max. */
AVX512 void bp_maxpool_2x2_backward_avx512(float *dx, const float *dy, const int32_t *arg, size_t planes, int h,
                                           int w, int oh, int ow)
{
	const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	const __m512i dup0 = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
	const __m512i dup1 = _mm512_add_epi32(dup0, _mm512_set1_epi32(8));
	const __m512i vw = _mm512_set1_epi32(w), v16 = _mm512_set1_epi32(16);
	size_t hw = (size_t)h * w;
	for (size_t pl = 0; pl < planes; pl++) {
		float *plane = dx + pl * hw;
		for (int oy = 0; oy < oh; oy++, dy += ow, arg += ow) {
			float *r0 = plane + (size_t)(2 * oy) * w, *r1 = r0 + w;
			for (int x0 = 0; x0 < 2 * ow; x0 += 32) {
				int nin = 2 * ow - x0;
				__mmask16 lo = lanes(nin), hi = lanes(nin - 16), in = lanes(nin / 2);
				__m512 d = _mm512_maskz_loadu_ps(in, dy + x0 / 2);
				__m512i a = _mm512_maskz_loadu_epi32(in, arg + x0 / 2);
				__m512 d0 = _mm512_permutexvar_ps(dup0, d), d1 = _mm512_permutexvar_ps(dup1, d);
				__m512i a0 = _mm512_permutexvar_epi32(dup0, a), a1 = _mm512_permutexvar_epi32(dup1, a);
				__m512i p0 = _mm512_add_epi32(_mm512_set1_epi32(2 * oy * w + x0), iota);
				__m512i p1 = _mm512_add_epi32(p0, v16);
				_mm512_mask_storeu_ps(r0 + x0, lo, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a0, p0), d0));
				_mm512_mask_storeu_ps(r0 + x0 + 16, hi, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a1, p1), d1));
				p0 = _mm512_add_epi32(p0, vw);
				p1 = _mm512_add_epi32(p1, vw);
				_mm512_mask_storeu_ps(r1 + x0, lo, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a0, p0), d0));
				_mm512_mask_storeu_ps(r1 + x0 + 16, hi, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a1, p1), d1));
			}
			for (int c = 2 * ow; c < w; c++)   /* an odd width's last column */
				r0[c] = r1[c] = 0.0f;
		}
		for (size_t p = (size_t)(2 * oh) * w; p < hw; p++)   /* an odd height's last row */
			plane[p] = 0.0f;
	}
}

/* The lanes t of a 16-column chunk starting at column c0 for which
 * lo ≤ c0 + t < hi. */
static inline __mmask16 span(int c0, int lo, int hi)
{
	return (__mmask16)(lanes(hi - c0) & ~lanes(lo - c0));
}

#define INLINE inline __attribute__((always_inline))

/* im2col's row of tap (c, i, j) for output rows of nch ≤ 4 chunks, stride
 * 1: the chunks' masks and the in-bounds rows [y0, y1) hoisted out of the
 * sample loop; inlined with nch = 1 for rows of at most 16. */
static INLINE AVX512 void im2col_tap(float *row, const float *x, const struct bp_window *g, int n, int c, int i,
                                     int j, int nch)
{
	const int w = g->w, ow = g->ow, oh = g->oh;
	size_t ohw = (size_t)oh * ow, hw = (size_t)g->h * w;
	const __m512 zero = _mm512_setzero_ps();
	int off = j - g->pl;
	int y0 = g->pt - i > 0 ? g->pt - i : 0, y1 = g->h + g->pt - i < oh ? g->h + g->pt - i : oh;
	if (y1 < y0)
		y1 = y0;
	__mmask16 m[4], out[4];
	for (int q = 0; q < nch; q++) {
		m[q] = span(16 * q, -off, w - off);
		out[q] = lanes(ow - 16 * q);
	}
	for (int s = 0; s < n; s++) {
		const char *src = (const char *)(x + ((size_t)s * g->c + c) * hw)
		                  + ((ptrdiff_t)(y0 + i - g->pt) * w + off) * 4;
		float *dst = row + (size_t)s * ohw;
		int oy = 0;
		for (; oy < y0; oy++)
			for (int q = 0; q < nch; q++)
				_mm512_mask_storeu_ps(dst + (size_t)oy * ow + 16 * q, out[q], zero);
		for (; oy < y1; oy++, src += (size_t)w * 4)
			for (int q = 0; q < nch; q++)
				_mm512_mask_storeu_ps(dst + (size_t)oy * ow + 16 * q, out[q],
				                      _mm512_maskz_loadu_ps(m[q], src + 64 * q));
		for (; oy < oh; oy++)
			for (int q = 0; q < nch; q++)
				_mm512_mask_storeu_ps(dst + (size_t)oy * ow + 16 * q, out[q], zero);
	}
}

AVX512 void bp_im2col_s1_avx512(float *col, const float *x, const struct bp_window *g, int n)
{
	const int w = g->w, ow = g->ow, oh = g->oh;
	size_t ohw = (size_t)oh * ow, len = ohw * (size_t)n, hw = (size_t)g->h * w;
	const __m512 zero = _mm512_setzero_ps();
	for (int c = 0; c < g->c; c++)
		for (int i = 0; i < g->kh; i++)
			for (int j = 0; j < g->kw; j++) {
				float *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * len;
				int off = j - g->pl, lo = -off, hi = w - off;   /* output columns [lo, hi) read the input */
				if (ow <= 16) {
					im2col_tap(row, x, g, n, c, i, j, 1);
					continue;
				}
				if (ow <= 64) {
					im2col_tap(row, x, g, n, c, i, j, (ow + 15) / 16);
					continue;
				}
				for (int s = 0; s < n; s++) {
					const float *plane = x + ((size_t)s * g->c + c) * hw;
					float *dst = row + (size_t)s * ohw;
					for (int oy = 0; oy < oh; oy++, dst += ow) {
						int iy = oy * g->sh + i - g->pt;
						if (iy < 0 || iy >= g->h) {
							for (int o0 = 0; o0 < ow; o0 += 16)
								_mm512_mask_storeu_ps(dst + o0, lanes(ow - o0), zero);
							continue;
						}
						/* lane t of chunk o0 reads input column o0 + t + off (masked off outside) */
						const float *src = plane + (size_t)iy * w;
						for (int o0 = 0; o0 < ow; o0 += 16) {
							__mmask16 m = span(o0, lo, hi);
							__m512 v = _mm512_maskz_loadu_ps(m, (const char *)src + (ptrdiff_t)(o0 + off) * 4);
							_mm512_mask_storeu_ps(dst + o0, lanes(ow - o0), v);
						}
					}
				}
			}
}

/* col2im for input rows of at most 16 and kw ≤ 16: one vector a row, the
 * taps' masks hoisted; inlined with kh = kw = 3 for the usual kernel. */
static INLINE AVX512 void col2im_row16(float *dx, const float *dcol, const struct bp_window *g, int n, int kh,
                                       int kw)
{
	const int w = g->w, ow = g->ow, oh = g->oh;
	size_t ohw = (size_t)oh * ow, len = ohw * (size_t)n, hw = (size_t)g->h * w;
	__mmask16 mj[16], out = lanes(w);
	for (int j = 0; j < kw; j++)   /* lane t (input column t) gets output column t + pl − j */
		mj[j] = span(0, j - g->pl, ow + j - g->pl) & out;
	for (int s = 0; s < n; s++)
		for (int c = 0; c < g->c; c++) {
			float *plane = dx + ((size_t)s * g->c + c) * hw;
			const char *taps = (const char *)(dcol + (size_t)c * kh * kw * len + (size_t)s * ohw);
			for (int iy = 0; iy < g->h; iy++) {
				__m512 acc = _mm512_setzero_ps();
				for (int i = 0; i < kh; i++) {
					int oy = iy + g->pt - i;
					if (oy < 0 || oy >= oh)
						continue;
					for (int j = 0; j < kw; j++)
						acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(
						                             mj[j], taps + ((ptrdiff_t)((size_t)(i * kw + j) * len)
						                                            + (ptrdiff_t)oy * ow + g->pl - j) * 4));
				}
				_mm512_mask_storeu_ps(plane + (size_t)iy * w, out, acc);
			}
		}
}

AVX512 void bp_col2im_s1_avx512(float *dx, const float *dcol, const struct bp_window *g, int n)
{
	const int w = g->w, ow = g->ow, oh = g->oh, kh = g->kh, kw = g->kw;
	size_t ohw = (size_t)oh * ow, len = ohw * (size_t)n, hw = (size_t)g->h * w;
	if (w <= 16 && kh == 3 && kw == 3) {
		col2im_row16(dx, dcol, g, n, 3, 3);
		return;
	}
	if (w <= 16 && kw <= 16) {
		col2im_row16(dx, dcol, g, n, kh, kw);
		return;
	}
	for (int s = 0; s < n; s++)
		for (int c = 0; c < g->c; c++) {
			float *plane = dx + ((size_t)s * g->c + c) * hw;
			const float *taps = dcol + (size_t)c * kh * kw * len + (size_t)s * ohw;
			for (int iy = 0; iy < g->h; iy++)
				for (int x0 = 0; x0 < w; x0 += 16) {
					__m512 acc = _mm512_setzero_ps();
					for (int i = 0; i < kh; i++) {
						int oy = iy + g->pt - i;
						if (oy < 0 || oy >= oh)
							continue;
						for (int j = 0; j < kw; j++) {
							/* lane t (input column x0 + t) gets output column x0 + t + pl − j */
							int shift = g->pl - j;
							__mmask16 m = span(x0, -shift, ow - shift) & lanes(w - x0);
							const float *v = taps + (size_t)(i * kw + j) * len + (size_t)oy * ow;
							acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(
							                             m, (const char *)v + (ptrdiff_t)(x0 + shift) * 4));
						}
					}
					_mm512_mask_storeu_ps(plane + (size_t)iy * w + x0, lanes(w - x0), acc);
				}
		}
}

/* The K tap vectors of output row oy, columns [o0, o0 + 16): lane t of
 * tap (c, i, j) holds x[c][oy·sh + i − pt][o0 + t + j − pl], 0 outside. */
static INLINE AVX512 void load_taps(__m512 *t, const float *x, const struct bp_window *g, int nc, int kh, int kw,
                                    int oy, int o0)
{
	size_t hw = (size_t)g->h * g->w;
	int k = 0;
	for (int c = 0; c < nc; c++)
		for (int i = 0; i < kh; i++) {
			int iy = oy * g->sh + i - g->pt;
			for (int j = 0; j < kw; j++, k++) {
				int off = j - g->pl;
				if (iy < 0 || iy >= g->h) {
					t[k] = _mm512_setzero_ps();
					continue;
				}
				const char *src = (const char *)(x + c * hw + (size_t)iy * g->w);
				t[k] = _mm512_maskz_loadu_ps(span(o0, -off, g->w - off) & lanes(g->ow - o0),
				                             src + (ptrdiff_t)(o0 + off) * 4);
			}
		}
}

static INLINE AVX512 void direct_forward(float *y, const float *x, const float *w, const float *b, enum bp_act act,
                                         const struct bp_window *g, int f, int n, int nc, int kh, int kw)
{
	const int k = nc * kh * kw, ow = g->ow;
	size_t ohw = (size_t)g->oh * ow, in = (size_t)g->c * g->h * g->w;
	const bool relu = act == BP_ACT_RELU;
	const __m512 zero = _mm512_setzero_ps();
	__m512 t[BP_CONV_DIRECT_K];
	for (int s = 0; s < n; s++) {
		const float *xs = x + (size_t)s * in;
		float *ys = y + (size_t)s * f * ohw;
		for (int oy = 0; oy < g->oh; oy++)
			for (int o0 = 0; o0 < ow; o0 += 16) {
				load_taps(t, xs, g, nc, kh, kw, oy, o0);
				__mmask16 out = lanes(ow - o0);
				float *dst = ys + (size_t)oy * ow + o0;
				for (int o = 0; o < f; o++, dst += ohw) {
					const float *wo = w + (size_t)o * k;
					__m512 acc = _mm512_mul_ps(_mm512_set1_ps(wo[0]), t[0]);
					for (int q = 1; q < k; q++)
						acc = _mm512_fmadd_ps(_mm512_set1_ps(wo[q]), t[q], acc);
					if (b)
						acc = _mm512_add_ps(acc, _mm512_set1_ps(b[o]));
					if (relu)
						acc = _mm512_max_ps(acc, zero);   /* NaN → 0, as bp_act_forward */
					_mm512_mask_storeu_ps(dst, out, acc);
				}
			}
		if (act != BP_ACT_LINEAR && !relu)
			bp_act_forward(act, ys, NULL, f, (int)ohw);
	}
}

/* The kernel unrolled for one channel and 3×3 (a first layer on
 * grey-scale images), else with the loop bounds at run time. */
AVX512 void bp_conv_direct_forward_avx512(float *y, const float *x, const float *w, const float *b, enum bp_act act,
                                          const struct bp_window *g, int f, int n)
{
	if (g->c == 1 && g->kh == 3 && g->kw == 3)
		direct_forward(y, x, w, b, act, g, f, n, 1, 3, 3);
	else
		direct_forward(y, x, w, b, act, g, f, n, g->c, g->kh, g->kw);
}

#else

bool bp_have_avx512(void) { return false; }

void bp_maxpool_2x2_avx512(float *y, int32_t *arg, const float *x, size_t planes, int h, int w, int oh, int ow)
{
	(void)y, (void)arg, (void)x, (void)planes, (void)h, (void)w, (void)oh, (void)ow;
}

void bp_maxpool_2x2_backward_avx512(float *dx, const float *dy, const int32_t *arg, size_t planes, int h, int w,
                                    int oh, int ow)
{
	(void)dx, (void)dy, (void)arg, (void)planes, (void)h, (void)w, (void)oh, (void)ow;
}

void bp_im2col_s1_avx512(float *col, const float *x, const struct bp_window *g, int n)
{
	(void)col, (void)x, (void)g, (void)n;
}

void bp_col2im_s1_avx512(float *dx, const float *dcol, const struct bp_window *g, int n)
{
	(void)dx, (void)dcol, (void)g, (void)n;
}

void bp_conv_direct_forward_avx512(float *y, const float *x, const float *w, const float *b, enum bp_act act,
                                   const struct bp_window *g, int f, int n)
{
	(void)y, (void)x, (void)w, (void)b, (void)act, (void)g, (void)f, (void)n;
}

#endif
