/* Convolution and pooling kernels over NCHW batches, in forward/backward
 * pairs. The convolution is im2col over a block of m samples into one
 * GEMM per pass (through bp_sgemm, core/blas.c):
 *   forward  ycol (F, m·OH·OW) = W (F, K) · col (K, m·OH·OW),  K = C·kh·kw
 *   backward dW (F, K) += dycol · colᵀ,  dcol (K, m·OH·OW) = Wᵀ · dycol
 * with col2im scattering dcol back into dx; the block is the whole batch
 * unless its im2col matrix would outgrow L2 (BP_CONV_BLOCK). Nothing here
 * allocates: the callers hand in their scratch. On a CPU with AVX-512
 * (core/conv_avx512.c) im2col/col2im of stride 1 and 2×2/2 max pooling
 * run vectorised with the same results, and a forward with few taps
 * (C·kh·kw ≤ BP_CONV_DIRECT_K, a first layer) runs direct, without
 * im2col. */
#ifndef BP_CONV_H
#define BP_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "act.h"

/* A sliding window over a (C, H, W) input: size, strides, padding. */
struct bp_window {
	int c, h, w;         /* input */
	int kh, kw, sh, sw;  /* window and strides */
	int pt, pl;          /* padding at the top and left (the rest goes bottom/right) */
	int oh, ow;          /* output height and width */
};

/* Fills g for input (c, h, w): padding valid (same = false: no padding,
 * OH = ⌊(H − kh)/sh⌋ + 1) or same (OH = ⌈H/sh⌉, padded by
 * max((OH − 1)·sh + kh − H, 0) of which the extra pixel goes at the
 * bottom, as TF/Keras). False when the window is larger than the (padded)
 * input. */
bool bp_window_init(struct bp_window *g, int c, int h, int w, int kh, int kw, int sh, int sw, bool same);
static inline size_t bp_window_out(const struct bp_window *g) { return (size_t)g->oh * g->ow; }

/* col (C·kh·kw, n·OH·OW) from x (n, C, H, W); row (c·kh + i)·kw + j,
 * column s·OH·OW + oy·OW + ox holds x[s][c][oy·sh + i − pt][ox·sw + j − pl]
 * (0 outside). */
void bp_im2col(float *col, const float *x, const struct bp_window *g, int n);
/* dx (n, C, H, W) overwritten with the sum of the dcol (C·kh·kw, n·OH·OW)
 * entries that im2col copied from each pixel; dcol is clobbered (its
 * cells that im2col fills with padding may be zeroed). */
void bp_col2im(float *dx, float *dcol, const struct bp_window *g, int n);

/* The batch goes through the GEMMs in blocks of samples whose im2col
 * matrix holds at most BP_CONV_BLOCK floats (512 KB: it stays in L2 while
 * it is written and read); a block of one sample may exceed it. */
#define BP_CONV_BLOCK (1 << 17)
/* Output pixels per sample from which a block's GEMMs run per sample,
 * reading and writing NCHW in place (no transposing pass); below it one
 * GEMM covers the block through an (F, m·OH·OW) buffer. */
#define BP_CONV_PER_SAMPLE 512

/* Floats of scratch bp_conv_forward and bp_conv_backward need for n
 * samples and f filters: a block's im2col matrix and, below
 * BP_CONV_PER_SAMPLE, its GEMM output. */
size_t bp_conv_work(const struct bp_window *g, int f, int n);

/* y (n, F, OH, OW) = act(W (F, C·kh·kw) ⊛ x (n, C, H, W) + b (F)), b may
 * be NULL. work (bp_conv_work floats) is left holding the last block's
 * im2col, which bp_conv_backward reuses. */
void bp_conv_forward(float *y, float *work, const float *x, const float *w, const float *b, enum bp_act act,
                     const struct bp_window *g, int f, int n);
/* dw (F, C·kh·kw) and db (F, may be NULL) overwritten; dx (n, C, H, W)
 * overwritten, skipped when NULL. dy (n, F, OH, OW) is dL/dy, x the
 * forward's input and y its output: act's derivative is applied here (dy
 * is clobbered). work must be as the forward left it, and is clobbered. */
void bp_conv_backward(float *dx, float *dw, float *db, float *work, float *dy, const float *x, const float *y,
                      const float *w, enum bp_act act, const struct bp_window *g, int f, int n);

/* y (n, C, OH, OW) = the max of each window of x (n, C, H, W), padding
 * ignored; arg (n, C, OH, OW) = the arg-max's index in its (H, W) plane,
 * the first in row-major order on ties. */
void bp_maxpool_forward(float *y, int32_t *arg, const float *x, const struct bp_window *g, int n);
/* dx (n, C, H, W) overwritten: each dy goes to its window's arg-max. */
void bp_maxpool_backward(float *dx, const float *dy, const int32_t *arg, const struct bp_window *g, int n);

/* y (n, C, OH, OW) = the mean of each window's in-bounds pixels. */
void bp_avgpool_forward(float *y, const float *x, const struct bp_window *g, int n);
/* dx (n, C, H, W) overwritten. */
void bp_avgpool_backward(float *dx, const float *dy, const struct bp_window *g, int n);

/* y (n, C) = the mean over each (H·W = hw) plane of x (n, C, hw). */
void bp_gap_forward(float *y, const float *x, int n, int c, int hw);
/* dx (n, C, hw) overwritten with dy / hw. */
void bp_gap_backward(float *dx, const float *dy, int n, int c, int hw);

#endif
