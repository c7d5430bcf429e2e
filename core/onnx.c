/* The graph is built as lists of nodes and initializers (views of the
 * net's parameters), then encoded in one pass. Field numbers are those of
 * ONNX's published onnx.proto. */
#include "onnx.h"
#include "pb.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPSET 13
#define IR_VERSION 7
#define NAME_SIZE 96

/* onnx.proto: TensorProto.DataType.FLOAT, AttributeProto.AttributeType. */
enum { ONNX_FLOAT = 1 };
enum attr_type { ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7 };

struct attr {
	const char *name;
	enum attr_type type;
	float f;
	int64_t i;
	int nints;
	int64_t ints[4];
};

struct node {
	const char *op;
	char name[NAME_SIZE];
	char in[5][NAME_SIZE];
	int nin;
	char out[NAME_SIZE];
	int nattr;
	struct attr attr[4];
};

struct init {
	char name[NAME_SIZE];
	int rank;
	int64_t dims[4];
	const float *data;
	size_t n;
};

struct graph {
	const struct bp_model *m;
	struct node *nodes;
	int nnodes, max_nodes;
	struct init *inits;
	int ninits, max_inits;
	char cur[NAME_SIZE];     /* the value the next node reads */
	int rank;                /* of cur: 2 [N, F] or 4 [N, C, H, W] */
	struct bp_shape shape;   /* cur's per-sample shape */
};

static const float k255 = 255.0f;

/* ---- building ---- */

/* A node reading the current value and becoming it: "PREFIX.OP". */
static struct node *add_node(struct graph *g, const char *prefix, const char *op)
{
	BP_BUG(g->nnodes >= g->max_nodes);
	struct node *n = &g->nodes[g->nnodes++];
	memset(n, 0, sizeof *n);
	n->op = op;
	snprintf(n->name, sizeof n->name, "%s.%s", prefix, op);
	snprintf(n->in[n->nin++], NAME_SIZE, "%s", g->cur);
	snprintf(n->out, sizeof n->out, "%s", n->name);
	snprintf(g->cur, sizeof g->cur, "%s", n->out);
	return n;
}

static void add_input(struct node *n, const char *name)
{
	BP_BUG(n->nin >= 5);
	snprintf(n->in[n->nin++], NAME_SIZE, "%s", name);
}

static struct attr *add_attr(struct node *n, const char *name, enum attr_type type)
{
	BP_BUG(n->nattr >= 4);
	struct attr *a = &n->attr[n->nattr++];
	memset(a, 0, sizeof *a);
	a->name = name;
	a->type = type;
	return a;
}

static void attr_int(struct node *n, const char *name, int64_t v) { add_attr(n, name, ATTR_INT)->i = v; }
static void attr_float(struct node *n, const char *name, float v) { add_attr(n, name, ATTR_FLOAT)->f = v; }

static void attr_ints(struct node *n, const char *name, const int *v, int count)
{
	struct attr *a = add_attr(n, name, ATTR_INTS);
	a->nints = count;
	for (int k = 0; k < count; k++)
		a->ints[k] = v[k];
}

static const char *add_init(struct graph *g, const char *name, const float *data, size_t n, int rank,
                            const int *dims)
{
	BP_BUG(g->ninits >= g->max_inits || rank > 4);
	struct init *t = &g->inits[g->ninits++];
	snprintf(t->name, sizeof t->name, "%s", name);
	t->rank = rank;
	for (int k = 0; k < rank; k++)
		t->dims[k] = dims[k];
	t->data = data;
	t->n = n;
	return t->name;
}

/* Layer i's tensor NAME ("W", "running_mean") as an initializer
 * "layers.I.NAME"; NULL when the layer has none of that name. */
static const char *layer_tensor(struct graph *g, int i, const char *name)
{
	const struct bp_layer *l = &g->m->net->layers[i];
	struct bp_tensor_desc d[BP_MAX_TENSORS];
	int c = l->ops->tensors(l, d);
	for (int t = 0; t < c; t++)
		if (strcmp(d[t].name, name) == 0) {
			char full[NAME_SIZE];
			snprintf(full, sizeof full, "layers.%d.%s", i, name);
			const float *base = d[t].state ? l->state : l->param;
			return add_init(g, full, base + d[t].offset, d[t].size, d[t].rank, d[t].dims);
		}
	return NULL;
}

static int cannot(struct graph *g, int i, const char *why, struct bp_err *err)
{
	const struct bp_node *spec = g->m->net->specs[i];
	char path[256];
	return bp_fail(err, BP_ERR_CONFIG, spec->file, "layer '%s' (%s) cannot be exported to ONNX%s%s",
	               bp_node_path(spec, path, sizeof path), g->m->net->layers[i].ops->type, why ? ": " : "",
	               why ? why : "");
}

/* ---- the layers ---- */

static void flatten(struct graph *g, const char *prefix)
{
	if (g->rank == 2)
		return;
	attr_int(add_node(g, prefix, "Flatten"), "axis", 1);
	g->rank = 2;
	g->shape = (struct bp_shape){ (int)bp_shape_size(g->shape), 1, 1 };
}

/* An int or an [a, b] pair under key (absent: dflt for both). */
static int spec_pair(const struct bp_node *spec, const char *key, int dflt, int out[2], struct bp_err *err)
{
	const struct bp_node *n = bp_node_get(spec, key);
	out[0] = out[1] = dflt;
	if (!n)
		return 0;
	long v;
	if (n->kind == BP_NODE_SCALAR) {
		if (bp_node_int(n, 1, INT_MAX, &v, err))
			return -1;
		out[0] = out[1] = (int)v;
		return 0;
	}
	if (n->kind != BP_NODE_LIST || n->nchild != 2)
		return bp_node_fail(err, BP_ERR_CONFIG, n, "'%s' must be an int or a pair", key);
	for (int k = 0; k < 2; k++) {
		if (bp_node_int(bp_node_at(n, k), 1, INT_MAX, &v, err))
			return -1;
		out[k] = (int)v;
	}
	return 0;
}

static bool spec_same(const struct bp_node *spec)
{
	const struct bp_node *p = bp_node_get(spec, "padding");
	return p && p->value && strcmp(p->value, "same") == 0;
}

/* Output size and pads along one axis: valid ⌊(n−k)/s⌋+1; same ⌈n/s⌉ with
 * the extra padding pixel after (bottom/right), as Keras/TF. */
static int window_axis(int n, int k, int s, bool same, int *before, int *after)
{
	*before = *after = 0;
	if (!same)
		return n >= k ? (n - k) / s + 1 : 0;
	int out = (n + s - 1) / s;
	int total = (out - 1) * s + k - n;
	if (total > 0) {
		*before = total / 2;
		*after = total - *before;
	}
	return out;
}

/* kernel_shape, strides and pads on node n for a k×k window over the
 * current value; the output shape goes to g->shape (channels: c). */
static void window_attrs(struct graph *g, struct node *n, const int k[2], const int s[2], bool same, int c)
{
	int pads[4], out[2];
	int in[2] = { g->shape.h, g->shape.w };
	for (int a = 0; a < 2; a++)
		out[a] = window_axis(in[a], k[a], s[a], same, &pads[a], &pads[a + 2]);
	attr_ints(n, "kernel_shape", k, 2);
	attr_ints(n, "strides", s, 2);
	attr_ints(n, "pads", pads, 4);
	g->shape = (struct bp_shape){ c, out[0], out[1] };
}

static int emit_dense(struct graph *g, int i, struct bp_err *err)
{
	char prefix[32];
	snprintf(prefix, sizeof prefix, "layers.%d", i);
	flatten(g, prefix);
	const char *w = layer_tensor(g, i, "W"), *b = layer_tensor(g, i, "b");
	if (!w || !b)
		return cannot(g, i, "it has no W and b", err);
	struct node *n = add_node(g, prefix, "Gemm");   /* x (N, in) · W (in, out) + b: transB = 0 */
	add_input(n, w);
	add_input(n, b);
	g->shape = g->m->net->layers[i].out;
	return 0;
}

static int emit_dropout(struct graph *g, int i, struct bp_err *err)
{
	(void)g;
	(void)i;
	(void)err;
	return 0;   /* the identity outside training */
}

static int emit_conv(struct graph *g, int i, struct bp_err *err)
{
	const struct bp_layer *l = &g->m->net->layers[i];
	const struct bp_node *spec = g->m->net->specs[i];
	struct bp_tensor_desc d[BP_MAX_TENSORS];
	int c = l->ops->tensors(l, d), t = 0;
	while (t < c && strcmp(d[t].name, "W") != 0)
		t++;
	if (g->rank != 4 || t == c || d[t].rank != 4)
		return cannot(g, i, "it needs a (C, H, W) input and a W of rank 4", err);
	int k[2] = { d[t].dims[2], d[t].dims[3] }, s[2];
	if (spec_pair(spec, "strides", 1, s, err))
		return -1;
	char prefix[32];
	snprintf(prefix, sizeof prefix, "layers.%d", i);
	const char *w = layer_tensor(g, i, "W"), *b = layer_tensor(g, i, "b");
	struct node *n = add_node(g, prefix, "Conv");
	add_input(n, w);
	if (b)
		add_input(n, b);
	window_attrs(g, n, k, s, spec_same(spec), d[t].dims[0]);
	return 0;
}

static int emit_pool(struct graph *g, int i, const char *op, struct bp_err *err)
{
	const struct bp_node *spec = g->m->net->specs[i];
	if (g->rank != 4)
		return cannot(g, i, "it needs a (C, H, W) input", err);
	int k[2], s[2];
	if (spec_pair(spec, "pool_size", 2, k, err) || spec_pair(spec, "strides", 0, s, err))
		return -1;
	if (s[0] == 0)   /* strides default to pool_size */
		s[0] = k[0], s[1] = k[1];
	char prefix[32];
	snprintf(prefix, sizeof prefix, "layers.%d", i);
	struct node *n = add_node(g, prefix, op);
	window_attrs(g, n, k, s, spec_same(spec), g->shape.c);
	if (strcmp(op, "AveragePool") == 0)
		attr_int(n, "count_include_pad", 0);   /* divide by the in-bounds count */
	return 0;
}

static int emit_max_pool(struct graph *g, int i, struct bp_err *err) { return emit_pool(g, i, "MaxPool", err); }
static int emit_avg_pool(struct graph *g, int i, struct bp_err *err)
{
	return emit_pool(g, i, "AveragePool", err);
}

static int emit_global_avg_pool(struct graph *g, int i, struct bp_err *err)
{
	if (g->rank != 4)
		return cannot(g, i, "it needs a (C, H, W) input", err);
	char prefix[32];
	snprintf(prefix, sizeof prefix, "layers.%d", i);
	add_node(g, prefix, "GlobalAveragePool");
	g->shape = (struct bp_shape){ g->shape.c, 1, 1 };
	return 0;
}

/* Per channel on [N, C, H, W], per feature on [N, F]: both are ONNX's
 * axis 1, with the running statistics. */
static int emit_batch_norm(struct graph *g, int i, struct bp_err *err)
{
	const struct bp_node *spec = g->m->net->specs[i];
	const struct bp_node *eps = bp_node_get(spec, "epsilon");
	double e = 0.001;
	if (eps && bp_node_num(eps, 0, 1e30, &e, err))
		return -1;
	char prefix[32];
	snprintf(prefix, sizeof prefix, "layers.%d", i);
	const char *t[4];
	static const char *const names[4] = { "gamma", "beta", "running_mean", "running_var" };
	for (int k = 0; k < 4; k++)
		if (!(t[k] = layer_tensor(g, i, names[k])))
			return cannot(g, i, "it lacks gamma, beta or the running statistics", err);
	if (g->inits[g->ninits - 1].n != (size_t)g->shape.c)
		return cannot(g, i, "its statistics do not match the input's channels", err);
	struct node *n = add_node(g, prefix, "BatchNormalization");   /* X, scale, B, mean, var */
	for (int k = 0; k < 4; k++)
		add_input(n, t[k]);
	attr_float(n, "epsilon", (float)e);
	return 0;
}

static int emit_flatten(struct graph *g, int i, struct bp_err *err)
{
	(void)err;
	char prefix[32];
	snprintf(prefix, sizeof prefix, "layers.%d", i);
	flatten(g, prefix);
	return 0;
}

static const struct {
	const char *type;
	int (*emit)(struct graph *g, int i, struct bp_err *err);
} kinds[] = {
	{ "dense", emit_dense },
	{ "dropout", emit_dropout },
	{ "conv2d", emit_conv },
	{ "max_pool2d", emit_max_pool },
	{ "avg_pool2d", emit_avg_pool },
	{ "global_avg_pool2d", emit_global_avg_pool },
	{ "batch_norm", emit_batch_norm },
	{ "flatten", emit_flatten },
};

static int emit_act(struct graph *g, int i, struct bp_err *err)
{
	static const char *const ops[BP_ACT_COUNT] = {
		[BP_ACT_RELU] = "Relu", [BP_ACT_LEAKY_RELU] = "LeakyRelu", [BP_ACT_ELU] = "Elu",
		[BP_ACT_SIGMOID] = "Sigmoid", [BP_ACT_TANH] = "Tanh", [BP_ACT_SOFTMAX] = "Softmax",
	};
	enum bp_act act = g->m->net->layers[i].act;
	if (act == BP_ACT_LINEAR)
		return 0;
	if (act < 0 || act >= BP_ACT_COUNT || !ops[act])
		return cannot(g, i, "its activation has no ONNX operator", err);
	if (act == BP_ACT_SOFTMAX && g->shape.h * g->shape.w != 1)
		return cannot(g, i, "softmax over a (C, H, W) output", err);
	char prefix[32];
	snprintf(prefix, sizeof prefix, "layers.%d", i);
	struct node *n = add_node(g, prefix, ops[act]);
	if (act == BP_ACT_LEAKY_RELU)
		attr_float(n, "alpha", BP_ACT_LEAKY_SLOPE);
	else if (act == BP_ACT_ELU)
		attr_float(n, "alpha", 1.0f);
	else if (act == BP_ACT_SOFTMAX)
		attr_int(n, "axis", 1);
	return 0;
}

/* ---- encoding (onnx.proto field numbers) ---- */

static void encode_node(struct bp_pb *pb, const struct node *n)
{
	size_t at = bp_pb_begin(pb, 1);   /* GraphProto.node */
	for (int k = 0; k < n->nin; k++)
		bp_pb_str(pb, 1, n->in[k]);   /* NodeProto.input */
	bp_pb_str(pb, 2, n->out);
	bp_pb_str(pb, 3, n->name);
	bp_pb_str(pb, 4, n->op);
	for (int k = 0; k < n->nattr; k++) {
		const struct attr *a = &n->attr[k];
		size_t am = bp_pb_begin(pb, 5);   /* NodeProto.attribute */
		bp_pb_str(pb, 1, a->name);
		bp_pb_int(pb, 20, a->type);
		if (a->type == ATTR_FLOAT)
			bp_pb_float(pb, 2, a->f);
		else if (a->type == ATTR_INT)
			bp_pb_int(pb, 3, a->i);
		else
			for (int j = 0; j < a->nints; j++)
				bp_pb_int(pb, 8, a->ints[j]);
		bp_pb_end(pb, am);
	}
	bp_pb_end(pb, at);
}

static void encode_init(struct bp_pb *pb, const struct init *t)
{
	size_t at = bp_pb_begin(pb, 5);   /* GraphProto.initializer */
	for (int k = 0; k < t->rank; k++)
		bp_pb_int(pb, 1, t->dims[k]);   /* TensorProto.dims */
	bp_pb_int(pb, 2, ONNX_FLOAT);
	bp_pb_str(pb, 8, t->name);
	bp_pb_floats_le(pb, 9, t->data, t->n);   /* raw_data */
	bp_pb_end(pb, at);
}

/* A graph input or output: float32, its first dimension the symbolic "N". */
static void encode_value(struct bp_pb *pb, int field, const char *name, int rank, const int *dims)
{
	size_t at = bp_pb_begin(pb, field);
	bp_pb_str(pb, 1, name);                 /* ValueInfoProto.name */
	size_t type = bp_pb_begin(pb, 2);       /* .type */
	size_t tensor = bp_pb_begin(pb, 1);     /* TypeProto.tensor_type */
	bp_pb_int(pb, 1, ONNX_FLOAT);           /* .elem_type */
	size_t shape = bp_pb_begin(pb, 2);      /* .shape */
	for (int k = 0; k < rank; k++) {
		size_t dim = bp_pb_begin(pb, 1);    /* TensorShapeProto.dim */
		if (k == 0)
			bp_pb_str(pb, 2, "N");          /* dim_param */
		else
			bp_pb_int(pb, 1, dims[k]);      /* dim_value */
		bp_pb_end(pb, dim);
	}
	bp_pb_end(pb, shape);
	bp_pb_end(pb, tensor);
	bp_pb_end(pb, type);
	bp_pb_end(pb, at);
}

static void encode_meta(struct bp_pb *pb, const char *key, const char *value, size_t len)
{
	size_t at = bp_pb_begin(pb, 14);   /* ModelProto.metadata_props */
	bp_pb_str(pb, 1, key);
	bp_pb_bytes(pb, 2, value, len);
	bp_pb_end(pb, at);
}

static void encode_model(struct bp_pb *pb, const struct graph *g, const char *version, int in_rank,
                         const int *in_dims, const char *out_name)
{
	const struct bp_model *m = g->m;
	bp_pb_int(pb, 1, IR_VERSION);
	bp_pb_str(pb, 2, "bptrain");   /* producer_name */
	bp_pb_str(pb, 3, version);
	size_t graph = bp_pb_begin(pb, 7);
	for (int k = 0; k < g->nnodes; k++)
		encode_node(pb, &g->nodes[k]);
	bp_pb_str(pb, 2, m->cfg->name);
	for (int k = 0; k < g->ninits; k++)
		encode_init(pb, &g->inits[k]);
	encode_value(pb, 11, "input", in_rank, in_dims);
	int out_dims[2] = { 0, (int)bp_net_out_width(m->net) };
	encode_value(pb, 12, out_name, 2, out_dims);
	bp_pb_end(pb, graph);
	size_t opset = bp_pb_begin(pb, 8);   /* opset_import: the default domain */
	bp_pb_str(pb, 1, "");
	bp_pb_int(pb, 2, OPSET);
	bp_pb_end(pb, opset);
	encode_meta(pb, "bptrain_version", version, strlen(version));
	encode_meta(pb, "config", m->ck.config, m->ck.config_len);
}

/* ---- the model ---- */

static void emit_norm(struct graph *g, int rank, const int *in_dims)
{
	const struct bp_norm *norm = &g->m->norm;
	if (norm->kind == BP_NORM_SCALE) {
		/* x / 255 in float: the value bptrain's gather computes (its uint8
		 * path rounds to the same float). */
		add_input(add_node(g, "norm", "Div"), add_init(g, "norm.divisor", &k255, 1, 0, NULL));
	} else if (norm->kind == BP_NORM_STANDARDIZE) {
		/* (x − mean) · (1/std) in float, as the gather does; the vectors
		 * take the input's per-sample shape so they broadcast. */
		add_input(add_node(g, "norm", "Sub"),
		          add_init(g, "norm.mean", norm->mean, norm->d, rank - 1, in_dims + 1));
		add_input(add_node(g, "norm", "Mul"),
		          add_init(g, "norm.inv_std", norm->inv, norm->d, rank - 1, in_dims + 1));
	}
}

static int emit_layers(struct graph *g, struct bp_err *err)
{
	const struct bp_net *net = g->m->net;
	for (int i = 0; i < net->nlayers; i++) {
		const struct bp_layer *l = &net->layers[i];
		size_t k = 0;
		while (k < sizeof kinds / sizeof kinds[0] && strcmp(kinds[k].type, l->ops->type) != 0)
			k++;
		if (k == sizeof kinds / sizeof kinds[0])
			return cannot(g, i, NULL, err);
		if (kinds[k].emit(g, i, err) || emit_act(g, i, err))
			return -1;
		if (bp_shape_size(g->shape) != bp_shape_size(l->out)
		    || (g->rank == 4 && (g->shape.c != l->out.c || g->shape.h != l->out.h || g->shape.w != l->out.w))) {
			char why[128];
			snprintf(why, sizeof why, "its ONNX output %dx%dx%d differs from its own %dx%dx%d", g->shape.c,
			         g->shape.h, g->shape.w, l->out.c, l->out.h, l->out.w);
			return cannot(g, i, why, err);
		}
	}
	return 0;
}

int bp_onnx_encode(const struct bp_model *m, const char *version, unsigned char **out, size_t *len,
                   struct bp_err *err)
{
	const struct bp_net *net = m->net;
	struct graph g = { .m = m };
	struct bp_pb pb;
	bp_pb_init(&pb);
	*out = NULL;
	*len = 0;
	g.max_nodes = 3 * net->nlayers + 5;
	g.max_inits = BP_MAX_TENSORS * net->nlayers + 3;
	g.nodes = calloc((size_t)g.max_nodes, sizeof *g.nodes);
	g.inits = calloc((size_t)g.max_inits, sizeof *g.inits);
	int rc = -1;
	if (!g.nodes || !g.inits) {
		bp_fail_oom(err, "the ONNX graph", (size_t)g.max_nodes * sizeof *g.nodes);
		goto done;
	}
	struct bp_shape in = net->layers[0].in;
	int rank = in.h * in.w > 1 ? 4 : 2;
	int in_dims[4] = { 0, in.c, in.h, in.w };
	if (rank == 2)
		in_dims[1] = (int)bp_shape_size(in);
	g.rank = rank;
	g.shape = in;
	snprintf(g.cur, sizeof g.cur, "input");
	emit_norm(&g, rank, in_dims);
	if (emit_layers(&g, err))
		goto done;
	flatten(&g, "output");
	if (g.nnodes == 0)
		add_node(&g, "output", "Identity");
	const char *out_name = net->loss == BP_LOSS_MSE ? "output" : "probabilities";
	snprintf(g.nodes[g.nnodes - 1].out, NAME_SIZE, "%s", out_name);
	encode_model(&pb, &g, version, rank, in_dims, out_name);
	if (bp_pb_finish(&pb, "the ONNX model", err))
		goto done;
	*out = pb.buf;
	*len = pb.len;
	pb.buf = NULL;
	rc = 0;
done:
	bp_pb_release(&pb);
	free(g.nodes);
	free(g.inits);
	return rc;
}
