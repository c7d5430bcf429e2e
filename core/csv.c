#include "csv.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "idx.h"

/* The read buffer; fuzz builds shrink it so that small inputs reach the
 * paths that grow it. */
#ifndef BP_CSV_CHUNK
#define BP_CSV_CHUNK ((size_t)4 << 20)
#endif
#define CHUNK ((size_t)BP_CSV_CHUNK)
#define MAX_ROWS ((size_t)UINT32_MAX)

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Case-insensitive match of word at p; returns the length or 0. */
static size_t match_word(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)p[i]) != word[i])
			return 0;
	return n;
}

/* The rare case: many digits or a large exponent. The digits of
 * [p, end) are copied without the decimal point (so the locale's radix
 * character never matters) and strtod rounds them correctly. */
static double slow_number(const char *p, const char *end, int exp10)
{
	char tmp[64];
	int n = 0, adj = 0;
	bool frac = false;
	for (; p < end; p++) {
		if (*p == '.') {
			frac = true;
		} else if (n == 0 && *p == '0') {
			adj -= frac;
		} else if (n < 40) {
			tmp[n++] = *p;
			adj -= frac;
		} else {
			adj += !frac;
		}
	}
	snprintf(tmp + n, sizeof tmp - (size_t)n, "e%d", exp10 + adj);
	return strtod(tmp, NULL);
}

static inline const char *parse_number(const char *p, const char *end, double *out)
{
	bool neg = false;
	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	const char *digits_at = p;
	uint64_t mant = 0;
	int exp10 = 0, digits = 0;
	while (p < end && (unsigned)(*p - '0') < 10) {
		if (mant < 100000000000000000ULL)
			mant = mant * 10 + (unsigned)(*p - '0');
		else
			exp10++;
		p++, digits++;
	}
	if (p < end && *p == '.') {
		p++;
		while (p < end && (unsigned)(*p - '0') < 10) {
			if (mant < 100000000000000000ULL) {
				mant = mant * 10 + (unsigned)(*p - '0');
				exp10--;
			}
			p++, digits++;
		}
	}
	if (!digits) {
		size_t n;
		if ((n = match_word(p, end, "infinity")) || (n = match_word(p, end, "inf"))) {
			*out = neg ? -INFINITY : INFINITY;
			return p + n;
		}
		if ((n = match_word(p, end, "nan"))) {
			*out = NAN;
			return p + n;
		}
		return NULL;
	}
	const char *digits_end = p;
	int ex = 0;
	if (p < end && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;
		bool eneg = false;
		if (q < end && (*q == '+' || *q == '-'))
			eneg = *q++ == '-';
		if (q < end && (unsigned)(*q - '0') < 10) {
			int e = 0;
			while (q < end && (unsigned)(*q - '0') < 10) {
				if (e < 100000)
					e = e * 10 + (*q - '0');
				q++;
			}
			ex = eneg ? -e : e;
			exp10 += ex;
			p = q;
		}
	}
	double v;
	if (mant == 0)
		v = 0.0;
	else if (mant <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22)
		v = exp10 < 0 ? (double)mant / pow10_exact[-exp10] : (double)mant * pow10_exact[exp10];
	else
		v = slow_number(digits_at, digits_end, ex);
	*out = neg ? -v : v;
	return p;
}

#define UNSET INT32_MIN

const char *bp_parse_double(const char *p, const char *end, double *out)
{
	return parse_number(p, end, out);
}

struct reader {
	const char *path;
	const struct bp_csv_opts *o;
	struct bp_csv *csv;
	char delim;
	long line;
	bool header_done;
	int32_t *role;          /* per column: feature index ≥ 0, or -(label index) - 1 */
	size_t cap_rows;
	char where[600];
};

static const char *where(struct reader *r)
{
	snprintf(r->where, sizeof r->where, "%s:%ld", r->path, r->line);
	return r->where;
}

static bool is_space(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

/* Columns of the first data row; sets up the role of each column. */
static int setup_columns(struct reader *r, const char *p, const char *end, struct bp_err *err)
{
	size_t cols = 1;
	for (const char *q = p; q < end; q++)
		cols += *q == r->delim;
	struct bp_csv *c = r->csv;
	const struct bp_csv_opts *o = r->o;
	if (cols > (size_t)1 << 24)
		return bp_fail(err, BP_ERR_DATA, where(r), "%zu columns is too many", cols);
	r->role = malloc(cols * sizeof *r->role);
	if (!r->role)
		return bp_fail_oom(err, "CSV columns", cols * sizeof *r->role);
	for (size_t j = 0; j < cols; j++)
		r->role[j] = UNSET;
	for (int k = 0; k < o->nlabels; k++) {
		long lc = o->label_columns[k];
		long col = lc < 0 ? (long)cols + lc : lc;
		if (col < 0 || col >= (long)cols)
			return bp_fail(err, BP_ERR_DATA, where(r),
			               "label column %ld is out of range: the row has %zu columns", lc, cols);
		if (r->role[col] != UNSET)
			return bp_fail(err, BP_ERR_DATA, where(r), "label columns name column %ld twice", col + 1);
		r->role[col] = -(k + 1);
	}
	if ((size_t)o->nlabels >= cols)
		return bp_fail(err, BP_ERR_DATA, where(r),
		               "no feature columns: the row has %zu columns and all are labels", cols);
	int32_t f = 0;
	for (size_t j = 0; j < cols; j++)
		if (r->role[j] == UNSET)
			r->role[j] = f++;
	c->cols = cols;
	c->nlab = (size_t)o->nlabels;
	c->nfeat = cols - c->nlab;
	return 0;
}

static int grow_rows(struct reader *r, struct bp_err *err)
{
	struct bp_csv *c = r->csv;
	if (c->rows >= MAX_ROWS)
		return bp_fail(err, BP_ERR_DATA, where(r), "more than %zu rows", MAX_ROWS);
	size_t first = ((size_t)4 << 20) / ((c->nfeat + c->nlab) * sizeof(float));
	size_t cap = r->cap_rows ? 2 * r->cap_rows : first < 1 ? 1 : first > 1024 ? 1024 : first;
	if (cap > SIZE_MAX / ((c->nfeat + c->nlab + 1) * sizeof(float)))
		return bp_fail_oom(err, "CSV features", SIZE_MAX);
	float *x = realloc(c->x, cap * c->nfeat * sizeof *x);
	if (!x)
		return bp_fail_oom(err, "CSV features", cap * c->nfeat * sizeof *x);
	c->x = x;
	bp_prefault(x, r->cap_rows * c->nfeat * sizeof *x, cap * c->nfeat * sizeof *x);
	if (r->o->kind == BP_LABEL_CLASS && c->nlab) {
		int32_t *cls = realloc(c->cls, cap * sizeof *cls);
		if (!cls)
			return bp_fail_oom(err, "CSV labels", cap * sizeof *cls);
		c->cls = cls;
	} else if (c->nlab) {
		float *y = realloc(c->y, cap * c->nlab * sizeof *y);
		if (!y)
			return bp_fail_oom(err, "CSV targets", cap * c->nlab * sizeof *y);
		c->y = y;
	}
	r->cap_rows = cap;
	return 0;
}

static int bad_cell(struct reader *r, size_t col, const char *p, const char *end, struct bp_err *err)
{
	const char *q = p;
	while (q < end && *q != r->delim && q - p < 40)
		q++;
	if (q == p)
		return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: empty cell", col + 1);
	char text[48];
	int n = 0;
	for (const char *s = p; s < q; s++)
		text[n++] = *s >= 32 && *s < 127 ? *s : '?';
	text[n] = 0;
	return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: '%s' is not a number", col + 1, text);
}

static int store_label(struct reader *r, size_t col, int k, double v, struct bp_err *err)
{
	struct bp_csv *c = r->csv;
	switch (r->o->kind) {
	case BP_LABEL_CLASS:
		if (v != floor(v))
			return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: label %g is not a whole number",
			               col + 1, v);
		if (v < 0)
			return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: label %g is negative", col + 1, v);
		if (v > INT32_MAX)
			return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: label %g is too large", col + 1, v);
		c->cls[c->rows] = (int32_t)v;
		if ((int32_t)v > c->max_class) {
			c->max_class = (int32_t)v;
			c->max_class_line = r->line;
		}
		return 0;
	case BP_LABEL_BINARY:
		if (v != 0 && v != 1)
			return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: binary target %g is not 0 or 1",
			               col + 1, v);
		break;
	case BP_LABEL_TARGET:
		if (fabs(v) > FLT_MAX)
			return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: target %g is out of float32 range",
			               col + 1, v);
		break;
	}
	c->y[c->rows * c->nlab + (size_t)k] = (float)v;
	return 0;
}

static int parse_row(struct reader *r, const char *p, const char *end, struct bp_err *err)
{
	struct bp_csv *c = r->csv;
	if (!c->cols && setup_columns(r, p, end, err))
		return -1;
	if (c->rows == r->cap_rows && grow_rows(r, err))
		return -1;
	float *restrict x = c->x + c->rows * c->nfeat;
	const int32_t *restrict role = r->role;
	const char delim = r->delim;
	size_t col = 0, cols = c->cols;
	for (;;) {
		while (p < end && is_space(*p, delim))
			p++;
		if (col == cols)
			return bp_fail(err, BP_ERR_DATA, where(r), "ragged row: more than %zu columns", cols);
		/* Fast path: a plain unsigned integer right before the delimiter. */
		const char *cell = p, *q = p;
		uint64_t m = 0;
		while (q < end && (unsigned)(*q - '0') < 10 && q - cell < 15)
			m = m * 10 + (unsigned)(*q++ - '0');
		double v;
		if (q > cell && (q == end || *q == delim)) {
			v = (double)m;
		} else if (!(q = parse_number(p, end, &v))) {
			return bad_cell(r, col, p, end, err);
		}
		p = q;
		while (p < end && is_space(*p, delim))
			p++;
		if (p < end && *p != delim)
			return bad_cell(r, col, cell, end, err);
		if (!isfinite(v))
			return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: %s value", col + 1,
			               isnan(v) ? "NaN" : "infinite");
		int32_t ro = role[col];
		if (ro >= 0) {
			if (fabs(v) > FLT_MAX)
				return bp_fail(err, BP_ERR_DATA, where(r), "column %zu: %g is out of float32 range",
				               col + 1, v);
			x[ro] = (float)v;
		} else if (store_label(r, col, -ro - 1, v, err)) {
			return -1;
		}
		col++;
		if (p >= end)
			break;
		p++;
	}
	if (col != cols)
		return bp_fail(err, BP_ERR_DATA, where(r), "ragged row: %zu columns, expected %zu", col, cols);
	c->rows++;
	return 0;
}

static int do_line(struct reader *r, const char *p, const char *end, struct bp_err *err)
{
	r->line++;
	if (end > p && end[-1] == '\r')
		end--;
	if (r->line == 1 && end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;  /* a UTF-8 byte order mark, as spreadsheets write */
	if (r->line <= r->o->skip_rows)
		return 0;
	const char *q = p;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q == end)
		return 0;  /* blank line */
	if (r->o->header && !r->header_done) {
		r->header_done = true;
		return 0;
	}
	return parse_row(r, p, end, err);
}

static int read_all(struct reader *r, struct gzFile_s *f, struct bp_err *err)
{
	size_t cap = CHUNK, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return bp_fail_oom(err, "CSV buffer", cap);
	int rc = -1;
	for (;;) {
		if (len == cap) {  /* one line longer than the buffer */
			char *nb = cap < ((size_t)1 << 30) ? realloc(buf, 2 * cap) : NULL;
			if (!nb) {
				bp_fail(err, BP_ERR_DATA, r->path, "line %ld is longer than %zu bytes", r->line + 1, cap);
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		long long n = bp_gz_read(f, buf + len, cap - len, r->path, err);
		if (n < 0)
			goto out;
		if (n == 0) {
			if (len && do_line(r, buf, buf + len, err))
				goto out;
			break;
		}
		size_t scan = len;
		len += (size_t)n;
		char *p = buf;
		char *nl;
		while ((nl = memchr(buf + scan, '\n', len - scan)) != NULL) {
			if (do_line(r, p, nl, err))
				goto out;
			p = nl + 1;
			scan = (size_t)(p - buf);
		}
		len -= (size_t)(p - buf);
		memmove(buf, p, len);
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int bp_csv_read(struct bp_csv *csv, const char *path, const struct bp_csv_opts *o, struct bp_err *err)
{
	memset(csv, 0, sizeof *csv);
	csv->max_class = -1;
	BP_BUG(o->nlabels < 0 || o->nlabels > BP_CSV_MAX_LABELS);
	if (o->kind == BP_LABEL_CLASS && o->nlabels > 1)
		return bp_fail(err, BP_ERR_CONFIG, NULL,
		               "%d label columns given, but class labels come from one column", o->nlabels);
	struct reader r = { .path = path, .o = o, .csv = csv, .delim = o->delimiter ? o->delimiter : ',' };
	struct gzFile_s *f = bp_gz_open(path, err);
	if (!f)
		return -1;
	int rc = read_all(&r, f, err);
	gzclose(f);
	free(r.role);
	if (rc == 0 && csv->rows == 0)
		rc = bp_fail(err, BP_ERR_DATA, path, r.line ? "no data rows" : "empty file, expected CSV rows");
	if (rc) {
		bp_csv_release(csv);
		return -1;
	}
	float *x = realloc(csv->x, csv->rows * csv->nfeat * sizeof *x);  /* give back the spare rows */
	if (x)
		csv->x = x;
	return 0;
}

void bp_csv_release(struct bp_csv *csv)
{
	if (!csv)
		return;
	free(csv->x);
	free(csv->cls);
	free(csv->y);
	memset(csv, 0, sizeof *csv);
	csv->max_class = -1;
}
