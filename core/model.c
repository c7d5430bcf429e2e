#include "model.h"

#include <stdlib.h>
#include <string.h>

int bp_model_label_spec(struct bp_config *cfg, struct bp_label_spec *spec, struct bp_err *err)
{
	/* Resolve the layers once, before the data gives the input shape, to
	 * validate them and fill in their defaults: on data.shape when the
	 * config gives it, else on an unknown shape. The output width is known
	 * when the net ends in a layer whose width does not depend on its
	 * input (dense, as cross_entropy and binary_cross_entropy require);
	 * otherwise (width 0) it is checked when the net is built. */
	struct bp_shape shape = cfg->data.shape.c > 0 ? cfg->data.shape : BP_SHAPE_UNKNOWN;
	for (struct bp_node *l = cfg->model.layers->child; l; l = l->next)
		if (bp_layer_spec_resolve(l, shape, &shape, NULL, err))
			return -1;
	spec->classes = cfg->loss == BP_LOSS_CROSS_ENTROPY;
	spec->binary = cfg->loss == BP_LOSS_BINARY_CROSS_ENTROPY;
	spec->width = bp_shape_known(shape) ? (int)bp_shape_size(shape) : 0;
	if (!spec->classes && spec->width && cfg->data.format == BP_FMT_CSV
	    && cfg->data.nlabel_columns != spec->width) {
		const struct bp_node *last = cfg->model.layers->last;
		char path[256];
		return bp_node_fail(err, BP_ERR_CONFIG, last,
		                    "output layer '%s' has %d units but data.label_column names %d target column%s",
		                    bp_node_path(last, path, sizeof path), spec->width, cfg->data.nlabel_columns,
		                    cfg->data.nlabel_columns == 1 ? "" : "s");
	}
	return 0;
}

struct bp_net *bp_model_build(struct bp_config *cfg, struct bp_shape in, int max_batch, struct bp_err *err)
{
	return bp_net_new(cfg->model.layers, in, cfg->loss, max_batch, err);
}

int bp_model_check_labels(const struct bp_net *net, const struct bp_dataset *ds, struct bp_err *err)
{
	int k = (int)bp_net_out_width(net);
	const struct bp_node *last = net->specs[net->nlayers - 1];
	char path[256];
	if (net->loss != BP_LOSS_CROSS_ENTROPY && ds->k > 0 && ds->k != k)
		return bp_node_fail(err, BP_ERR_CONFIG, last, "output layer '%s' has %d units but the data has %d "
		                    "target%s per sample", bp_node_path(last, path, sizeof path), k, ds->k,
		                    ds->k == 1 ? "" : "s");
	if (net->loss != BP_LOSS_CROSS_ENTROPY || ds->max_class < k)
		return 0;
	return bp_node_fail(err, BP_ERR_CONFIG, last,
	                    "output layer '%s' has %d units, too few for class label %d (at %s); "
	                    "it needs at least %d",
	                    bp_node_path(last, path, sizeof path), k, ds->max_class, ds->max_class_where,
	                    ds->max_class + 1);
}

/* The trainable parameters and the state floats the net for m's config
 * and input shape would hold, counted as bp_net_new counts them but
 * without allocating the net. */
static int count_params(struct bp_model *m, double *param, double *state, struct bp_err *err)
{
	struct bp_shape shape = m->ck.in;
	*param = *state = 0;
	for (struct bp_node *spec = m->cfg->model.layers->child; spec; spec = spec->next) {
		size_t np, ns;
		if (bp_layer_spec_sizes(spec, shape, &shape, &np, &ns, err))
			return -1;
		*param += (double)np;
		*state += (double)ns;
	}
	return 0;
}

static double tensors_size(const struct bp_ckpt_tensor *t, int n)
{
	double s = 0;
	for (int j = 0; j < n; j++)
		s += (double)t[j].size;
	return s;
}

int bp_model_load(struct bp_model *m, const char *path, int max_batch, struct bp_err *err)
{
	memset(m, 0, sizeof *m);
	if (bp_ckpt_load(&m->ck, path, err))
		return -1;
	struct bp_err cerr;
	m->cfg = bp_config_load_text(m->ck.config, m->ck.config_len, path, "/", NULL, 0, &cerr);
	if (!m->cfg) {
		bp_model_release(m);
		return bp_fail(err, BP_ERR_DATA, path, "corrupt checkpoint: its config does not load (%s)", cerr.msg);
	}
	size_t d = bp_shape_size(m->ck.in);
	if (m->ck.norm_kind == BP_NORM_STANDARDIZE && m->ck.norm_d != d) {
		bp_model_release(m);
		return bp_fail(err, BP_ERR_DATA, path, "corrupt checkpoint: normalisation statistics for %zu features, "
		               "the model takes %zu", m->ck.norm_d, d);
	}
	/* The file bounds the net before it is allocated: its parameters and
	 * its state must be exactly the checkpoint's tensors of each kind,
	 * which the file holds. */
	double want = 0, want_state = 0, have = tensors_size(m->ck.tensors, m->ck.ntensors),
	       have_state = tensors_size(m->ck.state_tensors, m->ck.nstate_tensors);
	if (m->cfg->model.layers->nchild > 0 && count_params(m, &want, &want_state, err) == 0
	    && (want != have || want_state != have_state)) {
		bp_model_release(m);
		if (want != have)
			return bp_fail(err, BP_ERR_DATA, path, "corrupt checkpoint: it holds %.0f parameters, "
			               "its model needs %.0f", have, want);
		return bp_fail(err, BP_ERR_DATA, path, "corrupt checkpoint: it holds %.0f state values (running "
		               "statistics), its model needs %.0f", have_state, want_state);
	}
	if (!(m->net = bp_model_build(m->cfg, m->ck.in, max_batch, err))
	    || bp_ckpt_restore_net(&m->ck, m->net, path, err)
	    || bp_norm_set(&m->norm, (enum bp_normalize)m->ck.norm_kind, d, m->ck.mean,
	                   m->ck.std, err)) {
		bp_model_release(m);
		return -1;
	}
	return 0;
}

void bp_model_release(struct bp_model *m)
{
	bp_ckpt_release(&m->ck);
	bp_config_free(m->cfg);
	bp_net_free(m->net);
	bp_norm_release(&m->norm);
	memset(m, 0, sizeof *m);
}
