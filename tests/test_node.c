#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "node.h"

static struct bp_node *scalar(struct bp_node *parent, const char *key, const char *value, int line)
{
	struct bp_node *n = bp_node_new(BP_NODE_SCALAR, "c.yaml", line, 3);
	assert_non_null(n);
	assert_int_equal(bp_node_set_key(n, key), 0);
	assert_int_equal(bp_node_set_value(n, value), 0);
	bp_node_append(parent, n);
	return n;
}

static void test_typed_readers(void **state)
{
	(void)state;
	struct bp_err e = { 0 };
	struct bp_node *m = bp_node_new(BP_NODE_MAP, "c.yaml", 1, 1);
	struct bp_node *units = scalar(m, "units", "64", 2);
	struct bp_node *lr = scalar(m, "lr", "1.0e-3", 3);
	struct bp_node *flag = scalar(m, "shuffle", "yes", 4);
	struct bp_node *bad = scalar(m, "epochs", "ten", 5);
	long l;
	double d;
	bool b;
	assert_int_equal(bp_node_int(units, 1, 100, &l, &e), 0);
	assert_int_equal(l, 64);
	assert_int_equal(bp_node_num(lr, 0, 1, &d, &e), 0);
	assert_true(d == 1e-3);
	assert_int_equal(bp_node_bool(flag, &b, &e), 0);
	assert_true(b);
	assert_int_equal(bp_node_int(units, 1, 10, &l, &e), -1);
	assert_int_equal(e.kind, BP_ERR_CONFIG);
	assert_string_equal(e.where, "c.yaml:2:3");
	assert_non_null(strstr(e.msg, "'units' must be between 1 and 10"));
	assert_int_equal(bp_node_int(bad, 1, 10, &l, &e), -1);
	assert_non_null(strstr(e.msg, "must be an integer, got 'ten'"));
	assert_int_equal(bp_node_num(lr, 0, 1e-4, &d, &e), -1);
	bp_node_free(m);
}

static void test_unknown_key_suggests(void **state)
{
	(void)state;
	struct bp_err e = { 0 };
	static const char *const keys[] = { "type", "units", "activation", NULL };
	struct bp_node *m = bp_node_new(BP_NODE_MAP, "c.yaml", 1, 1);
	scalar(m, "type", "dense", 1);
	scalar(m, "activaton", "relu", 2);
	assert_int_equal(bp_node_check_keys(m, keys, &e), -1);
	assert_string_equal(e.where, "c.yaml:2:3");
	assert_non_null(strstr(e.msg, "did you mean 'activation'"));
	bp_node_free(m);

	m = bp_node_new(BP_NODE_MAP, "c.yaml", 1, 1);
	scalar(m, "zzzzzz", "1", 7);
	assert_int_equal(bp_node_check_keys(m, keys, &e), -1);
	assert_null(strstr(e.msg, "did you mean"));
	assert_non_null(strstr(e.msg, "type, units or activation"));
	bp_node_free(m);
}

static void test_choice_and_path(void **state)
{
	(void)state;
	struct bp_err e = { 0 };
	static const char *const acts[] = { "relu", "sigmoid", "tanh", NULL };
	struct bp_node *root = bp_node_new(BP_NODE_MAP, "c.yaml", 1, 1);
	struct bp_node *model = bp_node_new(BP_NODE_MAP, "c.yaml", 2, 1);
	bp_node_set_key(model, "model");
	bp_node_append(root, model);
	struct bp_node *layers = bp_node_new(BP_NODE_LIST, "c.yaml", 3, 3);
	bp_node_set_key(layers, "layers");
	bp_node_append(model, layers);
	struct bp_node *l0 = bp_node_new(BP_NODE_MAP, "c.yaml", 4, 5);
	bp_node_append(layers, l0);
	struct bp_node *l1 = bp_node_new(BP_NODE_MAP, "c.yaml", 5, 5);
	bp_node_append(layers, l1);
	struct bp_node *act = scalar(l1, "activation", "sigmod", 5);
	int k;
	assert_int_equal(bp_node_choice(act, acts, &k, &e), -1);
	assert_non_null(strstr(e.msg, "model.layers.1.activation"));
	assert_non_null(strstr(e.msg, "did you mean 'sigmoid'"));
	assert_ptr_equal(bp_node_at(layers, 1), l1);
	assert_null(bp_node_at(layers, 2));
	assert_ptr_equal(bp_node_get(l1, "activation"), act);

	struct bp_node *copy = bp_node_clone(root);
	assert_non_null(copy);
	struct bp_node *cact = bp_node_get(bp_node_at(bp_node_get(bp_node_get(copy, "model"), "layers"), 1),
	                                   "activation");
	assert_string_equal(cact->value, "sigmod");
	bp_node_free(copy);

	assert_int_equal(bp_node_expect(layers, BP_NODE_MAP, &e), -1);
	assert_non_null(strstr(e.msg, "must be a mapping, not a list"));
	bp_node_free(root);
}

static void test_parse_num(void **state)
{
	(void)state;
	double d;
	assert_true(bp_parse_num("1e-8", &d) && d == 1e-8);
	assert_true(bp_parse_num(".5", &d) && d == 0.5);
	assert_true(bp_parse_num("1000000", &d) && d == 1e6);
	assert_false(bp_parse_num("nan", &d));
	assert_false(bp_parse_num("inf", &d));
	assert_false(bp_parse_num("1e999", &d));
	assert_false(bp_parse_num("12abc", &d));
	assert_false(bp_parse_num("", &d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_readers),
		cmocka_unit_test(test_unknown_key_suggests),
		cmocka_unit_test(test_choice_and_path),
		cmocka_unit_test(test_parse_num),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
