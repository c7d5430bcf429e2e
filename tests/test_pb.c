#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pb.h"

/* The encodings below are worked by hand from the protobuf wire format:
 * tag = field << 3 | wire type, varints 7 bits at a time, low group first. */

static void test_varints(void **state)
{
	(void)state;
	struct bp_pb pb;
	bp_pb_init(&pb);
	bp_pb_int(&pb, 1, 7);       /* 08 07 */
	bp_pb_int(&pb, 2, 300);     /* 10 ac 02 */
	bp_pb_int(&pb, 20, 1);      /* a0 01 01: field 20 needs a two-byte tag */
	bp_pb_int(&pb, 3, -1);      /* 18 ff×9 01: int64 −1 is ten bytes */
	static const unsigned char want[] = { 0x08, 0x07, 0x10, 0xac, 0x02, 0xa0, 0x01, 0x01, 0x18, 0xff, 0xff,
		                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(bp_pb_finish(&pb, "test", NULL), 0);
	assert_int_equal(pb.len, sizeof want);
	assert_memory_equal(pb.buf, want, sizeof want);
	bp_pb_release(&pb);
}

static void test_fixed_and_bytes(void **state)
{
	(void)state;
	struct bp_pb pb;
	bp_pb_init(&pb);
	bp_pb_float(&pb, 2, 1.0f);                  /* 15 00 00 80 3f */
	bp_pb_str(&pb, 4, "Relu");                  /* 22 04 R e l u */
	const float v[2] = { -2.0f, 0.5f };
	bp_pb_floats_le(&pb, 9, v, 2);              /* 4a 08 00 00 00 c0 00 00 00 3f */
	static const unsigned char want[] = { 0x15, 0x00, 0x00, 0x80, 0x3f, 0x22, 0x04, 'R', 'e', 'l', 'u',
		                                  0x4a, 0x08, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f };
	assert_int_equal(pb.len, sizeof want);
	assert_memory_equal(pb.buf, want, sizeof want);
	bp_pb_release(&pb);
}

static size_t vsize(size_t v) { return v < 128 ? 1 : v < 16384 ? 2 : 3; }

/* Nested messages whose body needs a one-, two- and three-byte length:
 * the body must move along intact and the outer length count it. */
static void test_nested_lengths(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 127, 128, 300, 16383, 16384, 70000 };
	static unsigned char body[70000];
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (unsigned char)(i * 7 + 3);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t n = sizes[s];
		struct bp_pb pb;
		bp_pb_init(&pb);
		size_t outer = bp_pb_begin(&pb, 7);
		size_t inner = bp_pb_begin(&pb, 1);
		if (n)
			bp_pb_bytes(&pb, 9, body, n);
		bp_pb_end(&pb, inner);
		bp_pb_int(&pb, 2, 5);
		bp_pb_end(&pb, outer);
		assert_int_equal(bp_pb_finish(&pb, "test", NULL), 0);
		/* Decode: 3a LEN(outer) 0a LEN(inner) [4a LEN body] 10 05 */
		const unsigned char *p = pb.buf, *end = pb.buf + pb.len;
		size_t lens[3];
		int nl = 0;
		assert_int_equal(*p++, 0x3a);
		for (int want_tag = 0; want_tag < 3; want_tag++) {
			if (want_tag == 1)
				assert_int_equal(*p++, 0x0a);
			if (want_tag == 2) {
				if (!n)
					break;
				assert_int_equal(*p++, 0x4a);
			}
			uint64_t v = 0;
			for (int shift = 0;; shift += 7) {
				v |= (uint64_t)(*p & 0x7f) << shift;
				if (!(*p++ & 0x80))
					break;
			}
			lens[nl++] = (size_t)v;
		}
		if (n) {
			assert_int_equal(lens[2], n);
			assert_memory_equal(p, body, n);
			p += n;
		}
		assert_int_equal(*p++, 0x10);
		assert_int_equal(*p++, 0x05);
		assert_true(p == end);
		size_t inner_len = n ? 1 + vsize(n) + n : 0;
		assert_int_equal(lens[1], inner_len);
		assert_int_equal(lens[0], 1 + vsize(inner_len) + inner_len + 2);
		assert_int_equal(pb.len, 1 + vsize(lens[0]) + lens[0]);
		bp_pb_release(&pb);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varints),
		cmocka_unit_test(test_fixed_and_bytes),
		cmocka_unit_test(test_nested_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
