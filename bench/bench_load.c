/* Data loading speed.
 *
 *   bench_load idx IMAGES.gz [LABELS.gz] [REPS]
 *       bp_idx_read of IMAGES (and bp_dataset_load with LABELS) against
 *       `zcat IMAGES > /dev/null`, interleaved, REPS times each (default 7).
 *   bench_load csv FILE.csv [MB] [REPS]
 *       writes a numeric CSV of about MB megabytes (default 100) unless FILE
 *       exists, then times bp_csv_read on it (one core).
 *
 * Prints the best and median of each and the ratio / throughput. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "dataset.h"
#include "idx.h"
#include "rng.h"

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Runs argv with stdout on /dev/null; returns its wall time. */
static double time_process(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	double t0 = now();
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		fprintf(stderr, "bench_load: cannot run %s\n", argv[0]);
		exit(1);
	}
	int status;
	waitpid(pid, &status, 0);
	double t = now() - t0;
	posix_spawn_file_actions_destroy(&fa);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_load: %s failed\n", argv[0]);
		exit(1);
	}
	return t;
}

static void die(const struct bp_err *err)
{
	fprintf(stderr, "bench_load: error: %s: %s\n", err->where, err->msg);
	exit(1);
}

/* One epoch of shuffled batches of 32 through bp_gather with scale. */
static int bench_gather(char *images, const char *labels)
{
	struct bp_fileset fs = { .present = true, .images = images, .labels = (char *)labels };
	struct bp_data_cfg cfg = { .format = BP_FMT_IDX };
	struct bp_label_spec spec = { .classes = true, .width = 10 };
	struct bp_dataset ds;
	struct bp_norm norm;
	struct bp_err err = { 0 };
	if (bp_dataset_load(&ds, &fs, &cfg, &spec, &err) || bp_norm_fit(&norm, BP_NORM_SCALE, &ds, NULL, 0, &err))
		die(&err);
	uint32_t *perm = malloc(ds.n * sizeof *perm);
	float *x = malloc(32 * ds.d * sizeof *x);
	int32_t cls[32];
	if (!perm || !x)
		return 1;
	for (size_t i = 0; i < ds.n; i++)
		perm[i] = (uint32_t)i;
	struct bp_rng rng;
	bp_rng_seed(&rng, 1);
	bp_rng_shuffle(&rng, perm, (uint32_t)ds.n);
	double best = 1e9;
	for (int r = 0; r < 5; r++) {
		double t0 = now();
		for (size_t i = 0; i + 32 <= ds.n; i += 32) {
			bp_gather(x, &ds, &norm, perm, i, 32);
			bp_gather_labels(cls, NULL, &ds, perm, i, 32);
		}
		double t = now() - t0;
		best = t < best ? t : best;
	}
	printf("bp_gather (scale)   %.1f ms per shuffled epoch in batches of 32, %.0f ns per sample\n",
	       1e3 * best, 1e9 * best / (double)ds.n);
	free(perm);
	free(x);
	bp_norm_release(&norm);
	bp_dataset_release(&ds);
	return 0;
}

static int bench_idx(char *images, const char *labels, int reps)
{
	double *tz = calloc((size_t)reps, sizeof *tz), *ti = calloc((size_t)reps, sizeof *ti);
	double *td = calloc((size_t)reps, sizeof *td), *tt = calloc((size_t)reps, sizeof *tt);
	if (!tz || !ti || !td || !tt)
		return 1;
	char *zcat[] = { "zcat", images, NULL };
	char *truecmd[] = { "true", NULL };
	struct bp_err err = { 0 };
	size_t n = 0, d = 0;
	for (int r = 0; r < reps; r++) {
		tz[r] = time_process(zcat);
		tt[r] = time_process(truecmd);
		struct bp_idx ix;
		double t0 = now();
		if (bp_idx_read(&ix, images, &err))
			die(&err);
		ti[r] = now() - t0;
		n = ix.count;
		d = ix.item;
		bp_idx_release(&ix);
		if (labels) {
			struct bp_fileset fs = { .present = true, .images = images, .labels = (char *)labels };
			struct bp_data_cfg cfg = { .format = BP_FMT_IDX };
			struct bp_label_spec spec = { .classes = true, .width = 10 };
			struct bp_dataset ds;
			t0 = now();
			if (bp_dataset_load(&ds, &fs, &cfg, &spec, &err))
				die(&err);
			td[r] = now() - t0;
			bp_dataset_release(&ds);
		}
	}
	double bz = tz[0], bi = ti[0], bd = td[0], bt = tt[0];
	for (int r = 1; r < reps; r++) {
		bz = tz[r] < bz ? tz[r] : bz;
		bi = ti[r] < bi ? ti[r] : bi;
		bd = td[r] < bd ? td[r] : bd;
		bt = tt[r] < bt ? tt[r] : bt;
	}
	double mz = median(tz, reps), mi = median(ti, reps), md = median(td, reps), mt = median(tt, reps);
	printf("file            %s (%zu x %zu)\n", images, n, d);
	printf("reps            %d, interleaved\n", reps);
	printf("zcat > /dev/null    best %.1f ms  median %.1f ms  (process spawn alone: %.1f ms)\n",
	       1e3 * bz, 1e3 * mz, 1e3 * mt);
	printf("bp_idx_read         best %.1f ms  median %.1f ms  ratio %.2f (median %.2f)\n",
	       1e3 * bi, 1e3 * mi, bi / bz, mi / mz);
	if (labels)
		printf("bp_dataset_load     best %.1f ms  median %.1f ms  ratio %.2f (median %.2f)  images+labels\n",
		       1e3 * bd, 1e3 * md, bd / bz, md / mz);
	(void)bt;
	free(tz), free(ti), free(td), free(tt);
	return labels ? bench_gather(images, labels) : 0;
}

/* A numeric CSV: 784 pixel-like integers, 16 reals, and a class label. */
static int write_csv(const char *path, double mb)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	unsigned long long s = 88172645463325252ULL;
	double bytes = 0;
	char line[16384];
	while (bytes < mb * 1e6) {
		int n = 0;
		for (int j = 0; j < 784; j++) {
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			int v = (s >> 40) % 4 ? 0 : (int)(s >> 20 & 255);
			n += snprintf(line + n, sizeof line - (size_t)n, "%d,", v);
		}
		for (int j = 0; j < 16; j++) {
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			double v = ((double)(s >> 11) * 0x1.0p-53 - 0.5) * 2e-3 * (double)(j + 1);
			n += snprintf(line + n, sizeof line - (size_t)n, j % 2 ? "%.6f," : "%.5e,", v);
		}
		n += snprintf(line + n, sizeof line - (size_t)n, "%d\n", (int)(s % 10));
		if (fwrite(line, 1, (size_t)n, f) != (size_t)n)
			return -1;
		bytes += n;
	}
	return fclose(f);
}

static int bench_csv(const char *path, double mb, int reps)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		if (write_csv(path, mb)) {
			fprintf(stderr, "bench_load: cannot write %s\n", path);
			return 1;
		}
		stat(path, &st);
	}
	double *t = calloc((size_t)reps, sizeof *t), *tc = calloc((size_t)reps, sizeof *tc);
	if (!t || !tc)
		return 1;
	struct bp_csv_opts o = { .nlabels = 1, .label_columns = { -1 }, .kind = BP_LABEL_CLASS };
	struct bp_err err = { 0 };
	size_t rows = 0, cols = 0;
	for (int r = 0; r < reps; r++) {
		struct bp_csv c;
		double t0 = now(), c0 = cpu_now();
		if (bp_csv_read(&c, path, &o, &err))
			die(&err);
		t[r] = now() - t0;
		tc[r] = cpu_now() - c0;
		rows = c.rows;
		cols = c.cols;
		bp_csv_release(&c);
	}
	double best = t[0];
	for (int r = 1; r < reps; r++)
		best = t[r] < best ? t[r] : best;
	double med = median(t, reps), size = (double)st.st_size / 1e6, cpu = median(tc, reps);
	printf("file            %s (%.1f MB, %zu rows x %zu columns)\n", path, size, rows, cols);
	printf("bp_csv_read     best %.1f ms (%.0f MB/s)  median %.1f ms (%.0f MB/s), one thread\n",
	       1e3 * best, size / best, 1e3 * med, size / med);
	printf("                CPU time (user+sys) median %.1f ms (%.0f MB/s)\n", 1e3 * cpu, size / cpu);
	free(t);
	free(tc);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "idx") == 0) {
		const char *labels = argc >= 4 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
		int reps = argc >= 5 ? (int)strtol(argv[4], NULL, 10) : 7;
		return bench_idx(argv[2], labels, reps > 0 ? reps : 7);
	}
	if (argc >= 3 && strcmp(argv[1], "csv") == 0) {
		double mb = argc >= 4 ? strtod(argv[3], NULL) : 100;
		int reps = argc >= 5 ? (int)strtol(argv[4], NULL, 10) : 5;
		return bench_csv(argv[2], mb > 0 ? mb : 100, reps > 0 ? reps : 5);
	}
	fprintf(stderr, "usage: bench_load idx IMAGES [LABELS|-] [REPS]\n"
	                "       bench_load csv FILE.csv [MB] [REPS]\n");
	return 2;
}
