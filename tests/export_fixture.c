/* export_fixture OUT_DIR: the ONNX and safetensors exports of convolutional
 * nets, ahead of the layer kinds themselves. Each net is put together by
 * hand: the config's layer specs (as the kinds' configure would leave them)
 * and stand-in layers that have only a type, shapes and tensors, holding
 * seeded random parameters. tests/test_export.py (e09) runs the ONNX files
 * in ONNX Runtime against a NumPy reference of SPEC's layer semantics that
 * reads the parameters from the safetensors files.
 *
 * The good nets end in a linear dense layer under mse, so that the test
 * compares raw values rather than saturated probabilities.
 *
 * Writes cnn0.onnx, cnn0.safetensors, cnn1.onnx, cnn1.safetensors; then,
 * for the nets that must not export, one line each: "badK: KIND WHERE: MESSAGE". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "files.h"
#include "model.h"
#include "onnx.h"
#include "safetensors.h"

struct fake_tensor {
	const char *name;
	int rank, dims[4];
	bool state;
};

struct fake_layer {
	const char *type;
	struct bp_shape out;
	enum bp_act act;
	int nt;
	struct fake_tensor t[4];
};

#define W4(f, c, h, w) { "W", 4, { f, c, h, w }, false }
#define VEC(name, n, st) { name, 1, { n }, st }
#define BN(c) 4, { VEC("gamma", c, false), VEC("beta", c, false), VEC("running_mean", c, true), \
	               VEC("running_var", c, true) }

struct fake_net {
	const char *yaml;        /* model.layers */
	bool standardize;
	int nlayers;
	struct fake_layer l[8];
};

static const struct fake_net nets[] = {
	{ "    - {type: conv2d, filters: 4, kernel_size: 3, strides: 1, padding: same, activation: linear, use_bias: true}\n"
	  "    - {type: batch_norm, momentum: 0.99, epsilon: 0.001, activation: relu}\n"
	  "    - {type: max_pool2d, pool_size: 2, strides: 2, padding: same}\n"
	  "    - {type: conv2d, filters: 5, kernel_size: [3, 2], strides: 2, padding: same, activation: elu}\n"
	  "    - {type: avg_pool2d, pool_size: 2, strides: 1, padding: same}\n"
	  "    - {type: flatten}\n"
	  "    - {type: dropout, rate: 0.1}\n"
	  "    - {type: dense, units: 3, activation: linear}\n",
	  true, 8,
	  { { "conv2d", { 4, 7, 7 }, BP_ACT_LINEAR, 2, { W4(4, 1, 3, 3), VEC("b", 4, false) } },
	    { "batch_norm", { 4, 7, 7 }, BP_ACT_RELU, BN(4) },
	    { "max_pool2d", { 4, 4, 4 }, BP_ACT_LINEAR, 0, { { 0 } } },
	    { "conv2d", { 5, 2, 2 }, BP_ACT_ELU, 2, { W4(5, 4, 3, 2), VEC("b", 5, false) } },
	    { "avg_pool2d", { 5, 2, 2 }, BP_ACT_LINEAR, 0, { { 0 } } },
	    { "flatten", { 20, 1, 1 }, BP_ACT_LINEAR, 0, { { 0 } } },
	    { "dropout", { 20, 1, 1 }, BP_ACT_LINEAR, 0, { { 0 } } },
	    { "dense", { 3, 1, 1 }, BP_ACT_LINEAR, 2, { { "W", 2, { 20, 3 }, false }, VEC("b", 3, false) } } } },
	{ "    - {type: conv2d, filters: 6, kernel_size: 3, padding: valid, activation: relu, use_bias: false}\n"
	  "    - {type: avg_pool2d, pool_size: 2}\n"
	  "    - {type: global_avg_pool2d}\n"
	  "    - {type: batch_norm, epsilon: 0.01, activation: tanh}\n"
	  "    - {type: flatten}\n"
	  "    - {type: batch_norm, epsilon: 0.1, activation: sigmoid}\n"
	  "    - {type: dense, units: 3, activation: linear}\n",
	  false, 7,
	  { { "conv2d", { 6, 5, 5 }, BP_ACT_RELU, 1, { W4(6, 1, 3, 3) } },
	    { "avg_pool2d", { 6, 2, 2 }, BP_ACT_LINEAR, 0, { { 0 } } },
	    { "global_avg_pool2d", { 6, 1, 1 }, BP_ACT_LINEAR, 0, { { 0 } } },
	    { "batch_norm", { 6, 1, 1 }, BP_ACT_TANH, BN(6) },
	    { "flatten", { 6, 1, 1 }, BP_ACT_LINEAR, 0, { { 0 } } },
	    { "batch_norm", { 6, 1, 1 }, BP_ACT_SIGMOID, BN(6) },
	    { "dense", { 3, 1, 1 }, BP_ACT_LINEAR, 2, { { "W", 2, { 6, 3 }, false }, VEC("b", 3, false) } } } },
	/* Must fail: a kind with no mapping, and softmax over a (C, H, W) output. */
	{ "    - {type: lstm, units: 4}\n    - {type: dense, units: 3, activation: softmax}\n", false, 2,
	  { { "lstm", { 4, 1, 1 }, BP_ACT_LINEAR, 0, { { 0 } } },
	    { "dense", { 3, 1, 1 }, BP_ACT_SOFTMAX, 2, { { "W", 2, { 4, 3 }, false }, VEC("b", 3, false) } } } },
	{ "    - {type: conv2d, filters: 2, kernel_size: 3, padding: same, activation: softmax}\n", false, 1,
	  { { "conv2d", { 2, 7, 7 }, BP_ACT_SOFTMAX, 2, { W4(2, 1, 3, 3), VEC("b", 2, false) } } } },
	/* ... and a layer whose shape is not what ONNX would compute. */
	{ "    - {type: conv2d, filters: 2, kernel_size: 3, padding: same}\n", false, 1,
	  { { "conv2d", { 2, 6, 6 }, BP_ACT_LINEAR, 2, { W4(2, 1, 3, 3), VEC("b", 2, false) } } } },
};
#define NNETS (int)(sizeof nets / sizeof nets[0])
#define NGOOD 2

/* Stand-in layer kinds: a type and the fake_layer in priv. */
static int fake_tensors(const struct bp_layer *l, struct bp_tensor_desc *out)
{
	const struct fake_layer *f = l->priv;
	size_t off[2] = { 0, 0 };
	for (int k = 0; k < f->nt; k++) {
		const struct fake_tensor *t = &f->t[k];
		size_t n = 1;
		for (int d = 0; d < t->rank; d++)
			n *= (size_t)t->dims[d];
		out[k] = (struct bp_tensor_desc){ t->name, t->rank, { 0 }, off[t->state], n, t->state };
		memcpy(out[k].dims, t->dims, sizeof t->dims);
		off[t->state] += n;
	}
	return f->nt;
}

static size_t fake_count(const struct bp_layer *l, bool state)
{
	struct bp_tensor_desc d[BP_MAX_TENSORS];
	size_t n = 0;
	for (int k = fake_tensors(l, d) - 1; k >= 0; k--)
		n += d[k].state == state ? d[k].size : 0;
	return n;
}

static size_t fake_nparam(const struct bp_layer *l) { return fake_count(l, false); }
static size_t fake_nstate(const struct bp_layer *l) { return fake_count(l, true); }

static uint64_t rng_state = 12345;
static float uniform(void)   /* [0, 1) */
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)(rng_state >> 40) / (float)(1 << 24);
}

/* Exports net k into dir, or returns the error. */
static int export_net(int k, const char *dir, struct bp_err *err)
{
	const struct fake_net *fn = &nets[k];
	char text[2048], path[4096];
	snprintf(text, sizeof text, "name: cnn%d\ndata:\n  train: {path: none.csv}\n  shape: [1, 7, 7]\n%s"
	                            "model:\n  layers:\n%s",
	         k, fn->standardize ? "  normalize: standardize\n" : "", fn->yaml);
	struct bp_model m;
	memset(&m, 0, sizeof m);
	struct bp_layer layers[8];
	struct bp_layer_ops ops[8];
	struct bp_node *specs[8];
	size_t offset[9] = { 0 }, state_offset[9] = { 0 };
	/* mse, linear outputs: the values themselves are compared, unsaturated. */
	struct bp_net net = { .nlayers = fn->nlayers, .layers = layers, .loss = BP_LOSS_MSE,
		                  .specs = specs, .offset = offset, .state_offset = state_offset };
	if (!(m.cfg = bp_config_load_text(text, strlen(text), "fixture.yaml", "/", NULL, 0, err)))
		return -1;
	m.ck.config = text;
	m.ck.config_len = strlen(text);
	m.net = &net;
	memset(layers, 0, sizeof layers);
	struct bp_shape in = { 1, 7, 7 };
	struct bp_node *spec = m.cfg->model.layers->child;
	for (int i = 0; i < fn->nlayers; i++, spec = spec->next) {
		ops[i] = (struct bp_layer_ops){ .type = fn->l[i].type, .tensors = fake_tensors, .nparam = fake_nparam,
			                            .nstate = fake_nstate };
		layers[i] = (struct bp_layer){ .ops = &ops[i], .in = in, .out = fn->l[i].out, .act = fn->l[i].act,
			                           .priv = (void *)&fn->l[i] };
		specs[i] = spec;
		offset[i + 1] = offset[i] + fake_nparam(&layers[i]);
		state_offset[i + 1] = state_offset[i] + fake_nstate(&layers[i]);
		in = fn->l[i].out;
	}
	net.nparam = offset[fn->nlayers];
	net.nstate = state_offset[fn->nlayers];
	net.param = malloc((net.nparam + net.nstate + 3 * 49) * sizeof(float));
	if (!net.param) {
		bp_config_free(m.cfg);
		return bp_fail_oom(err, "the fixture", 0);
	}
	net.state = net.param + net.nparam;
	for (size_t j = 0; j < net.nparam + net.nstate + 3 * 49; j++)
		net.param[j] = 2 * uniform() - 1;
	for (int i = 0; i < fn->nlayers; i++) {
		layers[i].param = net.param + offset[i];
		layers[i].state = net.state + state_offset[i];
		struct bp_tensor_desc d[BP_MAX_TENSORS];
		for (int t = fake_tensors(&layers[i], d) - 1; t >= 0; t--)
			for (size_t j = 0; strcmp(d[t].name, "running_var") == 0 && j < d[t].size; j++)
				layers[i].state[d[t].offset + j] = 0.2f + uniform();   /* variances are positive */
	}
	if (fn->standardize) {   /* 49 features: mean, std, 1/std */
		m.norm = (struct bp_norm){ BP_NORM_STANDARDIZE, 49, net.state + net.nstate, net.state + net.nstate + 49,
			                       net.state + net.nstate + 98 };
		for (int j = 0; j < 49; j++) {
			m.norm.mean[j] *= 2;
			m.norm.std[j] = 0.5f + uniform();
			m.norm.inv[j] = 1.0f / m.norm.std[j];
		}
	}
	unsigned char *bytes = NULL;
	size_t len = 0;
	int rc = bp_onnx_encode(&m, "fixture", &bytes, &len, err);
	if (rc == 0 && k < NGOOD) {
		snprintf(path, sizeof path, "%s/cnn%d.onnx", dir, k);
		rc = bp_write_atomic(path, bytes, len, err);
		free(bytes);
		bytes = NULL;
		rc = rc ? rc : bp_safetensors_encode(&m, "fixture", &bytes, &len, err);
		snprintf(path, sizeof path, "%s/cnn%d.safetensors", dir, k);
		rc = rc ? rc : bp_write_atomic(path, bytes, len, err);
	}
	free(bytes);
	free(net.param);
	bp_config_free(m.cfg);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: export_fixture OUT_DIR\n");
		return 2;
	}
	for (int k = 0; k < NNETS; k++) {
		struct bp_err err = { 0 };
		int rc = export_net(k, argv[1], &err);
		if (k < NGOOD && rc) {
			fprintf(stderr, "export_fixture: net %d: %s: %s\n", k, err.where, err.msg);
			return 1;
		}
		if (k >= NGOOD) {
			if (rc == 0) {
				fprintf(stderr, "export_fixture: net %d exported, but must not\n", k);
				return 1;
			}
			printf("bad%d: %d %s: %s\n", k, err.kind, err.where, err.msg);
		}
	}
	return 0;
}
