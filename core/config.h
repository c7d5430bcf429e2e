/* The training config: a YAML file (plus --set overrides) resolved into a
 * struct bp_config, with every default of SPEC "Config (YAML)" filled in.
 *
 * Loading goes: YAML → node tree (core/yaml_load.h) → --set edits of the
 * tree → validation against one static key table per section, which inserts
 * each missing key's default INTO the tree and reads the typed values into
 * the struct. The tree is kept (cfg->root) and is what bp_config_emit
 * writes, so the emitted text loads back to the same config. Data paths are
 * made absolute in the tree (relative to the config file's folder; values
 * given with --set, relative to the working directory).
 *
 * Defaults that SPEC leaves open, decided here:
 *   data.normalize   csv: none; idx: auto (BP_NORM_AUTO, settled by the
 *                    dataset from the element type: scale for uint8)
 *   data.shape       auto (also accepted as a value): settled by the
 *                    dataset from the IDX header, else (D,1,1); a given
 *                    shape whose size is not D is a config error at the key
 *                    once the data is read
 *   data.augment     {shift: 0, flip: false}, i.e. off; when on it must fit
 *                    the shape (H, W > 1, shift < H, W): checked here for a
 *                    given shape and for CSV without one (flat), and for IDX
 *                    when its header is read
 *   optimizer.schedule  step: step_size 10, gamma 0.1; exponential: gamma
 *                    0.95; cosine: min_lr 0; warmup_epochs 0. A key that
 *                    does not belong to the schedule's type is an error.
 *   output.best_metric  val_loss when loss is mse, else val_accuracy
 *   csv-only keys (label_column, skip_rows, header, delimiter) are errors
 *   for idx data.
 *
 * model.layers is only checked for shape here (a non-empty list of mappings,
 * each with a 'type'); each layer's keys are validated, and their defaults
 * filled in, by bp_layer_spec_resolve when the net is built. */
#ifndef BP_CONFIG_H
#define BP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data_cfg.h"
#include "err.h"
#include "layer.h"
#include "loss.h"
#include "node.h"
#include "optim.h"
#include "schedule.h"

#define BP_MAX_THREADS 1024

enum bp_metric { BP_METRIC_VAL_LOSS, BP_METRIC_VAL_ACCURACY };

/* YAML spellings, NULL-terminated and indexed by their enums. */
extern const char *const bp_metric_names[];     /* enum bp_metric */
extern const char *const bp_init_names[];       /* enum bp_init (layer.h) */
extern const char *const bp_normalize_names[];  /* enum bp_normalize (data_cfg.h) */
extern const char *const bp_format_names[];     /* enum bp_data_format (data_cfg.h) */

struct bp_model_cfg {
	enum bp_init init;
	struct bp_node *layers;     /* the model.layers list in cfg->root */
};

struct bp_early_cfg {
	enum bp_metric metric;
	int patience;               /* 0 = off */
	double min_delta;
};

struct bp_train_cfg {
	int epochs, batch_size;
	bool shuffle;
	int threads;                /* 0 = all cores */
	struct bp_early_cfg early_stopping;
};

struct bp_output_cfg {
	const char *dir;            /* relative to the working directory */
	int checkpoint_every;
	enum bp_metric best_metric;
	bool diagnostics;           /* layers.csv */
};

/* Every string (name, data paths, output.dir) points into root and lives
 * as long as the config. */
struct bp_config {
	struct bp_node *root;       /* the resolved tree */
	const char *name;
	uint64_t seed;
	struct bp_data_cfg data;
	struct bp_model_cfg model;
	enum bp_loss loss;
	struct bp_optim_cfg optimizer;
	struct bp_sched_cfg schedule;   /* optimizer.schedule */
	struct bp_train_cfg train;
	struct bp_output_cfg output;
};

/* Loads the config file at path and applies sets[0..nsets) ("KEY=VALUE",
 * in order; later ones win). NULL on failure, with a config error (exit 2)
 * positioned at FILE:LINE:COL, at FILE, or at "--set KEY=VALUE". */
struct bp_config *bp_config_load(const char *path, char *const *sets, int nsets, struct bp_err *err);

/* The same from text in memory (a checkpoint's embedded config, tests).
 * file names the text in errors and gives the default name; base_dir
 * (absolute) is where relative data paths start (NULL: the folder of file). */
struct bp_config *bp_config_load_text(const char *text, size_t len, const char *file, const char *base_dir,
                                      char *const *sets, int nsets, struct bp_err *err);

void bp_config_free(struct bp_config *cfg);

/* The resolved config as YAML: to out, or as a malloc'd NUL-terminated
 * string (the caller frees it; *len gets its length when len is not NULL). */
int bp_config_emit(const struct bp_config *cfg, FILE *out, struct bp_err *err);
char *bp_config_text(const struct bp_config *cfg, size_t *len, struct bp_err *err);

#endif
