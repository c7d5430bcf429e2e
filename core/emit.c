#include "emit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Where the emitter's bytes go: a FILE or a growing buffer. */
struct sink {
	FILE *f;
	char *buf;
	size_t len, cap;
	bool oom;
};

static int sink_write(void *data, unsigned char *bytes, size_t size)
{
	struct sink *s = data;
	if (s->f)
		return fwrite(bytes, 1, size, s->f) == size;
	if (s->len + size + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 1024;
		while (s->len + size + 1 > cap)
			cap *= 2;
		char *grown = realloc(s->buf, cap);
		if (!grown) {
			s->oom = true;
			return 0;
		}
		s->buf = grown;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, bytes, size);
	s->len += size;
	s->buf[s->len] = '\0';
	return 1;
}

static bool flat_map(const struct bp_node *n)
{
	if (n->kind != BP_NODE_MAP || !n->child)
		return false;
	for (const struct bp_node *c = n->child; c; c = c->next)
		if (c->kind != BP_NODE_SCALAR)
			return false;
	return true;
}

static int scalar(yaml_emitter_t *em, const char *text, bool quoted)
{
	yaml_event_t ev;
	/* It fails on text that is not UTF-8 (or out of memory), leaving ev
	 * unset: emitting it then would free stale pointers. */
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), !quoted, 1,
	                                  quoted ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE))
		return 0;
	return yaml_emitter_emit(em, &ev);
}

static int node(yaml_emitter_t *em, const struct bp_node *n, bool flow)
{
	yaml_event_t ev;
	if (n->kind == BP_NODE_SCALAR)
		return scalar(em, n->value ? n->value : "", n->quoted);
	if (n->kind == BP_NODE_LIST) {
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		                                     flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return 0;
		for (const struct bp_node *c = n->child; c; c = c->next)
			if (!node(em, c, flow || flat_map(c)))
				return 0;
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev);
	}
	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
	                                    flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
	if (!yaml_emitter_emit(em, &ev))
		return 0;
	for (const struct bp_node *c = n->child; c; c = c->next)
		if (!scalar(em, c->key ? c->key : "", false) || !node(em, c, flow))
			return 0;
	yaml_mapping_end_event_initialize(&ev);
	return yaml_emitter_emit(em, &ev);
}

static int emit(const struct bp_node *root, struct sink *s, struct bp_err *err)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&em))
		return bp_fail_oom(err, "the YAML emitter", sizeof em);
	yaml_emitter_set_output(&em, sink_write, s);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);
	int ok = 1;
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	ok = ok && yaml_emitter_emit(&em, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	ok = ok && yaml_emitter_emit(&em, &ev);
	ok = ok && node(&em, root, false);
	yaml_document_end_event_initialize(&ev, 1);
	ok = ok && yaml_emitter_emit(&em, &ev);
	yaml_stream_end_event_initialize(&ev);
	ok = ok && yaml_emitter_emit(&em, &ev);
	ok = ok && yaml_emitter_flush(&em);
	const char *problem = em.problem;
	yaml_error_type_t kind = em.error;
	yaml_emitter_delete(&em);
	if (ok)
		return 0;
	if (s->oom)
		return bp_fail_oom(err, "the config text", s->cap * 2);
	if (kind == YAML_WRITER_ERROR)
		return bp_fail(err, BP_ERR_RUNTIME, NULL, "could not write the config");
	return bp_fail(err, BP_ERR_RUNTIME, NULL, "could not write the config as YAML: %s",
	               problem ? problem : "emitter error");
}

int bp_emit_file(const struct bp_node *root, FILE *out, struct bp_err *err)
{
	struct sink s = { .f = out };
	if (emit(root, &s, err))
		return -1;
	if (fflush(out) != 0 || ferror(out))
		return bp_fail(err, BP_ERR_RUNTIME, NULL, "could not write the config");
	return 0;
}

char *bp_emit_text(const struct bp_node *root, size_t *len, struct bp_err *err)
{
	struct sink s = { 0 };
	if (emit(root, &s, err)) {
		free(s.buf);
		return NULL;
	}
	if (!s.buf && !(s.buf = calloc(1, 1))) {
		bp_fail_oom(err, "the config text", 1);
		return NULL;
	}
	if (len)
		*len = s.len;
	return s.buf;
}
