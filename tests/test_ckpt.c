/* Checkpoint format version 2: state tensors (batch_norm's running
 * statistics) saved and restored with the same checks as the parameters,
 * and version-1 files still load.
 *
 * Usage: test_ckpt [V1.ckpt] (the fixture tests/fixtures/v1/v1.ckpt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ckpt.h"
#include "model.h"
#include "tmpdir.h"

static const char *v1_path;

static const char config_text[] =
	"data: {train: {path: /nonexistent.csv}}\n"
	"model:\n"
	"  layers:\n"
	"    - {type: batch_norm, activation: relu}\n"
	"    - {type: dense, units: 5, activation: tanh}\n"
	"    - {type: batch_norm, momentum: 0.5}\n"
	"    - {type: dense, units: 3, activation: softmax}\n";

static const struct bp_shape in = { 2, 2, 3 };

/* A net of config_text whose running statistics have moved. */
static struct bp_net *trained_net(struct bp_config **cfg)
{
	struct bp_err err = { 0 };
	*cfg = bp_config_load_text(config_text, sizeof config_text - 1, "t.yaml", "/", NULL, 0, &err);
	assert_non_null(*cfg);
	struct bp_net *net = bp_model_build(*cfg, in, 4, &err);
	assert_non_null(net);
	static struct bp_rng r;
	bp_rng_seed(&r, 11);
	net->rng = &r;
	bp_net_init(net, BP_INIT_AUTO, &r);
	float x[4 * 12];
	for (int i = 0; i < 4 * 12; i++)
		x[i] = (float)(2.0 + bp_rng_normal(&r));
	bp_net_forward(net, x, 4, true);
	return net;
}

static void save(const char *path, const struct bp_net *net, const char *text, size_t len)
{
	struct bp_train_state st = { .epoch = 1, .best = NAN, .best_val_loss = NAN, .best_val_acc = NAN,
	                             .es_best = NAN };
	struct bp_ckpt_src src = { .config = text, .config_len = len, .net = net, .state = &st };
	struct bp_err err = { 0 };
	assert_int_equal(bp_ckpt_save(path, &src, &err), 0);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static unsigned char buf[1 << 16];
	*len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_true(*len > 20 && *len < sizeof buf);
	return buf;
}

static uint32_t u32_at(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Writes p (len bytes without its CRC) with a fresh CRC. */
static void spit(const char *path, unsigned char *p, size_t len)
{
	uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)len);
	for (int i = 0; i < 4; i++)
		p[len + i] = (unsigned char)(c >> (8 * i));
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len + 4, f), len + 4);
	assert_int_equal(fclose(f), 0);
}

static void test_state_round_trip(void **state)
{
	(void)state;
	struct bp_config *cfg;
	struct bp_net *net = trained_net(&cfg);
	assert_int_equal(net->nstate, 2 * 2 + 2 * 5);
	assert_true(net->state[0] != 0.0f);   /* moved by the training forward */
	char path[128];
	snprintf(path, sizeof path, "%s/bn.ckpt", dir);
	save(path, net, config_text, sizeof config_text - 1);
	size_t len;
	const unsigned char *b = slurp(path, &len);
	assert_int_equal(u32_at(b + 8), 2);   /* the format version */

	struct bp_model m;
	struct bp_err err = { 0 };
	assert_int_equal(bp_model_load(&m, path, 4, &err), 0);
	assert_int_equal(m.ck.version, 2);
	assert_int_equal(m.ck.ntensors, 2 + 2 + 2 + 2);
	assert_int_equal(m.ck.nstate_tensors, 4);
	assert_string_equal(m.ck.state_tensors[0].name, "layers.0.running_mean");
	assert_string_equal(m.ck.state_tensors[3].name, "layers.2.running_var");
	assert_int_equal(m.ck.state_tensors[3].dims[0], 5);
	assert_int_equal(m.net->nstate, net->nstate);
	assert_memory_equal(m.net->state, net->state, net->nstate * sizeof(float));
	assert_memory_equal(m.net->param, net->param, net->nparam * sizeof(float));
	bp_model_release(&m);
	bp_net_free(net);
	bp_config_free(cfg);
}

/* Rewrites path without its state-tensor records (tag 8), or with the
 * name of the last one changed. */
static void damage_state(const char *src, const char *dst, bool drop)
{
	size_t len;
	const unsigned char *b = slurp(src, &len);
	static unsigned char out[1 << 16];
	memcpy(out, b, 16);
	size_t pos = 16, n = 16, last = 0;
	int found = 0;
	while (pos < len - 4) {
		uint32_t tag = u32_at(b + pos);
		size_t rec = 12 + (size_t)u32_at(b + pos + 4);
		if (tag == 8) {
			found++;
			last = n;
		}
		if (!(drop && tag == 8)) {
			memcpy(out + n, b + pos, rec);
			n += rec;
		}
		pos += rec;
	}
	assert_int_equal(pos, len - 4);
	assert_int_equal(found, 4);
	if (!drop)
		out[last + 12 + 4 + strlen("layers.2.running_va")] = 'x';   /* running_var → running_vax */
	spit(dst, out, n);
}

static void test_missing_or_wrong_state_is_a_data_error(void **state)
{
	(void)state;
	struct bp_config *cfg;
	struct bp_net *net = trained_net(&cfg);
	char good[128], bad[128];
	snprintf(good, sizeof good, "%s/good.ckpt", dir);
	snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
	save(good, net, config_text, sizeof config_text - 1);
	for (int drop = 1; drop >= 0; drop--) {
		damage_state(good, bad, drop);
		struct bp_ckpt ck;
		struct bp_err err = { 0 };
		assert_int_equal(bp_ckpt_load(&ck, bad, &err), 0);
		assert_int_equal(ck.nstate_tensors, drop ? 0 : 4);
		float *before = malloc(net->nparam * sizeof(float));
		memcpy(before, net->param, net->nparam * sizeof(float));
		for (size_t i = 0; i < net->nparam; i++)
			net->param[i] += 1.0f;
		assert_int_equal(bp_ckpt_restore_net(&ck, net, bad, &err), -1);
		assert_int_equal(err.kind, BP_ERR_DATA);
		assert_non_null(strstr(err.msg, drop ? "has 0 state tensors, the model 4" : "'layers.2.running_vax'"));
		for (size_t i = 0; i < net->nparam; i++)   /* nothing copied */
			assert_true(net->param[i] == before[i] + 1.0f);
		memcpy(net->param, before, net->nparam * sizeof(float));
		free(before);
		bp_ckpt_release(&ck);

		struct bp_model m;
		memset(&err, 0, sizeof err);
		assert_int_equal(bp_model_load(&m, bad, 4, &err), -1);
		assert_int_equal(err.kind, BP_ERR_DATA);
		assert_non_null(strstr(err.msg, drop ? "0 state values" : "does not match"));
	}
	bp_net_free(net);
	bp_config_free(cfg);
}

/* The fixture written by version 1: it loads, has no state, and saved
 * again it is version 2 with the same weights. */
static void test_version_1_loads(void **state)
{
	(void)state;
	if (!v1_path)
		skip();
	struct bp_model m;
	struct bp_err err = { 0 };
	assert_int_equal(bp_model_load(&m, v1_path, 8, &err), 0);
	assert_int_equal(m.ck.version, 1);
	assert_int_equal(m.ck.nstate_tensors, 0);
	assert_int_equal(m.net->nstate, 0);
	char path[128];
	snprintf(path, sizeof path, "%s/again.ckpt", dir);
	save(path, m.net, m.ck.config, m.ck.config_len);
	struct bp_model m2;
	assert_int_equal(bp_model_load(&m2, path, 8, &err), 0);
	assert_int_equal(m2.ck.version, 2);
	assert_int_equal(m2.net->nparam, m.net->nparam);
	assert_memory_equal(m2.net->param, m.net->param, m.net->nparam * sizeof(float));
	bp_model_release(&m2);
	bp_model_release(&m);
}

int main(int argc, char **argv)
{
	v1_path = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_missing_or_wrong_state_is_a_data_error),
		cmocka_unit_test(test_version_1_loads),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
