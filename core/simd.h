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

#endif
