/* bptrain report RUN_DIR...: one self-contained HTML page about a run or a
 * sweep of runs (core/report.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "report.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bptrain report RUN_DIR... [--output FILE.html]\n\n"
	           "Write one self-contained HTML page (inline SVG and CSS; nothing fetched) about\n"
	           "training runs: for each its summary, learning curves, layer diagnostics and the\n"
	           "confusion matrix of best.ckpt on its test split; for several runs (a sweep) a\n"
	           "table sorted by the best metric with the config keys that differ, and their\n"
	           "validation curves overlaid.\n\n"
	           "options:\n"
	           "  -o, --output FILE  write to FILE (default: RUN_DIR/report.html for one run,\n"
	           "                     ./report.html for several)\n"
	           "  -h, --help         show this help\n");
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	opterr = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1;) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'h': usage(stdout); return 0;
		case ':': return bp_usage_error("report", "option '%s' needs a value", argv[optind - 1]);
		default: return bp_usage_error("report", "unknown option '%s'", argv[optind - 1]);
		}
	}
	int n = argc - optind;
	if (n < 1)
		return bp_usage_error("report", "missing the run folder: bptrain report RUN_DIR...");
	char path[4096];
	if (!output) {
		const char *dir = argv[optind];
		size_t len = strlen(dir);
		while (len > 1 && dir[len - 1] == '/')
			len--;
		if (n > 1)
			output = "report.html";
		else if (snprintf(path, sizeof path, "%.*s/report.html", (int)len, dir) >= (int)sizeof path)
			return bp_usage_error("report", "the run folder's path is too long");
		else
			output = path;
	}
	struct bp_err err = { 0 };
	if (bp_report_write(output, argv + optind, n, "bptrain " BP_VERSION, &err))
		return bp_report(&err);
	return 0;
}
