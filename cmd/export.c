/* bptrain export MODEL.ckpt: the model as ONNX (default) or safetensors. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "files.h"
#include "model.h"
#include "onnx.h"
#include "safetensors.h"

static const char *const formats[] = { "onnx", "safetensors", NULL };

static void usage(FILE *f)
{
	fprintf(f, "usage: bptrain export MODEL.ckpt [--format onnx|safetensors] [--output FILE]\n\n"
	           "Write a checkpoint's model for other runtimes: ONNX (opset 13; input 'input' takes\n"
	           "the raw feature values, the normalisation is inside the graph; output\n"
	           "'probabilities', or 'output' for mse), or safetensors (every tensor under its\n"
	           "'info' name, the normalisation statistics, the config in __metadata__).\n\n"
	           "options:\n"
	           "  --format F     onnx (default) or safetensors\n"
	           "  --output FILE  write to FILE (default: MODEL.onnx or MODEL.safetensors\n"
	           "                 beside the checkpoint)\n"
	           "  -h, --help     show this help\n");
}

/* MODEL.ckpt → MODEL.EXT (or MODEL.EXT appended when there is no .ckpt). */
static int default_output(char *buf, size_t size, const char *ckpt, const char *ext)
{
	size_t n = strlen(ckpt);
	if (n > 5 && strcmp(ckpt + n - 5, ".ckpt") == 0)
		n -= 5;
	return snprintf(buf, size, "%.*s.%s", (int)n, ckpt, ext) >= (int)size ? -1 : 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int format = 0;
	const char *output = NULL;
	opterr = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
		switch (c) {
		case 'f': if ((format = bp_parse_choice("export", "--format", optarg, formats)) < 0) return 2; break;
		case 'o': output = optarg; break;
		case 'h': usage(stdout); return 0;
		case ':': return bp_usage_error("export", "option '%s' needs a value", argv[optind - 1]);
		default: return bp_usage_error("export", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return bp_usage_error("export", "expected one checkpoint: bptrain export MODEL.ckpt");
	const char *ckpt = argv[optind];
	char path[4096];
	if (!output) {
		if (default_output(path, sizeof path, ckpt, formats[format]))
			return bp_usage_error("export", "the checkpoint's path is too long");
		output = path;
	}

	struct bp_err err = { 0 };
	struct bp_model m;
	if (bp_model_load(&m, ckpt, 1, &err))
		return bp_report(&err);
	unsigned char *bytes = NULL;
	size_t len = 0;
	int rc = format == 0 ? bp_onnx_encode(&m, BP_VERSION, &bytes, &len, &err)
	                     : bp_safetensors_encode(&m, BP_VERSION, &bytes, &len, &err);
	/* Written whole or not at all: PATH.tmp, then renamed over PATH. */
	if (rc == 0)
		rc = bp_write_atomic(output, bytes, len, &err);
	free(bytes);
	bp_model_release(&m);
	return rc ? bp_report(&err) : 0;
}
