/* The time of one gradient sum across MPI ranks (bench/SCALING.md): times
 * bp_world_sum_f32, the code path `mpirun ... bptrain train` runs once per
 * step (core/world.c: MPI_Alltoallv of each rank's part, the parts added in
 * rank order, MPI_Allgatherv; short vectors MPI_Allgather'ed whole), for a
 * sweep of sizes and for named sizes such as a network's parameter count.
 * Next to it, for comparison, the library's own MPI_Allreduce(MPI_SUM) of
 * the same vector, and the step's other collective: bp_world_sum_f64 of the
 * loss and correct count (2 doubles).
 *
 *   mpirun -np 2 --bind-to none bench/allreduce [--min-bytes 1024]
 *          [--max-bytes 67108864] [--net NAME=FLOATS]... [--no-sweep]
 *          [--warmup 5] [--min-reps 20] [--max-reps 3000] [--rep-time 0.5]
 *          [--passes 5]
 *
 * The sweep doubles from --min-bytes to --max-bytes (float32 vectors). Each
 * size: a checked first sum (every element must equal the exact sum of the
 * ranks' values) and --warmup calls, whose median sets the number of
 * repetitions: --rep-time over it, within [--min-reps, --max-reps], the same
 * on every rank. The repetitions are split over --passes passes through all
 * the sizes (forwards, then backwards), so that a slow stretch of a shared
 * machine does not land on a few sizes alone; each pass warms a size up
 * again before its repetitions. Each repetition starts after an
 * MPI_Barrier, and its time is the slowest rank's (an MPI_Allreduce(MAX)
 * outside the timed part); the statistics pool all passes. Rank 0 writes
 * CSV to standard output:
 *
 *   kind,name,floats,bytes,ranks,path,reps,median_us,p10_us,p90_us,min_us,mpi_allreduce_median_us
 *
 * kind is sweep, net (a --net size) or step_sums (the 2 doubles); path is
 * the branch of core/world.c the size takes at this rank count. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "simd.h"
#include "world.h"

#define MAX_NETS 16

struct opts {
	size_t min_bytes, max_bytes;
	int sweep;
	int nnets;
	char *net_name[MAX_NETS];
	size_t net_floats[MAX_NETS];
	int warmup, min_reps, max_reps, passes;
	double rep_time;
};

static int rank, nranks;

static void die(const char *msg)
{
	if (rank == 0)
		fprintf(stderr, "allreduce: error: %s\n", msg);
	MPI_Abort(MPI_COMM_WORLD, 2);
	exit(2);
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return -1;
	*out = (size_t)v;
	return 0;
}

static void usage(void)
{
	if (rank == 0)
		fprintf(stderr, "usage: mpirun -np N allreduce [--min-bytes B] [--max-bytes B] [--net NAME=FLOATS]...\n"
		                "         [--no-sweep] [--warmup N] [--min-reps N] [--max-reps N] [--rep-time S] [--passes N]\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ 1024, 64u << 20, 1, 0, { 0 }, { 0 }, 5, 20, 3000, 5, 0.5 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t n;
		if (strcmp(a, "--no-sweep") == 0) {
			o->sweep = 0;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			exit(bp_world_end(0));
		}
		if (!v) {
			usage();
			die("an option is missing its value, or is unknown");
		}
		i++;
		if (strcmp(a, "--min-bytes") == 0 && parse_size(v, 4, (size_t)INT_MAX, &n) == 0)
			o->min_bytes = n;
		else if (strcmp(a, "--max-bytes") == 0 && parse_size(v, 4, (size_t)INT_MAX, &n) == 0)
			o->max_bytes = n;
		else if (strcmp(a, "--warmup") == 0 && parse_size(v, 0, 100000, &n) == 0)
			o->warmup = (int)n;
		else if (strcmp(a, "--min-reps") == 0 && parse_size(v, 1, 1000000, &n) == 0)
			o->min_reps = (int)n;
		else if (strcmp(a, "--max-reps") == 0 && parse_size(v, 1, 1000000, &n) == 0)
			o->max_reps = (int)n;
		else if (strcmp(a, "--passes") == 0 && parse_size(v, 1, 1000, &n) == 0)
			o->passes = (int)n;
		else if (strcmp(a, "--rep-time") == 0) {
			char *end;
			o->rep_time = strtod(v, &end);
			if (end == v || *end || !(o->rep_time > 0 && o->rep_time < 3600))
				die("--rep-time wants seconds > 0");
		} else if (strcmp(a, "--net") == 0) {
			const char *eq = strchr(v, '=');
			if (!eq || eq == v || o->nnets == MAX_NETS || parse_size(eq + 1, 1, (size_t)INT_MAX, &n) != 0)
				die("--net wants NAME=FLOATS (at most 16 of them, FLOATS ≥ 1)");
			o->net_name[o->nnets] = strndup(v, (size_t)(eq - v));
			o->net_floats[o->nnets++] = n;
		} else {
			usage();
			die("unknown option or bad value");
		}
	}
	if (o->min_bytes > o->max_bytes)
		die("--min-bytes is above --max-bytes");
	if (o->min_reps > o->max_reps)
		die("--min-reps is above --max-reps");
	for (int i = 0; i < o->nnets; i++)
		for (const char *c = o->net_name[i]; *c; c++)
			if (*c == ',' || *c == '"' || *c == '\n')
				die("--net names are written to CSV: no commas, quotes or newlines");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile of sorted t[0..n) (nearest rank). */
static double quantile(const double *t, int n, double q)
{
	int i = (int)floor(q * (n - 1) + 0.5);
	return t[i < 0 ? 0 : i >= n ? n - 1 : i];
}

enum what { WORLD_F32, MPI_F32, WORLD_F64 };

/* One timed call: the slowest rank's seconds, on every rank. */
static double once(enum what w, void *v, size_t n)
{
	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	switch (w) {
	case WORLD_F32: bp_world_sum_f32(v, n); break;
	case MPI_F32: MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); break;
	case WORLD_F64: bp_world_sum_f64(v, n); break;
	}
	double t = MPI_Wtime() - t0, slowest;
	MPI_Allreduce(&t, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
	return slowest;
}

/* One size's measurements: the gradient sum (or, for the step sums, the
 * f64 sum) and MPI_Allreduce, pooled over the passes. */
struct item {
	const char *kind;
	char name[64];
	size_t n;
	enum what w;                /* WORLD_F32 or WORLD_F64 */
	int per_pass;               /* repetitions in each pass */
	int nw, nm;
	double *tw, *tm;            /* seconds: bptrain's sum, MPI_Allreduce */
};

static int clamp_reps(const struct opts *o, double want)
{
	return want < o->min_reps ? o->min_reps : want > o->max_reps ? o->max_reps : (int)want;
}

/* The warm-up: --warmup calls of w, kept out of the results; their median. */
static double warm(const struct opts *o, enum what w, void *v, size_t n, double *scratch_t)
{
	int nw = o->warmup > 0 ? o->warmup : 1;
	for (int i = 0; i < nw; i++)
		scratch_t[i] = once(w, v, n);
	qsort(scratch_t, (size_t)nw, sizeof *scratch_t, cmp_double);
	return quantile(scratch_t, nw, 0.5);
}

/* The first sum of n floats, checked: rank r holds (i % 7) + r, so every
 * element must come back as nranks·(i % 7) + nranks(nranks−1)/2, exactly. */
static void check(float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (float)(i % 7) + (float)rank;
	bp_world_sum_f32(v, n);
	double base = (double)nranks * (nranks - 1) / 2;
	int bad = 0, any;
	for (size_t i = 0; i < n && !bad; i++)
		bad = v[i] != (float)((double)nranks * (double)(i % 7) + base);
	MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (any)
		die("bp_world_sum_f32 returned a wrong sum");
	memset(v, 0, n * sizeof *v);
}

static void row(const struct item *it)
{
	if (rank != 0)
		return;
	qsort(it->tw, (size_t)it->nw, sizeof *it->tw, cmp_double);
	const double *t = it->tw;
	int k = it->nw;
	size_t bytes = it->n * (it->w == WORLD_F64 ? sizeof(double) : sizeof(float));
	const char *path = bp_world_sum_path(bytes);   /* (the f64 sums: by bytes too, close enough for 2 doubles) */
	printf("%s,%s,%zu,%zu,%d,%s,%d,%.3f,%.3f,%.3f,%.3f,", it->kind, it->name, it->n, bytes, nranks, path, k,
	       1e6 * quantile(t, k, 0.5), 1e6 * quantile(t, k, 0.1), 1e6 * quantile(t, k, 0.9), 1e6 * t[0]);
	if (it->nm > 0) {
		qsort(it->tm, (size_t)it->nm, sizeof *it->tm, cmp_double);
		printf("%.3f", 1e6 * quantile(it->tm, it->nm, 0.5));
	}
	printf("\n");
	fflush(stdout);
}

/* One pass over an item: warm-up, then its share of the repetitions. */
static void pass(const struct opts *o, struct item *it, float *v, double *sums, double *wt)
{
	void *buf = it->w == WORLD_F64 ? (void *)sums : (void *)v;
	warm(o, it->w, buf, it->n, wt);
	for (int i = 0; i < it->per_pass; i++)
		it->tw[it->nw++] = once(it->w, buf, it->n);
	if (it->w == WORLD_F32) {
		warm(o, MPI_F32, v, it->n, wt);
		for (int i = 0; i < it->per_pass; i++)
			it->tm[it->nm++] = once(MPI_F32, v, it->n);
	}
}

int main(int argc, char **argv)
{
	bp_flush_denormals();
	struct bp_err err = { 0 };
	if (!bp_world_built) {
		fprintf(stderr, "allreduce: error: built without MPI\n");
		return 2;
	}
	if (!bp_world_launched()) {
		fprintf(stderr, "allreduce: error: start it under an MPI launcher: "
		                "mpirun -np 2 --bind-to none %s\n", argv[0]);
		return 2;
	}
	if (bp_world_init(&argc, &argv, &err)) {
		fprintf(stderr, "allreduce: error: %s\n", err.msg);
		return 1;
	}
	rank = bp_world_rank();
	nranks = bp_world_size();
	struct opts o;
	parse(argc, argv, &o);
	if (nranks < 2)
		die("run it on 2 or more ranks (mpirun -np 2)");

	/* The sizes: the nets', the step sums, the sweep. */
	int nsweep = 0;
	if (o.sweep)
		for (size_t b = o.min_bytes; b <= o.max_bytes; b *= 2)
			nsweep++;
	int nitems = o.nnets + 1 + nsweep;
	struct item *items = calloc((size_t)nitems, sizeof *items);
	if (!items)
		die("out of memory");
	size_t most = 1;
	int k = 0;
	for (int i = 0; i < o.nnets; i++, k++) {
		items[k] = (struct item){ .kind = "net", .n = o.net_floats[i], .w = WORLD_F32 };
		snprintf(items[k].name, sizeof items[k].name, "%s", o.net_name[i]);
	}
	items[k++] = (struct item){ .kind = "step_sums", .name = "loss+correct", .n = 2, .w = WORLD_F64 };
	if (o.sweep)
		for (size_t b = o.min_bytes; b <= o.max_bytes; b *= 2, k++) {
			items[k] = (struct item){ .kind = "sweep", .n = b / sizeof(float), .w = WORLD_F32 };
			snprintf(items[k].name, sizeof items[k].name, "%zu", b);
		}
	for (int i = 0; i < nitems; i++)
		most = items[i].n > most ? items[i].n : most;
	float *v = malloc(most * sizeof *v);
	double *wt = malloc((size_t)(o.warmup > 0 ? o.warmup : 1) * sizeof *wt), sums[2] = { 0, 0 };
	if (!v || !wt)
		die("out of memory");

	/* First: each size checked, then warmed up, its repetitions set from the
	 * warm-up's median (the same on every rank: the times are the slowest
	 * rank's) and split over the passes. */
	for (int i = 0; i < nitems; i++) {
		struct item *it = &items[i];
		if (it->w == WORLD_F32)
			check(v, it->n);
		double est = warm(&o, it->w, it->w == WORLD_F64 ? (void *)sums : (void *)v, it->n, wt);
		int reps = clamp_reps(&o, est > 0 ? ceil(o.rep_time / est) : o.max_reps);
		it->per_pass = (reps + o.passes - 1) / o.passes;
		it->tw = malloc((size_t)it->per_pass * (size_t)o.passes * sizeof *it->tw);
		it->tm = malloc((size_t)it->per_pass * (size_t)o.passes * sizeof *it->tm);
		if (!it->tw || !it->tm)
			die("out of memory");
	}
	/* The passes go over every size in turn, forwards then backwards, so
	 * that a slow stretch of the machine is shared out among the sizes. */
	for (int p = 0; p < o.passes; p++)
		for (int j = 0; j < nitems; j++)
			pass(&o, &items[p % 2 ? nitems - 1 - j : j], v, sums, wt);

	if (rank == 0)
		printf("kind,name,floats,bytes,ranks,path,reps,median_us,p10_us,p90_us,min_us,mpi_allreduce_median_us\n");
	for (int i = 0; i < nitems; i++) {
		row(&items[i]);
		free(items[i].tw);
		free(items[i].tm);
	}
	free(items);
	free(v);
	free(wt);
	for (int i = 0; i < o.nnets; i++)
		free(o.net_name[i]);
	return bp_world_end(0);
}
