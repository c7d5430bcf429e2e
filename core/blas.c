/* cblas.h declares affinity functions with cpu_set_t, a GNU extension. */
#define _GNU_SOURCE
#include "blas.h"

#include <cblas.h>
#include <unistd.h>

void bp_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
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
