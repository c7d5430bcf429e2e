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
/* The kernel set OpenBLAS chose for this CPU ("Haswell", "Prescott", ...). */
const char *bp_blas_corename(void);
/* OpenBLAS 0.3.21 does not know CPUs newer than it (an Intel of 2023 with
 * AVX-512 comes out as "Prescott", SSE3 only: a quarter of the machine's
 * sgemm speed). When it fell back to a kernel set older than the CPU's
 * vector unit, the OPENBLAS_CORETYPE value that fits the CPU
 * ("SkylakeX" for AVX-512 F/BW/DQ/VL/CD, "Haswell" for AVX2+FMA); NULL
 * when OpenBLAS's own choice stands. The value takes effect only for a
 * process started with it in its environment. */
const char *bp_blas_better_coretype(void);
/* A runtime error when the address-space limit (RLIMIT_AS) is too small
 * for OpenBLAS's work buffers, which it would otherwise wait for forever. */
int bp_blas_check_memory_limit(struct bp_err *err);

#endif
