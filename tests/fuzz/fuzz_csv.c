/* Fuzzes the CSV reader (bp_csv_read) with options taken from the input.
 *
 * Input: 6 option bytes, then the file.
 *   [0] delimiter: one of , ; TAB space | : for 0..5, else the byte itself
 *   [1] bits 0-1 skip_rows, bit 2 header, bits 3-4 label kind (% 3),
 *       bits 5-6 file mode (see fuzz_file_mode)
 *   [2] bits 0-1 the number of label columns (0..3), bits 2-7 the cut byte
 *   [3..5] label columns, signed (negative counts from the end) */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "csv.h"
#include "fuzz_util.h"

#define HEAD 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEAD || size > (1u << 20))
		return 0;
	static const char delims[] = { ',', ';', '\t', ' ', '|', ':' };
	struct bp_csv_opts o;
	memset(&o, 0, sizeof o);
	o.delimiter = data[0] < sizeof delims ? delims[data[0]] : (char)data[0];
	o.skip_rows = data[1] & 3;
	o.header = data[1] >> 2 & 1;
	o.kind = (enum bp_label_kind)((data[1] >> 3 & 3) % 3);
	o.nlabels = data[2] & 3;
	for (int k = 0; k < o.nlabels; k++)
		o.label_columns[k] = (int8_t)data[3 + k];
	const char *path = fuzz_file_mode(data + HEAD, size - HEAD, data[1] >> 5 & 3, data[2] >> 2);
	if (!path)
		return 0;
	struct bp_csv csv;
	struct bp_err err = { 0 };
	if (bp_csv_read(&csv, path, &o, &err)) {
		fuzz_check_err(&err);
		FUZZ_CHECK(csv.x == NULL && csv.cls == NULL && csv.y == NULL);
		return 0;
	}
	FUZZ_CHECK(csv.rows > 0 && csv.nfeat > 0 && csv.nfeat + csv.nlab == csv.cols);
	FUZZ_CHECK(csv.nlab == (size_t)o.nlabels);
	volatile float sink = csv.x[0] + csv.x[csv.rows * csv.nfeat - 1];
	if (csv.nlab && o.kind == BP_LABEL_CLASS) {
		int32_t max = -1;
		for (size_t i = 0; i < csv.rows; i++) {
			FUZZ_CHECK(csv.cls[i] >= 0);
			if (csv.cls[i] > max)
				max = csv.cls[i];
		}
		FUZZ_CHECK(max == csv.max_class);
	} else if (csv.nlab) {
		sink += csv.y[csv.rows * csv.nlab - 1];
	}
	(void)sink;
	bp_csv_release(&csv);
	return 0;
}
