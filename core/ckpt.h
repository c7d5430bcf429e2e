/* Checkpoints: one little-endian binary file that holds everything needed
 * to evaluate, predict and resume.
 *
 *   "BPTRAIN\x1a"  u32 version  u32 0
 *   records: u32 tag, u64 length, payload   (config text, normalisation,
 *            the input shape, one per parameter tensor, one per state
 *            tensor (version 2), optimiser state, training state, the
 *            current epoch's sample order)
 *   u32 CRC-32 (zlib) of every byte before it
 *
 * Saving builds the file in memory, writes PATH.tmp, fsyncs and renames it
 * over PATH, so a crash leaves the previous checkpoint whole. Loading reads
 * the file (its size bounds every allocation), checks magic, version and
 * CRC, then every record length against what remains; any mismatch is a
 * data error (exit 3). Version 1 files (no state-tensor records) load too. */
#ifndef BP_CKPT_H
#define BP_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "net.h"
#include "optim.h"
#include "rng.h"

#define BP_CKPT_VERSION 2

/* Where a run stands: what resume needs besides weights and optimiser. */
struct bp_train_state {
	int32_t epoch;              /* epochs completed */
	uint64_t batch;             /* batches done in epoch + 1; 0 at an epoch boundary */
	struct bp_rng rng;          /* shuffling and dropout */
	double best;                /* output.best_metric's best value so far */
	int32_t best_epoch;         /* its epoch; 0 = none yet */
	double best_val_loss;       /* validation numbers of that epoch (NaN: none) */
	double best_val_acc;
	double es_best;             /* early stopping: best value of its metric */
	int32_t es_wait;            /* epochs without improvement */
	double part_loss;           /* the unfinished epoch's running sums */
	double part_correct;
	uint64_t part_seen;
};

/* What a save reads from the live run. */
struct bp_ckpt_src {
	const char *config;         /* resolved config text */
	size_t config_len;
	const struct bp_norm *norm;
	const struct bp_net *net;
	struct bp_optim *optim;
	const struct bp_train_state *state;
	const uint32_t *order;      /* the current epoch's order (may be NULL) */
	size_t norder;
};

int bp_ckpt_save(const char *path, const struct bp_ckpt_src *src, struct bp_err *err);

struct bp_ckpt_tensor {
	char name[64];
	int rank;
	int dims[4];
	size_t size;
	const unsigned char *data;  /* size little-endian floats inside buf */
};

struct bp_ckpt_slot {
	char name[32];
	size_t n;
	const unsigned char *data;
};

/* A loaded checkpoint. Pointers point into buf. */
struct bp_ckpt {
	unsigned char *buf;
	size_t len;
	int version;                /* the file's format version, 1 or 2 */
	char *config;               /* NUL-terminated copy */
	size_t config_len;
	struct bp_shape in;         /* the model's per-sample input shape */
	int norm_kind;
	size_t norm_d;
	float *mean, *std;          /* standardize only */
	int ntensors;
	struct bp_ckpt_tensor *tensors;
	int nstate_tensors;                   /* none in version 1 */
	struct bp_ckpt_tensor *state_tensors;
	int optim_type;
	int64_t optim_step;
	int nslots;
	struct bp_ckpt_slot slots[BP_OPTIM_MAX_SLOTS];
	struct bp_train_state state;
	uint32_t *order;
	size_t norder;
};

int bp_ckpt_load(struct bp_ckpt *ck, const char *path, struct bp_err *err);
void bp_ckpt_release(struct bp_ckpt *ck);

/* Copies the parameter and the state tensors into net (names and shapes
 * must match; a state tensor the model needs and the file lacks, as in a
 * version-1 file for a net with batch_norm, is a data error). Nothing is
 * copied unless all match. */
int bp_ckpt_restore_net(const struct bp_ckpt *ck, struct bp_net *net, const char *path, struct bp_err *err);
/* Restores the optimiser's step and slots (type and sizes must match). */
int bp_ckpt_restore_optim(const struct bp_ckpt *ck, struct bp_optim *o, const char *path, struct bp_err *err);

#endif
