#include "layer.h"

#include <stdlib.h>
#include <string.h>

const struct bp_layer_ops *const bp_layer_kinds[] = {
	&bp_layer_dense, &bp_layer_conv2d, &bp_layer_max_pool2d, &bp_layer_avg_pool2d, &bp_layer_global_avg_pool2d,
	&bp_layer_batch_norm, &bp_layer_flatten, &bp_layer_dropout, NULL,
};

int bp_layer_find(const struct bp_node *spec, const struct bp_layer_ops **ops, struct bp_err *err)
{
	const char *names[sizeof bp_layer_kinds / sizeof bp_layer_kinds[0]];
	int k = 0;
	for (; bp_layer_kinds[k]; k++)
		names[k] = bp_layer_kinds[k]->type;
	names[k] = NULL;
	if (bp_node_expect(spec, BP_NODE_MAP, err))
		return -1;
	const struct bp_node *type = bp_node_get(spec, "type");
	if (!type) {
		char path[256], list[256];
		return bp_node_fail(err, BP_ERR_CONFIG, spec, "'%s' needs a 'type' (%s)",
		                    bp_node_path(spec, path, sizeof path), bp_join_names(names, list, sizeof list));
	}
	int i;
	if (bp_node_choice(type, names, &i, err))
		return -1;
	*ops = bp_layer_kinds[i];
	return 0;
}

int bp_layer_spec_resolve(struct bp_node *spec, struct bp_shape in, struct bp_shape *out, size_t *nparam,
                          struct bp_err *err)
{
	return bp_layer_spec_sizes(spec, in, out, nparam, NULL, err);
}

int bp_layer_spec_sizes(struct bp_node *spec, struct bp_shape in, struct bp_shape *out, size_t *nparam,
                        size_t *nstate, struct bp_err *err)
{
	const struct bp_layer_ops *ops;
	if (bp_layer_find(spec, &ops, err))
		return -1;
	struct bp_layer l = { .ops = ops, .in = in, .act = BP_ACT_LINEAR };
	if (ops->priv_size && !(l.priv = calloc(1, ops->priv_size)))
		return bp_fail_oom(err, "a layer", ops->priv_size);
	int rc = bp_layer_configure(&l, spec, err);
	if (rc == 0) {
		*out = l.out;
		if (nparam)
			*nparam = l.ops->nparam(&l);   /* may read priv */
		if (nstate)
			*nstate = l.ops->nstate ? l.ops->nstate(&l) : 0;
	}
	free(l.priv);
	return rc;
}

int bp_layer_configure(struct bp_layer *l, struct bp_node *spec, struct bp_err *err)
{
	const char *allowed[16] = { "type" };
	int n = 1;
	for (const char *const *k = l->ops->keys; k && *k && n < 15; k++)
		allowed[n++] = *k;
	allowed[n] = NULL;
	if (bp_node_check_keys(spec, allowed, err))
		return -1;
	return l->ops->configure(l, spec, err);
}

struct bp_node *bp_layer_default(struct bp_node *spec, const char *key, const char *value, struct bp_err *err)
{
	struct bp_node *n = bp_node_get(spec, key);
	if (n)
		return n;
	n = bp_node_new(BP_NODE_SCALAR, spec->file, spec->line, spec->col);
	if (!n || bp_node_set_key(n, key) || bp_node_set_value(n, value)) {
		bp_node_free(n);
		bp_fail_oom(err, "the config", strlen(key) + strlen(value));
		return NULL;
	}
	bp_node_append(spec, n);
	return n;
}

size_t bp_layer_no_params(const struct bp_layer *l)
{
	(void)l;
	return 0;
}

int bp_layer_no_tensors(const struct bp_layer *l, struct bp_tensor_desc *t)
{
	(void)l;
	(void)t;
	return 0;
}

void bp_layer_no_init(struct bp_layer *l, enum bp_init init, struct bp_rng *rng)
{
	(void)l;
	(void)init;
	(void)rng;
}

size_t bp_layer_no_work(const struct bp_layer *l, int n)
{
	(void)l;
	(void)n;
	return 0;
}
