/* Numeric CSV, gzipped or plain, read through zlib: one sample per row,
 * features stored as float32, labels checked as they are parsed. Blank lines
 * are skipped; skip_rows physical lines are dropped first and header drops
 * the next non-blank one. Every cell is checked: an empty, non-numeric, NaN
 * or infinite cell, or a ragged row, is a data error at "FILE:LINE" naming
 * the column. Numbers are parsed without the process locale ('.' is the
 * decimal point), and no cell is allocated. */
#ifndef BP_CSV_H
#define BP_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define BP_CSV_MAX_LABELS 64

/* How label cells are checked and stored. */
enum bp_label_kind {
	BP_LABEL_TARGET,    /* any finite real: float targets */
	BP_LABEL_CLASS,     /* a non-negative whole number: int32 class */
	BP_LABEL_BINARY,    /* 0 or 1: float targets */
};

struct bp_csv_opts {
	char delimiter;                         /* ',' when 0 */
	long skip_rows;
	bool header;
	int nlabels;                            /* 0: every column is a feature */
	long label_columns[BP_CSV_MAX_LABELS];  /* 0-based; negative counts from the end */
	enum bp_label_kind kind;
};

struct bp_csv {
	size_t rows;
	size_t cols;            /* columns per row */
	size_t nfeat, nlab;     /* cols = nfeat + nlab */
	float *x;               /* rows × nfeat, in column order */
	int32_t *cls;           /* BP_LABEL_CLASS: rows labels */
	float *y;               /* otherwise: rows × nlab, in label_columns order */
	int32_t max_class;      /* BP_LABEL_CLASS: the largest label (-1 without rows) */
	long max_class_line;    /* and the line where it first appears */
};

/* Reads path into csv (storage the caller owns); on failure csv holds
 * nothing to release. */
int bp_csv_read(struct bp_csv *csv, const char *path, const struct bp_csv_opts *o, struct bp_err *err);
void bp_csv_release(struct bp_csv *csv);

/* Parses one number from [p, end) in the C locale: [+-]digits[.digits]
 * [(e|E)[+-]digits], or inf/infinity/nan in any case. Returns a pointer
 * past it, or NULL when no number starts at p. */
const char *bp_parse_double(const char *p, const char *end, double *out);

#endif
