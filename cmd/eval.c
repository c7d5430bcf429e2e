/* bptrain eval MODEL.ckpt: loss and accuracy of a checkpoint on a split of
 * its own config's data, or on other files of the same layout. */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "evaluate.h"
#include "model.h"

#define EVAL_BATCH 256

static const char *const splits[] = { "test", "val", "train", NULL };
static const char *const formats[] = { "text", "json", NULL };

static void usage(FILE *f)
{
	fprintf(f, "usage: bptrain eval MODEL.ckpt [--split test|val|train] [--data FILE...]\n"
	           "                    [--format text|json] [--confusion]\n\n"
	           "Evaluate a checkpoint: prints 'loss L accuracy A samples N'.\n\n"
	           "options:\n"
	           "  --split S      the split of the checkpoint's own data config (default: test)\n"
	           "  --data FILE... other data laid out like the training data: IMAGES LABELS for\n"
	           "                 IDX, one CSV file for csv (the config's CSV options apply)\n"
	           "  --format F     text (default) or json\n"
	           "  --confusion    add the confusion matrix (rows = true class) and per-class\n"
	           "                 precision and recall\n"
	           "  -h, --help     show this help\n");
}

static void print_confusion(FILE *f, const uint64_t *cm, int k, bool json)
{
	if (json)
		fputs(", \"confusion\": [", f);
	else
		fputs("confusion (rows = true class, columns = predicted):\n", f);
	for (int i = 0; i < k; i++) {
		if (json)
			fprintf(f, "%s[", i ? ", " : "");
		for (int j = 0; j < k; j++)
			fprintf(f, json ? "%s%llu" : "%s%6llu", json && j ? ", " : (j ? " " : ""),
			        (unsigned long long)cm[(size_t)i * k + j]);
		fputs(json ? "]" : "\n", f);
	}
	fputs(json ? "], \"per_class\": [" : "class precision recall\n", f);
	for (int c = 0; c < k; c++) {
		uint64_t tp = cm[(size_t)c * k + c], pred = 0, truth = 0;
		for (int i = 0; i < k; i++) {
			pred += cm[(size_t)i * k + c];
			truth += cm[(size_t)c * k + i];
		}
		double p = pred ? (double)tp / (double)pred : NAN, r = truth ? (double)tp / (double)truth : NAN;
		if (json) {
			fprintf(f, "%s{\"class\": %d, \"precision\": ", c ? ", " : "", c);
			bp_json_num(f, p);
			fputs(", \"recall\": ", f);
			bp_json_num(f, r);
			fputc('}', f);
		} else {
			fprintf(f, "%5d %9.4f %6.4f\n", c, p, r);
		}
	}
	if (json)
		fputc(']', f);
}

/* The file set for --data, laid out like the config's training data. */
static int data_files(struct bp_fileset *fs, const struct bp_config *cfg, char **files, int nfiles)
{
	memset(fs, 0, sizeof *fs);
	fs->present = true;
	snprintf(fs->where, sizeof fs->where, "--data");
	if (cfg->data.format == BP_FMT_IDX) {
		if (nfiles != 2)
			return bp_usage_error("eval", "IDX data needs two files: --data IMAGES LABELS");
		fs->images = files[0];
		fs->labels = files[1];
	} else {
		if (nfiles != 1)
			return bp_usage_error("eval", "CSV data needs one file: --data FILE");
		fs->path = files[0];
	}
	return 0;
}

int cmd_eval(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "split", required_argument, NULL, 's' }, { "data", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' }, { "confusion", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int split = 0, format = 0, nfiles = 0;
	bool confusion = false;
	char *files[8];
	const char *ckpt = NULL;
	opterr = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, "-:h", opts, NULL)) != -1;) {
		switch (c) {
		case 's': if ((split = bp_parse_choice("eval", "--split", optarg, splits)) < 0) return 2; break;
		case 'f': if ((format = bp_parse_choice("eval", "--format", optarg, formats)) < 0) return 2; break;
		case 'c': confusion = true; break;
		case 'h': usage(stdout); return 0;
		case 'd':
		case 1:   /* a positional: the checkpoint, then more --data files */
			if (c == 1 && !ckpt && nfiles == 0) {
				ckpt = optarg;
				break;
			}
			if (c == 1 && nfiles == 0)
				return bp_usage_error("eval", "unexpected argument '%s'", optarg);
			if (nfiles == 8)
				return bp_usage_error("eval", "too many --data files");
			files[nfiles++] = optarg;
			break;
		case ':': return bp_usage_error("eval", "option '%s' needs a value", argv[optind - 1]);
		default: return bp_usage_error("eval", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!ckpt)
		return bp_usage_error("eval", "missing the checkpoint: bptrain eval MODEL.ckpt");

	struct bp_err err = { 0 };
	struct bp_model m;
	struct bp_dataset ds = { 0 };
	struct bp_data all = { 0 };
	struct bp_batch b = { 0 };
	uint64_t *cm = NULL;
	int status = 0;
	if (bp_model_load(&m, ckpt, EVAL_BATCH, &err))
		return bp_report(&err);
	struct bp_config *cfg = m.cfg;
	struct bp_label_spec spec;
	const struct bp_dataset *src = &ds;
	const uint32_t *idx = NULL;
	size_t n = 0;
	if (bp_model_label_spec(cfg, &spec, &err))
		goto fail;
	if (nfiles) {
		struct bp_fileset fs;
		if ((status = data_files(&fs, cfg, files, nfiles)))
			goto out;
		if (bp_dataset_load(&ds, &fs, &cfg->data, &spec, &err))
			goto fail;
	} else if (split == 0 || (split == 1 && cfg->data.val.present) || (split == 2 && cfg->data.val_split == 0)) {
		const struct bp_fileset *fs = split == 0 ? &cfg->data.test : split == 1 ? &cfg->data.val : &cfg->data.train;
		if (!fs->present) {
			bp_fail(&err, BP_ERR_CONFIG, ckpt, "the checkpoint's config has no %s set; use --split or --data",
			        splits[split]);
			goto fail;
		}
		if (bp_dataset_load(&ds, fs, &cfg->data, &spec, &err))
			goto fail;
	} else {
		/* A split held out of train: load train and redo the seeded split. */
		if (split == 1 && cfg->data.val_split == 0) {
			bp_fail(&err, BP_ERR_CONFIG, ckpt, "the checkpoint's config has no validation set");
			goto fail;
		}
		if (bp_data_load(&all, &cfg->data, &spec, cfg->seed, &err))
			goto fail;
		src = split == 1 ? all.val_src : &all.train;
		idx = split == 1 ? all.val_idx : all.train_idx;
		n = split == 1 ? all.nval : all.ntrain;
	}
	if (src == &ds)
		n = ds.n;
	if (src->d != bp_net_in_width(m.net)) {
		bp_fail(&err, BP_ERR_DATA, src->path, "samples have %zu features, the model takes %zu", src->d,
		        bp_net_in_width(m.net));
		goto fail;
	}
	if (bp_model_check_labels(m.net, src, &err) || bp_batch_init(&b, EVAL_BATCH, src->d, src->k, &err))
		goto fail;
	int k = (int)bp_net_out_width(m.net);
	bool want_cm = confusion && cfg->loss == BP_LOSS_CROSS_ENTROPY;
	if (want_cm && !(cm = calloc((size_t)k * k, sizeof *cm))) {
		bp_fail_oom(&err, "the confusion matrix", (size_t)k * k * 8);
		goto fail;
	}
	struct bp_stats s;
	bp_evaluate(m.net, src, &m.norm, idx, 0, n, &b, &s, cm);
	if (format == 1) {
		fputs("{\"loss\": ", stdout);
		bp_json_num(stdout, s.loss);
		fputs(", \"accuracy\": ", stdout);
		bp_json_num(stdout, s.accuracy);
		printf(", \"samples\": %zu", s.n);
		if (want_cm)
			print_confusion(stdout, cm, k, true);
		fputs("}\n", stdout);
	} else {
		if (isnan(s.accuracy))
			printf("loss %.4f samples %zu\n", s.loss, s.n);
		else
			printf("loss %.4f accuracy %.4f samples %zu\n", s.loss, s.accuracy, s.n);
		if (want_cm)
			print_confusion(stdout, cm, k, false);
	}
	goto out;
fail:
	status = bp_report(&err);
out:
	free(cm);
	bp_batch_release(&b);
	bp_dataset_release(&ds);
	bp_data_release(&all);
	bp_model_release(&m);
	return status;
}
