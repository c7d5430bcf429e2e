/* The report's pictures besides the learning curves (core/curves.h), as
 * inline SVG for an HTML page that carries bp_svg_css: the layer
 * diagnostics as small multiples, a confusion matrix as a heatmap, and the
 * validation curves of several runs overlaid. */
#ifndef BP_FIGURES_H
#define BP_FIGURES_H

#include <stdint.h>
#include <stdio.h>

#include "runview.h"

/* layers.csv as four small plots over the epochs (0 .. epochs): weight
 * RMS, gradient RMS and update ratio on log axes (the ratio with a band
 * around the customary 1e-3), and the dead fraction of relu layers; a line
 * per layer, with a legend. */
void bp_fig_layers(FILE *f, const struct bp_layer_row *rows, int n, int epochs, const char *name);

/* The k × k matrix (rows = true class) with its counts, each cell shaded
 * by its share of the true class's samples. */
void bp_fig_confusion(FILE *f, const uint64_t *cm, int k, const char *name);

/* The validation loss (and accuracy, when classification) of several runs,
 * one line each, with labels[i] in the legend. */
void bp_fig_overlay(FILE *f, const struct bp_runview *const *runs, const char *const *labels, int n,
                    bool classification);

/* A short line in the i-th run's colour and dash of bp_fig_overlay, for a
 * table row. */
void bp_fig_swatch(FILE *f, int i);

#endif
