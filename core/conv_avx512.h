/* AVX-512 versions of the hottest convolution kernels (core/conv.c calls
 * them when the CPU has AVX-512F; the portable C is used otherwise). They
 * give the same results as the C versions they replace: the same max and
 * arg-max (first in row-major order on ties) for pooling. */
#ifndef BP_CONV_AVX512_H
#define BP_CONV_AVX512_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "act.h"

struct bp_window;

/* True when this build has the kernels and the CPU (and OS) run them. */
bool bp_have_avx512(void);

/* 2×2 max pooling, stride 2, no padding, over `planes` (H, W) planes
 * into (OH, OW) ones, 2·OH ≤ H and 2·OW ≤ W; arg as bp_maxpool_forward. */
void bp_maxpool_2x2_avx512(float *y, int32_t *arg, const float *x, size_t planes, int h, int w, int oh, int ow);
/* Its backward: dx overwritten, each pixel with its window's dy when it
 * is the arg-max, else 0 (rows and columns outside every window too). */
void bp_maxpool_2x2_backward_avx512(float *dx, const float *dy, const int32_t *arg, size_t planes, int h, int w,
                                    int oh, int ow);

/* bp_im2col for windows of stride 1 (any padding), each output row one
 * masked load and store per 16 columns. */
void bp_im2col_s1_avx512(float *col, const float *x, const struct bp_window *g, int n);
/* bp_col2im for stride 1: each input row's sum over the taps that read it
 * is built in registers, in the taps' order (the C version's sums, bit
 * for bit), and stored once; dcol is only read. */
void bp_col2im_s1_avx512(float *dx, const float *dcol, const struct bp_window *g, int n);

/* Direct forward convolution for stride 1 and at most BP_CONV_DIRECT_K =
 * C·kh·kw taps (a first layer on one or three channels), no im2col: per
 * 16 output columns the taps are loaded once and every filter is an FMA
 * chain over them, in tap order. (A direct dW kernel measured no faster
 * than im2col + GEMM: both are bound by reading dy and y.) */
#define BP_CONV_DIRECT_K 27
/* y (n, F, OH, OW) = act(W ⊛ x + b): bias added after the taps' sum, relu
 * in registers; any other act applied after, plane by plane. */
void bp_conv_direct_forward_avx512(float *y, const float *x, const float *w, const float *b, enum bp_act act,
                                   const struct bp_window *g, int f, int n);
#endif
