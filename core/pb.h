/* A protocol-buffers wire-format writer: just what encoding an ONNX model
 * needs (varints, fixed32 floats, length-delimited strings, bytes and
 * nested messages) into one growable buffer. Field order is the caller's;
 * a nested message is opened with bp_pb_begin and closed with bp_pb_end,
 * which writes its length in front of it. An allocation failure is sticky:
 * every later call does nothing and bp_pb_finish reports it. */
#ifndef BP_PB_H
#define BP_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct bp_pb {
	unsigned char *buf;
	size_t len, cap;
	bool oom;
};

void bp_pb_init(struct bp_pb *pb);
void bp_pb_release(struct bp_pb *pb);
/* 0, or -1 with an out-of-memory error naming what was being encoded. */
int bp_pb_finish(const struct bp_pb *pb, const char *what, struct bp_err *err);

/* Wire type 0: int32, int64 (negative values as ten-byte two's
 * complement, as protobuf does), enums. */
void bp_pb_int(struct bp_pb *pb, int field, int64_t v);
/* Wire type 5: one float, little-endian. */
void bp_pb_float(struct bp_pb *pb, int field, float v);
/* Wire type 2: a string (without its NUL), raw bytes, or n floats as
 * little-endian bytes (TensorProto.raw_data). */
void bp_pb_str(struct bp_pb *pb, int field, const char *s);
void bp_pb_bytes(struct bp_pb *pb, int field, const void *data, size_t n);
void bp_pb_floats_le(struct bp_pb *pb, int field, const float *v, size_t n);
/* A nested message: begin returns a mark that end takes. */
size_t bp_pb_begin(struct bp_pb *pb, int field);
void bp_pb_end(struct bp_pb *pb, size_t mark);

#endif
