/* The GEMM floor of one training epoch (issue 5): times exactly the sgemm calls
 * bptrain makes for a dense network, in its layout, through bp_sgemm.
 *
 * W is stored (in, out) row-major. Per batch of n samples and per layer:
 *   forward  y (n,out)  = x (n,in) · W          bp_sgemm(F,F, n,out,in)
 *   backward dW (in,out)  = xᵀ · dz (n,out)     bp_sgemm(T,F, in,out,n)
 *            dx (n,in)  = dz · Wᵀ               bp_sgemm(F,T, n,in,out)   (not for layer 1)
 * then the validation forward pass over --val samples in batches of the same
 * size. The last batch of each pass is the remainder, as in bptrain.
 *
 *   gemm_floor [--layers 784,64,10] [--batch 32] [--samples 54000] [--val 6000]
 *              [--threads 1] [--reps 5] [--peak] [--peak-size 1024]
 *
 * Prints machine-readable lines: floor_seconds (median epoch), gflops, the
 * median of each part, and with --peak the GFLOP/s of a square sgemm
 * (--peak-size, 1024 by default; the best of --reps after one warm-up). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"

#define MAX_WIDTHS 32

enum part { FWD, DW, DX, VAL, NPARTS };
static const char *const part_names[NPARTS] = { "forward", "dw", "dx", "val_forward" };

struct net {
	int nw, widths[MAX_WIDTHS];
	int batch;
	float *w[MAX_WIDTHS], *dw[MAX_WIDTHS];
	float *act[MAX_WIDTHS];     /* act[0] is the input batch, act[l+1] layer l's output */
	float *delta[MAX_WIDTHS];   /* delta[l] (n, widths[l]) */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *filled(size_t count, unsigned *state)
{
	float *p = malloc(count * sizeof *p);
	if (!p) {
		fprintf(stderr, "gemm_floor: error: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < count; i++) {
		*state = *state * 1664525u + 1013904223u;
		p[i] = (float)((*state >> 8) & 0xffff) / 65536.0f - 0.5f;   /* no denormals */
	}
	return p;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_widths(const char *s, struct net *net)
{
	char buf[512];
	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	net->nw = 0;
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		if (net->nw == MAX_WIDTHS || parse_int(tok, 1, 1 << 20, &net->widths[net->nw]))
			return -1;
		net->nw++;
	}
	return net->nw >= 2 ? 0 : -1;
}

/* One pass over `samples` samples; adds each part's seconds to t[] and returns flops. */
static double pass(struct net *net, long samples, bool train, double *t)
{
	double flops = 0;
	int nl = net->nw - 1;
	for (long done = 0; done < samples; done += net->batch) {
		int n = samples - done < net->batch ? (int)(samples - done) : net->batch;
		double t0 = now();
		for (int l = 0; l < nl; l++) {
			int in = net->widths[l], out = net->widths[l + 1];
			bp_sgemm(false, false, n, out, in, 1.0f, net->act[l], in, net->w[l], out,
			         0.0f, net->act[l + 1], out);
			flops += 2.0 * n * in * out;
		}
		double t1 = now();
		t[train ? FWD : VAL] += t1 - t0;
		if (!train)
			continue;
		for (int l = nl - 1; l >= 0; l--) {
			int in = net->widths[l], out = net->widths[l + 1];
			double a = now();
			bp_sgemm(true, false, in, out, n, 1.0f, net->act[l], in, net->delta[l + 1], out,
			         0.0f, net->dw[l], out);
			double b = now();
			t[DW] += b - a;
			flops += 2.0 * n * in * out;
			if (l > 0) {
				bp_sgemm(false, true, n, in, out, 1.0f, net->delta[l + 1], out, net->w[l], out,
				         0.0f, net->delta[l], in);
				t[DX] += now() - b;
				flops += 2.0 * n * in * out;
			}
		}
	}
	return flops;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void peak(int s, int reps)
{
	unsigned st = 7;
	float *a = filled((size_t)s * s, &st), *b = filled((size_t)s * s, &st), *c = filled((size_t)s * s, &st);
	double best = 0;
	for (int r = 0; r < reps + 1; r++) {
		double t0 = now();
		bp_sgemm(false, false, s, s, s, 1.0f, a, s, b, s, 0.0f, c, s);
		double g = 2.0 * s * s * s / (now() - t0) / 1e9;
		if (r > 0 && g > best)
			best = g;
	}
	printf("peak_gflops %.1f   (sgemm %dx%dx%d, best of %d)\n", best, s, s, s, reps);
	free(a);
	free(b);
	free(c);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gemm_floor [--layers 784,64,10] [--batch 32] [--samples 54000] [--val 6000]\n"
	           "                  [--threads 1] [--reps 5] [--peak] [--peak-size 1024]\n");
}

int main(int argc, char **argv)
{
	struct net net = { 0 };
	int samples = 54000, val = 6000, threads = 1, reps = 5, peak_size = 1024;
	bool do_peak = false;
	const char *layers = "784,64,10";
	net.batch = 32;
	static const struct option opts[] = {
		{ "layers", required_argument, NULL, 'l' }, { "batch", required_argument, NULL, 'b' },
		{ "samples", required_argument, NULL, 's' }, { "val", required_argument, NULL, 'v' },
		{ "threads", required_argument, NULL, 't' }, { "reps", required_argument, NULL, 'r' },
		{ "peak", no_argument, NULL, 'p' }, { "peak-size", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	for (int c; (c = getopt_long(argc, argv, "l:b:s:v:t:r:pP:h", opts, NULL)) != -1;) {
		int bad = 0;
		switch (c) {
		case 'l': layers = optarg; break;
		case 'b': bad = parse_int(optarg, 1, 1 << 20, &net.batch); break;
		case 's': bad = parse_int(optarg, 1, INT_MAX, &samples); break;
		case 'v': bad = parse_int(optarg, 0, INT_MAX, &val); break;
		case 't': bad = parse_int(optarg, 0, 1024, &threads); break;
		case 'r': bad = parse_int(optarg, 1, 1000, &reps); break;
		case 'p': do_peak = true; break;
		case 'P': bad = parse_int(optarg, 16, 16384, &peak_size); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "gemm_floor: error: bad value '%s' for --%s\n", optarg,
			        c == 'b' ? "batch" : c == 's' ? "samples" : c == 'v' ? "val" : c == 't' ? "threads" : c == 'P' ? "peak-size" : "reps");
			return 2;
		}
	}
	if (optind != argc || parse_widths(layers, &net)) {
		usage(stderr);
		return 2;
	}
	bp_blas_set_threads(threads);

	unsigned st = 1;
	for (int l = 0; l < net.nw; l++) {
		size_t rows = (size_t)net.batch * (size_t)net.widths[l];
		net.act[l] = filled(rows, &st);
		net.delta[l] = filled(rows, &st);
		if (l + 1 < net.nw) {
			size_t wn = (size_t)net.widths[l] * (size_t)net.widths[l + 1];
			net.w[l] = filled(wn, &st);
			net.dw[l] = calloc(wn, sizeof(float));
			if (!net.dw[l]) {
				fprintf(stderr, "gemm_floor: error: out of memory\n");
				return 1;
			}
		}
	}

	double t[NPARTS], warm[NPARTS] = { 0 };
	double *epoch = malloc((size_t)reps * sizeof *epoch), *parts[NPARTS];
	for (int p = 0; p < NPARTS; p++)
		parts[p] = malloc((size_t)reps * sizeof(double));
	if (!epoch || !parts[FWD] || !parts[DW] || !parts[DX] || !parts[VAL]) {
		fprintf(stderr, "gemm_floor: error: out of memory\n");
		return 1;
	}
	pass(&net, samples, true, warm);   /* warm-up: thread pool, page faults */
	double flops = 0;
	for (int r = 0; r < reps; r++) {
		memset(t, 0, sizeof t);
		double t0 = now();
		flops = pass(&net, samples, true, t) + pass(&net, val, false, t);
		epoch[r] = now() - t0;
		for (int p = 0; p < NPARTS; p++)
			parts[p][r] = t[p];
		/* keep dW bounded: it accumulates with beta = 1 */
		for (int l = 0; l + 1 < net.nw; l++)
			memset(net.dw[l], 0, (size_t)net.widths[l] * (size_t)net.widths[l + 1] * sizeof(float));
	}
	double med = median(epoch, reps);
	printf("network %s batch %d samples %d val %d threads %d reps %d\n", layers, net.batch, samples,
	       val, threads, reps);
	printf("floor_seconds %.4f\n", med);
	printf("gflops %.1f\n", flops / med / 1e9);
	printf("gflop_per_epoch %.2f\n", flops / 1e9);
	for (int p = 0; p < NPARTS; p++)
		printf("part_seconds %s %.4f\n", part_names[p], median(parts[p], reps));
	if (do_peak)
		peak(peak_size, reps);

	for (int l = 0; l < net.nw; l++) {
		free(net.act[l]);
		free(net.delta[l]);
		free(net.w[l]);
		free(net.dw[l]);
	}
	for (int p = 0; p < NPARTS; p++)
		free(parts[p]);
	free(epoch);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "gemm_floor: error: writing stdout failed\n");
		return 1;
	}
	return 0;
}
