/* Hot element-wise loops are compiled twice, for AVX2 and for baseline
 * x86-64, and the loader picks the one the CPU runs (GNU ifunc), so the
 * default build stays portable without -march=native. */
#ifndef BP_SIMD_H
#define BP_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define BP_HOT __attribute__((target_clones("avx2", "default")))
#else
#define BP_HOT
#endif

#endif
