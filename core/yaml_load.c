#include "yaml_load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

struct yctx {
	yaml_parser_t parser;
	const char *file;
	const char *text;
	size_t len;
	struct bp_err *err;
};

static int fail_at(struct yctx *cx, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(struct yctx *cx, int line, int col, const char *fmt, ...)
{
	char where[sizeof cx->err->where], msg[sizeof cx->err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof where, "%s:%d:%d", cx->file, line, col);
	else
		snprintf(where, sizeof where, "%s", cx->file);
	return bp_fail(cx->err, BP_ERR_CONFIG, where, "%s", msg);
}

static int oom(struct yctx *cx)
{
	return bp_fail(cx->err, BP_ERR_RUNTIME, cx->file, "out of memory while reading the config");
}

/* The text of 1-based line number line, for a look at what went wrong. */
static const char *line_start(const struct yctx *cx, int line, size_t *len)
{
	size_t i = 0;
	for (int l = 1; l < line && i < cx->len; i++)
		if (cx->text[i] == '\n')
			l++;
	size_t j = i;
	while (j < cx->len && cx->text[j] != '\n')
		j++;
	*len = j - i;
	return cx->text + i;
}

/* libyaml's own error, at its problem mark. */
static int parser_fail(struct yctx *cx)
{
	yaml_parser_t *p = &cx->parser;
	if (p->error == YAML_MEMORY_ERROR)
		return oom(cx);
	int line, col;
	if (p->error == YAML_READER_ERROR) {
		/* The reader gives a byte offset, not a mark. */
		line = 1;
		col = 1;
		for (size_t i = 0; i < p->problem_offset && i < cx->len; i++) {
			if (cx->text[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)cx->text[i] & 0xC0) != 0x80) {
				col++;
			}
		}
		return fail_at(cx, line, col, "invalid YAML: %s", p->problem ? p->problem : "unreadable text");
	}
	line = (int)p->problem_mark.line + 1;
	col = (int)p->problem_mark.column + 1;
	size_t n;
	const char *s = line_start(cx, line, &n);
	for (size_t i = 0; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
		if (s[i] == '\t')
			return fail_at(cx, line, col, "invalid YAML: a tab in the indentation; indent with spaces");
	if (p->context)
		return fail_at(cx, line, col, "invalid YAML: %s %s", p->problem ? p->problem : "syntax error",
		               p->context);
	return fail_at(cx, line, col, "invalid YAML: %s", p->problem ? p->problem : "syntax error");
}

static int next_event(struct yctx *cx, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&cx->parser, ev))
		return parser_fail(cx);
	return 0;
}

#define MLINE(m) ((int)(m).line + 1)
#define MCOL(m) ((int)(m).column + 1)

/* Anchors would allow aliases; explicit tags beyond YAML's own are refused. */
static int check_props(struct yctx *cx, const yaml_event_t *ev, const yaml_char_t *anchor,
                       const yaml_char_t *tag)
{
	if (anchor)
		return fail_at(cx, MLINE(ev->start_mark), MCOL(ev->start_mark),
		               "anchors ('&%s') are not supported in configs; write the value out", anchor);
	if (tag && strncmp((const char *)tag, "tag:yaml.org,2002:", 18) != 0)
		return fail_at(cx, MLINE(ev->start_mark), MCOL(ev->start_mark),
		               "unsupported YAML tag '%s'", tag);
	return 0;
}

static struct bp_node *build(struct yctx *cx, yaml_event_t *ev, int depth);

static struct bp_node *build_scalar(struct yctx *cx, yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	if (check_props(cx, ev, ev->data.scalar.anchor, ev->data.scalar.tag))
		return NULL;
	if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length) {
		fail_at(cx, MLINE(ev->start_mark), MCOL(ev->start_mark), "a value holds a NUL character");
		return NULL;
	}
	struct bp_node *n = bp_node_new(BP_NODE_SCALAR, cx->file, MLINE(ev->start_mark), MCOL(ev->start_mark));
	if (!n || bp_node_set_value(n, (const char *)ev->data.scalar.value)) {
		bp_node_free(n);
		oom(cx);
		return NULL;
	}
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	            (tag && strcmp(tag, YAML_STR_TAG) == 0);
	return n;
}

static struct bp_node *build_list(struct yctx *cx, struct bp_node *list, int depth)
{
	for (;;) {
		yaml_event_t ev;
		if (next_event(cx, &ev))
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return list;
		}
		struct bp_node *item = build(cx, &ev, depth + 1);
		if (!item)
			goto fail;
		bp_node_append(list, item);
	}
fail:
	bp_node_free(list);
	return NULL;
}

static struct bp_node *build_map(struct yctx *cx, struct bp_node *map, int depth)
{
	for (;;) {
		yaml_event_t ev;
		if (next_event(cx, &ev))
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return map;
		}
		int kl = MLINE(ev.start_mark), kc = MCOL(ev.start_mark);
		struct bp_node *key = NULL;
		if (ev.type == YAML_SCALAR_EVENT) {
			key = build_scalar(cx, &ev);
		} else if (ev.type == YAML_ALIAS_EVENT) {
			fail_at(cx, kl, kc, "aliases ('*%s') are not supported in configs; write the value out",
			        ev.data.alias.anchor);
		} else {
			fail_at(cx, kl, kc, "a key must be a single name, not a list or a mapping");
		}
		yaml_event_delete(&ev);
		if (!key)
			goto fail;
		if (bp_node_get(map, key->value)) {
			fail_at(cx, kl, kc, "duplicate key '%s'", key->value);
			bp_node_free(key);
			goto fail;
		}
		struct bp_node *value = NULL;
		if (!next_event(cx, &ev))
			value = build(cx, &ev, depth + 1);
		if (!value) {
			bp_node_free(key);
			goto fail;
		}
		/* Hand the key's text over to the value node. */
		value->key = key->value;
		key->value = NULL;
		bp_node_free(key);
		value->key_line = kl;
		value->key_col = kc;
		bp_node_append(map, value);
	}
fail:
	bp_node_free(map);
	return NULL;
}

/* Builds the node that starts with ev (which it deletes). */
static struct bp_node *build(struct yctx *cx, yaml_event_t *ev, int depth)
{
	struct bp_node *n = NULL;
	int line = MLINE(ev->start_mark), col = MCOL(ev->start_mark);
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = build_scalar(cx, ev);
		yaml_event_delete(ev);
		return n;
	case YAML_ALIAS_EVENT:
		fail_at(cx, line, col, "aliases ('*%s') are not supported in configs; write the value out",
		        ev->data.alias.anchor);
		yaml_event_delete(ev);
		return NULL;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool list = ev->type == YAML_SEQUENCE_START_EVENT;
		int bad = list ? check_props(cx, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag)
		               : check_props(cx, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
		yaml_event_delete(ev);
		if (bad)
			return NULL;
		if (depth >= BP_YAML_MAX_DEPTH) {
			fail_at(cx, line, col, "nesting deeper than %d levels", BP_YAML_MAX_DEPTH);
			return NULL;
		}
		n = bp_node_new(list ? BP_NODE_LIST : BP_NODE_MAP, cx->file, line, col);
		if (!n) {
			oom(cx);
			return NULL;
		}
		return list ? build_list(cx, n, depth) : build_map(cx, n, depth);
	}
	default:
		yaml_event_delete(ev);
		fail_at(cx, line, col, "invalid YAML: unexpected event");
		return NULL;
	}
}

static bool is_empty_scalar(const struct bp_node *n)
{
	return n->kind == BP_NODE_SCALAR && !n->quoted &&
	       (!n->value[0] || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0);
}

static struct bp_node *parse_stream(struct yctx *cx)
{
	yaml_event_t ev;
	struct bp_node *root = NULL;
	if (next_event(cx, &ev))
		return NULL;
	yaml_event_delete(&ev); /* stream start */
	if (next_event(cx, &ev))
		return NULL;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		fail_at(cx, 0, 0, "the config is empty");
		return NULL;
	}
	yaml_event_delete(&ev); /* document start */
	if (next_event(cx, &ev) || !(root = build(cx, &ev, 0)))
		return NULL;
	if (is_empty_scalar(root)) {
		bp_node_free(root);
		fail_at(cx, 0, 0, "the config is empty");
		return NULL;
	}
	if (next_event(cx, &ev))
		goto fail;
	yaml_event_delete(&ev); /* document end */
	if (next_event(cx, &ev))
		goto fail;
	if (ev.type != YAML_STREAM_END_EVENT) {
		fail_at(cx, MLINE(ev.start_mark), MCOL(ev.start_mark),
		        "a second YAML document; a config holds one document");
		yaml_event_delete(&ev);
		goto fail;
	}
	yaml_event_delete(&ev);
	return root;
fail:
	bp_node_free(root);
	return NULL;
}

struct bp_node *bp_yaml_parse(const char *text, size_t len, const char *file, struct bp_err *err)
{
	struct yctx cx = { .file = file, .text = text, .len = len, .err = err };
	if (!yaml_parser_initialize(&cx.parser)) {
		oom(&cx);
		return NULL;
	}
	yaml_parser_set_input_string(&cx.parser, (const unsigned char *)text, len);
	struct bp_node *root = parse_stream(&cx);
	yaml_parser_delete(&cx.parser);
	return root;
}

/* strerror, lowercased to match the house style of messages. */
static const char *errno_text(int e, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

struct bp_node *bp_yaml_load_file(const char *path, struct bp_err *err)
{
	char why[128];
	struct stat st;
	if (stat(path, &st) != 0) {
		bp_fail(err, BP_ERR_CONFIG, path, "cannot read the config: %s", errno_text(errno, why, sizeof why));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		bp_fail(err, BP_ERR_CONFIG, path, "is a folder, not a config file");
		return NULL;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		bp_fail(err, BP_ERR_CONFIG, path, "cannot read the config: %s", errno_text(errno, why, sizeof why));
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	struct bp_node *root = NULL;
	if (!buf) {
		bp_fail_oom(err, "the config text", cap);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= BP_YAML_MAX_BYTES) {
				bp_fail(err, BP_ERR_CONFIG, path, "the config is larger than %u MB",
				        BP_YAML_MAX_BYTES >> 20);
				goto out;
			}
			char *grown = realloc(buf, cap * 2);
			if (!grown) {
				bp_fail_oom(err, "the config text", cap * 2);
				goto out;
			}
			buf = grown;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		bp_fail(err, BP_ERR_CONFIG, path, "cannot read the config: %s", errno_text(errno, why, sizeof why));
		goto out;
	}
	root = bp_yaml_parse(buf, len, path, err);
out:
	free(buf);
	fclose(f);
	return root;
}

/* --set: the new nodes name the argument and have no line. */
static void drop_positions(struct bp_node *n)
{
	n->line = n->col = n->key_line = n->key_col = 0;
	for (struct bp_node *c = n->child; c; c = c->next)
		drop_positions(c);
}

static bool is_index(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static struct bp_node *parse_set_value(const char *value, const char *where, struct bp_err *err)
{
	struct bp_node *v;
	if (!value[strspn(value, " \t")]) {
		v = bp_node_new(BP_NODE_SCALAR, where, 0, 0);
		if (!v || bp_node_set_value(v, "")) {
			bp_node_free(v);
			bp_fail_oom(err, "--set", strlen(value));
			return NULL;
		}
		return v;
	}
	v = bp_yaml_parse(value, strlen(value), where, err);
	if (!v) {
		/* Report at the argument, without the YAML line and column. */
		if (err && err->kind == BP_ERR_CONFIG)
			snprintf(err->where, sizeof err->where, "%s", where);
		return NULL;
	}
	drop_positions(v);
	return v;
}

/* Walks (creating maps on the way) to the parent of the last segment of
 * key, and puts v there. */
static int set_path(struct bp_node *root, char *key, struct bp_node *v, const char *where, struct bp_err *err)
{
	char path[256];
	struct bp_node *cur = root;
	char *seg = key;
	for (;;) {
		char *dot = strchr(seg, '.');
		if (dot)
			*dot = '\0';
		if (!*seg)
			return bp_fail(err, BP_ERR_CONFIG, where, "the key has an empty part; write it like 'train.epochs=5'");
		struct bp_node *child = NULL;
		if (cur->kind == BP_NODE_LIST) {
			if (!is_index(seg))
				return bp_fail(err, BP_ERR_CONFIG, where, "'%s' is a list; '%s' is not an index",
				               bp_node_path(cur, path, sizeof path), seg);
			errno = 0;
			long i = strtol(seg, NULL, 10);
			child = errno || i >= cur->nchild ? NULL : bp_node_at(cur, (int)i);
			if (!child)
				return bp_fail(err, BP_ERR_CONFIG, where, "index %s is out of range: '%s' has %d item%s",
				               seg, bp_node_path(cur, path, sizeof path), cur->nchild,
				               cur->nchild == 1 ? "" : "s");
		} else if (cur->kind == BP_NODE_MAP) {
			child = bp_node_get(cur, seg);
		} else {
			return bp_fail(err, BP_ERR_CONFIG, where, "'%s' is a single value, it has no '%s'",
			               bp_node_path(cur, path, sizeof path), seg);
		}
		if (!dot) {
			if (cur->kind == BP_NODE_MAP && bp_node_set_key(v, seg))
				return bp_fail_oom(err, "--set", strlen(seg));
			if (child)
				bp_node_replace(child, v);
			else
				bp_node_append(cur, v);
			return 0;
		}
		if (!child) {
			char *after = dot + 1, *end = strchr(after, '.');
			if (end)
				*end = '\0';
			bool index = is_index(after);
			if (end)
				*end = '.';
			if (index)
				return bp_fail(err, BP_ERR_CONFIG, where, "index %.*s is out of range: '%s' does not exist",
				               (int)strcspn(after, "."), after, seg);
			child = bp_node_new(BP_NODE_MAP, where, 0, 0);
			if (!child || bp_node_set_key(child, seg)) {
				bp_node_free(child);
				return bp_fail_oom(err, "--set", strlen(seg));
			}
			bp_node_append(cur, child);
		}
		cur = child;
		seg = dot + 1;
	}
}

int bp_yaml_apply_set(struct bp_node *root, const char *arg, struct bp_err *err)
{
	char where[sizeof err->where];
	snprintf(where, sizeof where, "--set %s", arg);
	const char *eq = strchr(arg, '=');
	if (!eq)
		return bp_fail(err, BP_ERR_CONFIG, where, "expected KEY=VALUE, like 'train.epochs=5'");
	if (eq == arg)
		return bp_fail(err, BP_ERR_CONFIG, where, "the key before '=' is empty");
	/* Keys are names like 'train.epochs'; the key is not parsed as YAML,
	 * so a byte that YAML could not hold would reach the emitted config. */
	for (const char *c = arg; c < eq; c++)
		if (*c <= ' ' || *c >= 0x7f)
			return bp_fail(err, BP_ERR_CONFIG, where,
			               "the key holds a space, a control character or a non-ASCII byte (column %d)",
			               (int)(c - arg) + 1);
	BP_BUG(root->kind != BP_NODE_MAP);
	char *key = strndup(arg, (size_t)(eq - arg));
	if (!key)
		return bp_fail_oom(err, "--set", strlen(arg));
	struct bp_node *v = parse_set_value(eq + 1, where, err);
	int rc = -1;
	if (v) {
		rc = set_path(root, key, v, where, err);
		if (rc)
			bp_node_free(v);
	}
	free(key);
	return rc;
}
