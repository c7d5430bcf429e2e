#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "csv.h"

#include "tmpdir.h"

static const char *write_text(const char *name, const char *text, bool gz)
{
	static char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	gzFile f = gzopen(p, gz ? "wb" : "wbT");
	assert_non_null(f);
	size_t len = strlen(text);
	if (len)
		assert_int_equal(gzwrite(f, text, (unsigned)len), (int)len);
	assert_int_equal(gzclose(f), Z_OK);
	return p;
}

static void test_parse_double(void **state)
{
	(void)state;
	double v;
	static const char *const good[] = {
		"0", "-0", "1", "+1", "123456789", "1.5", "-2.25", ".5", "5.", "1e10", "1E-5", "-3.75e+2",
		"0.1", "0.2", "0.3", "3.14159265358979", "1e22", "1e23", "123456789012345678901234567890",
		"0.000000000000000000000000000001234", "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308",
		"9007199254740993", "0.1e-5", "00012", "1e-400", "1e400",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const char *s = good[i], *end = s + strlen(s);
		double v, want = strtod(s, NULL);
		const char *q = bp_parse_double(s, end, &v);
		assert_ptr_equal(q, end);
		if (v != want)
			fail_msg("'%s': got %.17g, want %.17g", s, v, want);
	}
	/* Random values in several spellings: correctly rounded, as strtod. */
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	static const char *const fmts[] = { "%.17g", "%.6f", "%.9e", "%.3g", "%.20f", "%.25e" };
	for (int i = 0; i < 60000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double r = ldexp((double)(x >> 11), (int)(x % 200) - 150);
		char buf[128];
		snprintf(buf, sizeof buf, fmts[i % 6], i % 2 ? -r : r);
		double want = strtod(buf, NULL);
		const char *end = buf + strlen(buf);
		assert_ptr_equal(bp_parse_double(buf, end, &v), end);
		if (v != want)
			fail_msg("'%s': got %.17g, want %.17g", buf, v, want);
	}
	const char *s = "nan";
	assert_ptr_equal(bp_parse_double(s, s + 3, &v), s + 3);
	assert_true(isnan(v));
	s = "-Infinity";
	assert_ptr_equal(bp_parse_double(s, s + 9, &v), s + 9);
	assert_true(isinf(v) && v < 0);
	s = "INF";
	assert_ptr_equal(bp_parse_double(s, s + 3, &v), s + 3);
	static const char *const bad[] = { "", "abc", "-", ".", "+.", "e5", ",1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_null(bp_parse_double(bad[i], bad[i] + strlen(bad[i]), &v));
	s = "1.5x";
	assert_ptr_equal(bp_parse_double(s, s + 4, &v), s + 3);
	s = "2e";  /* the exponent needs a digit: stops before 'e' */
	assert_ptr_equal(bp_parse_double(s, s + 2, &v), s + 1);
	/* The end bound is respected. */
	s = "12345";
	assert_ptr_equal(bp_parse_double(s, s + 2, &v), s + 2);
	assert_true(v == 12.0);
}

static void test_basic_classes(void **state)
{
	(void)state;
	const char *p = write_text("a.csv", "# a comment line\nx,y,label\r\n1,2,0\r\n\r\n  \n3.5, -4 ,2\n5e-1,6,1", false);
	struct bp_csv_opts o = { .skip_rows = 1, .header = true, .nlabels = 1, .label_columns = { -1 },
	                         .kind = BP_LABEL_CLASS };
	struct bp_csv c;
	struct bp_err err = { 0 };
	assert_int_equal(bp_csv_read(&c, p, &o, &err), 0);
	assert_int_equal(c.rows, 3);
	assert_int_equal(c.cols, 3);
	assert_int_equal(c.nfeat, 2);
	const float want[] = { 1, 2, 3.5f, -4, 0.5f, 6 };
	assert_memory_equal(c.x, want, sizeof want);
	assert_int_equal(c.cls[0], 0);
	assert_int_equal(c.cls[1], 2);
	assert_int_equal(c.cls[2], 1);
	assert_int_equal(c.max_class, 2);
	assert_int_equal(c.max_class_line, 6);
	assert_null(c.y);
	bp_csv_release(&c);
}

static void test_targets_gz_and_delimiter(void **state)
{
	(void)state;
	const char *p = write_text("t.csv.gz", "1;10;2;20\n3;30;4;40\n", true);
	struct bp_csv_opts o = { .delimiter = ';', .nlabels = 2, .label_columns = { -1, 1 },
	                         .kind = BP_LABEL_TARGET };
	struct bp_csv c;
	struct bp_err err = { 0 };
	assert_int_equal(bp_csv_read(&c, p, &o, &err), 0);
	assert_int_equal(c.rows, 2);
	assert_int_equal(c.nfeat, 2);
	assert_int_equal(c.nlab, 2);
	const float x[] = { 1, 2, 3, 4 }, y[] = { 20, 10, 40, 30 };
	assert_memory_equal(c.x, x, sizeof x);
	assert_memory_equal(c.y, y, sizeof y);
	assert_null(c.cls);
	bp_csv_release(&c);
}

static void test_features_only(void **state)
{
	(void)state;
	const char *p = write_text("f.csv", "junk\n1,2,3\n4,5,6\n", false);
	struct bp_csv_opts o = { .skip_rows = 1 };
	struct bp_csv c;
	struct bp_err err = { 0 };
	assert_int_equal(bp_csv_read(&c, p, &o, &err), 0);
	assert_int_equal(c.rows, 2);
	assert_int_equal(c.nfeat, 3);
	assert_int_equal(c.nlab, 0);
	assert_true(c.x[5] == 6.0f);
	bp_csv_release(&c);

	p = write_text("bom.csv", "\xEF\xBB\xBF" "1,2,3\n4,5,6\n", false);
	o.skip_rows = 0;
	assert_int_equal(bp_csv_read(&c, p, &o, &err), 0);
	assert_int_equal(c.rows, 2);
	assert_true(c.x[0] == 1.0f);
	bp_csv_release(&c);
}

/* Parsing ignores the process locale, even one whose decimal point is ','. */
static void test_locale_independent(void **state)
{
	(void)state;
	const char *p = write_text("l.csv", "1.5,2.25\n", false);
	const char *locs[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8", "C" };
	for (size_t i = 0; i < 4; i++) {
		setlocale(LC_ALL, locs[i]);  /* may fail when not installed: still a valid check */
		struct bp_csv_opts o = { 0 };
		struct bp_csv c;
		struct bp_err err = { 0 };
		assert_int_equal(bp_csv_read(&c, p, &o, &err), 0);
		assert_true(c.x[0] == 1.5f && c.x[1] == 2.25f);
		bp_csv_release(&c);
	}
	setlocale(LC_ALL, "C");
}

/* Lines longer than the read buffer and many rows across buffer edges. */
static void test_long_lines(void **state)
{
	(void)state;
	size_t cols = 2200000, rows = 3;  /* a line longer than the 4 MiB read buffer */
	size_t cap = cols * 3 * rows + 16;
	char *text = malloc(cap), *t = text;
	assert_non_null(text);
	for (size_t r = 0; r < rows; r++) {
		for (size_t j = 0; j < cols; j++) {
			*t++ = (char)('0' + (r + j) % 10);
			*t++ = j + 1 < cols ? ',' : '\n';
		}
	}
	*t = 0;
	const char *p = write_text("long.csv", text, false);
	free(text);
	struct bp_csv_opts o = { .nlabels = 1, .label_columns = { 0 }, .kind = BP_LABEL_CLASS };
	struct bp_csv c;
	struct bp_err err = { 0 };
	assert_int_equal(bp_csv_read(&c, p, &o, &err), 0);
	assert_int_equal(c.rows, rows);
	assert_int_equal(c.nfeat, cols - 1);
	for (size_t r = 0; r < rows; r++) {
		assert_int_equal(c.cls[r], (int)(r % 10));
		assert_true(c.x[r * (cols - 1) + cols - 2] == (float)((r + cols - 1) % 10));
	}
	bp_csv_release(&c);
}

struct bad {
	const char *name, *text;
	int nlabels;
	long col;
	enum bp_label_kind kind;
	const char *msg, *where;
};

static void test_bad_cells(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{ "ragged-short", "1,2,3\n4,5\n", 1, -1, BP_LABEL_CLASS, "ragged row: 2 columns, expected 3", ":2" },
		{ "ragged-long", "1,2,3\n4,5,6,7\n", 1, -1, BP_LABEL_CLASS, "more than 3 columns", ":2" },
		{ "nan", "1,2,3\n\n1,nan,0\n", 1, -1, BP_LABEL_CLASS, "column 2: NaN", ":3" },
		{ "NaN", "1,NaN,0\n", 0, 0, BP_LABEL_TARGET, "column 2: NaN", ":1" },
		{ "inf", "1,2,0\n-inf,2,0\n", 1, -1, BP_LABEL_CLASS, "column 1: infinite", ":2" },
		{ "overflow", "1,1e999,0\n", 1, -1, BP_LABEL_CLASS, "column 2: infinite", ":1" },
		{ "float-range", "1,1e39,0\n", 1, -1, BP_LABEL_CLASS, "out of float32 range", ":1" },
		{ "word", "1,abc,0\n", 1, -1, BP_LABEL_CLASS, "column 2: 'abc' is not a number", ":1" },
		{ "suffix", "1.5x,2,0\n", 1, -1, BP_LABEL_CLASS, "column 1: '1.5x' is not a number", ":1" },
		{ "two-numbers", "1 2,3,0\n", 1, -1, BP_LABEL_CLASS, "'1 2' is not a number", ":1" },
		{ "empty-cell", "1,,0\n", 1, -1, BP_LABEL_CLASS, "column 2: empty cell", ":1" },
		{ "trailing-comma", "1,2,\n", 1, 0, BP_LABEL_CLASS, "column 3: empty cell", ":1" },
		{ "label-frac", "1,2,0\n1,2,1.5\n", 1, -1, BP_LABEL_CLASS, "label 1.5 is not a whole number", ":2" },
		{ "label-neg", "1,2,-1\n", 1, -1, BP_LABEL_CLASS, "label -1 is negative", ":1" },
		{ "label-nan", "1,2,nan\n", 1, -1, BP_LABEL_CLASS, "column 3: NaN", ":1" },
		{ "label-big", "1,2,3e9\n", 1, -1, BP_LABEL_CLASS, "too large", ":1" },
		{ "binary", "1,2,0\n1,2,2\n", 1, -1, BP_LABEL_BINARY, "binary target 2 is not 0 or 1", ":2" },
		{ "col-range", "1,2,3\n", 1, 3, BP_LABEL_CLASS, "label column 3 is out of range", ":1" },
		{ "col-range-neg", "\n1,2,3\n", 1, -4, BP_LABEL_CLASS, "label column -4 is out of range", ":2" },
		{ "all-labels", "1\n", 1, 0, BP_LABEL_CLASS, "no feature columns", ":1" },
		{ "empty", "", 1, -1, BP_LABEL_CLASS, "empty file", "" },
		{ "blank-only", "\n  \n\n", 1, -1, BP_LABEL_CLASS, "no data rows", "" },
		{ "binary-junk", "\x01\x02\x03\n", 0, 0, BP_LABEL_TARGET, "is not a number", ":1" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad *b = &cases[i];
		const char *p = write_text(b->name, b->text, false);
		struct bp_csv_opts o = { .nlabels = b->nlabels, .label_columns = { b->col }, .kind = b->kind };
		struct bp_csv c;
		struct bp_err err = { 0 };
		assert_int_equal(bp_csv_read(&c, p, &o, &err), -1);
		if (!strstr(err.msg, b->msg))
			fail_msg("%s: message '%s' lacks '%s'", b->name, err.msg, b->msg);
		char where[300];
		snprintf(where, sizeof where, "%s%s", p, b->where);
		if (strcmp(err.where, where) != 0)
			fail_msg("%s: where '%s', expected '%s'", b->name, err.where, where);
		assert_int_equal(err.kind, BP_ERR_DATA);
		assert_null(c.x);
	}
}

static void test_skip_rows_count_lines(void **state)
{
	(void)state;
	const char *p = write_text("skip.csv", "a\nb\nh1,h2\n1,2\n1,x\n", false);
	struct bp_csv_opts o = { .skip_rows = 2, .header = true };
	struct bp_csv c;
	struct bp_err err = { 0 };
	assert_int_equal(bp_csv_read(&c, p, &o, &err), -1);
	char where[300];
	snprintf(where, sizeof where, "%s:5", p);
	assert_string_equal(err.where, where);
	assert_non_null(strstr(err.msg, "column 2"));
}

static void test_truncated_gzip(void **state)
{
	(void)state;
	char *text = malloc(200000);
	assert_non_null(text);
	size_t n = 0;
	for (int i = 0; n < 190000; i++)
		n += (size_t)sprintf(text + n, "%d,%d.%d,%d\n", i, i * 7, i % 13, i % 3);
	const char *p = write_text("big.csv.gz", text, true);
	free(text);
	char full[256];
	snprintf(full, sizeof full, "%s", p);
	FILE *f = fopen(full, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	assert_int_equal(truncate(full, size / 2), 0);
	struct bp_csv_opts o = { .nlabels = 1, .label_columns = { -1 }, .kind = BP_LABEL_CLASS };
	struct bp_csv c;
	struct bp_err err = { 0 };
	assert_int_equal(bp_csv_read(&c, full, &o, &err), -1);
	assert_int_equal(err.kind, BP_ERR_DATA);
	if (!strstr(err.msg, "truncated gzip") && !strstr(err.msg, "ragged") && !strstr(err.msg, "empty cell"))
		fail_msg("unexpected: %s", err.msg);
}

static void test_class_with_label_list_is_config_error(void **state)
{
	(void)state;
	const char *p = write_text("c.csv", "1,2,3\n", false);
	struct bp_csv_opts o = { .nlabels = 2, .label_columns = { 0, 1 }, .kind = BP_LABEL_CLASS };
	struct bp_csv c;
	struct bp_err err = { 0 };
	assert_int_equal(bp_csv_read(&c, p, &o, &err), -1);
	assert_int_equal(err.kind, BP_ERR_CONFIG);
}

/* Every truncation and many byte changes of a small CSV: each read either
 * succeeds or fails with a data error naming a line, never crashes. */
static void test_mutations(void **state)
{
	(void)state;
	static const char text[] = "a,b,c\n1,2.5,0\n-3e2,  4 ,1\n\n.5,6,2\r\n7,8,1\n";
	static const char alphabet[] = "0123456789.,-+eE \n\rnaif\x01\xff";
	size_t len = sizeof text - 1;
	unsigned seed = 99;
	for (int gz = 0; gz < 2; gz++)
		for (size_t cut = 0; cut <= len + 400; cut++) {
			char buf[64];
			memcpy(buf, text, len);
			size_t n = cut < len ? cut : len;
			if (cut > len)
				for (int k = 0; k < 1 + (int)(cut % 3); k++) {
					seed = seed * 1103515245u + 12345u;
					buf[(seed >> 8) % len] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
				}
			buf[n] = 0;
			const char *p = write_text(gz ? "mut.csv.gz" : "mut.csv", buf, gz);
			struct bp_csv_opts o = { .header = true, .nlabels = 1, .label_columns = { -1 }, .kind = BP_LABEL_CLASS };
			struct bp_csv c;
			struct bp_err err = { 0 };
			if (bp_csv_read(&c, p, &o, &err) == 0) {
				assert_true(c.rows > 0 && c.nfeat == c.cols - 1);
				bp_csv_release(&c);
			} else {
				assert_int_equal(err.kind, BP_ERR_DATA);
			}
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_double),
		cmocka_unit_test(test_basic_classes),
		cmocka_unit_test(test_targets_gz_and_delimiter),
		cmocka_unit_test(test_features_only),
		cmocka_unit_test(test_locale_independent),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_bad_cells),
		cmocka_unit_test(test_skip_rows_count_lines),
		cmocka_unit_test(test_truncated_gzip),
		cmocka_unit_test(test_class_with_label_list_is_config_error),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
