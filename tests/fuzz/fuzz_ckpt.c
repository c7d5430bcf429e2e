/* Fuzzes the checkpoint loader (bp_ckpt_load), and bp_model_load (config,
 * net, weights, normalisation) for a checkpoint that loads.
 *
 * Input: one mode byte, then the file. With bit 0 set, the harness appends
 * the file's correct CRC-32, so that mutations get past the CRC check and
 * reach the record parser; without it the file is taken as is. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ckpt.h"
#include "fuzz_util.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	const uint8_t *file = data + 1;
	size_t len = size - 1;
	unsigned char *buf = malloc(len + 4);
	if (!buf)
		return 0;
	memcpy(buf, file, len);
	if (data[0] & 1) {
		uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)len);
		for (int i = 0; i < 4; i++)
			buf[len + i] = (unsigned char)(c >> (8 * i));
		len += 4;
	}
	const char *path = fuzz_file(buf, len);
	free(buf);
	if (!path)
		return 0;

	struct bp_ckpt ck;
	struct bp_err err = { 0 };
	if (bp_ckpt_load(&ck, path, &err)) {
		fuzz_check_err(&err);
		FUZZ_CHECK(ck.buf == NULL);
		return 0;
	}
	FUZZ_CHECK(ck.config && strlen(ck.config) <= ck.config_len);
	for (int j = 0; j < ck.ntensors; j++) {
		const struct bp_ckpt_tensor *t = &ck.tensors[j];
		FUZZ_CHECK(t->data >= ck.buf && t->data + 4 * t->size <= ck.buf + ck.len);
	}
	for (int j = 0; j < ck.nstate_tensors; j++) {
		const struct bp_ckpt_tensor *t = &ck.state_tensors[j];
		FUZZ_CHECK(t->data >= ck.buf && t->data + 4 * t->size <= ck.buf + ck.len);
	}
	FUZZ_CHECK(ck.version >= 1 && ck.version <= BP_CKPT_VERSION);
	for (int s = 0; s < ck.nslots; s++)
		FUZZ_CHECK(ck.slots[s].data >= ck.buf && ck.slots[s].data + 4 * ck.slots[s].n <= ck.buf + ck.len);
	bp_ckpt_release(&ck);

	struct bp_model m;
	memset(&err, 0, sizeof err);
	if (bp_model_load(&m, path, 4, &err)) {
		fuzz_check_err(&err);
		return 0;
	}
	FUZZ_CHECK(m.cfg && m.net);
	bp_model_release(&m);
	return 0;
}
