#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "emit.h"
#include "yaml_load.h"

static const char minimal_idx[] =
	"data:\n"
	"  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz}\n"
	"model:\n"
	"  layers:\n"
	"    - {type: dense, units: 64, activation: relu}\n"
	"    - {type: dense, units: 10, activation: softmax}\n";

static const char minimal_csv[] =
	"data:\n"
	"  train: {path: digits.csv.gz}\n"
	"model:\n"
	"  layers: [{type: dense, units: 10}]\n";

static struct bp_config *load(const char *text, char *const *sets, int nsets, struct bp_err *err)
{
	memset(err, 0, sizeof *err);
	return bp_config_load_text(text, strlen(text), "/cfg/fashion-mlp.yaml", "/cfg", sets, nsets, err);
}

/* Loads text and expects a config error at where whose message holds msg. */
static void expect_error(const char *text, char *const *sets, int nsets, const char *where, const char *msg)
{
	struct bp_err err;
	struct bp_config *cfg = load(text, sets, nsets, &err);
	if (cfg)
		fail_msg("expected an error for:\n%s", text);
	assert_int_equal(err.kind, BP_ERR_CONFIG);
	if (strcmp(err.where, where) != 0 || !strstr(err.msg, msg))
		fail_msg("got '%s: %s', expected '%s: ...%s...'", err.where, err.msg, where, msg);
}

static void test_defaults(void **state)
{
	(void)state;
	struct bp_err err;
	struct bp_config *cfg = load(minimal_idx, NULL, 0, &err);
	if (!cfg)
		fail_msg("%s: %s", err.where, err.msg);
	assert_string_equal(cfg->name, "fashion-mlp");
	assert_int_equal(cfg->seed, 42);
	assert_int_equal(cfg->data.format, BP_FMT_IDX);
	assert_true(cfg->data.train.present);
	assert_string_equal(cfg->data.train.images, "/cfg/train-images-idx3-ubyte.gz");
	assert_string_equal(cfg->data.train.labels, "/cfg/train-labels-idx1-ubyte.gz");
	assert_false(cfg->data.test.present);
	assert_false(cfg->data.val.present);
	assert_true(cfg->data.val_split == 0);
	assert_int_equal(cfg->data.normalize, BP_NORM_AUTO);
	assert_int_equal(cfg->model.init, BP_INIT_AUTO);
	assert_non_null(cfg->model.layers);
	assert_int_equal(cfg->model.layers->nchild, 2);
	assert_int_equal(cfg->loss, BP_LOSS_CROSS_ENTROPY);
	assert_int_equal(cfg->optimizer.type, BP_OPTIM_ADAM);
	assert_true(cfg->optimizer.lr == 0.001);
	assert_true(cfg->optimizer.momentum == 0.9);
	assert_true(cfg->optimizer.beta1 == 0.9);
	assert_true(cfg->optimizer.beta2 == 0.999);
	assert_true(cfg->optimizer.eps == 1e-8);
	assert_true(cfg->optimizer.weight_decay == 0);
	assert_true(cfg->optimizer.clip_norm == 0);
	assert_int_equal(cfg->schedule.type, BP_SCHED_CONSTANT);
	assert_int_equal(cfg->schedule.warmup_epochs, 0);
	assert_int_equal(cfg->train.epochs, 20);
	assert_int_equal(cfg->train.batch_size, 32);
	assert_true(cfg->train.shuffle);
	assert_int_equal(cfg->train.threads, 0);
	assert_int_equal(cfg->train.early_stopping.metric, BP_METRIC_VAL_LOSS);
	assert_int_equal(cfg->train.early_stopping.patience, 0);
	assert_true(cfg->train.early_stopping.min_delta == 0);
	assert_string_equal(cfg->output.dir, "runs/fashion-mlp");
	assert_int_equal(cfg->output.checkpoint_every, 1);
	assert_int_equal(cfg->output.best_metric, BP_METRIC_VAL_ACCURACY);
	/* The defaults are in the tree too. */
	assert_string_equal(bp_node_get(bp_node_get(cfg->root, "train"), "epochs")->value, "20");
	bp_config_free(cfg);
}

static void test_csv_and_mse(void **state)
{
	(void)state;
	struct bp_err err;
	char text[1024];
	snprintf(text, sizeof text,
	         "data:\n  train: {path: ./sub/y.csv}\n  label_column: [0, -1]\n  delimiter: \"\\t\"\n"
	         "  header: yes\n  skip_rows: 2\n  validation: {path: /abs/v.csv}\n"
	         "model: {layers: [{type: dense, units: 2}]}\nloss: mse\n");
	struct bp_config *cfg = load(text, NULL, 0, &err);
	if (!cfg)
		fail_msg("%s: %s", err.where, err.msg);
	assert_int_equal(cfg->data.format, BP_FMT_CSV);
	assert_string_equal(cfg->data.train.path, "/cfg/sub/y.csv");
	assert_string_equal(cfg->data.val.path, "/abs/v.csv");
	assert_true(cfg->data.val.present);
	assert_int_equal(cfg->data.nlabel_columns, 2);
	assert_int_equal(cfg->data.label_column[0], 0);
	assert_int_equal(cfg->data.label_column[1], -1);
	assert_int_equal(cfg->data.delimiter, '\t');
	assert_true(cfg->data.header);
	assert_int_equal(cfg->data.skip_rows, 2);
	assert_int_equal(cfg->data.normalize, BP_NORM_NONE);
	assert_int_equal(cfg->output.best_metric, BP_METRIC_VAL_LOSS);
	bp_config_free(cfg);

	cfg = load(minimal_csv, NULL, 0, &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->data.nlabel_columns, 1);
	assert_int_equal(cfg->data.label_column[0], -1);
	assert_int_equal(cfg->data.delimiter, ',');
	assert_false(cfg->data.header);
	bp_config_free(cfg);
}

/* Resolved → text → loaded from another folder → the same text and values. */
static void test_round_trip(void **state)
{
	(void)state;
	struct bp_err err;
	char *sets[] = { "optimizer.schedule.type=cosine", "optimizer.schedule.min_lr=1e-5",
	                 "data.validation={split: 0.25}", "name='0123'", "seed=7" };
	struct bp_config *a = load(minimal_idx, sets, 5, &err);
	if (!a)
		fail_msg("%s: %s", err.where, err.msg);
	size_t len;
	char *text = bp_config_text(a, &len, &err);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	struct bp_config *b = bp_config_load_text(text, len, "/elsewhere/config.yaml", "/elsewhere", NULL, 0, &err);
	if (!b)
		fail_msg("%s: %s\n%s", err.where, err.msg, text);
	char *again = bp_config_text(b, NULL, &err);
	assert_non_null(again);
	assert_string_equal(text, again);
	assert_string_equal(b->name, "0123");
	assert_int_equal(b->seed, 7);
	assert_string_equal(b->data.train.images, a->data.train.images);
	assert_true(b->data.val_split == 0.25);
	assert_int_equal(b->schedule.type, BP_SCHED_COSINE);
	assert_true(b->schedule.min_lr == 1e-5);
	assert_string_equal(b->output.dir, "runs/0123");
	assert_true(memcmp(&a->optimizer, &b->optimizer, sizeof a->optimizer) == 0);
	assert_true(memcmp(&a->train, &b->train, sizeof a->train) == 0);
	assert_true(memcmp(&a->schedule, &b->schedule, sizeof a->schedule) == 0);
	assert_int_equal(a->data.normalize, b->data.normalize);
	free(text);
	free(again);
	bp_config_free(a);
	bp_config_free(b);
}

static void test_sets(void **state)
{
	(void)state;
	struct bp_err err;
	char *sets[] = { "model.layers.0.units=128", "train.epochs=5", "train.epochs=6",
	                 "optimizer.lr=.5", "model.layers.1={type: dense, units: 3}", "train.shuffle=off",
	                 "data.test.images=t-ubyte", "data.test.labels=/l-ubyte" };
	struct bp_config *cfg = load(minimal_idx, sets, 8, &err);
	if (!cfg)
		fail_msg("%s: %s", err.where, err.msg);
	assert_string_equal(bp_node_get(bp_node_at(cfg->model.layers, 0), "units")->value, "128");
	assert_string_equal(bp_node_get(bp_node_at(cfg->model.layers, 1), "units")->value, "3");
	assert_null(bp_node_get(bp_node_at(cfg->model.layers, 1), "activation"));
	assert_int_equal(cfg->train.epochs, 6);
	assert_true(cfg->optimizer.lr == 0.5);
	assert_false(cfg->train.shuffle);
	/* A path given with --set starts at the working directory. */
	char cwd[PATH_MAX], want[PATH_MAX + 16];
	assert_non_null(getcwd(cwd, sizeof cwd));
	snprintf(want, sizeof want, "%s/t-ubyte", cwd);
	assert_string_equal(cfg->data.test.images, want);
	assert_string_equal(cfg->data.test.labels, "/l-ubyte");
	bp_config_free(cfg);
}

static void test_set_errors(void **state)
{
	(void)state;
	char *no_eq[] = { "train.epochs" }, *empty_key[] = { "=3" }, *range[] = { "model.layers.2.units=1" };
	char *unknown[] = { "train.epohcs=3" }, *bad_value[] = { "train.epochs=0" }, *gap[] = { "train..epochs=3" };
	char *into_scalar[] = { "model.layers.0.type.x=1" }, *bad_yaml[] = { "train.epochs=[3" };
	char *new_list[] = { "data.extra.0=1" };
	expect_error(minimal_idx, no_eq, 1, "--set train.epochs", "expected KEY=VALUE");
	expect_error(minimal_idx, empty_key, 1, "--set =3", "key before '=' is empty");
	expect_error(minimal_idx, range, 1, "--set model.layers.2.units=1", "index 2 is out of range");
	expect_error(minimal_idx, unknown, 1, "--set train.epohcs=3", "did you mean 'epochs'");
	expect_error(minimal_idx, bad_value, 1, "--set train.epochs=0", "'train.epochs' must be between 1");
	expect_error(minimal_idx, gap, 1, "--set train..epochs=3", "empty part");
	expect_error(minimal_idx, into_scalar, 1, "--set model.layers.0.type.x=1", "'model.layers.0.type' is a single value");
	expect_error(minimal_idx, bad_yaml, 1, "--set train.epochs=[3", "invalid YAML");
	expect_error(minimal_idx, new_list, 1, "--set data.extra.0=1", "out of range");
}

static void test_errors(void **state)
{
	(void)state;
	const char *F = "/cfg/fashion-mlp.yaml";
	char where[128];
#define AT(l, c) (snprintf(where, sizeof where, "%s:%d:%d", F, l, c), where)
	expect_error("data: {train: {path: a.csv}}\nmodel: {layers: [{type: dense}]}\noptimzer: {lr: 1}\n",
	             NULL, 0, AT(3, 1), "unknown key 'optimzer' (did you mean 'optimizer'?)");
	expect_error("data: {train: {path: a.csv}}\nmodel: {layers: [{type: dense}]}\ntrain:\n  epochs: 2.5\n",
	             NULL, 0, AT(4, 11), "'train.epochs' must be an integer, got '2.5'");
	expect_error("data: {train: {path: a.csv}}\nmodel: {layers: []}\n", NULL, 0, AT(2, 17), "is empty");
	expect_error("data: {train: {path: a.csv}}\n", NULL, 0, AT(1, 1), "missing required key 'model'");
	expect_error("model: {layers: [{type: dense}]}\n", NULL, 0, AT(1, 1), "missing required key 'data'");
	expect_error("data: {train: {path: a.csv}}\nmodel: {layers: [{units: 3}]}\n", NULL, 0, AT(2, 18),
	             "'model.layers.0' has no 'type'");
	expect_error("data: {train: {path: a.csv}}\nmodel: {layers: [{type: dense}]}\nloss: crossentropy\n",
	             NULL, 0, AT(3, 7), "did you mean 'cross_entropy'");
	expect_error("data: {train: {path: a.csv}, label_column: [1, 2]}\nmodel: {layers: [{type: dense}]}\n",
	             NULL, 0, AT(1, 44), "only with loss mse");
	expect_error("data: {train: {path: a.csv}}\nmodel: {layers: [{type: dense}]}\n"
	             "optimizer: {schedule: {type: constant, gamma: 0.5}}\n",
	             NULL, 0, AT(3, 40), "does not apply to a 'constant' schedule");
	expect_error("data: {train: {path: a.csv}}\nmodel: {layers: [{type: dense}]}\n"
	             "optimizer: {lr: 0.01, schedule: {type: cosine, min_lr: 0.1}}\n",
	             NULL, 0, AT(3, 56), "must not exceed 'optimizer.lr'");
	expect_error("data: {train: {images: x-ubyte, labels: y-ubyte}, delimiter: ';'}\n"
	             "model: {layers: [{type: dense}]}\n", NULL, 0, AT(1, 51), "applies only to csv data");
	expect_error("data: {format: csv, train: {images: x-ubyte, labels: y-ubyte}}\n"
	             "model: {layers: [{type: dense}]}\n", NULL, 0, AT(1, 29), "is for idx data");
	expect_error("data: {train: {path: a.csv}, validation: {split: 1}}\nmodel: {layers: [{type: dense}]}\n",
	             NULL, 0, AT(1, 50), "between 0 and 1");
	expect_error("data: {train: {path: a.csv}, delimiter: '.'}\nmodel: {layers: [{type: dense}]}\n",
	             NULL, 0, AT(1, 41), "cannot be '.'");
	expect_error("a: 1\na: 2\n", NULL, 0, AT(2, 1), "duplicate key 'a'");
	expect_error("a: &x [1, 2]\nb: *x\n", NULL, 0, AT(1, 4), "anchors");
	expect_error("a: 1\n---\nb: 2\n", NULL, 0, AT(2, 1), "one document");
	expect_error("# only a comment\n", NULL, 0, F, "the config is empty");
	expect_error("- 1\n", NULL, 0, AT(1, 1), "must be a mapping");
	expect_error("a: [b\n", NULL, 0, AT(2, 1), "invalid YAML");
	expect_error("data: {train: {path: ''}}\nmodel: {layers: [{type: dense}]}\n", NULL, 0, AT(1, 22),
	             "'data.train.path' must not be empty");
#undef AT
}

static void test_hostile(void **state)
{
	(void)state;
	struct bp_err err;
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 199);
	deep[399] = '\0';
	assert_null(bp_yaml_parse(deep, strlen(deep), "d.yaml", &err));
	assert_non_null(strstr(err.msg, "nesting deeper than 64"));
	const char bomb[] = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
	                    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n";
	assert_null(bp_yaml_parse(bomb, strlen(bomb), "b.yaml", &err));
	assert_int_equal(err.kind, BP_ERR_CONFIG);
	const char nul[] = "a: 1\0b: 2";
	assert_null(bp_yaml_parse(nul, sizeof nul - 1, "n.yaml", &err));
	assert_int_equal(err.kind, BP_ERR_CONFIG);
	assert_string_equal(err.where, "n.yaml:1:5");
	const char bad_utf8[] = "a: \xff\xfe\n";
	assert_null(bp_yaml_parse(bad_utf8, strlen(bad_utf8), "u.yaml", &err));
	assert_int_equal(err.kind, BP_ERR_CONFIG);
}

static void test_files(void **state)
{
	(void)state;
	struct bp_err err = { 0 };
	char dir[] = "/tmp/bp_test_config_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/my-run.yml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(minimal_csv, f);
	assert_int_equal(fclose(f), 0);
	struct bp_config *cfg = bp_config_load(path, NULL, 0, &err);
	if (!cfg)
		fail_msg("%s: %s", err.where, err.msg);
	assert_string_equal(cfg->name, "my-run");
	char want[300];
	snprintf(want, sizeof want, "%s/digits.csv.gz", dir);
	assert_string_equal(cfg->data.train.path, want);
	bp_config_free(cfg);

	assert_null(bp_config_load(dir, NULL, 0, &err));
	assert_int_equal(err.kind, BP_ERR_CONFIG);
	assert_string_equal(err.where, dir);
	assert_non_null(strstr(err.msg, "folder"));
	snprintf(path, sizeof path, "%s/missing.yaml", dir);
	assert_null(bp_config_load(path, NULL, 0, &err));
	assert_int_equal(err.kind, BP_ERR_CONFIG);
	assert_string_equal(err.where, path);
	assert_non_null(strstr(err.msg, "no such file"));
	snprintf(path, sizeof path, "%s/my-run.yml", dir);
	assert_int_equal(remove(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* The emitter keeps quoted strings quoted and writes layers on one line. */
static void test_emit(void **state)
{
	(void)state;
	struct bp_err err;
	const char text[] = "a: '42'\nb: 42\nc: [{type: dense, units: 3}]\nd: 'it''s: odd'\ne: \"\\t\"\n";
	struct bp_node *root = bp_yaml_parse(text, strlen(text), "t.yaml", &err);
	assert_non_null(root);
	char *out = bp_emit_text(root, NULL, &err);
	assert_non_null(out);
	assert_non_null(strstr(out, "a: '42'\n"));
	assert_non_null(strstr(out, "b: 42\n"));
	assert_non_null(strstr(out, "- {type: dense, units: 3}\n"));
	struct bp_node *back = bp_yaml_parse(out, strlen(out), "u.yaml", &err);
	assert_non_null(back);
	assert_true(bp_node_get(back, "a")->quoted);
	assert_false(bp_node_get(back, "b")->quoted);
	assert_string_equal(bp_node_get(back, "d")->value, "it's: odd");
	assert_string_equal(bp_node_get(back, "e")->value, "\t");
	free(out);
	bp_node_free(root);
	bp_node_free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_csv_and_mse),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_set_errors),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_emit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
