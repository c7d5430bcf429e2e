#include "window.h"

#include <stdlib.h>

#define WINDOW_MAX 1000000

int bp_window_pair(struct bp_node *spec, const char *key, const char *like, const char *dflt, int out[2],
                   struct bp_err *err)
{
	struct bp_node *n = bp_node_get(spec, key);
	const struct bp_node *src = like ? bp_node_get(spec, like) : NULL;
	if (!n && src) {
		if (!(n = bp_node_clone(src)) || bp_node_set_key(n, key)) {
			bp_node_free(n);
			return bp_fail_oom(err, "the config", sizeof *n);
		}
		bp_node_append(spec, n);
	}
	if (!n && !(n = bp_layer_default(spec, key, dflt, err)))
		return -1;
	long v[2];
	if (n->kind != BP_NODE_LIST) {
		if (bp_node_int(n, 1, WINDOW_MAX, &v[0], err))
			return -1;
		out[0] = out[1] = (int)v[0];
		return 0;
	}
	char path[256];
	if (n->nchild != 2)
		return bp_node_fail(err, BP_ERR_CONFIG, n, "'%s' must be an integer or a pair [height, width], "
		                    "got a list of %d", bp_node_path(n, path, sizeof path), n->nchild);
	if (bp_node_int(n->child, 1, WINDOW_MAX, &v[0], err) || bp_node_int(n->child->next, 1, WINDOW_MAX, &v[1], err))
		return -1;
	out[0] = (int)v[0];
	out[1] = (int)v[1];
	return 0;
}

int bp_window_padding(struct bp_node *spec, bool *same, struct bp_err *err)
{
	static const char *const names[] = { "valid", "same", NULL };
	const struct bp_node *p = bp_layer_default(spec, "padding", "valid", err);
	int i;
	if (!p || bp_node_choice(p, names, &i, err))
		return -1;
	*same = i == 1;
	return 0;
}

int bp_window_need_image(const struct bp_layer *l, const struct bp_node *spec, struct bp_err *err)
{
	if (!bp_shape_known(l->in) || l->in.h > 1 || l->in.w > 1)
		return 0;
	char path[256];
	return bp_node_fail(err, BP_ERR_CONFIG, spec,
	                    "%s layer '%s' needs an image input (C,H,W), but its input is flat (%d,1,1); "
	                    "give the data a shape (IDX images, or data.shape) or drop the layer",
	                    l->ops->type, bp_node_path(spec, path, sizeof path), l->in.c);
}

int bp_window_shape(struct bp_layer *l, const struct bp_node *spec, const char *what, const int k[2],
                    const int s[2], bool same, int channels, struct bp_window *g, struct bp_err *err)
{
	if (!bp_shape_known(l->in)) {
		l->out = BP_SHAPE_UNKNOWN;
		return 0;
	}
	if (bp_window_need_image(l, spec, err))
		return -1;
	struct bp_shape in = l->in;
	if (!bp_window_init(g, in.c, in.h, in.w, k[0], k[1], s[0], s[1], same)) {
		char path[256];
		return bp_node_fail(err, BP_ERR_CONFIG, spec, "%s layer '%s' has a %dx%d %s, larger than its %dx%d "
		                    "input (%d,%d,%d)", l->ops->type, bp_node_path(spec, path, sizeof path),
		                    k[0], k[1], what, in.h, in.w, in.c, in.h, in.w);
	}
	l->out = (struct bp_shape){ channels, g->oh, g->ow };
	return 0;
}

int bp_window_pool(struct bp_layer *l, struct bp_node *spec, struct bp_window *g, struct bp_err *err)
{
	int k[2], s[2];
	bool same;
	if (bp_window_pair(spec, "pool_size", NULL, "2", k, err)
	    || bp_window_pair(spec, "strides", "pool_size", "2", s, err) || bp_window_padding(spec, &same, err))
		return -1;
	return bp_window_shape(l, spec, "window", k, s, same, l->in.c, g, err);
}
