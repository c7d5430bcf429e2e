/* Fuzzes the IDX reader (bp_idx_read).
 *
 * Input: one mode byte, one cut byte, then the file. Mode % 4: 0 the file
 * as is (plain, or gzip when it starts with 1f 8b), 1 gzipped, 2 gzipped
 * and cut short, 3 gzipped with a byte flipped (see fuzz_file_mode). */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 20))
		return 0;
	const char *path = fuzz_file_mode(data + 2, size - 2, data[0] % 4, data[1]);
	if (!path)
		return 0;
	struct bp_idx idx;
	struct bp_err err = { 0 };
	if (bp_idx_read(&idx, path, &err)) {
		fuzz_check_err(&err);
		FUZZ_CHECK(idx.data == NULL);
		return 0;
	}
	size_t esize = bp_dtype_size(idx.type);
	FUZZ_CHECK(esize && idx.rank >= 1 && idx.rank <= BP_IDX_MAX_RANK && idx.count == idx.dims[0]);
	size_t item = 1;
	for (int i = 1; i < idx.rank; i++)
		item *= idx.dims[i];
	FUZZ_CHECK(item == idx.item);
	size_t bytes = idx.count * idx.item * esize;
	if (bytes) {
		volatile unsigned char *p = idx.data;
		(void)p[0];
		(void)p[bytes - 1];
	}
	bp_idx_release(&idx);
	return 0;
}
