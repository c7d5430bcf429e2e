/* cblas.h declares affinity functions with cpu_set_t, a GNU extension. */
#define _GNU_SOURCE
#include "blas.h"

#include <cblas.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

void bp_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	if (k <= 0) {   /* an empty sum (a member with no samples): C = beta·C */
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				c[(long)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(long)i * ldc + j];
		return;
	}
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
	            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void bp_sgemm_ref(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double s = 0;
			for (int p = 0; p < k; p++) {
				float av = ta ? a[(long)p * lda + i] : a[(long)i * lda + p];
				float bv = tb ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
				s += (double)av * bv;
			}
			float *cij = &c[(long)i * ldc + j];
			*cij = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *cij));
		}
}

void bp_blas_set_threads(int n)
{
	if (n <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		n = cores > 0 ? (int)cores : 1;
	}
	openblas_set_num_threads(n);
}

int bp_blas_threads(void)
{
	return openblas_get_num_threads();
}

const char *bp_blas_corename(void)
{
	const char *name = openblas_get_corename();
	return name ? name : "unknown";
}

const char *bp_blas_better_coretype(void)
{
	/* OpenBLAS's x86-64 kernel sets from SSE3 to AVX (Sandy Bridge): a
	 * CPU with AVX2 or AVX-512 reported as one of these was not recognised. */
	static const char *const old[] = { "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
	                                   "Sandybridge", "Katmai", "Coppermine", "Northwood", "Banias",
	                                   "Barcelona", "Bulldozer", "Bobcat", NULL };
	const char *core = bp_blas_corename();
	bool fell_back = false;
	for (int i = 0; old[i]; i++)
		if (strcasecmp(core, old[i]) == 0)
			fell_back = true;
	if (!fell_back)
		return NULL;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
	    && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
	    && __builtin_cpu_supports("avx512cd"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
	return NULL;
}

int bp_blas_check_memory_limit(struct bp_err *err)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	/* OpenBLAS 0.3.21 reserves a 128 MiB work buffer for each thread it
	 * runs (the caller's included) and, when that fails, waits for memory
	 * forever: refuse a limit that cannot hold them and some data. */
	double mib = 1024.0 * 1024.0;
	double need = (double)openblas_get_num_threads() * 128.0 * mib + 128.0 * mib;
	if ((double)rl.rlim_cur < need)
		return bp_fail(err, BP_ERR_RUNTIME, NULL,
		               "out of memory: the address-space limit (ulimit -v) is %.0f MiB, but OpenBLAS alone "
		               "reserves about %.0f MiB here; raise the limit to at least %.0f MiB",
		               (double)rl.rlim_cur / mib, need / mib - 128.0, need / mib);
	return 0;
}
