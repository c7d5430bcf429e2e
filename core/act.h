/* Activation functions, applied in place over n×k row-major values.
 * Backward works from the activation's output y (every activation here has
 * a derivative expressible through y), so no pre-activation is stored. */
#ifndef BP_ACT_H
#define BP_ACT_H

enum bp_act {
	BP_ACT_LINEAR,
	BP_ACT_RELU,
	BP_ACT_LEAKY_RELU,   /* slope 0.01 below zero */
	BP_ACT_ELU,          /* alpha 1 */
	BP_ACT_SIGMOID,
	BP_ACT_TANH,
	BP_ACT_SOFTMAX,      /* over each row of k values */
	BP_ACT_COUNT
};

/* leaky_relu's slope below zero (the ONNX export's LeakyRelu alpha too). */
#define BP_ACT_LEAKY_SLOPE 0.01f

/* NULL-terminated YAML spellings, indexed by enum bp_act. */
extern const char *const bp_act_names[];

/* v (n,k) = act(v + b), b (k) may be NULL: bias and activation in one pass. */
void bp_act_forward(enum bp_act act, float *v, const float *b, int n, int k);
/* d (n,k): dL/dy on entry, dL/dz on exit, given y = act(z) (n,k). */
void bp_act_backward(enum bp_act act, float *d, const float *y, int n, int k);

#endif
