/* ONNX export: a trained model as one ONNX ModelProto (opset 13, IR
 * version 7, so ONNX Runtime 1.8 and later read it).
 *
 *   input "input"   float32 [N, D], or [N, C, H, W] when the model's input
 *                   shape has H·W > 1: the raw feature values, as in the
 *                   data files and `predict`
 *   norm.*          the checkpoint's normalisation (scale: Div by 255;
 *                   standardize: Sub norm.mean, Mul norm.inv_std), computed
 *                   as bptrain computes it
 *   layers.I.*      each layer as standard operators (dense: Gemm with
 *                   W (in, out); conv2d: Conv with explicit pads; pools,
 *                   BatchNormalization with the running statistics,
 *                   Flatten; then the activation; dropout: nothing), nodes
 *                   and initializers named as `info` names the tensors
 *   output          "probabilities" [N, K] (the output activation applied,
 *                   fused or not), or "output" for mse models
 *
 * metadata_props: bptrain_version and config (the resolved config text). */
#ifndef BP_ONNX_H
#define BP_ONNX_H

#include <stddef.h>

#include "err.h"
#include "model.h"

/* Encodes m into *out (malloc'd, *len bytes; the caller frees it). A layer
 * with no ONNX equivalent is a config error naming it, never a graph that
 * computes something else. version: bptrain's, for the metadata. */
int bp_onnx_encode(const struct bp_model *m, const char *version, unsigned char **out, size_t *len,
                   struct bp_err *err);

#endif
