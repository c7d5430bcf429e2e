#include "node.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct bp_node *bp_node_new(enum bp_node_kind kind, const char *file, int line, int col)
{
	struct bp_node *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->kind = kind;
	n->file = strdup(file ? file : "");
	if (!n->file) {
		free(n);
		return NULL;
	}
	n->line = line;
	n->col = col;
	return n;
}

void bp_node_free(struct bp_node *n)
{
	if (!n)
		return;
	struct bp_node *c = n->child;
	while (c) {
		struct bp_node *next = c->next;
		bp_node_free(c);
		c = next;
	}
	free(n->key);
	free(n->value);
	free(n->file);
	free(n);
}

static int set_str(char **dst, const char *s)
{
	char *copy = NULL;
	if (s && !(copy = strdup(s)))
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

int bp_node_set_key(struct bp_node *n, const char *key) { return set_str(&n->key, key); }
int bp_node_set_value(struct bp_node *n, const char *value) { return set_str(&n->value, value); }

void bp_node_append(struct bp_node *parent, struct bp_node *child)
{
	child->parent = parent;
	child->next = NULL;
	if (parent->last)
		parent->last->next = child;
	else
		parent->child = child;
	parent->last = child;
	parent->nchild++;
}

struct bp_node *bp_node_clone(const struct bp_node *n)
{
	struct bp_node *c = bp_node_new(n->kind, n->file, n->line, n->col);
	if (!c || set_str(&c->key, n->key) || set_str(&c->value, n->value)) {
		bp_node_free(c);
		return NULL;
	}
	c->quoted = n->quoted;
	c->key_line = n->key_line;
	c->key_col = n->key_col;
	for (const struct bp_node *k = n->child; k; k = k->next) {
		struct bp_node *kc = bp_node_clone(k);
		if (!kc) {
			bp_node_free(c);
			return NULL;
		}
		bp_node_append(c, kc);
	}
	return c;
}

void bp_node_unlink(struct bp_node *n)
{
	struct bp_node *p = n->parent;
	if (!p)
		return;
	struct bp_node **link = &p->child, *prev = NULL;
	while (*link && *link != n) {
		prev = *link;
		link = &(*link)->next;
	}
	BP_BUG(!*link);
	*link = n->next;
	if (p->last == n)
		p->last = prev;
	p->nchild--;
	n->parent = NULL;
	n->next = NULL;
}

void bp_node_replace(struct bp_node *old, struct bp_node *repl)
{
	struct bp_node *p = old->parent;
	BP_BUG(!p);
	struct bp_node **link = &p->child, *prev = NULL;
	while (*link != old) {
		prev = *link;
		link = &(*link)->next;
	}
	(void)prev;
	*link = repl;
	repl->next = old->next;
	repl->parent = p;
	if (p->last == old)
		p->last = repl;
	old->next = NULL;
	old->parent = NULL;
	bp_node_free(old);
}

struct bp_node *bp_node_get(const struct bp_node *map, const char *key)
{
	if (!map || map->kind != BP_NODE_MAP)
		return NULL;
	for (struct bp_node *c = map->child; c; c = c->next)
		if (c->key && strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

struct bp_node *bp_node_at(const struct bp_node *list, int index)
{
	if (!list || list->kind != BP_NODE_LIST || index < 0)
		return NULL;
	struct bp_node *c = list->child;
	while (c && index--)
		c = c->next;
	return c;
}

const char *bp_node_where(const struct bp_node *n, char *buf, size_t size)
{
	if (!n)
		snprintf(buf, size, "%s", "");
	else if (n->line > 0)
		snprintf(buf, size, "%s:%d:%d", n->file, n->line, n->col);
	else
		snprintf(buf, size, "%s", n->file);
	return buf;
}

const char *bp_node_key_where(const struct bp_node *n, char *buf, size_t size)
{
	if (n && n->key_line > 0) {
		snprintf(buf, size, "%s:%d:%d", n->file, n->key_line, n->key_col);
		return buf;
	}
	return bp_node_where(n, buf, size);
}

static int key_fail(struct bp_err *e, const struct bp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int bp_node_fail(struct bp_err *e, enum bp_errkind kind, const struct bp_node *n, const char *fmt, ...)
{
	char where[sizeof e->where], msg[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return bp_fail(e, kind, bp_node_where(n, where, sizeof where), "%s", msg);
}

/* A config error at n's key. */
static int key_fail(struct bp_err *e, const struct bp_node *n, const char *fmt, ...)
{
	char where[sizeof e->where], msg[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return bp_fail(e, BP_ERR_CONFIG, bp_node_key_where(n, where, sizeof where), "%s", msg);
}

const char *bp_node_path(const struct bp_node *n, char *buf, size_t size)
{
	/* Collect the chain from n up to the root, then print it root first. */
	const struct bp_node *chain[64];
	int depth = 0;
	for (const struct bp_node *p = n; p && p->parent && depth < 64; p = p->parent)
		chain[depth++] = p;
	size_t len = 0;
	buf[0] = '\0';
	for (int i = depth - 1; i >= 0 && len < size; i--) {
		const struct bp_node *p = chain[i];
		const char *dot = len ? "." : "";
		int w;
		if (p->key) {
			w = snprintf(buf + len, size - len, "%s%s", dot, p->key);
		} else {
			int idx = 0;
			for (const struct bp_node *s = p->parent->child; s && s != p; s = s->next)
				idx++;
			w = snprintf(buf + len, size - len, "%s%d", dot, idx);
		}
		if (w < 0)
			break;
		len += (size_t)w;
	}
	return buf;
}

static const char *kind_name(enum bp_node_kind k)
{
	return k == BP_NODE_MAP ? "a mapping" : k == BP_NODE_LIST ? "a list" : "a single value";
}

int bp_node_expect(const struct bp_node *n, enum bp_node_kind kind, struct bp_err *e)
{
	if (n->kind == kind)
		return 0;
	char path[256];
	return bp_node_fail(e, BP_ERR_CONFIG, n, "'%s' must be %s, not %s",
	                    bp_node_path(n, path, sizeof path), kind_name(kind), kind_name(n->kind));
}

bool bp_parse_num(const char *s, double *out)
{
	if (!s || !*s)
		return false;
	/* YAML spellings of the special floats; strtod's "nan"/"inf" are refused
	 * so a typo never becomes a number. */
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!((*p >= '0' && *p <= '9') || *p == '.'))
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
		return false;
	*out = v;
	return true;
}

bool bp_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) { *out = true; return true; }
		if (strcasecmp(s, no[i]) == 0) { *out = false; return true; }
	}
	return false;
}

static int need_scalar(const struct bp_node *n, const char *what, struct bp_err *e)
{
	if (n->kind == BP_NODE_SCALAR && n->value)
		return 0;
	char path[256];
	return bp_node_fail(e, BP_ERR_CONFIG, n, "'%s' must be %s, not %s",
	                    bp_node_path(n, path, sizeof path), what, kind_name(n->kind));
}

int bp_node_num(const struct bp_node *n, double min, double max, double *out, struct bp_err *e)
{
	char path[256];
	double v;
	if (need_scalar(n, "a number", e))
		return -1;
	if (n->quoted || !bp_parse_num(n->value, &v))
		return bp_node_fail(e, BP_ERR_CONFIG, n, "'%s' must be a number, got '%s'",
		                    bp_node_path(n, path, sizeof path), n->value);
	if (v < min || v > max)
		return bp_node_fail(e, BP_ERR_CONFIG, n, "'%s' must be between %g and %g, got %s",
		                    bp_node_path(n, path, sizeof path), min, max, n->value);
	*out = v;
	return 0;
}

int bp_node_int(const struct bp_node *n, long min, long max, long *out, struct bp_err *e)
{
	char path[256];
	double v;
	if (need_scalar(n, "an integer", e))
		return -1;
	if (n->quoted || !bp_parse_num(n->value, &v) || v != floor(v) || fabs(v) > 9e15)
		return bp_node_fail(e, BP_ERR_CONFIG, n, "'%s' must be an integer, got '%s'",
		                    bp_node_path(n, path, sizeof path), n->value);
	if (v < (double)min || v > (double)max)
		return bp_node_fail(e, BP_ERR_CONFIG, n, "'%s' must be between %ld and %ld, got %s",
		                    bp_node_path(n, path, sizeof path), min, max, n->value);
	*out = (long)v;
	return 0;
}

int bp_node_bool(const struct bp_node *n, bool *out, struct bp_err *e)
{
	char path[256];
	if (need_scalar(n, "true or false", e))
		return -1;
	if (n->quoted || !bp_parse_bool(n->value, out))
		return bp_node_fail(e, BP_ERR_CONFIG, n, "'%s' must be true or false, got '%s'",
		                    bp_node_path(n, path, sizeof path), n->value);
	return 0;
}

int bp_node_str(const struct bp_node *n, const char **out, struct bp_err *e)
{
	if (need_scalar(n, "a single value", e))
		return -1;
	*out = n->value;
	return 0;
}

int bp_node_choice(const struct bp_node *n, const char *const *names, int *out, struct bp_err *e)
{
	const char *s;
	if (bp_node_str(n, &s, e))
		return -1;
	for (int i = 0; names[i]; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	char path[256], list[512];
	const char *near = bp_nearest(s, names);
	bp_node_path(n, path, sizeof path);
	bp_join_names(names, list, sizeof list);
	if (near)
		return bp_node_fail(e, BP_ERR_CONFIG, n, "unknown %s '%s' (did you mean '%s'?); valid: %s",
		                    path, s, near, list);
	return bp_node_fail(e, BP_ERR_CONFIG, n, "unknown %s '%s'; valid: %s", path, s, list);
}

int bp_node_check_keys(const struct bp_node *n, const char *const *allowed, struct bp_err *e)
{
	if (bp_node_expect(n, BP_NODE_MAP, e))
		return -1;
	for (const struct bp_node *c = n->child; c; c = c->next) {
		bool ok = false;
		for (int i = 0; allowed[i] && !ok; i++)
			ok = strcmp(c->key, allowed[i]) == 0;
		for (const struct bp_node *d = n->child; d != c && ok; d = d->next)
			if (strcmp(d->key, c->key) == 0)
				return key_fail(e, c, "duplicate key '%s'", c->key);
		if (ok)
			continue;
		char path[256], list[512];
		const char *near = bp_nearest(c->key, allowed);
		bp_node_path(c, path, sizeof path);
		if (near)
			return key_fail(e, c, "unknown key '%s' (did you mean '%s'?)", path, near);
		return key_fail(e, c, "unknown key '%s'; valid keys here: %s",
		                    path, bp_join_names(allowed, list, sizeof list));
	}
	return 0;
}

/* Optimal string alignment distance (Levenshtein plus transpositions). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

const char *bp_nearest(const char *word, const char *const *names)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t limit = strlen(word) / 3 + 1;
	if (limit < 2)
		limit = 2;
	for (int i = 0; names[i]; i++) {
		size_t d = edit_distance(word, names[i]);
		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

const char *bp_join_names(const char *const *names, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int i = 0; names[i] && len < size; i++) {
		const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
		int w = snprintf(buf + len, size - len, "%s%s", sep, names[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	return buf;
}
