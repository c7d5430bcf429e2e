/* The one place that calls BLAS. Row-major throughout:
 * C (m,n) = alpha · op(A) (m,k) · op(B) (k,n) + beta · C, where op transposes
 * when ta/tb is set (A stored (k,m), B stored (n,k) then). */
#ifndef BP_BLAS_H
#define BP_BLAS_H

#include <stdbool.h>

#include "err.h"

void bp_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
/* The same product by the textbook triple loop (sums in double): tests only. */
void bp_sgemm_ref(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc);
/* Threads for BLAS (0 = all cores). */
void bp_blas_set_threads(int n);
int bp_blas_threads(void);
/* A runtime error when the address-space limit (RLIMIT_AS) is too small
 * for OpenBLAS's work buffers, which it would otherwise wait for forever. */
int bp_blas_check_memory_limit(struct bp_err *err);

#endif
