/* bptrain train CONFIG.yaml: options, the resolved config, then a run. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "model.h"
#include "world.h"

struct train_opts {
	const char *config;
	char **sets;            /* --set KEY=VALUE, then --out and --threads as sets */
	int nsets;
	const char *out;        /* --out DIR, or NULL */
	const char *resume;     /* --resume CKPT, or NULL */
	bool force, quiet, print_config, check;
	int progress;           /* -1: when stderr is a terminal; 0: never; 1: always */
	int threads;            /* --threads N, or -1 */
	char *owned[2];         /* the sets made for --out and --threads */
	int nowned;
};

enum {
	OPT_SET = 256, OPT_OUT, OPT_RESUME, OPT_FORCE, OPT_THREADS, OPT_QUIET,
	OPT_PROGRESS, OPT_NO_PROGRESS, OPT_PRINT_CONFIG, OPT_CHECK,
};

static const struct option long_options[] = {
	{ "set", required_argument, NULL, OPT_SET },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "resume", required_argument, NULL, OPT_RESUME },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "print-config", no_argument, NULL, OPT_PRINT_CONFIG },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: bptrain train CONFIG.yaml [--set KEY=VALUE]... [--out DIR] [--resume CKPT]\n"
	        "                     [--force] [--threads N] [--quiet] [--progress|--no-progress]\n"
	        "                     [--print-config] [--check]\n\n"
	        "Train a network from a YAML config.\n\n"
	        "options:\n"
	        "  --set KEY=VALUE  override a config key before validation; VALUE is YAML\n"
	        "                   (--set train.epochs=5 --set model.layers.0.units=128)\n"
	        "  --out DIR        the run folder (default: output.dir, which defaults to runs/NAME)\n"
	        "  --resume CKPT    continue a run from a checkpoint, such as DIR/last.ckpt\n"
	        "  --force          train into a folder that already holds a run\n"
	        "  --threads N      worker threads, 0 = all cores (default: train.threads, 0)\n"
	        "  --quiet          no epoch lines and no progress bar; errors still shown\n"
	        "  --progress       always show the progress bar (default: when stderr is a terminal)\n"
	        "  --no-progress    never show the progress bar\n"
	        "  --print-config   print the resolved config, every default filled in, and exit\n"
	        "  --check          validate the config and load the data, without training\n"
	        "  -h, --help       show this help\n");
}

/* A set that takes text literally: KEY='TEXT' with quotes doubled. */
static char *literal_set(const char *key, const char *text)
{
	size_t len = strlen(key) + 2 * strlen(text) + 4;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	p += sprintf(p, "%s='", key);
	for (; *text; text++) {
		if (*text == '\'')
			*p++ = '\'';
		*p++ = *text;
	}
	strcpy(p, "'");
	return s;
}

static int parse_threads(const char *arg, int *out)
{
	char *end;
	errno = 0;
	long n = strtol(arg, &end, 10);
	if (end == arg || *end || errno || n < 0 || n > BP_MAX_THREADS)
		return bp_usage_error("train", "'--threads' must be a whole number from 0 to %d, got '%s'",
		                      BP_MAX_THREADS, arg);
	*out = (int)n;
	return 0;
}

static int out_of_memory(void)
{
	return bp_report(&(struct bp_err){ BP_ERR_RUNTIME, "", "out of memory" });
}

/* Adds a set made here (o owns it); 0, or an exit status. */
static int add_own_set(struct train_opts *o, char *set)
{
	if (!set)
		return out_of_memory();
	o->owned[o->nowned++] = o->sets[o->nsets++] = set;
	return 0;
}

/* Fills o from argv; 0, or an exit status (-1: --help was shown). */
static int parse_args(int argc, char **argv, struct train_opts *o)
{
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_SET: o->sets[o->nsets++] = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_RESUME: o->resume = optarg; break;
		case OPT_FORCE: o->force = true; break;
		case OPT_THREADS:
			if (parse_threads(optarg, &o->threads))
				return BP_EXIT_USAGE;
			break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_PROGRESS: o->progress = 1; break;
		case OPT_NO_PROGRESS: o->progress = 0; break;
		case OPT_PRINT_CONFIG: o->print_config = true; break;
		case OPT_CHECK: o->check = true; break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return bp_usage_error("train", "option '%s' needs a value", argv[optind - 1]);
		default:
			return bp_usage_error("train", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bp_usage_error("train", "missing the config file: bptrain train CONFIG.yaml");
	if (optind + 1 < argc)
		return bp_usage_error("train", "unexpected argument '%s' after the config file", argv[optind + 1]);
	o->config = argv[optind];
	if (o->out && !o->out[0])
		return bp_usage_error("train", "'--out' needs a folder name");
	/* --out and --threads are overrides like --set, applied last. */
	if (o->out && add_own_set(o, literal_set("output.dir", o->out)))
		return 1;
	if (o->threads >= 0) {
		char buf[64];
		snprintf(buf, sizeof buf, "train.threads=%d", o->threads);
		if (add_own_set(o, strdup(buf)))
			return 1;
	}
	return 0;
}

static int run(const struct train_opts *o)
{
	struct bp_err err = { 0 };
	struct bp_config *cfg = bp_config_load(o->config, o->sets, o->nsets, &err);
	struct bp_label_spec spec;
	/* The layers validated, their defaults filled; in a data-parallel run
	 * every process read the config (the first thing they agree on). */
	int rc = !cfg || bp_model_label_spec(cfg, &spec, &err) ? -1 : 0;
	int status = 0;
	if (bp_world_agree(rc, &err))
		status = bp_report(&err);
	else if (o->print_config) {
		if (bp_config_emit(cfg, stdout, &err))
			status = bp_report(&err);
	} else if (o->check) {
		status = bp_train_check(cfg);
	} else {
		status = bp_train_run(cfg, o->resume, o->force, o->quiet, o->progress);
	}
	bp_config_free(cfg);
	return status;
}

int cmd_train(int argc, char **argv)
{
	struct train_opts o = { .progress = -1, .threads = -1 };
	o.sets = calloc((size_t)argc + 2, sizeof *o.sets);
	if (!o.sets)
		return out_of_memory();
	int status = parse_args(argc, argv, &o);
	/* Under mpirun the ranks' command lines may differ (MPMD): they agree
	 * on them before anything else, so that one rank's bad option stops
	 * them all instead of leaving the others waiting. */
	struct bp_err err = { 0 };
	if (status > 0)
		bp_fail(&err, (enum bp_errkind)status, NULL, "%s", bp_last_usage_error());
	if (bp_world_agree(status > 0 ? -1 : 0, &err) && status <= 0)
		status = bp_report(&err);
	else if (status == 0)
		status = run(&o);
	else if (status < 0)
		status = 0;
	for (int i = 0; i < o.nowned; i++)
		free(o.owned[i]);
	free(o.sets);
	return status;
}
