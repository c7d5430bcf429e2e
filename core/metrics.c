#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"

static const char header[] = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n";

/* The rows of an existing file up to epoch keep, after one header. */
static int cut_back(const char *path, int keep, struct bp_err *err)
{
	char *text;
	size_t len;
	if (bp_read_file(path, &text, &len, BP_ERR_RUNTIME, err))
		return -1;
	char *out = malloc(len + sizeof header);
	if (!out) {
		free(text);
		return bp_fail_oom(err, path, len);
	}
	size_t n = 0;
	memcpy(out, header, sizeof header - 1);
	n = sizeof header - 1;
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
	snprintf(m->path, sizeof m->path, "%s", path);
	if (keep >= 0) {
		FILE *probe = fopen(path, "r");
		if (probe) {
			fclose(probe);
			if (cut_back(path, keep, err))
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
