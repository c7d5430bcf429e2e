/* bptrain predict MODEL.ckpt INPUT: one CSV row of predictions per sample. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "evaluate.h"
#include "files.h"
#include "model.h"

#define PREDICT_BATCH 256

static void usage(FILE *f)
{
	fprintf(f, "usage: bptrain predict MODEL.ckpt INPUT [--output FILE] [--proba] [--skip-rows N]\n\n"
	           "Predict for each sample of INPUT (an IDX images file, or a CSV of feature\n"
	           "columns only, with the config's delimiter) and write CSV: a header, then\n"
	           "'label' (the class) or, for mse, 'y0,y1,...' per sample.\n\n"
	           "options:\n"
	           "  --output FILE  write to FILE (default: standard output)\n"
	           "  --proba        add the class probabilities p0,p1,...\n"
	           "  --skip-rows N  CSV lines to drop before the first sample (default: 0)\n"
	           "  -h, --help     show this help\n");
}

static void write_rows(FILE *f, const struct bp_net *net, const float *out, const float *proba, int n,
                       bool with_proba)
{
	int k = (int)bp_net_out_width(net);
	for (int i = 0; i < n; i++) {
		const float *row = out + (size_t)i * k, *p = proba + (size_t)i * k;
		if (net->loss == BP_LOSS_MSE) {
			for (int j = 0; j < k; j++)
				fprintf(f, "%s%.9g", j ? "," : "", row[j]);
		} else if (net->loss == BP_LOSS_BINARY_CROSS_ENTROPY) {
			for (int j = 0; j < k; j++)
				fprintf(f, "%s%d", j ? "," : "", row[j] > 0);
		} else {
			fprintf(f, "%d", bp_argmax(row, k));
		}
		for (int j = 0; with_proba && net->loss != BP_LOSS_MSE && j < k; j++)
			fprintf(f, ",%.6g", p[j]);
		fputc('\n', f);
	}
}

static void write_header(FILE *f, const struct bp_net *net, bool with_proba)
{
	int k = (int)bp_net_out_width(net);
	if (net->loss == BP_LOSS_MSE || (net->loss == BP_LOSS_BINARY_CROSS_ENTROPY && k > 1)) {
		for (int j = 0; j < k; j++)
			fprintf(f, "%s%s%d", j ? "," : "", net->loss == BP_LOSS_MSE ? "y" : "label", j);
	} else {
		fputs("label", f);
	}
	for (int j = 0; with_proba && net->loss != BP_LOSS_MSE && j < k; j++)
		fprintf(f, ",p%d", j);
	fputc('\n', f);
}

int cmd_predict(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "proba", no_argument, NULL, 'p' },
		{ "skip-rows", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	bool proba = false;
	long skip = 0;
	opterr = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
		char *end;
		switch (c) {
		case 'o': output = optarg; break;
		case 'p': proba = true; break;
		case 's':
			errno = 0;
			skip = strtol(optarg, &end, 10);
			if (end == optarg || *end || errno || skip < 0)
				return bp_usage_error("predict", "'--skip-rows' must be a whole number, got '%s'", optarg);
			break;
		case 'h': usage(stdout); return 0;
		case ':': return bp_usage_error("predict", "option '%s' needs a value", argv[optind - 1]);
		default: return bp_usage_error("predict", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return bp_usage_error("predict", "expected MODEL.ckpt INPUT");
	const char *ckpt = argv[optind], *input = argv[optind + 1];

	struct bp_err err = { 0 };
	struct bp_model m;
	struct bp_dataset ds = { 0 };
	struct bp_batch b = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out = NULL;
	int status = 0;
	if (bp_model_load(&m, ckpt, PREDICT_BATCH, &err))
		return bp_report(&err);
	if (bp_dataset_load_inputs(&ds, input, m.cfg->data.format, m.cfg->data.delimiter, skip, &err))
		goto fail;
	if (ds.d != bp_net_in_width(m.net)) {
		bp_fail(&err, BP_ERR_DATA, input, "samples have %zu features, the model takes %zu", ds.d,
		        bp_net_in_width(m.net));
		goto fail;
	}
	if (bp_batch_init(&b, PREDICT_BATCH, ds.d, 0, &err))
		goto fail;
	/* To a file: built in memory, then written whole (never half a file). */
	out = output ? open_memstream(&text, &len) : stdout;
	if (!out) {
		bp_fail_oom(&err, "the predictions", 0);
		goto fail;
	}
	write_header(out, m.net, proba);
	for (size_t first = 0; first < ds.n; first += PREDICT_BATCH) {
		int n = (int)(ds.n - first < PREDICT_BATCH ? ds.n - first : PREDICT_BATCH);
		bp_gather(b.x, &ds, &m.norm, NULL, first, (size_t)n);
		bp_net_forward(m.net, b.x, n, false);
		const float *raw = bp_net_output(m.net);
		const float *p = proba ? bp_net_proba(m.net, n) : raw;
		write_rows(out, m.net, raw, p, n, proba);
	}
	if (output) {
		if (fclose(out) != 0) {
			out = NULL;
			bp_fail_oom(&err, "the predictions", len);
			goto fail;
		}
		out = NULL;
		if (bp_write_atomic(output, text, len, &err))
			goto fail;
	}
	goto out;
fail:
	status = bp_report(&err);
out:
	if (out && out != stdout)
		fclose(out);
	free(text);
	bp_batch_release(&b);
	bp_dataset_release(&ds);
	bp_model_release(&m);
	return status;
}
