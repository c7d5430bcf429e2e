#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"

#include "tmpdir.h"

static char *path_of(const char *name)
{
	static char p[4][256];
	static int turn;
	char *s = p[turn++ % 4];
	snprintf(s, 256, "%s/%s", dir, name);
	return s;
}

enum make { PLAIN, GZ, TRUNC_GZ, RANDOM_GZ, FOLDER, MISSING };

struct file {
	const char *name;
	enum make how;
	const char *bytes;
	size_t len;
};

static void make_file(const struct file *f)
{
	char *p = path_of(f->name);
	if (f->how == MISSING)
		return;
	if (f->how == FOLDER) {
		assert_int_equal(mkdir(p, 0755), 0);
		return;
	}
	if (f->how == RANDOM_GZ) {
		FILE *fp = fopen(p, "wb");
		assert_non_null(fp);
		unsigned char junk[2048] = { 0x1f, 0x8b };
		for (size_t i = 2; i < sizeof junk; i++)
			junk[i] = (unsigned char)(i * 2654435761u >> 11);
		assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
		assert_int_equal(fclose(fp), 0);
		return;
	}
	gzFile g = gzopen(p, f->how == PLAIN ? "wbT" : "wb");
	assert_non_null(g);
	if (f->len)
		assert_int_equal(gzwrite(g, f->bytes, (unsigned)f->len), (int)f->len);
	assert_int_equal(gzclose(g), Z_OK);
	if (f->how == TRUNC_GZ) {
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(truncate(p, st.st_size - 6), 0);
	}
}

enum mode { CLASSES, BINARY, TARGETS };

struct bad_case {
	const char *name;
	enum bp_data_format fmt;
	struct file a, b;    /* idx: images, labels; csv: a only */
	enum mode mode;
	long label_column;
	int kind;
	const char *msg;
	const char *where;   /* file name in dir, with ":LINE" for CSV */
};

#define S(s) s, sizeof(s) - 1
/* 2 images of 2×2 bytes, and 2 uint8 labels. */
#define IMG2 S("\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02" "\x01\x02\x03\x04\x05\x06\x07\x08")
#define LAB2 S("\0\0\x08\x01\0\0\0\x02\x01\x00")
#define NOFILE { NULL, PLAIN, NULL, 0 }

static const struct bad_case bad_cases[] = {
	{ "missing images", BP_FMT_IDX, { "m1-img", MISSING, S("") }, { "m1-lab", PLAIN, LAB2 },
	  CLASSES, 0, 3, "No such file", "m1-img" },
	{ "folder as images", BP_FMT_IDX, { "m2-img", FOLDER, S("") }, { "m2-lab", PLAIN, LAB2 },
	  CLASSES, 0, 3, "is a folder", "m2-img" },
	{ "empty images", BP_FMT_IDX, { "m3-img", PLAIN, S("") }, { "m3-lab", PLAIN, LAB2 },
	  CLASSES, 0, 3, "empty file", "m3-img" },
	{ "truncated gzip", BP_FMT_IDX, { "m4-img.gz", TRUNC_GZ, IMG2 }, { "m4-lab", PLAIN, LAB2 },
	  CLASSES, 0, 3, "truncated gzip", "m4-img.gz" },
	{ "random gzip", BP_FMT_IDX, { "m5-img.gz", RANDOM_GZ, S("") }, { "m5-lab", PLAIN, LAB2 },
	  CLASSES, 0, 3, "corrupt gzip", "m5-img.gz" },
	{ "wrong magic", BP_FMT_IDX, { "m6-img", PLAIN, S("\x01\0\x08\x01\0\0\0\x01\x01") },
	  { "m6-lab", PLAIN, LAB2 }, CLASSES, 0, 3, "not an IDX file", "m6-img" },
	{ "short idx", BP_FMT_IDX, { "m7-img", GZ, S("\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02\x01") },
	  { "m7-lab", PLAIN, LAB2 }, CLASSES, 0, 3, "claims 8 bytes", "m7-img" },
	{ "claims 2^31 items", BP_FMT_IDX, { "m8-img.gz", GZ, S("\0\0\x08\x01\x80\0\0\0\x01\x02") },
	  { "m8-lab", PLAIN, LAB2 }, CLASSES, 0, 3, "claims 2147483648 bytes", "m8-img.gz" },
	{ "count mismatch", BP_FMT_IDX, { "m9-img", PLAIN, IMG2 },
	  { "m9-lab", PLAIN, S("\0\0\x08\x01\0\0\0\x03\x01\x00\x02") }, CLASSES, 0, 3, "3 labels for 2 images",
	  "m9-lab" },
	{ "negative label", BP_FMT_IDX, { "m10-img", PLAIN, IMG2 }, { "m10-lab", PLAIN, S("\0\0\x09\x01\0\0\0\x02\x01\xff") },
	  CLASSES, 0, 3, "item 1: label -1 is negative", "m10-lab" },
	{ "fractional label", BP_FMT_IDX, { "m11-img", PLAIN, IMG2 },
	  { "m11-lab", PLAIN, S("\0\0\x0d\x01\0\0\0\x02\x3f\xc0\0\0\x3f\xc0\0\0") }, CLASSES, 0, 3,
	  "item 0: label 1.5 is not a whole number", "m11-lab" },
	{ "NaN label", BP_FMT_IDX, { "m12-img", PLAIN, IMG2 },
	  { "m12-lab", PLAIN, S("\0\0\x0d\x01\0\0\0\x02\0\0\0\0\x7f\xc0\0\0") }, CLASSES, 0, 3, "item 1: label is NaN",
	  "m12-lab" },
	{ "NaN feature", BP_FMT_IDX, { "m13-img", PLAIN, S("\0\0\x0d\x02\0\0\0\x02\0\0\0\x01\0\0\0\0\xff\x80\0\0") },
	  { "m13-lab", PLAIN, LAB2 }, CLASSES, 0, 3, "item 1: feature 0 is infinite", "m13-img" },
	{ "binary label 2", BP_FMT_IDX, { "m14-img", PLAIN, IMG2 }, { "m14-lab", PLAIN, S("\0\0\x08\x01\0\0\0\x02\x01\x02") },
	  BINARY, 0, 3, "item 1: binary target 2 is not 0 or 1", "m14-lab" },
	{ "2-d class labels", BP_FMT_IDX, { "m15-img", PLAIN, IMG2 },
	  { "m15-lab", PLAIN, S("\0\0\x08\x02\0\0\0\x02\0\0\0\x02\x01\x00\x01\x00") }, CLASSES, 0, 3,
	  "2 values per item", "m15-lab" },
	{ "no items", BP_FMT_IDX, { "m16-img", PLAIN, S("\0\0\x08\x02\0\0\0\0\0\0\0\x03") },
	  { "m16-lab", PLAIN, S("\0\0\x08\x01\0\0\0\0") }, CLASSES, 0, 3, "no samples", "m16-img" },
	{ "missing labels", BP_FMT_IDX, { "m17-img", PLAIN, IMG2 }, { "m17-lab", MISSING, S("") },
	  CLASSES, 0, 3, "No such file", "m17-lab" },
	{ "csv missing", BP_FMT_CSV, { "c1.csv", MISSING, S("") }, NOFILE, CLASSES, -1, 3, "No such file", "c1.csv" },
	{ "csv folder", BP_FMT_CSV, { "c2.csv", FOLDER, S("") }, NOFILE, CLASSES, -1, 3, "is a folder", "c2.csv" },
	{ "csv empty", BP_FMT_CSV, { "c3.csv", PLAIN, S("") }, NOFILE, CLASSES, -1, 3, "empty file", "c3.csv" },
	{ "csv truncated gzip", BP_FMT_CSV, { "c4.csv.gz", TRUNC_GZ, S("1,2,3\n4,5,6\n") }, NOFILE, CLASSES, -1, 3,
	  "truncated gzip", "c4.csv.gz" },
	{ "csv random gzip", BP_FMT_CSV, { "c5.csv.gz", RANDOM_GZ, S("") }, NOFILE, CLASSES, -1, 3, "corrupt gzip",
	  "c5.csv.gz" },
	{ "csv ragged", BP_FMT_CSV, { "c6.csv", PLAIN, S("1,2,0\n3,4,1\n5,1\n") }, NOFILE, CLASSES, -1, 3,
	  "ragged row: 2 columns, expected 3", "c6.csv:3" },
	{ "csv NaN cell", BP_FMT_CSV, { "c7.csv", GZ, S("1,2,0\nNaN,4,1\n") }, NOFILE, CLASSES, -1, 3,
	  "column 1: NaN value", "c7.csv:2" },
	{ "csv inf cell", BP_FMT_CSV, { "c8.csv", PLAIN, S("1,inf,0\n") }, NOFILE, CLASSES, -1, 3,
	  "column 2: infinite value", "c8.csv:1" },
	{ "csv non-numeric", BP_FMT_CSV, { "c9.csv", PLAIN, S("1,2,0\n\n1,two,0\n") }, NOFILE, CLASSES, -1, 3,
	  "column 2: 'two' is not a number", "c9.csv:3" },
	{ "csv label out of range", BP_FMT_CSV, { "c10.csv", PLAIN, S("1,2,0\n") }, NOFILE, CLASSES, 7, 3,
	  "label column 7 is out of range", "c10.csv:1" },
	{ "csv negative label", BP_FMT_CSV, { "c11.csv", PLAIN, S("1,2,0\n1,2,-3\n") }, NOFILE, CLASSES, -1, 3,
	  "column 3: label -3 is negative", "c11.csv:2" },
	{ "csv fractional label", BP_FMT_CSV, { "c12.csv", PLAIN, S("1,2,0.5\n") }, NOFILE, CLASSES, -1, 3,
	  "label 0.5 is not a whole number", "c12.csv:1" },
	{ "csv NaN label", BP_FMT_CSV, { "c13.csv", PLAIN, S("1,2,nan\n") }, NOFILE, CLASSES, -1, 3,
	  "column 3: NaN value", "c13.csv:1" },
	{ "csv NaN target", BP_FMT_CSV, { "c14.csv", PLAIN, S("1,2,0.5\n1,2,-nan\n") }, NOFILE, TARGETS, -1, 3,
	  "column 3: NaN value", "c14.csv:2" },
	{ "csv binary 0.5", BP_FMT_CSV, { "c15.csv", PLAIN, S("1,2,0.5\n") }, NOFILE, BINARY, -1, 3,
	  "binary target 0.5 is not 0 or 1", "c15.csv:1" },
};

static void test_bad_data_table(void **state)
{
	(void)state;
	size_t ncases = sizeof bad_cases / sizeof bad_cases[0];
	assert_true(ncases >= 20);
	for (size_t i = 0; i < ncases; i++) {
		const struct bad_case *c = &bad_cases[i];
		make_file(&c->a);
		if (c->b.name)
			make_file(&c->b);
		struct bp_fileset fs = { .present = true };
		struct bp_data_cfg cfg = { .format = c->fmt, .nlabel_columns = 1, .label_column = { c->label_column },
		                           .delimiter = ',' };
		if (c->fmt == BP_FMT_IDX) {
			fs.images = strdup(path_of(c->a.name));
			fs.labels = strdup(path_of(c->b.name));
		} else {
			fs.path = strdup(path_of(c->a.name));
		}
		struct bp_label_spec spec = { .classes = c->mode == CLASSES, .binary = c->mode == BINARY, .width = 10 };
		struct bp_dataset ds;
		struct bp_err err = { 0 };
		int rc = bp_dataset_load(&ds, &fs, &cfg, &spec, &err);
		if (rc != -1)
			fail_msg("%s: loaded", c->name);
		if ((int)err.kind != c->kind)
			fail_msg("%s: kind %d, expected %d (%s)", c->name, err.kind, c->kind, err.msg);
		if (!strstr(err.msg, c->msg))
			fail_msg("%s: message '%s' lacks '%s'", c->name, err.msg, c->msg);
		if (strcmp(err.where, path_of(c->where)) != 0)
			fail_msg("%s: where '%s', expected '%s'", c->name, err.where, path_of(c->where));
		assert_null(ds.x);
		free(fs.images);
		free(fs.labels);
		free(fs.path);
	}
}

/* n samples of d uint8 features, and class labels. */
static void write_idx_set(const char *img, const char *lab, uint32_t n, uint32_t h, uint32_t w)
{
	uint8_t *x = malloc((size_t)n * h * w);
	uint8_t *y = malloc(n);
	assert_non_null(x);
	assert_non_null(y);
	for (size_t i = 0; i < (size_t)n * h * w; i++)
		x[i] = (uint8_t)(i * 31 + i / 7);
	for (uint32_t i = 0; i < n; i++)
		y[i] = (uint8_t)(i % 10);
	uint32_t dx[3] = { n, h, w }, dy[1] = { n };
	struct bp_err err = { 0 };
	assert_int_equal(bp_idx_write(img, true, BP_DT_U8, 3, dx, x, &err), 0);
	assert_int_equal(bp_idx_write(lab, false, BP_DT_U8, 1, dy, y, &err), 0);
	free(x);
	free(y);
}

static void test_idx_split_scale_gather(void **state)
{
	(void)state;
	char *img = strdup(path_of("tr-img.gz")), *lab = strdup(path_of("tr-lab"));
	write_idx_set(img, lab, 1003, 4, 5);
	struct bp_data_cfg cfg = { .format = BP_FMT_IDX, .train = { .present = true, .images = img, .labels = lab },
	                           .val_split = 0.1, .normalize = BP_NORM_SCALE };
	struct bp_label_spec spec = { .classes = true, .width = 10 };
	struct bp_data data;
	struct bp_err err = { 0 };
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 42, &err), 0);
	const struct bp_dataset *tr = &data.train;
	assert_int_equal(tr->n, 1003);
	assert_int_equal(tr->d, 20);
	assert_int_equal(tr->type, BP_DT_U8);
	assert_int_equal(tr->shape.c, 1);
	assert_int_equal(tr->shape.h, 4);
	assert_int_equal(tr->shape.w, 5);
	assert_int_equal(tr->max_class, 9);
	assert_non_null(strstr(tr->max_class_where, ": item 9"));
	assert_true(data.has_val);
	assert_ptr_equal(data.val_src, &data.train);
	assert_int_equal(data.nval, 100);  /* floor(1003 × 0.1) */
	assert_int_equal(data.ntrain, 903);
	/* Disjoint, ascending, covering every row. */
	unsigned char *seen = calloc(1003, 1);
	for (size_t i = 0; i < data.nval; i++) {
		assert_true(i == 0 || data.val_idx[i] > data.val_idx[i - 1]);
		seen[data.val_idx[i]]++;
	}
	for (size_t i = 0; i < data.ntrain; i++) {
		assert_true(i == 0 || data.train_idx[i] > data.train_idx[i - 1]);
		seen[data.train_idx[i]]++;
	}
	for (size_t i = 0; i < 1003; i++)
		assert_int_equal(seen[i], 1);
	free(seen);

	/* Same seed, same split; another seed, another split. */
	struct bp_data again, other;
	assert_int_equal(bp_data_load(&again, &cfg, &spec, 42, &err), 0);
	assert_memory_equal(again.val_idx, data.val_idx, data.nval * sizeof(uint32_t));
	assert_int_equal(bp_data_load(&other, &cfg, &spec, 43, &err), 0);
	assert_true(memcmp(other.val_idx, data.val_idx, data.nval * sizeof(uint32_t)) != 0);
	bp_data_release(&again);
	bp_data_release(&other);

	/* Gather through an index array: x/255 exactly, labels alongside. */
	float dst[3 * 20];
	int32_t cls[3];
	uint32_t pick[] = { 1002, 0, 517 };
	bp_gather(dst, tr, &data.norm, pick, 0, 3);
	bp_gather_labels(cls, NULL, tr, pick, 0, 3);
	const uint8_t *x = tr->x;
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 20; j++)
			assert_true(dst[i * 20 + j] == (float)x[pick[i] * 20 + j] / 255.0f);
		assert_int_equal(cls[i], (int)(pick[i] % 10));
	}
	/* Without idx: consecutive rows from first. */
	bp_gather(dst, tr, NULL, NULL, 5, 2);
	assert_true(dst[20] == (float)x[6 * 20]);

	size_t counts[10];
	bp_dataset_class_counts(tr, NULL, 0, counts, 10);
	assert_int_equal(counts[0], 101);
	assert_int_equal(counts[3], 100);
	bp_dataset_class_counts(tr, data.val_idx, data.nval, counts, 4);
	size_t total = counts[0] + counts[1] + counts[2] + counts[3];
	assert_true(total > 20 && total < 60);
	bp_data_release(&data);
	free(img);
	free(lab);
}

static void test_csv_standardize(void **state)
{
	(void)state;
	/* Columns: a (1..4), constant 7, target, b (values 0 / 10). */
	char *p = strdup(path_of("st.csv"));
	char *q = strdup(path_of("st-test.csv"));
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("a,c,t,b\n1,7,0.5,0\n2,7,1.5,10\n3,7,2.5,0\n4,7,3.5,10\n", f);
	assert_int_equal(fclose(f), 0);
	f = fopen(q, "w");
	assert_non_null(f);
	fputs("a,c,t,b\n5,7,1,0\n", f);
	assert_int_equal(fclose(f), 0);
	struct bp_data_cfg cfg = { .format = BP_FMT_CSV, .train = { .present = true, .path = p },
	                           .test = { .present = true, .path = q }, .normalize = BP_NORM_STANDARDIZE,
	                           .nlabel_columns = 1, .label_column = { 2 }, .header = true, .delimiter = ',' };
	struct bp_label_spec spec = { .width = 1 };
	struct bp_data data;
	struct bp_err err = { 0 };
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 1, &err), 0);
	assert_false(data.has_val);
	assert_null(data.val_src);
	assert_true(data.has_test);
	assert_int_equal(data.ntrain, 4);
	assert_int_equal(data.train.d, 3);
	assert_int_equal(data.train.k, 1);
	assert_int_equal(data.train.shape.c, 3);
	assert_float_equal(data.norm.mean[0], 2.5, 1e-6);
	assert_float_equal(data.norm.std[0], sqrt(1.25), 1e-6);
	assert_float_equal(data.norm.mean[1], 7, 1e-6);
	assert_float_equal(data.norm.std[1], 1, 0);  /* zero variance → 1 */
	assert_float_equal(data.norm.std[2], 5, 1e-6);
	float dst[3];
	float y;
	bp_gather(dst, &data.test, &data.norm, NULL, 0, 1);
	bp_gather_labels(NULL, &y, &data.test, NULL, 0, 1);
	assert_float_equal(dst[0], 2.5 / sqrt(1.25), 1e-5);
	assert_float_equal(dst[1], 0, 0);
	assert_float_equal(dst[2], -1, 1e-6);
	assert_float_equal(y, 1, 0);

	/* Restoring the statistics gives the same gather. */
	struct bp_norm copy;
	assert_int_equal(bp_norm_set(&copy, BP_NORM_STANDARDIZE, 3, data.norm.mean, data.norm.std, &err), 0);
	float dst2[3];
	bp_gather(dst2, &data.test, &copy, NULL, 0, 1);
	assert_memory_equal(dst, dst2, sizeof dst);
	bp_norm_release(&copy);
	bp_data_release(&data);
	free(p);
	free(q);
}

static void test_width_mismatch(void **state)
{
	(void)state;
	char *p = strdup(path_of("w1.csv")), *q = strdup(path_of("w2.csv"));
	FILE *f = fopen(p, "w");
	fputs("1,2,0\n", f);
	fclose(f);
	f = fopen(q, "w");
	fputs("1,2,3,0\n", f);
	fclose(f);
	struct bp_data_cfg cfg = { .format = BP_FMT_CSV, .train = { .present = true, .path = p },
	                           .val = { .present = true, .path = q }, .nlabel_columns = 1,
	                           .label_column = { -1 }, .delimiter = ',' };
	struct bp_label_spec spec = { .classes = true, .width = 2 };
	struct bp_data data;
	struct bp_err err = { 0 };
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 1, &err), -1);
	assert_int_equal(err.kind, BP_ERR_DATA);
	assert_string_equal(err.where, q);
	assert_non_null(strstr(err.msg, "3 features per sample, but the training set has 2"));
	free(p);
	free(q);
}

/* data.shape: applied to every split when its size is the features per
 * sample, else a config error at the key; augmentation must fit it. */
static void test_shape_override(void **state)
{
	(void)state;
	char *p = strdup(path_of("sh.csv")), *q = strdup(path_of("sh-test.csv"));
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("1,2,3,4,5,6,0\n6,5,4,3,2,1,1\n", f);
	assert_int_equal(fclose(f), 0);
	f = fopen(q, "w");
	assert_non_null(f);
	fputs("1,1,1,1,1,1,1\n", f);
	assert_int_equal(fclose(f), 0);
	struct bp_data_cfg cfg = { .format = BP_FMT_CSV, .train = { .present = true, .path = p },
	                           .test = { .present = true, .path = q }, .nlabel_columns = 1,
	                           .label_column = { -1 }, .delimiter = ',', .shape = { 1, 2, 3 },
	                           .shape_where = "c.yaml:4:10", .augment_where = "c.yaml:5:12",
	                           .shift_where = "c.yaml:5:20" };
	struct bp_label_spec spec = { .classes = true, .width = 2 };
	struct bp_data data;
	struct bp_err err = { 0 };
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 1, &err), 0);
	assert_true(data.train.shape.c == 1 && data.train.shape.h == 2 && data.train.shape.w == 3);
	assert_true(data.test.shape.c == 1 && data.test.shape.h == 2 && data.test.shape.w == 3);
	bp_data_release(&data);

	cfg.shape = (struct bp_shape){ 1, 2, 4 };
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 1, &err), -1);
	assert_int_equal(err.kind, BP_ERR_CONFIG);
	assert_string_equal(err.where, "c.yaml:4:10");
	assert_non_null(strstr(err.msg, "'data.shape' [1, 2, 4] has 8 values per sample, but the data has 6 features"));

	cfg.shape = (struct bp_shape){ 1, 2, 3 };
	cfg.augment = (struct bp_augment_cfg){ 2, false };
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 1, &err), -1);
	assert_string_equal(err.where, "c.yaml:5:20");
	cfg.augment.shift = 1;
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 1, &err), 0);
	bp_data_release(&data);
	/* Without data.shape a CSV is flat: no room to augment. */
	cfg.shape = (struct bp_shape){ 0, 0, 0 };
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 1, &err), -1);
	assert_string_equal(err.where, "c.yaml:5:12");
	cfg.augment.shift = 0;
	assert_int_equal(bp_data_load(&data, &cfg, &spec, 1, &err), 0);
	assert_true(data.train.shape.c == 6 && data.train.shape.h == 1 && data.train.shape.w == 1);
	bp_data_release(&data);
	free(p);
	free(q);
}

static void test_inputs_only_and_types(void **state)
{
	(void)state;
	/* A float64 IDX of rank 2 as predict input, standardize-free. */
	double v[6] = { 1.5, -2, 3, 4, 5, 6.25 };
	uint32_t dims[2] = { 3, 2 };
	struct bp_err err = { 0 };
	char *p = strdup(path_of("in.idx"));
	assert_int_equal(bp_idx_write(p, false, BP_DT_F64, 2, dims, v, &err), 0);
	struct bp_dataset ds;
	assert_int_equal(bp_dataset_load_inputs(&ds, p, BP_FMT_IDX, ',', 0, &err), 0);
	assert_int_equal(ds.n, 3);
	assert_int_equal(ds.d, 2);
	assert_int_equal(ds.k, 0);
	assert_int_equal(ds.shape.c, 2);
	float dst[6];
	bp_gather(dst, &ds, NULL, NULL, 0, 3);
	for (int i = 0; i < 6; i++)
		assert_true(dst[i] == (float)v[i]);
	bp_dataset_release(&ds);
	bp_dataset_release(&ds);  /* twice is harmless */

	char *q = strdup(path_of("in.csv"));
	FILE *f = fopen(q, "w");
	fputs("skip me\n1,2\n3,4\n", f);
	fclose(f);
	assert_int_equal(bp_dataset_load_inputs(&ds, q, BP_FMT_CSV, ',', 1, &err), 0);
	assert_int_equal(ds.n, 2);
	assert_int_equal(ds.d, 2);
	assert_int_equal(ds.type, BP_DT_F32);
	bp_dataset_release(&ds);

	/* int16 images, rank 4 → (c, h, w); int32 class labels. */
	int16_t im[2 * 2 * 1 * 3] = { -300, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 300 };
	int32_t lb[2] = { 4, 12 };
	uint32_t di[4] = { 2, 2, 1, 3 }, dl[1] = { 2 };
	char *a = strdup(path_of("i16.idx.gz")), *b = strdup(path_of("i32.idx.gz"));
	assert_int_equal(bp_idx_write(a, true, BP_DT_I16, 4, di, im, &err), 0);
	assert_int_equal(bp_idx_write(b, true, BP_DT_I32, 1, dl, lb, &err), 0);
	struct bp_fileset fs = { .present = true, .images = a, .labels = b };
	struct bp_data_cfg cfg = { .format = BP_FMT_IDX };
	struct bp_label_spec spec = { .classes = true, .width = 10 };
	assert_int_equal(bp_dataset_load(&ds, &fs, &cfg, &spec, &err), 0);
	assert_int_equal(ds.shape.c, 2);
	assert_int_equal(ds.shape.h, 1);
	assert_int_equal(ds.shape.w, 3);
	/* The caller checks labels against the width: the maximum and where it is. */
	assert_int_equal(ds.max_class, 12);
	char where[600];
	snprintf(where, sizeof where, "%s: item 1", b);
	assert_string_equal(ds.max_class_where, where);
	struct bp_norm nm;
	assert_int_equal(bp_norm_fit(&nm, BP_NORM_SCALE, &ds, NULL, 0, &err), 0);
	float d6[12];
	bp_gather(d6, &ds, &nm, NULL, 1, 1);
	assert_true(d6[5] == 300.0f / 255.0f);
	bp_norm_release(&nm);
	bp_dataset_release(&ds);
	free(p);
	free(q);
	free(a);
	free(b);
}

/* Every byte scales to exactly the float v/255, whatever the vector path. */
static void test_scale_every_byte_exactly(void **state)
{
	(void)state;
	uint8_t bytes[2 * 256];
	for (int v = 0; v < 512; v++)
		bytes[v] = (uint8_t)(v % 256);
	struct bp_dataset ds = { .n = 2, .d = 256, .type = BP_DT_U8, .x = bytes, .shape = { 256, 1, 1 } };
	struct bp_norm norm = { 0 };
	struct bp_err err = { 0 };
	assert_int_equal(bp_norm_fit(&norm, BP_NORM_SCALE, &ds, NULL, 0, &err), 0);
	float out[512];
	const uint32_t order[2] = { 1, 0 };
	bp_gather(out, &ds, &norm, order, 0, 2);
	for (int v = 0; v < 512; v++)
		assert_true(out[v] == (float)(v % 256) / 255.0f);
	bp_norm_release(&norm);
	/* auto means scale for uint8 */
	assert_int_equal(bp_norm_fit(&norm, BP_NORM_AUTO, &ds, NULL, 0, &err), 0);
	assert_int_equal(norm.kind, BP_NORM_SCALE);
	bp_norm_release(&norm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_data_table),
		cmocka_unit_test(test_scale_every_byte_exactly),
		cmocka_unit_test(test_idx_split_scale_gather),
		cmocka_unit_test(test_csv_standardize),
		cmocka_unit_test(test_width_mismatch),
		cmocka_unit_test(test_shape_override),
		cmocka_unit_test(test_inputs_only_and_types),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
