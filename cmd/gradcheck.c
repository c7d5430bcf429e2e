/* bptrain gradcheck CONFIG.yaml: backprop's gradients against finite
 * differences, on a small batch of the config's own training data. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "evaluate.h"
#include "gradcheck.h"
#include "model.h"

#define CHECK_BATCH 8
#define CHECK_PER_TENSOR 200
#define CHECK_TOLERANCE 1e-2   /* float32 rounding in wide relu nets reaches ~1e-3; real mistakes give > 0.1 */

static void usage(FILE *f)
{
	fprintf(f, "usage: bptrain gradcheck CONFIG.yaml [--set KEY=VALUE]...\n\n"
	           "Compare backprop's gradients with central differences on %d training samples\n"
	           "(at most %d elements per tensor). Prints 'NAME max_rel_err X' per parameter\n"
	           "tensor; exits 0 when every tensor is below %g, 1 otherwise.\n\n"
	           "options:\n"
	           "  --set KEY=VALUE  override a config key (as for train)\n"
	           "  -h, --help       show this help\n", CHECK_BATCH, CHECK_PER_TENSOR, CHECK_TOLERANCE);
}

int cmd_gradcheck(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "set", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	char **sets = calloc((size_t)argc, sizeof *sets);
	int nsets = 0;
	if (!sets)
		return 1;
	opterr = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
		switch (c) {
		case 's': sets[nsets++] = optarg; break;
		case 'h': usage(stdout); free(sets); return 0;
		case ':': free(sets); return bp_usage_error("gradcheck", "option '%s' needs a value", argv[optind - 1]);
		default: free(sets); return bp_usage_error("gradcheck", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1) {
		free(sets);
		return bp_usage_error("gradcheck", "expected one config: bptrain gradcheck CONFIG.yaml");
	}
	struct bp_err err = { 0 };
	struct bp_config *cfg = bp_config_load(argv[optind], sets, nsets, &err);
	free(sets);
	if (!cfg)
		return bp_report(&err);
	struct bp_label_spec spec;
	struct bp_data data = { 0 };
	struct bp_net *net = NULL;
	struct bp_batch b = { 0 };
	struct bp_gradcheck_result *res = NULL;
	int status = 0;
	if (bp_model_label_spec(cfg, &spec, &err) || bp_data_load(&data, &cfg->data, &spec, cfg->seed, &err))
		goto fail;
	int n = data.ntrain < CHECK_BATCH ? (int)data.ntrain : CHECK_BATCH;
	if (n == 0) {
		bp_fail(&err, BP_ERR_DATA, data.train.path, "no training samples");
		goto fail;
	}
	if (!(net = bp_model_build(cfg, data.train.shape, n, &err)) || bp_model_check_labels(net, &data.train, &err)
	    || bp_batch_init(&b, n, data.train.d, data.train.k, &err))
		goto fail;
	int nt = bp_net_ntensors(net);
	if (!(res = calloc((size_t)nt, sizeof *res))) {
		bp_fail_oom(&err, "gradcheck results", (size_t)nt * sizeof *res);
		goto fail;
	}
	struct bp_rng rng;
	bp_rng_seed(&rng, cfg->seed);
	bp_net_init(net, cfg->model.init, &rng);
	net->rng = &rng;
	bp_batch_fill(&b, &data.train, &data.norm, data.train_idx, 0, n);
	bp_gradcheck(net, b.x, &b.t, n, 1e-2, CHECK_PER_TENSOR, res);
	for (int j = 0; j < nt; j++) {
		printf("%s max_rel_err %.3g\n", res[j].name, res[j].max_rel_err);
		if (!(res[j].max_rel_err < CHECK_TOLERANCE))
			status = 1;
	}
	goto out;
fail:
	status = bp_report(&err);
out:
	free(res);
	bp_batch_release(&b);
	bp_net_free(net);
	bp_data_release(&data);
	bp_config_free(cfg);
	return status;
}
