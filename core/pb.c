#include "pb.h"

#include <stdlib.h>
#include <string.h>

enum { WT_VARINT = 0, WT_LEN = 2, WT_FIXED32 = 5 };

void bp_pb_init(struct bp_pb *pb) { memset(pb, 0, sizeof *pb); }

void bp_pb_release(struct bp_pb *pb)
{
	free(pb->buf);
	memset(pb, 0, sizeof *pb);
}

int bp_pb_finish(const struct bp_pb *pb, const char *what, struct bp_err *err)
{
	return pb->oom ? bp_fail_oom(err, what, pb->cap * 2) : 0;
}

/* Room for n more bytes; false (and oom set) when it cannot be had. */
static bool reserve(struct bp_pb *pb, size_t n)
{
	if (pb->oom)
		return false;
	if (n <= pb->cap - pb->len)
		return true;
	size_t cap = pb->cap ? pb->cap : 4096;
	while (cap - pb->len < n) {
		if (cap > SIZE_MAX / 2) {
			pb->oom = true;
			return false;
		}
		cap *= 2;
	}
	unsigned char *p = realloc(pb->buf, cap);
	if (!p) {
		pb->oom = true;
		return false;
	}
	pb->buf = p;
	pb->cap = cap;
	return true;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

/* Writes v at p (varint_size(v) bytes). */
static void varint_at(unsigned char *p, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		*p++ = (unsigned char)(v | 0x80);
	*p = (unsigned char)v;
}

static void varint(struct bp_pb *pb, uint64_t v)
{
	if (!reserve(pb, 10))
		return;
	varint_at(pb->buf + pb->len, v);
	pb->len += varint_size(v);
}

static void raw(struct bp_pb *pb, const void *data, size_t n)
{
	if (n && reserve(pb, n)) {
		memcpy(pb->buf + pb->len, data, n);
		pb->len += n;
	}
}

static void tag(struct bp_pb *pb, int field, int wire) { varint(pb, (uint64_t)field << 3 | (uint64_t)wire); }

static void u32_le(unsigned char *p, uint32_t u)
{
	p[0] = (unsigned char)u;
	p[1] = (unsigned char)(u >> 8);
	p[2] = (unsigned char)(u >> 16);
	p[3] = (unsigned char)(u >> 24);
}

void bp_pb_int(struct bp_pb *pb, int field, int64_t v)
{
	tag(pb, field, WT_VARINT);
	varint(pb, (uint64_t)v);
}

void bp_pb_float(struct bp_pb *pb, int field, float v)
{
	uint32_t u;
	memcpy(&u, &v, sizeof u);
	unsigned char b[4];
	u32_le(b, u);
	tag(pb, field, WT_FIXED32);
	raw(pb, b, sizeof b);
}

void bp_pb_bytes(struct bp_pb *pb, int field, const void *data, size_t n)
{
	tag(pb, field, WT_LEN);
	varint(pb, n);
	raw(pb, data, n);
}

void bp_pb_str(struct bp_pb *pb, int field, const char *s) { bp_pb_bytes(pb, field, s, strlen(s)); }

void bp_pb_floats_le(struct bp_pb *pb, int field, const float *v, size_t n)
{
	if (n > SIZE_MAX / 4) {
		pb->oom = true;
		return;
	}
	tag(pb, field, WT_LEN);
	varint(pb, 4 * n);
	if (!reserve(pb, 4 * n))
		return;
	unsigned char *p = pb->buf + pb->len;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], sizeof u);
		u32_le(p + 4 * i, u);
	}
	pb->len += 4 * n;
}

/* The length goes in one reserved byte; bp_pb_end moves the body along
 * when the length needs more. */
size_t bp_pb_begin(struct bp_pb *pb, int field)
{
	tag(pb, field, WT_LEN);
	if (reserve(pb, 1))
		pb->buf[pb->len++] = 0;
	return pb->len;
}

void bp_pb_end(struct bp_pb *pb, size_t mark)
{
	if (pb->oom)
		return;
	size_t body = pb->len - mark, n = varint_size(body);
	if (n > 1) {
		if (!reserve(pb, n - 1))
			return;
		memmove(pb->buf + mark + n - 1, pb->buf + mark, body);
		pb->len += n - 1;
	}
	varint_at(pb->buf + mark - 1, body);
}
