/* safetensors export: a model's tensors in the format's published layout
 * (that of the safetensors library):
 *
 *   u64 little-endian N, then N bytes of JSON header (padded with spaces to
 *   a multiple of 8), then the tensors' bytes back to back
 *   header: {"NAME": {"dtype": "F32", "shape": [...], "data_offsets":
 *   [BEGIN, END]}, ..., "__metadata__": {"KEY": "VALUE", ...}}, offsets
 *   relative to the first byte after the header
 *
 * Tensors: every parameter tensor under its `info` name (layers.I.W, ...),
 * then the state tensors (batch_norm's layers.I.running_mean, running_var),
 * then norm.mean and norm.std [D] (the per-feature statistics in C, H, W
 * order, a constant feature's std 1) when the model standardises its input.
 * __metadata__: config (the resolved config text), bptrain_version,
 * normalize (none | scale | standardize: scale means x / 255) and
 * input_shape ("[C, H, W]"). */
#ifndef BP_SAFETENSORS_H
#define BP_SAFETENSORS_H

#include <stddef.h>

#include "err.h"
#include "model.h"

/* Encodes m into *out (malloc'd, *len bytes; the caller frees it). */
int bp_safetensors_encode(const struct bp_model *m, const char *version, unsigned char **out, size_t *len,
                          struct bp_err *err);

#endif
