/* bptrain time CONFIG.yaml (Caffe's `caffe time`): where a training step's
 * time goes, per layer and per part of the step, after warm-up steps. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "profile.h"

#define WARMUP 3
#define DEFAULT_BATCHES 20
#define MAX_BATCHES 1000000

static const char *const formats[] = { "text", "json", NULL };

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: bptrain time CONFIG.yaml [--set KEY=VALUE]... [--threads N] [--batches N]\n"
	        "                    [--format text|json]\n\n"
	        "Time training steps of a config: after %d warm-up steps, N steps on the shuffled\n"
	        "training data, then per layer its forward and backward milliseconds per batch\n"
	        "and GFLOP/s, the other parts of a step (batch gather, loss, waiting for the\n"
	        "other threads, gradient sum, optimiser step), and the total per batch and per\n"
	        "epoch (training steps only, no validation). Writes no run folder.\n\n"
	        "options:\n"
	        "  --set KEY=VALUE  override a config key (as for train)\n"
	        "  --threads N      worker threads, 0 = all cores (default: train.threads, 0)\n"
	        "  --batches N      timed steps, 1 to %d (default: %d)\n"
	        "  --format F       text (default) or json\n"
	        "  -h, --help       show this help\n",
	        WARMUP, MAX_BATCHES, DEFAULT_BATCHES);
}

/* A whole number in [lo, hi] for option opt; 0, or a usage error's status. */
static int parse_count(const char *opt, const char *arg, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(arg, &end, 10);
	if (end == arg || *end || errno || n < lo || n > hi)
		return bp_usage_error("time", "'%s' must be a whole number from %ld to %ld, got '%s'", opt, lo, hi, arg);
	*out = n;
	return 0;
}

static void shape_str(char *buf, size_t size, struct bp_shape s)
{
	if (s.h == 1 && s.w == 1)
		snprintf(buf, size, "%d", s.c);
	else
		snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
}

static double gflops(double flop, double seconds)
{
	return isnan(flop) || !(seconds > 0) ? NAN : flop / seconds / 1e9;
}

/* The step's totals, from the per-batch numbers of p. */
struct totals {
	double forward, backward;       /* all layers, seconds per batch */
	double other;                   /* the step's time outside every named part */
	double flop;                    /* per batch, layers with a count */
	double epoch;                   /* seconds: per batch × batches per epoch */
};

static struct totals sum_up(const struct bp_profile *p)
{
	struct totals t = { 0 };
	const struct bp_team_prof *q = &p->parts;
	for (int i = 0; i < p->nlayers; i++) {
		t.forward += p->layers[i].forward;
		t.backward += p->layers[i].backward;
		if (!isnan(p->layers[i].forward_flop))
			t.flop += p->layers[i].forward_flop + p->layers[i].backward_flop;
	}
	t.other = q->step - (t.forward + t.backward + q->gather + q->loss + q->wait + q->combine + q->optim);
	if (t.other < 0)
		t.other = 0;
	t.epoch = q->step * (double)p->batches_per_epoch;
	return t;
}

static void print_gflops(double v)
{
	if (isnan(v))
		printf(" %11s", "");
	else
		printf(" %11.1f", v);
}

static void print_text(const char *name, const struct bp_profile *p)
{
	const struct bp_team_prof *q = &p->parts;
	struct totals t = sum_up(p);
	printf("time %s: batch %d on %d thread%s, %d steps after %d warm-up; milliseconds per batch\n", name,
	       p->batch, p->members, p->members == 1 ? "" : "s", p->steps, p->warmup);
	printf("%-3s %-18s %-12s %10s %10s %11s %11s\n", "#", "type", "output", "forward", "backward",
	       "fwd GFLOP/s", "bwd GFLOP/s");
	for (int i = 0; i < p->nlayers; i++) {
		const struct bp_profile_layer *l = &p->layers[i];
		char out[64];
		shape_str(out, sizeof out, l->out);
		printf("%-3d %-18s %-12s %10.3f %10.3f", i, l->type, out, 1e3 * l->forward, 1e3 * l->backward);
		print_gflops(gflops(l->forward_flop, l->forward));
		print_gflops(gflops(l->backward_flop, l->backward));
		putchar('\n');
	}
	printf("%-3s %-18s %-12s %10.3f %10.3f", "", "layers", "", 1e3 * t.forward, 1e3 * t.backward);
	print_gflops(gflops(t.flop, t.forward + t.backward));
	putchar('\n');
	const struct { const char *what; double s; } parts[] = {
		{ "gather", q->gather }, { "loss", q->loss }, { "wait", q->wait }, { "gradient sum", q->combine },
		{ "optimiser step", q->optim }, { "other", t.other },
	};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		printf("%-3s %-18s %-12s %10.3f\n", "", parts[i].what, "", 1e3 * parts[i].s);
	printf("total per batch: %.4g ms, %.1f GFLOP/s over the whole step\n", 1e3 * q->step, gflops(t.flop, q->step));
	printf("total per epoch: %.4g s (%zu batches of %d for %zu training samples)\n", t.epoch,
	       p->batches_per_epoch, p->batch, p->ntrain);
}

static void json_key_num(const char *key, double v)
{
	printf(", \"%s\": ", key);
	bp_json_num(stdout, v);
}

static void print_json(const char *name, const struct bp_profile *p)
{
	const struct bp_team_prof *q = &p->parts;
	struct totals t = sum_up(p);
	fputs("{\"name\": ", stdout);
	bp_json_str(stdout, name);
	printf(", \"threads\": %d, \"batch_size\": %d, \"warmup\": %d, \"batches\": %d, \"train_samples\": %zu, "
	       "\"batches_per_epoch\": %zu, \"layers\": [", p->members, p->batch, p->warmup, p->steps, p->ntrain,
	       p->batches_per_epoch);
	for (int i = 0; i < p->nlayers; i++) {
		const struct bp_profile_layer *l = &p->layers[i];
		printf("%s{\"index\": %d, \"type\": ", i ? ", " : "", i);
		bp_json_str(stdout, l->type);
		printf(", \"output\": [%d, %d, %d]", l->out.c, l->out.h, l->out.w);
		json_key_num("forward_ms", 1e3 * l->forward);
		json_key_num("backward_ms", 1e3 * l->backward);
		json_key_num("forward_gflops", gflops(l->forward_flop, l->forward));
		json_key_num("backward_gflops", gflops(l->backward_flop, l->backward));
		json_key_num("forward_flop", l->forward_flop);
		json_key_num("backward_flop", l->backward_flop);
		putchar('}');
	}
	putchar(']');
	json_key_num("forward_ms", 1e3 * t.forward);
	json_key_num("backward_ms", 1e3 * t.backward);
	json_key_num("gather_ms", 1e3 * q->gather);
	json_key_num("loss_ms", 1e3 * q->loss);
	json_key_num("wait_ms", 1e3 * q->wait);
	json_key_num("gradient_sum_ms", 1e3 * q->combine);
	json_key_num("optimizer_ms", 1e3 * q->optim);
	json_key_num("other_ms", 1e3 * t.other);
	json_key_num("batch_ms", 1e3 * q->step);
	json_key_num("epoch_seconds", t.epoch);
	json_key_num("flop_per_batch", t.flop);
	json_key_num("gflops", gflops(t.flop, q->step));
	puts("}");
}

int cmd_time(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "set", required_argument, NULL, 's' }, { "threads", required_argument, NULL, 't' },
		{ "batches", required_argument, NULL, 'b' }, { "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	/* --set, then --threads as a set, applied last as in train */
	char **sets = calloc((size_t)argc + 1, sizeof *sets), threads_set[64];
	int nsets = 0, format = 0, status = 0;
	long threads = -1, batches = DEFAULT_BATCHES;
	if (!sets)
		return bp_report(&(struct bp_err){ BP_ERR_RUNTIME, "", "out of memory" });
	opterr = 0;
	optind = 1;
	for (int c; status == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
		switch (c) {
		case 's': sets[nsets++] = optarg; break;
		case 't': status = parse_count("--threads", optarg, 0, BP_MAX_THREADS, &threads); break;
		case 'b': status = parse_count("--batches", optarg, 1, MAX_BATCHES, &batches); break;
		case 'f':
			if ((format = bp_parse_choice("time", "--format", optarg, formats)) < 0)
				status = BP_EXIT_USAGE;
			break;
		case 'h': usage(stdout); free(sets); return 0;
		case ':': status = bp_usage_error("time", "option '%s' needs a value", argv[optind - 1]); break;
		default: status = bp_usage_error("time", "unknown option '%s'", argv[optind - 1]); break;
		}
	}
	if (status == 0 && argc - optind != 1)
		status = bp_usage_error("time", "expected one config: bptrain time CONFIG.yaml");
	if (status) {
		free(sets);
		return status;
	}
	if (threads >= 0) {
		snprintf(threads_set, sizeof threads_set, "train.threads=%ld", threads);
		sets[nsets++] = threads_set;
	}
	struct bp_err err = { 0 };
	struct bp_config *cfg = bp_config_load(argv[optind], sets, nsets, &err);
	free(sets);
	if (!cfg)
		return bp_report(&err);
	struct bp_profile p;
	if (bp_profile_run(cfg, WARMUP, (int)batches, &p, &err)) {
		status = bp_report(&err);
	} else {
		if (format == 1)
			print_json(cfg->name, &p);
		else
			print_text(cfg->name, &p);
		bp_profile_release(&p);
	}
	bp_config_free(cfg);
	return status;
}
