/* What the sliding-window layers (conv2d, max_pool2d, avg_pool2d) share in
 * their configuration: int-or-pair keys, the padding choice, and the
 * checks of the window against the layer's input shape. */
#ifndef BP_LAYERS_WINDOW_H
#define BP_LAYERS_WINDOW_H

#include <stdbool.h>

#include "../conv.h"
#include "../layer.h"

/* spec's key as an integer ≥ 1 or a pair [h, w] of them into out; when
 * absent, like (a copy of spec's key `like`, when not NULL) or dflt is
 * inserted as its default. */
int bp_window_pair(struct bp_node *spec, const char *key, const char *like, const char *dflt, int out[2],
                   struct bp_err *err);
/* spec's 'padding' (default valid): *same is true for 'same'. */
int bp_window_padding(struct bp_node *spec, bool *same, struct bp_err *err);
/* The window k (kh, kw), strides s over l->in into g, and l->out =
 * (channels, OH, OW). An input not known yet (see layer.h) is passed
 * through as unknown; a flat input, or a window larger than the (padded)
 * input, is a config error at spec; what names the window ("kernel"). */
int bp_window_shape(struct bp_layer *l, const struct bp_node *spec, const char *what, const int k[2],
                    const int s[2], bool same, int channels, struct bp_window *g, struct bp_err *err);
/* The flat-input check alone (global_avg_pool2d). */
/* A pooling layer's keys (pool_size 2, strides = pool_size, padding
 * valid) resolved into g, per channel of the input. */
int bp_window_pool(struct bp_layer *l, struct bp_node *spec, struct bp_window *g, struct bp_err *err);
int bp_window_need_image(const struct bp_layer *l, const struct bp_node *spec, struct bp_err *err);

#endif
