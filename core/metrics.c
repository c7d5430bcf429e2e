#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"

static const char header[] = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n";

/* The rows of an existing file up to epoch keep, after one header. */
static int cut_back(const char *path, const char *header, int keep, struct bp_err *err)
{
	size_t hlen = strlen(header);
	char *text;
	size_t len;
	if (bp_read_file(path, &text, &len, BP_ERR_RUNTIME, err))
		return -1;
	char *out = malloc(len + hlen + 1);
	if (!out) {
		free(text);
		return bp_fail_oom(err, path, len);
	}
	size_t n = 0;
	memcpy(out, header, hlen);
	n = hlen;
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		char *end;
		long e = strtol(line, &end, 10);
		if (end != line && *end == ',' && e >= 1 && e <= keep && nl) {
			memcpy(out + n, line, ll + 1);
			n += ll + 1;
		}
		line += ll + (nl ? 1 : 0);
	}
	int rc = bp_write_atomic(path, out, n, err);
	free(out);
	free(text);
	return rc;
}

/* Appends text whole or not at all: a write that fails part-way (a full
 * disk, a file-size limit) is cut back off the file. */
static int append(struct bp_metrics *m, const char *text, struct bp_err *err)
{
	long at = ftell(m->f);
	if (fputs(text, m->f) != EOF && fflush(m->f) == 0)
		return 0;
	int e = errno;
	clearerr(m->f);
	if (at >= 0 && ftruncate(fileno(m->f), (off_t)at) == 0)
		fseek(m->f, at, SEEK_SET);
	return bp_fail(err, BP_ERR_RUNTIME, m->path, "cannot write: %s", strerror(e));
}

int bp_metrics_open(struct bp_metrics *m, const char *path, int keep, struct bp_err *err)
{
	return bp_metrics_open_log(m, path, header, keep, err);
}

int bp_metrics_open_log(struct bp_metrics *m, const char *path, const char *header, int keep,
                        struct bp_err *err)
{
	snprintf(m->path, sizeof m->path, "%s", path);
	if (keep >= 0) {
		FILE *probe = fopen(path, "r");
		if (probe) {
			fclose(probe);
			if (cut_back(path, header, keep, err))
				return -1;
		} else {
			keep = -1;
		}
	}
	m->f = fopen(path, keep >= 0 ? "a" : "w");
	if (!m->f)
		return bp_fail(err, BP_ERR_RUNTIME, path, "cannot open for writing: %s", strerror(errno));
	if (keep < 0 && append(m, header, err)) {
		fclose(m->f);
		m->f = NULL;
		return -1;
	}
	return 0;
}

int bp_metrics_write(struct bp_metrics *m, const char *text, struct bp_err *err)
{
	return append(m, text, err);
}

static void cell(char *buf, size_t size, double v)
{
	if (isnan(v))
		buf[0] = '\0';
	else
		snprintf(buf, size, "%.9g", v);
}

int bp_metrics_append(struct bp_metrics *m, const struct bp_epoch_line *e, struct bp_err *err)
{
	char tl[32], ta[32], vl[32], va[32], row[256];
	cell(tl, sizeof tl, e->train.loss);
	cell(ta, sizeof ta, e->train.accuracy);
	cell(vl, sizeof vl, e->has_val ? e->val.loss : NAN);
	cell(va, sizeof va, e->has_val ? e->val.accuracy : NAN);
	snprintf(row, sizeof row, "%d,%s,%s,%s,%s,%.9g,%.3f\n", e->epoch, tl, ta, vl, va, e->lr, e->seconds);
	return append(m, row, err);
}

int bp_metrics_close(struct bp_metrics *m, struct bp_err *err)
{
	if (!m->f)
		return 0;
	int rc = fclose(m->f);
	m->f = NULL;
	if (rc != 0)
		return bp_fail(err, BP_ERR_RUNTIME, m->path, "cannot write: %s", strerror(errno));
	return 0;
}

/* v as the file holds it: through "%.9g" and back. */
static double as_written(double v)
{
	if (isnan(v))
		return NAN;
	char buf[32];
	snprintf(buf, sizeof buf, "%.9g", v);
	return strtod(buf, NULL);
}

void bp_metrics_row(const struct bp_epoch_line *e, struct bp_curve_row *row)
{
	row->epoch = e->epoch;
	row->train_loss = as_written(e->train.loss);
	row->train_acc = as_written(e->train.accuracy);
	row->val_loss = as_written(e->has_val ? e->val.loss : NAN);
	row->val_acc = as_written(e->has_val ? e->val.accuracy : NAN);
	row->lr = as_written(e->lr);
}

/* One cell: a number, or NaN when empty; false when it is neither. */
static bool read_cell(const char **p, double *v)
{
	const char *s = *p;
	if (*s == ',' || *s == '\0' || *s == '\r') {
		*v = NAN;
	} else {
		char *end;
		*v = strtod(s, &end);
		if (end == s)
			return false;
		s = end;
	}
	if (*s != ',' && *s != '\0' && *s != '\r')
		return false;
	*p = *s == ',' ? s + 1 : s;
	return true;
}

int bp_metrics_read(const char *path, struct bp_curve_row **rows, int *n, enum bp_errkind kind,
                    struct bp_err *err)
{
	char *text;
	size_t len;
	*rows = NULL;
	*n = 0;
	if (bp_read_file(path, &text, &len, kind, err))
		return -1;
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	struct bp_curve_row *r = malloc(cap * sizeof *r);
	if (!r) {
		free(text);
		return bp_fail_oom(err, path, cap * sizeof *r);
	}
	int count = 0, line = 0, rc = 0;
	for (char *s = text, *next; *s && rc == 0; s = next) {
		char *nl = strchr(s, '\n');
		next = nl ? nl + 1 : s + strlen(s);
		if (nl)
			*nl = '\0';
		if (++line == 1) {
			if (strncmp(s, header, strlen("epoch,train_loss")) != 0)
				rc = bp_fail(err, BP_ERR_DATA, path, "not a metrics.csv: the first line is not its header");
			continue;
		}
		if (!*s || strcmp(s, "\r") == 0)
			continue;
		double v[7];
		const char *p = s;
		int commas = 0;
		for (const char *q = s; *q; q++)
			commas += *q == ',';
		bool ok = commas == 6;
		for (int k = 0; k < 7 && ok; k++)
			ok = read_cell(&p, &v[k]);
		if (!ok || !(v[0] >= 1 && v[0] <= 1e9 && v[0] == floor(v[0]))) {
			char where[4200];
			snprintf(where, sizeof where, "%s:%d", path, line);
			rc = bp_fail(err, BP_ERR_DATA, where, "not a metrics.csv row: '%.60s'", s);
			break;
		}
		r[count++] = (struct bp_curve_row){ (int)v[0], v[1], v[2], v[3], v[4], v[5] };
	}
	free(text);
	if (rc || count == 0) {
		free(r);
		return rc;
	}
	*rows = r;
	*n = count;
	return 0;
}
