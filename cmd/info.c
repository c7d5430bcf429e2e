/* bptrain info MODEL.ckpt: the layers, their shapes, trainable parameter
 * counts and state (running statistics, shown apart), the epoch and the
 * best metric of a checkpoint. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "model.h"

static const char *const formats[] = { "text", "json", NULL };

static void usage(FILE *f)
{
	fprintf(f, "usage: bptrain info MODEL.ckpt [--format text|json]\n\n"
	           "Show a checkpoint's layers, shapes, trainable parameter counts and state\n"
	           "(running statistics), its epoch and best metric.\n\n"
	           "options:\n"
	           "  --format F  text (default) or json\n"
	           "  -h, --help  show this help\n");
}

/* "D" for flat shapes, "CxHxW" for images. */
static void shape_str(char *buf, size_t size, struct bp_shape s)
{
	if (s.h == 1 && s.w == 1)
		snprintf(buf, size, "%d", s.c);
	else
		snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
}

/* The kind takes an 'activation' key (dropout, flatten and pools do not). */
static bool has_activation(const struct bp_layer_ops *ops)
{
	for (const char *const *k = ops->keys; k && *k; k++)
		if (strcmp(*k, "activation") == 0)
			return true;
	return false;
}

static size_t layer_state(const struct bp_layer *l) { return l->ops->nstate ? l->ops->nstate(l) : 0; }

/* The state tensors (not trained: batch_norm's running statistics), as a
 * JSON list of {"name", "shape"} or one text line. */
static void print_state_tensors(const struct bp_net *net, bool json)
{
	int ns = bp_net_nstate_tensors(net);
	if (!json && ns == 0)
		return;
	fputs(json ? ", \"state_tensors\": [" : "state (not trained):", stdout);
	for (int j = 0; j < ns; j++) {
		struct bp_tensor_desc d;
		char name[64];
		bp_net_state_tensor(net, j, &d, name, sizeof name);
		if (json) {
			printf("%s{\"name\": ", j ? ", " : "");
			bp_json_str(stdout, name);
			fputs(", \"shape\": [", stdout);
			for (int r = 0; r < d.rank; r++)
				printf("%s%d", r ? ", " : "", d.dims[r]);
			fputs("]}", stdout);
		} else {
			printf("%s %s (", j ? "," : "", name);
			for (int r = 0; r < d.rank; r++)
				printf("%s%d", r ? "x" : "", d.dims[r]);
			putchar(')');
		}
	}
	fputs(json ? "]" : "\n", stdout);
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int format = 0;
	opterr = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
		switch (c) {
		case 'f': if ((format = bp_parse_choice("info", "--format", optarg, formats)) < 0) return 2; break;
		case 'h': usage(stdout); return 0;
		case ':': return bp_usage_error("info", "option '%s' needs a value", argv[optind - 1]);
		default: return bp_usage_error("info", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return bp_usage_error("info", "expected one checkpoint: bptrain info MODEL.ckpt");
	const char *path = argv[optind];
	struct bp_err err = { 0 };
	struct bp_model m;
	if (bp_model_load(&m, path, 1, &err))
		return bp_report(&err);
	const struct bp_net *net = m.net;
	const struct bp_train_state *st = &m.ck.state;
	/* Without a validation set the best checkpoint is the one with the
	 * lowest training loss (core/train.c). */
	bool has_val = m.cfg->data.val_split > 0 || m.cfg->data.val.present;
	const char *metric = !has_val ? "train_loss"
	                     : m.cfg->output.best_metric == BP_METRIC_VAL_LOSS ? "val_loss" : "val_accuracy";
	char in[64], out[64];
	int tw = 4;   /* the type column fits the longest kind shown */
	for (int i = 0; i < net->nlayers; i++)
		if ((int)strlen(net->layers[i].ops->type) > tw)
			tw = (int)strlen(net->layers[i].ops->type);
	if (format == 1) {
		fputs("{\"name\": ", stdout);
		bp_json_str(stdout, m.cfg->name);
		fputs(", \"layers\": [", stdout);
	} else {
		printf("model %s: %zu parameters", m.cfg->name, net->nparam);
		if (net->nstate)
			printf(", %zu state values", net->nstate);
		printf(", loss %s\n", bp_loss_names[net->loss]);
		printf("%-3s %-*s %-12s %-10s %-10s %-8s %s\n", "#", tw, "type", "activation", "input", "output", "params",
		       "state");
	}
	for (int i = 0; i < net->nlayers; i++) {
		const struct bp_layer *l = &net->layers[i];
		shape_str(in, sizeof in, l->in);
		shape_str(out, sizeof out, l->out);
		const char *act = has_activation(l->ops) ? bp_act_names[l->act] : "-";
		if (format == 1)
			printf("%s{\"type\": \"%s\", \"activation\": \"%s\", \"input\": [%d, %d, %d], "
			       "\"output\": [%d, %d, %d], \"params\": %zu, \"state\": %zu}",
			       i ? ", " : "", l->ops->type, act, l->in.c, l->in.h, l->in.w, l->out.c, l->out.h,
			       l->out.w, l->ops->nparam(l), layer_state(l));
		else
			printf("%-3d %-*s %-12s %-10s %-10s %-8zu %zu\n", i, tw, l->ops->type, act, in, out,
			       l->ops->nparam(l), layer_state(l));
	}
	if (format == 1) {
		printf("], \"params\": %zu, \"state\": %zu", net->nparam, net->nstate);
		print_state_tensors(net, true);
		printf(", \"format_version\": %d, \"loss\": \"%s\", \"epoch\": %d, \"best_metric\": \"%s\", "
		       "\"best\": ", m.ck.version, bp_loss_names[net->loss], st->epoch, metric);
		bp_json_num(stdout, st->best);
		fputs(", \"best_epoch\": ", stdout);
		if (st->best_epoch > 0)
			printf("%d", st->best_epoch);
		else
			fputs("null", stdout);
		printf(", \"position_in_epoch\": %llu}\n", (unsigned long long)st->batch);
	} else {
		print_state_tensors(net, false);
		printf("epoch %d", st->epoch);
		if (st->batch)
			printf(" (+%llu batches of epoch %d)", (unsigned long long)st->batch, st->epoch + 1);
		if (st->best_epoch > 0)
			printf(", best %s %.4f at epoch %d", metric, st->best, st->best_epoch);
		putchar('\n');
	}
	bp_model_release(&m);
	return 0;
}
