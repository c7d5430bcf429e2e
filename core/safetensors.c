#include "safetensors.h"
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tensor {
	char name[96];
	int rank;
	int dims[4];
	const float *data;
	size_t n;
};

/* The tensors in file order; returns how many went into t (room for
 * ntensors + nstate + 2). */
static int collect(const struct bp_model *m, struct tensor *t)
{
	const struct bp_net *net = m->net;
	int k = 0;
	for (int state = 0; state < 2; state++) {
		int count = state ? bp_net_nstate_tensors(net) : bp_net_ntensors(net);
		for (int j = 0; j < count; j++, k++) {
			struct bp_tensor_desc d;
			if (state)
				bp_net_state_tensor(net, j, &d, t[k].name, sizeof t[k].name);
			else
				bp_net_tensor(net, j, &d, t[k].name, sizeof t[k].name);
			t[k].rank = d.rank;
			memcpy(t[k].dims, d.dims, sizeof t[k].dims);
			t[k].data = (state ? net->state : net->param) + d.offset;
			t[k].n = d.size;
		}
	}
	if (m->norm.kind == BP_NORM_STANDARDIZE) {
		const float *v[2] = { m->norm.mean, m->norm.std };
		for (int s = 0; s < 2; s++, k++) {
			snprintf(t[k].name, sizeof t[k].name, "norm.%s", s ? "std" : "mean");
			t[k].rank = 1;
			t[k].dims[0] = (int)m->norm.d;
			t[k].data = v[s];
			t[k].n = m->norm.d;
		}
	}
	return k;
}

static void put_meta(FILE *f, const char *key, const char *value, bool last)
{
	bp_json_str(f, key);
	fputs(": ", f);
	bp_json_str(f, value);
	if (!last)
		fputs(", ", f);
}

/* The JSON header (unpadded) as a malloc'd string. */
static char *header(const struct bp_model *m, const char *version, const struct tensor *t, int nt,
                    size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		return NULL;
	fputc('{', f);
	uint64_t at = 0;
	for (int k = 0; k < nt; k++) {
		bp_json_str(f, t[k].name);
		fputs(": {\"dtype\": \"F32\", \"shape\": [", f);
		for (int d = 0; d < t[k].rank; d++)
			fprintf(f, "%s%d", d ? ", " : "", t[k].dims[d]);
		fprintf(f, "], \"data_offsets\": [%llu, %llu]}, ", (unsigned long long)at,
		        (unsigned long long)(at + 4 * (uint64_t)t[k].n));
		at += 4 * (uint64_t)t[k].n;
	}
	const struct bp_shape in = m->net->layers[0].in;
	char shape[64];
	snprintf(shape, sizeof shape, "[%d, %d, %d]", in.c, in.h, in.w);
	fputs("\"__metadata__\": {", f);
	put_meta(f, "bptrain_version", version, false);
	put_meta(f, "config", m->ck.config, false);
	put_meta(f, "input_shape", shape, false);
	put_meta(f, "normalize", bp_normalize_names[m->norm.kind], true);
	fputs("}}", f);
	if (fclose(f) != 0 || !text) {
		free(text);
		return NULL;
	}
	return text;
}

int bp_safetensors_encode(const struct bp_model *m, const char *version, unsigned char **out, size_t *len,
                          struct bp_err *err)
{
	const struct bp_net *net = m->net;
	*out = NULL;
	*len = 0;
	int cap = bp_net_ntensors(net) + bp_net_nstate_tensors(net) + 2;
	struct tensor *t = calloc((size_t)cap, sizeof *t);
	if (!t)
		return bp_fail_oom(err, "the safetensors header", (size_t)cap * sizeof *t);
	int nt = collect(m, t);
	size_t hlen = 0, data = 0;
	char *head = header(m, version, t, nt, &hlen);
	if (!head) {
		free(t);
		return bp_fail_oom(err, "the safetensors header", hlen);
	}
	for (int k = 0; k < nt; k++)
		data += 4 * t[k].n;
	size_t padded = (hlen + 7) / 8 * 8;   /* the tensors start 8-byte aligned */
	size_t total = 8 + padded + data;
	unsigned char *buf = malloc(total);
	if (!buf) {
		free(head);
		free(t);
		return bp_fail_oom(err, "the safetensors file", total);
	}
	for (int b = 0; b < 8; b++)
		buf[b] = (unsigned char)((uint64_t)padded >> (8 * b));
	memcpy(buf + 8, head, hlen);
	memset(buf + 8 + hlen, ' ', padded - hlen);
	unsigned char *p = buf + 8 + padded;
	for (int k = 0; k < nt; k++)
		for (size_t i = 0; i < t[k].n; i++, p += 4) {
			uint32_t u;
			memcpy(&u, &t[k].data[i], sizeof u);
			p[0] = (unsigned char)u;
			p[1] = (unsigned char)(u >> 8);
			p[2] = (unsigned char)(u >> 16);
			p[3] = (unsigned char)(u >> 24);
		}
	free(head);
	free(t);
	*out = buf;
	*len = total;
	return 0;
}
