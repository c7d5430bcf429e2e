/* The few JSON writers bptrain needs (summary.json, --format json). */
#ifndef BP_JSON_H
#define BP_JSON_H

#include <stdio.h>

/* A number with 6 significant digits, or null when v is NaN or infinite. */
void bp_json_num(FILE *f, double v);
/* A string, quoted and escaped. */
void bp_json_str(FILE *f, const char *s);

#endif
