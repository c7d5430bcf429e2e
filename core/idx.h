/* IDX files (the format of MNIST and Fashion-MNIST), gzipped or plain, read
 * through zlib's gz functions: two zero bytes, an element type, a rank, then
 * rank big-endian uint32 dimensions and the elements in big-endian order.
 * The first dimension counts items; the others are flattened per item.
 * The reader never allocates for what the header claims: it grows its
 * buffer as data arrives, so a header that claims more than the file holds
 * is a data error before memory is reserved for the claim. */
#ifndef BP_IDX_H
#define BP_IDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Element types; the values are the IDX type codes. */
enum bp_dtype {
	BP_DT_U8 = 0x08,
	BP_DT_I8 = 0x09,
	BP_DT_I16 = 0x0B,
	BP_DT_I32 = 0x0C,
	BP_DT_F32 = 0x0D,
	BP_DT_F64 = 0x0E,
};

/* Bytes per element; 0 for a code that is not an element type. */
size_t bp_dtype_size(int type);
/* "uint8", "int8", "int16", "int32", "float32", "float64"; "?" otherwise. */
const char *bp_dtype_name(int type);

#define BP_IDX_MAX_RANK 16
/* Sanity cap on the data one file may hold (64 GiB). */
#define BP_IDX_MAX_BYTES ((uint64_t)64 << 30)

struct bp_idx {
	enum bp_dtype type;
	int rank;
	uint32_t dims[BP_IDX_MAX_RANK];
	size_t count;       /* dims[0] */
	size_t item;        /* elements per item: product of dims[1..rank) (1 for rank 1) */
	void *data;         /* count × item elements in native byte order */
};

/* Reads path into idx (storage the caller owns). Missing, unreadable,
 * truncated or malformed files are data errors at path; out of memory is a
 * runtime error. On failure idx holds nothing to release. */
int bp_idx_read(struct bp_idx *idx, const char *path, struct bp_err *err);
void bp_idx_release(struct bp_idx *idx);

/* Writes an IDX file (gzipped when gz) from native-order data; dims[0]
 * counts items. On failure the file is removed. */
int bp_idx_write(const char *path, bool gz, enum bp_dtype type, int rank, const uint32_t *dims,
                 const void *data, struct bp_err *err);

/* Opens path for reading through zlib after checking that it is a regular
 * file: a missing file, a folder or an unreadable file is a data error.
 * Shared with the CSV reader. Returns NULL on failure. */
struct gzFile_s *bp_gz_open(const char *path, struct bp_err *err);
/* Reads up to len bytes; returns the count (short only at the end of the
 * data) or -1 with a data error for a corrupt or truncated gzip stream. */
long long bp_gz_read(struct gzFile_s *f, void *buf, size_t len, const char *path, struct bp_err *err);

/* Prefaults the bytes [p + from, p + to) of a growing buffer in one call
 * where the kernel can (Linux ≥ 5.14): filling a big buffer page by page
 * costs a fault per 4 KiB. Advice only; shared with the CSV reader. */
void bp_prefault(void *p, size_t from, size_t to);

#endif
