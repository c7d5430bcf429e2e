/* Fuzzes the config loader: YAML text plus --set strings.
 *
 * Input: YAML text, then up to 4 "--set" arguments, each after a NUL byte
 * ("data: ...\0train.epochs=5\0model.layers.0.units=3"). A config that
 * loads must emit YAML that loads back and emits the same text again, and
 * its layers are resolved as training would (bp_model_label_spec). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"
#include "model.h"

#define MAX_SETS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 16))
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	size_t ylen = strlen(text);
	char *sets[MAX_SETS];
	int nsets = 0;
	for (size_t at = ylen; at < size && nsets < MAX_SETS; at += strlen(text + at + 1) + 1)
		sets[nsets++] = text + at + 1;

	struct bp_err err = { 0 };
	struct bp_config *cfg = bp_config_load_text(text, ylen, "fuzz.yaml", "/fuzz", sets, nsets, &err);
	if (!cfg) {
		fuzz_check_err(&err);
		free(text);
		return 0;
	}
	size_t len = 0;
	char *emitted = bp_config_text(cfg, &len, &err);
	FUZZ_CHECK(emitted);
	struct bp_err err2 = { 0 };
	struct bp_config *again = bp_config_load_text(emitted, len, "again.yaml", "/fuzz", NULL, 0, &err2);
	if (!again)
		fprintf(stderr, "emitted config does not load: %s: %s\n%s", err2.where, err2.msg, emitted);
	FUZZ_CHECK(again);
	size_t len2 = 0;
	char *emitted2 = bp_config_text(again, &len2, &err2);
	FUZZ_CHECK(emitted2);
	FUZZ_CHECK(len2 == len && memcmp(emitted, emitted2, len) == 0);

	struct bp_label_spec spec;
	if (bp_model_label_spec(cfg, &spec, &err))
		fuzz_check_err(&err);
	free(emitted2);
	free(emitted);
	bp_config_free(again);
	bp_config_free(cfg);
	free(text);
	return 0;
}
