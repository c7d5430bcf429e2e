/* Hot element-wise loops are compiled three times, for x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2 + FMA) and baseline x86-64, and the loader picks the one
 * the CPU runs (GNU ifunc), so the default build stays portable without
 * -march=native. On a CPU with AVX-512 the optimiser step runs about twice
 * as fast as with AVX2 (bench/RESULTS.md). */
#ifndef BP_SIMD_H
#define BP_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define BP_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BP_HOT
#endif

/* Flush denormal floats to zero, in results (FTZ) and in inputs (DAZ), for
 * the calling thread and the threads it starts later. Adam's moments of a
 * weight whose gradient stays 0 (a Fashion-MNIST border pixel's) decay
 * geometrically into the denormal range within a thousand steps, and on
 * Intel CPUs every operation on a denormal takes a slow microcode path: the
 * seed MLP's second epoch ran 1.6x slower than its first. Values below
 * 1.2e-38 change nothing a float32 network computes. bptrain sets it once
 * at start (cmd/main.c), before any thread exists. */
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
static inline void bp_flush_denormals(void) { _mm_setcsr(_mm_getcsr() | 0x8040); }
#else
static inline void bp_flush_denormals(void) {}
#endif

#endif
