/* The model a config describes, sized for a dataset: label expectations,
 * building the net, and checking the labels against the output layer.
 * Shared by train, eval, predict and gradcheck. */
#ifndef BP_MODEL_H
#define BP_MODEL_H

#include "ckpt.h"
#include "config.h"
#include "dataset.h"
#include "net.h"

/* What the labels must look like, from the loss and the output layer. */
int bp_model_label_spec(struct bp_config *cfg, struct bp_label_spec *spec, struct bp_err *err);
/* The net for per-sample input shape in and batches up to max_batch. */
struct bp_net *bp_model_build(struct bp_config *cfg, struct bp_shape in, int max_batch, struct bp_err *err);
/* Class labels must fit the output layer: a config error naming the layer
 * and where the largest label is. */
int bp_model_check_labels(const struct bp_net *net, const struct bp_dataset *ds, struct bp_err *err);

/* A trained model, loaded from a checkpoint: its config, its net (weights
 * restored, batches up to max_batch) and its normalisation. */
struct bp_model {
	struct bp_ckpt ck;
	struct bp_config *cfg;
	struct bp_net *net;
	struct bp_norm norm;
};

int bp_model_load(struct bp_model *m, const char *path, int max_batch, struct bp_err *err);
void bp_model_release(struct bp_model *m);

#endif
