/* bptrain: the subcommand table, --help and --version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "cmd.h"
#include "simd.h"
#include "world.h"

struct bp_subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct bp_subcommand subcommands[] = {
	{ "train",     cmd_train,     "train a network from a YAML config" },
	{ "eval",      cmd_eval,      "evaluate a checkpoint on a dataset split" },
	{ "predict",   cmd_predict,   "predict for new samples with a checkpoint" },
	{ "info",      cmd_info,      "show a checkpoint's layers, shapes and progress" },
	{ "gradcheck", cmd_gradcheck, "check backprop gradients against finite differences" },
	{ "time",      cmd_time,      "time training steps per layer: where an epoch goes" },
	{ "export",    cmd_export,    "write a checkpoint's model as ONNX or safetensors" },
	{ "report",    cmd_report,    "write an HTML page of a run's or a sweep's curves and diagnostics" },
};
#define NSUB (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: bptrain COMMAND [OPTIONS]\n"
	           "       bptrain COMMAND --help | bptrain --help | bptrain --version\n\n"
	           "Train and evaluate neural networks by backpropagation.\n\ncommands:\n");
	for (size_t i = 0; i < NSUB; i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\nexit status: 0 ok, 1 runtime failure, 2 usage or config error, "
	           "3 data error, 4 diverged, 130 interrupted\n");
}

static int finish(int status)
{
	/* A full disk or closed pipe on stdout is a failure, not a success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "bptrain: error: could not write to standard output\n");
		return status ? status : 1;
	}
	return status;
}

/* OpenBLAS picks its kernels when it loads, from OPENBLAS_CORETYPE or its
 * own CPU detection. When the detection fell back to kernels older than the
 * CPU (core/blas.h), bptrain starts itself again once with the kernel set
 * that fits. A value already in the environment is never changed
 * (BPTRAIN_BLAS_AUTO=0 keeps OpenBLAS's own choice); if the exec fails,
 * bptrain carries on with the kernels it has. */
static void pick_blas_kernels(char **argv)
{
	const char *keep = getenv("BPTRAIN_BLAS_AUTO");
	if (getenv("OPENBLAS_CORETYPE") || (keep && strcmp(keep, "0") == 0))
		return;
	const char *core = bp_blas_better_coretype();
	if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	unsetenv("OPENBLAS_CORETYPE");
}

/* Under an MPI launcher (core/world.h): `train` joins the other processes,
 * whose standard output goes nowhere (rank 0 alone prints); any other
 * command is refused when it would run as several processes. 0, or the
 * exit status. */
static int join_world(const char *name, int *argc, char ***argv)
{
	struct bp_err err = { 0 };
	if (strcmp(name, "train") != 0) {
		bp_fail(&err, BP_ERR_CONFIG, NULL, "only 'bptrain train' runs across MPI processes; run 'bptrain %s' "
		        "without mpirun (it was started as %d processes)", name, bp_world_launch_size());
		return bp_report(&err);
	}
	if (bp_world_init(argc, argv, &err))
		return bp_report(&err);
	if (bp_world_rank() != 0 && !freopen("/dev/null", "w", stdout))
		return bp_report(&(struct bp_err){ BP_ERR_RUNTIME, "/dev/null", "cannot open" });
	return 0;
}

int main(int argc, char **argv)
{
	pick_blas_kernels(argv);
	bp_flush_denormals();
	if (argc < 2) {
		usage(stderr);
		return BP_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		usage(stdout);
		return finish(0);
	}
	if (strcmp(name, "--version") == 0) {
		printf("bptrain %s (OpenBLAS kernels: %s; MPI: %s)\n", BP_VERSION, bp_blas_corename(), bp_world_library());
		return finish(0);
	}
	for (size_t i = 0; i < NSUB; i++)
		if (strcmp(name, subcommands[i].name) == 0) {
			struct bp_err err = { 0 };
			if (bp_world_launched() && (strcmp(name, "train") == 0 || bp_world_launch_size() > 1)) {
				int status = join_world(name, &argc, &argv);
				if (status)
					return status;
			}
			if (bp_blas_check_memory_limit(&err)) {
				/* _exit: OpenBLAS's threads may already be stuck waiting
				 * for memory, and its exit handler would wait for them. */
				int status = bp_report(&err);
				fflush(stdout);
				_exit(status);
			}
			return bp_world_end(finish(subcommands[i].run(argc - 1, argv + 1)));
		}
	fprintf(stderr, "bptrain: error: unknown command '%s' (see 'bptrain --help')\n", name);
	return BP_EXIT_USAGE;
}
