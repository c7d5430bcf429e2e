#include "net.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Buffers are carved from one block in 64-byte-aligned pieces. */
#define ALIGN_FLOATS 16
static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static float *alloc_floats(size_t n)
{
	size_t bytes = round_up(n ? n : 1) * sizeof(float);
	float *p = aligned_alloc(64, bytes);
	if (p)
		memset(p, 0, bytes);
	return p;
}

static int check_loss(struct bp_net *net, struct bp_err *err)
{
	struct bp_layer *last = &net->layers[net->nlayers - 1];
	const struct bp_node *spec = net->specs[net->nlayers - 1];
	enum bp_act want = bp_loss_fused_act(net->loss);
	char path[256];
	bp_node_path(spec, path, sizeof path);
	if (net->loss == BP_LOSS_MSE) {
		if (last->act == BP_ACT_SOFTMAX)
			return bp_node_fail(err, BP_ERR_CONFIG, spec,
			                    "output layer '%s' has a softmax activation, which does not fit loss 'mse' "
			                    "(use cross_entropy, or a linear output)", path);
		return 0;
	}
	if (last->act != want || last->ops != &bp_layer_dense)
		return bp_node_fail(err, BP_ERR_CONFIG, spec,
		                    "loss '%s' needs a dense output layer with activation '%s'; '%s' is %s with '%s'",
		                    bp_loss_names[net->loss], bp_act_names[want], path, last->ops->type,
		                    bp_act_names[last->act]);
	last->act_fused = true;
	return 0;
}

struct bp_net *bp_net_new(struct bp_node *layers, struct bp_shape in, enum bp_loss loss,
                          int max_batch, struct bp_err *err)
{
	if (bp_node_expect(layers, BP_NODE_LIST, err))
		return NULL;
	if (layers->nchild == 0) {
		char path[256];
		bp_node_fail(err, BP_ERR_CONFIG, layers, "'%s' must list at least one layer",
		             bp_node_path(layers, path, sizeof path));
		return NULL;
	}
	struct bp_net *net = calloc(1, sizeof *net);
	int nl = layers->nchild;
	if (!net || !(net->layers = calloc((size_t)nl, sizeof *net->layers))
	    || !(net->specs = calloc((size_t)nl, sizeof *net->specs))
	    || !(net->offset = calloc((size_t)nl + 1, sizeof *net->offset))
	    || !(net->state_offset = calloc((size_t)nl + 1, sizeof *net->state_offset))
	    || !(net->act = calloc((size_t)nl + 1, sizeof *net->act))
	    || !(net->delta = calloc((size_t)nl + 1, sizeof *net->delta))) {
		bp_fail_oom(err, "the network", sizeof *net);
		bp_net_free(net);
		return NULL;
	}
	net->loss = loss;
	net->max_batch = max_batch;

	/* Configure each layer from its spec, chaining shapes. */
	struct bp_shape shape = in;
	double total_param = 0, total_buf = 0;
	for (struct bp_node *spec = layers->child; spec; spec = spec->next) {
		struct bp_layer *l = &net->layers[net->nlayers];
		net->specs[net->nlayers] = spec;
		net->nlayers++;
		if (bp_layer_find(spec, &l->ops, err))
			goto fail;
		l->in = shape;
		l->act = BP_ACT_LINEAR;
		l->writes_state = true;
		if (l->ops->priv_size && !(l->priv = calloc(1, l->ops->priv_size))) {
			bp_fail_oom(err, "a layer", l->ops->priv_size);
			goto fail;
		}
		if (bp_layer_configure(l, spec, err))
			goto fail;
		shape = l->out;
		total_param += (double)l->ops->nparam(l);
		total_buf += 2.0 * (double)bp_shape_size(l->out) * max_batch
		             + (double)l->ops->work_size(l, max_batch);
	}
	if (check_loss(net, err))
		goto fail;
	double need = (2 * total_param + total_buf) * sizeof(float);
	double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
	if (need > (double)(SIZE_MAX / 4) || (have > 0 && need > have)) {
		bp_fail(err, BP_ERR_RUNTIME, NULL,
		        "out of memory: the network needs %.1f GB for %.0f parameters and batch buffers, "
		        "more than this machine's %.1f GB", need / 1e9, total_param, have / 1e9);
		goto fail;
	}

	/* Parameters and gradients: two flat arrays. */
	for (int i = 0; i < net->nlayers; i++) {
		const struct bp_layer *l = &net->layers[i];
		net->offset[i + 1] = net->offset[i] + l->ops->nparam(l);
		net->state_offset[i + 1] = net->state_offset[i] + (l->ops->nstate ? l->ops->nstate(l) : 0);
	}
	net->nparam = net->offset[net->nlayers];
	net->nstate = net->state_offset[net->nlayers];
	if (!(net->param = alloc_floats(net->nparam)) || !(net->grad = alloc_floats(net->nparam))
	    || !(net->state = alloc_floats(net->nstate))) {
		bp_fail_oom(err, "the network's parameters", (2 * net->nparam + net->nstate) * sizeof(float));
		goto fail;
	}

	/* Activations, deltas, scratch and probabilities: one block. */
	size_t floats = 0;
	for (int i = 0; i < net->nlayers; i++) {
		const struct bp_layer *l = &net->layers[i];
		floats += 2 * round_up(bp_shape_size(l->out) * (size_t)max_batch)
		          + round_up(l->ops->work_size(l, max_batch));
	}
	size_t out_width = bp_shape_size(shape);
	floats += round_up(out_width * (size_t)max_batch);
	if (!(net->mem = alloc_floats(floats))) {
		bp_fail_oom(err, "the network's activations", floats * sizeof(float));
		goto fail;
	}
	float *p = net->mem;
	for (int i = 0; i < net->nlayers; i++) {
		struct bp_layer *l = &net->layers[i];
		size_t sz = round_up(bp_shape_size(l->out) * (size_t)max_batch);
		net->act[i + 1] = p;
		p += sz;
		net->delta[i + 1] = p;
		p += sz;
		l->work = p;
		p += round_up(l->ops->work_size(l, max_batch));
		l->param = net->param + net->offset[i];
		l->grad = net->grad + net->offset[i];
		l->state = net->state + net->state_offset[i];
	}
	net->proba = p;
	return net;
fail:
	bp_net_free(net);
	return NULL;
}

void bp_net_free(struct bp_net *net)
{
	if (!net)
		return;
	for (int i = 0; net->layers && i < net->nlayers; i++)
		free(net->layers[i].priv);
	free(net->layers);
	free(net->specs);
	free(net->offset);
	free(net->state_offset);
	free(net->act);
	free(net->delta);
	if (!net->shares_param) {
		free(net->param);
		free(net->state);
	}
	free(net->grad);
	free(net->mem);
	free(net);
}

void bp_net_share_params(struct bp_net *replica, struct bp_net *master)
{
	BP_BUG(replica->nparam != master->nparam || replica->nlayers != master->nlayers);
	BP_BUG(replica->nstate != master->nstate);
	if (!replica->shares_param) {
		free(replica->param);
		free(replica->state);
	}
	replica->param = master->param;
	replica->state = master->state;
	replica->shares_param = true;
	for (int i = 0; i < replica->nlayers; i++) {
		replica->layers[i].param = master->param + replica->offset[i];
		replica->layers[i].state = master->state + replica->state_offset[i];
		replica->layers[i].writes_state = false;
	}
}

void bp_net_set_sync(struct bp_net *net, struct bp_sync *sync)
{
	for (int i = 0; i < net->nlayers; i++)
		net->layers[i].sync = sync;
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct bp_shape bp_net_out_shape(const struct bp_net *net) { return net->layers[net->nlayers - 1].out; }
size_t bp_net_in_width(const struct bp_net *net) { return bp_shape_size(net->layers[0].in); }
size_t bp_net_out_width(const struct bp_net *net) { return bp_shape_size(bp_net_out_shape(net)); }

void bp_net_init(struct bp_net *net, enum bp_init init, struct bp_rng *rng)
{
	for (int i = 0; i < net->nlayers; i++)
		net->layers[i].ops->init_params(&net->layers[i], init, rng);
}

void bp_net_zero_grad(struct bp_net *net)
{
	memset(net->grad, 0, net->nparam * sizeof *net->grad);
}

void bp_net_forward(struct bp_net *net, const float *x, int n, bool train)
{
	BP_BUG(n < (train ? 0 : 1) || n > net->max_batch);
	BP_BUG(train && !net->rng);
	net->input = x;
	for (int i = 0; i < net->nlayers; i++) {
		struct bp_layer *l = &net->layers[i];
		double t0 = net->prof ? seconds_now() : 0;
		l->ops->forward(l, i ? net->act[i] : x, net->act[i + 1], n, train, net->rng);
		if (net->prof)
			net->prof[2 * i] += seconds_now() - t0;
	}
}

const float *bp_net_output(const struct bp_net *net) { return net->act[net->nlayers]; }

const float *bp_net_proba(struct bp_net *net, int n)
{
	const struct bp_layer *last = &net->layers[net->nlayers - 1];
	if (!last->act_fused)
		return bp_net_output(net);
	size_t k = bp_net_out_width(net);
	memcpy(net->proba, bp_net_output(net), (size_t)n * k * sizeof(float));
	bp_act_forward(last->act, net->proba, NULL, n, (int)k);
	return net->proba;
}

double bp_net_loss(struct bp_net *net, const struct bp_targets *t, int n)
{
	int k = (int)bp_net_out_width(net);
	return bp_loss_eval(net->loss, net->delta[net->nlayers], bp_net_output(net), t, n, k);
}

void bp_net_backward(struct bp_net *net, int n)
{
	BP_BUG(n < 0 || n > net->max_batch);
	for (int i = net->nlayers - 1; i >= 0; i--) {
		struct bp_layer *l = &net->layers[i];
		const float *x = i ? net->act[i] : net->input;
		double t0 = net->prof ? seconds_now() : 0;
		l->ops->backward(l, x, net->act[i + 1], net->delta[i + 1], i ? net->delta[i] : NULL, n);
		if (net->prof)
			net->prof[2 * i + 1] += seconds_now() - t0;
	}
}

/* Layer i's tensors of one kind (trainable or state), in order. */
static int layer_tensors(const struct bp_layer *l, bool state, struct bp_tensor_desc *out)
{
	struct bp_tensor_desc d[BP_MAX_TENSORS];
	int c = l->ops->tensors(l, d), k = 0;
	for (int t = 0; t < c; t++)
		if (d[t].state == state)
			out[k++] = d[t];
	return k;
}

static int count_tensors(const struct bp_net *net, bool state)
{
	struct bp_tensor_desc d[BP_MAX_TENSORS];
	int count = 0;
	for (int i = 0; i < net->nlayers; i++)
		count += layer_tensors(&net->layers[i], state, d);
	return count;
}

static void find_tensor(const struct bp_net *net, bool state, int j, struct bp_tensor_desc *desc, char *name,
                        size_t size)
{
	struct bp_tensor_desc d[BP_MAX_TENSORS];
	for (int i = 0; i < net->nlayers; i++) {
		int c = layer_tensors(&net->layers[i], state, d);
		if (j < c) {
			*desc = d[j];
			desc->offset += state ? net->state_offset[i] : net->offset[i];
			snprintf(name, size, "layers.%d.%s", i, d[j].name);
			return;
		}
		j -= c;
	}
	BP_BUG(1);
}

int bp_net_ntensors(const struct bp_net *net) { return count_tensors(net, false); }
int bp_net_nstate_tensors(const struct bp_net *net) { return count_tensors(net, true); }

void bp_net_tensor(const struct bp_net *net, int j, struct bp_tensor_desc *desc, char *name, size_t size)
{
	find_tensor(net, false, j, desc, name, size);
}

void bp_net_state_tensor(const struct bp_net *net, int j, struct bp_tensor_desc *desc, char *name, size_t size)
{
	find_tensor(net, true, j, desc, name, size);
}
