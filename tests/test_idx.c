#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "idx.h"

#include "tmpdir.h"

static const char *path_of(const char *name)
{
	static char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void write_bytes(const char *path, const void *data, size_t len, bool gz)
{
	gzFile f = gzopen(path, gz ? "wb" : "wbT");
	assert_non_null(f);
	if (len)
		assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
	assert_int_equal(gzclose(f), Z_OK);
}

/* Every element type, gzipped and plain, several ranks: written, read back equal. */
static void test_round_trip_every_type(void **state)
{
	(void)state;
	static const enum bp_dtype types[] = { BP_DT_U8, BP_DT_I8, BP_DT_I16, BP_DT_I32, BP_DT_F32, BP_DT_F64 };
	static const uint32_t dims_by_rank[4][4] = { { 7 }, { 5, 3 }, { 4, 3, 2 }, { 3, 2, 2, 3 } };
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
		for (int rank = 1; rank <= 4; rank++)
			for (int gz = 0; gz < 2; gz++) {
				const uint32_t *dims = dims_by_rank[rank - 1];
				size_t n = 1;
				for (int i = 0; i < rank; i++)
					n *= dims[i];
				size_t es = bp_dtype_size(types[t]);
				unsigned char *data = malloc(n * es);
				assert_non_null(data);
				for (size_t i = 0; i < n; i++) {
					double v = ((double)i - 11.0) * 3.25;
					switch (types[t]) {
					case BP_DT_U8: ((uint8_t *)data)[i] = (uint8_t)(i * 37); break;
					case BP_DT_I8: ((int8_t *)data)[i] = (int8_t)(i * 37 - 128); break;
					case BP_DT_I16: ((int16_t *)data)[i] = (int16_t)(i * 1231 - 30000); break;
					case BP_DT_I32: ((int32_t *)data)[i] = (int32_t)(i * 123456789u); break;
					case BP_DT_F32: ((float *)data)[i] = (float)v; break;
					case BP_DT_F64: ((double *)data)[i] = v * 1e-300; break;
					}
				}
				const char *p = path_of(gz ? "rt.idx.gz" : "rt.idx");
				struct bp_err err = { 0 };
				assert_int_equal(bp_idx_write(p, gz, types[t], rank, dims, data, &err), 0);
				struct bp_idx ix;
				assert_int_equal(bp_idx_read(&ix, p, &err), 0);
				assert_int_equal(ix.type, types[t]);
				assert_int_equal(ix.rank, rank);
				for (int i = 0; i < rank; i++)
					assert_int_equal(ix.dims[i], dims[i]);
				assert_int_equal(ix.count, dims[0]);
				assert_int_equal(ix.count * ix.item, n);
				assert_memory_equal(ix.data, data, n * es);
				bp_idx_release(&ix);
				free(data);
			}
}

/* A file bigger than the first read chunk grows its buffer correctly. */
static void test_large_gz(void **state)
{
	(void)state;
	uint32_t dims[3] = { 3000, 28, 28 };
	size_t n = 3000 * 28 * 28;
	uint8_t *data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 24);
	struct bp_err err = { 0 };
	for (int gz = 0; gz < 2; gz++) {
		const char *p = path_of("big.idx");
		assert_int_equal(bp_idx_write(p, gz, BP_DT_U8, 3, dims, data, &err), 0);
		struct bp_idx ix;
		assert_int_equal(bp_idx_read(&ix, p, &err), 0);
		assert_int_equal(ix.count, 3000);
		assert_int_equal(ix.item, 784);
		assert_memory_equal(ix.data, data, n);
		bp_idx_release(&ix);
	}
	free(data);
}

struct bad {
	const char *name;
	const char *bytes;
	size_t len;
	bool gz;
	const char *msg;
};
#define B(s) s, sizeof(s) - 1

static void test_bad_headers(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{ "empty", B(""), false, "empty file" },
		{ "empty-gz", B(""), true, "empty file" },
		{ "magic", B("\x01\x02\x08\x01\0\0\0\x01\x05"), false, "not an IDX file" },
		{ "text", B("hello world, this is text\n"), false, "not an IDX file" },
		{ "type", B("\0\0\x07\x01\0\0\0\x01\x05"), false, "unknown IDX element type 0x07" },
		{ "rank0", B("\0\0\x08\0"), false, "unsupported IDX rank 0" },
		{ "short-magic", B("\0\0"), false, "short IDX header" },
		{ "short-dims", B("\0\0\x08\x03\0\0\0\x02\0\0"), false, "short IDX header" },
		{ "short-data", B("\0\0\x08\x02\0\0\0\x02\0\0\0\x02\x01\x02\x03"), false, "claims 4 bytes" },
		{ "short-data-gz", B("\0\0\x0b\x01\0\0\0\x03\0\x01\0\x02"), true, "claims 6 bytes" },
		{ "claim-2^31", B("\0\0\x08\x01\x80\0\0\0\x01\x02\x03"), false, "claims 2147483648 bytes" },
		{ "claim-2^31-gz", B("\0\0\x08\x01\x80\0\0\0\x01\x02\x03"), true, "claims 2147483648 bytes" },
		{ "claim-huge", B("\0\0\x0e\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), true, "more than 64 GiB" },
		{ "trailing", B("\0\0\x08\x01\0\0\0\x01\x05\x06"), false, "more data than" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *p = path_of(cases[i].name);
		write_bytes(p, cases[i].bytes, cases[i].len, cases[i].gz);
		struct bp_idx ix;
		struct bp_err err = { 0 };
		assert_int_equal(bp_idx_read(&ix, p, &err), -1);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("%s: message '%s' lacks '%s'", cases[i].name, err.msg, cases[i].msg);
		assert_int_equal(err.kind, BP_ERR_DATA);
		assert_string_equal(err.where, p);
		assert_null(ix.data);
	}
}

static void test_bad_files(void **state)
{
	(void)state;
	struct bp_idx ix;
	struct bp_err err = { 0 };
	assert_int_equal(bp_idx_read(&ix, path_of("missing.idx"), &err), -1);
	assert_int_equal(err.kind, BP_ERR_DATA);
	assert_non_null(strstr(err.msg, "No such file"));

	assert_int_equal(bp_idx_read(&ix, dir, &err), -1);
	assert_int_equal(err.kind, BP_ERR_DATA);
	assert_non_null(strstr(err.msg, "folder"));

	/* A gzip stream cut in half. */
	uint32_t dims[2] = { 200, 100 };
	uint8_t *data = malloc(20000);
	assert_non_null(data);
	for (int i = 0; i < 20000; i++)
		data[i] = (uint8_t)(i * 7919 >> 3);
	const char *p = path_of("trunc.idx.gz");
	assert_int_equal(bp_idx_write(p, true, BP_DT_U8, 2, dims, data, &err), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(truncate(p, st.st_size / 2), 0);
	assert_int_equal(bp_idx_read(&ix, p, &err), -1);
	assert_int_equal(err.kind, BP_ERR_DATA);
	assert_non_null(strstr(err.msg, "truncated gzip"));
	free(data);

	/* Random bytes after the gzip magic. */
	unsigned char junk[4096] = { 0x1f, 0x8b };
	for (size_t i = 2; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 2654435761u >> 13);
	p = path_of("junk.gz");
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(bp_idx_read(&ix, p, &err), -1);
	assert_int_equal(err.kind, BP_ERR_DATA);
	assert_non_null(strstr(err.msg, "gzip"));
}

/* Every truncation and many byte flips of a small file, gzipped and plain:
 * each read either succeeds or fails with a data error, never crashes. */
static void test_mutations(void **state)
{
	(void)state;
	uint32_t dims[3] = { 6, 3, 2 };
	int16_t data[36];
	for (int i = 0; i < 36; i++)
		data[i] = (int16_t)(i * 977 - 9000);
	struct bp_err err = { 0 };
	for (int gz = 0; gz < 2; gz++) {
		const char *p = path_of("m.idx");
		assert_int_equal(bp_idx_write(p, gz, BP_DT_I16, 3, dims, data, &err), 0);
		FILE *f = fopen(p, "rb");
		assert_non_null(f);
		unsigned char orig[512];
		size_t len = fread(orig, 1, sizeof orig, f);
		fclose(f);
		assert_true(len > 0 && len < sizeof orig);
		unsigned seed = 12345;
		for (size_t cut = 0; cut <= len + 300; cut++) {
			unsigned char buf[512];
			memcpy(buf, orig, len);
			size_t n = cut < len ? cut : len;
			if (cut > len) {  /* flip one to three bytes */
				for (int k = 0; k < 1 + (int)(cut % 3); k++) {
					seed = seed * 1103515245u + 12345u;
					buf[(seed >> 8) % len] ^= (unsigned char)(1u << (seed >> 4) % 8);
				}
			}
			const char *q = path_of("mut.idx");
			f = fopen(q, "wb");
			assert_non_null(f);
			assert_int_equal(fwrite(buf, 1, n, f), n);
			assert_int_equal(fclose(f), 0);
			struct bp_idx ix;
			if (bp_idx_read(&ix, q, &err) == 0)
				bp_idx_release(&ix);
			else
				assert_int_equal(err.kind, BP_ERR_DATA);
		}
	}
}

static void test_dtype_names(void **state)
{
	(void)state;
	assert_string_equal(bp_dtype_name(BP_DT_U8), "uint8");
	assert_string_equal(bp_dtype_name(BP_DT_F64), "float64");
	assert_string_equal(bp_dtype_name(0x42), "?");
	assert_int_equal(bp_dtype_size(BP_DT_I16), 2);
	assert_int_equal(bp_dtype_size(0x0A), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_large_gz),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_dtype_names),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
