#include "ckpt.h"
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const unsigned char magic[8] = { 'B', 'P', 'T', 'R', 'A', 'I', 'N', 0x1a };

/* TAG_STATE is the run's training state; TAG_STATE_TENSOR (version 2) one
 * state tensor of the net (batch_norm's running statistics). */
enum tag { TAG_CONFIG = 1, TAG_NORM, TAG_TENSOR, TAG_OPTIM, TAG_STATE, TAG_ORDER, TAG_INPUT, TAG_STATE_TENSOR };

/* ---- writing: a growable little-endian buffer ---- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct wbuf *b, const void *src, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put_u32(struct wbuf *b, uint32_t v)
{
	unsigned char s[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                       (unsigned char)(v >> 24) };
	put(b, s, 4);
}

static void put_u64(struct wbuf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64(struct wbuf *b, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	put_u64(b, v);
}

static void put_floats(struct wbuf *b, const float *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t v;
		memcpy(&v, &f[i], 4);
		put_u32(b, v);
	}
}

static void put_str(struct wbuf *b, const char *s)
{
	put_u32(b, (uint32_t)strlen(s));
	put(b, s, strlen(s));
}

/* A record's length is patched in once its payload is written. */
static size_t begin(struct wbuf *b, enum tag t)
{
	put_u32(b, t);
	size_t at = b->len;
	put_u64(b, 0);
	return at;
}

static void end(struct wbuf *b, size_t at)
{
	if (b->oom)
		return;
	uint64_t n = b->len - at - 8;
	for (int i = 0; i < 8; i++)
		b->p[at + i] = (unsigned char)(n >> (8 * i));
}

static void put_rng(struct wbuf *b, const struct bp_rng *r)
{
	for (int i = 0; i < 4; i++)
		put_u64(b, r->s[i]);
}

/* A tensor record: name, rank, dims, the floats at base + offset. */
static void put_tensor(struct wbuf *b, enum tag tag, const char *name, const struct bp_tensor_desc *d,
                       const float *base)
{
	size_t at = begin(b, tag);
	put_str(b, name);
	put_u32(b, (uint32_t)d->rank);
	for (int r = 0; r < d->rank; r++)
		put_u32(b, (uint32_t)d->dims[r]);
	put_floats(b, base + d->offset, d->size);
	end(b, at);
}

int bp_ckpt_save(const char *path, const struct bp_ckpt_src *src, struct bp_err *err)
{
	struct wbuf b = { 0 };
	put(&b, magic, sizeof magic);
	put_u32(&b, BP_CKPT_VERSION);
	put_u32(&b, 0);

	size_t at = begin(&b, TAG_CONFIG);
	put(&b, src->config, src->config_len);
	end(&b, at);

	at = begin(&b, TAG_NORM);
	const struct bp_norm *nm = src->norm;
	bool stats = nm && nm->kind == BP_NORM_STANDARDIZE && nm->mean;
	put_u32(&b, nm ? (uint32_t)nm->kind : BP_NORM_NONE);
	put_u64(&b, stats ? nm->d : 0);
	if (stats) {
		put_floats(&b, nm->mean, nm->d);
		put_floats(&b, nm->std, nm->d);
	}
	end(&b, at);

	const struct bp_net *net = src->net;
	at = begin(&b, TAG_INPUT);
	put_u32(&b, (uint32_t)net->layers[0].in.c);
	put_u32(&b, (uint32_t)net->layers[0].in.h);
	put_u32(&b, (uint32_t)net->layers[0].in.w);
	end(&b, at);
	for (int j = 0; j < bp_net_ntensors(net); j++) {
		struct bp_tensor_desc d;
		char name[64];
		bp_net_tensor(net, j, &d, name, sizeof name);
		put_tensor(&b, TAG_TENSOR, name, &d, net->param);
	}
	for (int j = 0; j < bp_net_nstate_tensors(net); j++) {
		struct bp_tensor_desc d;
		char name[64];
		bp_net_state_tensor(net, j, &d, name, sizeof name);
		put_tensor(&b, TAG_STATE_TENSOR, name, &d, net->state);
	}

	if (src->optim) {
		struct bp_optim_slot slots[BP_OPTIM_MAX_SLOTS];
		int ns = bp_optim_slots(src->optim, slots);
		at = begin(&b, TAG_OPTIM);
		put_u32(&b, (uint32_t)src->optim->cfg.type);
		put_u64(&b, (uint64_t)src->optim->step);
		put_u32(&b, (uint32_t)ns);
		for (int s = 0; s < ns; s++) {
			put_str(&b, slots[s].name);
			put_u64(&b, src->optim->n);
			put_floats(&b, slots[s].data, src->optim->n);
		}
		end(&b, at);
	}

	const struct bp_train_state *st = src->state;
	at = begin(&b, TAG_STATE);
	put_u32(&b, (uint32_t)st->epoch);
	put_u64(&b, st->batch);
	put_rng(&b, &st->rng);
	put_f64(&b, st->best);
	put_u32(&b, (uint32_t)st->best_epoch);
	put_f64(&b, st->best_val_loss);
	put_f64(&b, st->best_val_acc);
	put_f64(&b, st->es_best);
	put_u32(&b, (uint32_t)st->es_wait);
	put_f64(&b, st->part_loss);
	put_f64(&b, st->part_correct);
	put_u64(&b, st->part_seen);
	end(&b, at);

	at = begin(&b, TAG_ORDER);
	put_u64(&b, src->order ? src->norder : 0);
	for (size_t i = 0; src->order && i < src->norder; i++)
		put_u32(&b, src->order[i]);
	end(&b, at);

	if (!b.oom)
		put_u32(&b, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b.p, (uInt)b.len));
	if (b.oom) {
		free(b.p);
		return bp_fail_oom(err, "a checkpoint", b.len);
	}
	int rc = bp_write_atomic(path, b.p, b.len, err);
	free(b.p);
	return rc;
}

/* ---- reading: every length checked against what remains ---- */

struct rbuf {
	const unsigned char *p;
	size_t len, pos;
	bool bad;
};

static const unsigned char *take(struct rbuf *r, size_t n)
{
	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		return NULL;
	}
	const unsigned char *q = r->p + r->pos;
	r->pos += n;
	return q;
}

static uint32_t get_u32(struct rbuf *r)
{
	const unsigned char *q = take(r, 4);
	return q ? (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24 : 0;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t lo = get_u32(r);
	return lo | (uint64_t)get_u32(r) << 32;
}

static double get_f64(struct rbuf *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

static float f32_at(const unsigned char *q, size_t i)
{
	q += 4 * i;
	uint32_t v = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
	float f;
	memcpy(&f, &v, 4);
	return f;
}

/* n little-endian floats: the bytes, after checking that they are there. */
static const unsigned char *get_floats(struct rbuf *r, uint64_t n)
{
	if (n > (r->len - r->pos) / 4) {
		r->bad = true;
		return NULL;
	}
	return take(r, (size_t)n * 4);
}

static void get_name(struct rbuf *r, char *dst, size_t size)
{
	uint32_t n = get_u32(r);
	const unsigned char *q = n < size ? take(r, n) : NULL;
	if (!q) {
		r->bad = true;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, q, n);
	dst[n] = '\0';
}

static int read_all(const char *path, unsigned char **out, size_t *len, struct bp_err *err)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return bp_fail(err, BP_ERR_DATA, path, "cannot open checkpoint: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return bp_fail(err, BP_ERR_DATA, path, "not a checkpoint file (a folder or a special file)");
	}
	size_t n = (size_t)st.st_size;
	unsigned char *p = malloc(n ? n : 1);
	if (!p) {
		close(fd);
		return bp_fail_oom(err, "a checkpoint", n);
	}
	size_t done = 0;
	while (done < n) {
		ssize_t r = read(fd, p + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	if (done != n) {
		free(p);
		return bp_fail(err, BP_ERR_DATA, path, "cannot read checkpoint");
	}
	*out = p;
	*len = n;
	return 0;
}

/* One more tensor at the end of *list (grown as needed); NULL when out of
 * memory. */
static struct bp_ckpt_tensor *add_tensor(struct bp_ckpt_tensor **list, int *count, int *cap)
{
	if (*count == *cap) {
		int c = *cap ? 2 * *cap : 8;
		struct bp_ckpt_tensor *t = realloc(*list, (size_t)c * sizeof *t);
		if (!t)
			return NULL;
		*list = t;
		*cap = c;
	}
	return &(*list)[(*count)++];
}

/* A tensor record's payload: false when it is malformed. */
static bool get_tensor(struct rbuf *rec, struct bp_ckpt_tensor *t)
{
	get_name(rec, t->name, sizeof t->name);
	t->rank = (int)get_u32(rec);
	if (rec->bad || t->rank < 1 || t->rank > 4)
		return false;
	uint64_t size = 1;
	for (int i = 0; i < t->rank; i++) {
		t->dims[i] = (int)get_u32(rec);
		size *= (uint64_t)(uint32_t)t->dims[i];
		if (size > rec->len)
			rec->bad = true;
	}
	t->data = get_floats(rec, size);
	if (rec->bad || rec->pos != rec->len)
		return false;
	t->size = (size_t)size;
	return true;
}

static int corrupt(struct bp_ckpt *ck, const char *path, const char *what, struct bp_err *err)
{
	bp_ckpt_release(ck);
	return bp_fail(err, BP_ERR_DATA, path, "corrupt checkpoint: %s", what);
}

int bp_ckpt_load(struct bp_ckpt *ck, const char *path, struct bp_err *err)
{
	memset(ck, 0, sizeof *ck);
	if (read_all(path, &ck->buf, &ck->len, err))
		return -1;
	if (ck->len < sizeof magic + 12 || memcmp(ck->buf, magic, sizeof magic) != 0) {
		bp_ckpt_release(ck);
		return bp_fail(err, BP_ERR_DATA, path, "not a bptrain checkpoint (wrong magic)");
	}
	struct rbuf r = { ck->buf, ck->len - 4, sizeof magic, false };
	uint32_t version = get_u32(&r);
	if (version > BP_CKPT_VERSION || version == 0) {
		bp_ckpt_release(ck);
		return bp_fail(err, BP_ERR_DATA, path, "checkpoint format version %u is not supported "
		               "(this bptrain reads versions 1 to %d)", version, BP_CKPT_VERSION);
	}
	ck->version = (int)version;
	const unsigned char *c = ck->buf + ck->len - 4;
	uint32_t want = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
	if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), ck->buf, (uInt)(ck->len - 4)) != want)
		return corrupt(ck, path, "CRC mismatch (the file is damaged or truncated)", err);
	get_u32(&r);   /* flags */

	int cap = 0, scap = 0;
	bool seen_config = false, seen_state = false;
	uint32_t seen = 0;   /* record kinds met so far; only tensors repeat */
	while (!r.bad && r.pos < r.len) {
		uint32_t tag = get_u32(&r);
		uint64_t n = get_u64(&r);
		if (r.bad || n > r.len - r.pos)
			return corrupt(ck, path, "a record runs past the end", err);
		if (tag < 32 && tag != TAG_TENSOR && tag != TAG_STATE_TENSOR) {
			if (seen & (UINT32_C(1) << tag))
				return corrupt(ck, path, "a record appears twice", err);
			seen |= UINT32_C(1) << tag;
		}
		struct rbuf rec = { r.p + r.pos, (size_t)n, 0, false };
		r.pos += (size_t)n;
		switch (tag) {
		case TAG_CONFIG:
			if (!(ck->config = malloc(n + 1))) {
				bp_ckpt_release(ck);
				return bp_fail_oom(err, "a checkpoint's config", (size_t)n + 1);
			}
			memcpy(ck->config, rec.p, (size_t)n);
			ck->config[n] = '\0';
			ck->config_len = (size_t)n;
			seen_config = true;
			break;
		case TAG_NORM: {
			ck->norm_kind = (int)get_u32(&rec);
			uint64_t d = get_u64(&rec);
			const unsigned char *m = get_floats(&rec, d), *s = get_floats(&rec, d);
			if (rec.bad || ck->norm_kind < 0 || ck->norm_kind > BP_NORM_STANDARDIZE)
				return corrupt(ck, path, "bad normalisation record", err);
			ck->norm_d = (size_t)d;
			if (d) {
				ck->mean = malloc((size_t)d * sizeof(float));
				ck->std = malloc((size_t)d * sizeof(float));
				if (!ck->mean || !ck->std) {
					bp_ckpt_release(ck);
					return bp_fail_oom(err, "normalisation statistics", (size_t)d * 8);
				}
				for (size_t i = 0; i < d; i++) {
					ck->mean[i] = f32_at(m, i);
					ck->std[i] = f32_at(s, i);
				}
			}
			break;
		}
		case TAG_TENSOR:
		case TAG_STATE_TENSOR: {
			bool st = tag == TAG_STATE_TENSOR;
			/* A record holds at least its name's length, its rank and
			 * a dimension, so the file bounds the list. */
			struct bp_ckpt_tensor *t = st ? add_tensor(&ck->state_tensors, &ck->nstate_tensors, &scap)
			                              : add_tensor(&ck->tensors, &ck->ntensors, &cap);
			if (!t) {
				bp_ckpt_release(ck);
				return bp_fail_oom(err, "a checkpoint", sizeof *t);
			}
			if (!get_tensor(&rec, t))
				return corrupt(ck, path, st ? "bad state-tensor record" : "bad tensor record", err);
			break;
		}
		case TAG_OPTIM:
			ck->optim_type = (int)get_u32(&rec);
			ck->optim_step = (int64_t)get_u64(&rec);
			ck->nslots = (int)get_u32(&rec);
			if (rec.bad || ck->nslots < 0 || ck->nslots > BP_OPTIM_MAX_SLOTS)
				return corrupt(ck, path, "bad optimiser record", err);
			for (int s = 0; s < ck->nslots; s++) {
				get_name(&rec, ck->slots[s].name, sizeof ck->slots[s].name);
				uint64_t sn = get_u64(&rec);
				ck->slots[s].data = get_floats(&rec, sn);
				ck->slots[s].n = (size_t)sn;
			}
			if (rec.bad)
				return corrupt(ck, path, "bad optimiser record", err);
			break;
		case TAG_STATE: {
			struct bp_train_state *st = &ck->state;
			st->epoch = (int32_t)get_u32(&rec);
			st->batch = get_u64(&rec);
			for (int i = 0; i < 4; i++)
				st->rng.s[i] = get_u64(&rec);
			st->best = get_f64(&rec);
			st->best_epoch = (int32_t)get_u32(&rec);
			st->best_val_loss = get_f64(&rec);
			st->best_val_acc = get_f64(&rec);
			st->es_best = get_f64(&rec);
			st->es_wait = (int32_t)get_u32(&rec);
			st->part_loss = get_f64(&rec);
			st->part_correct = get_f64(&rec);
			st->part_seen = get_u64(&rec);
			if (rec.bad || st->epoch < 0)
				return corrupt(ck, path, "bad training-state record", err);
			seen_state = true;
			break;
		}
		case TAG_ORDER: {
			uint64_t no = get_u64(&rec);
			if (rec.bad || no > (rec.len - rec.pos) / 4)
				return corrupt(ck, path, "bad sample-order record", err);
			if (no) {
				if (!(ck->order = malloc((size_t)no * sizeof *ck->order))) {
					bp_ckpt_release(ck);
					return bp_fail_oom(err, "a checkpoint", (size_t)no * 4);
				}
				for (size_t i = 0; i < no; i++)
					ck->order[i] = get_u32(&rec);
			}
			ck->norder = (size_t)no;
			break;
		}
		case TAG_INPUT:
			ck->in.c = (int)get_u32(&rec);
			ck->in.h = (int)get_u32(&rec);
			ck->in.w = (int)get_u32(&rec);
			if (rec.bad || ck->in.c < 1 || ck->in.h < 1 || ck->in.w < 1
			    || (uint64_t)ck->in.c * (uint64_t)ck->in.h * (uint64_t)ck->in.w > ((uint64_t)1 << 31))
				return corrupt(ck, path, "bad input-shape record", err);
			break;
		default:
			break;   /* unknown records of a compatible writer are skipped */
		}
	}
	if (r.bad || !seen_config || !seen_state || ck->in.c == 0)
		return corrupt(ck, path, "records are missing", err);
	return 0;
}

void bp_ckpt_release(struct bp_ckpt *ck)
{
	free(ck->buf);
	free(ck->config);
	free(ck->mean);
	free(ck->std);
	free(ck->tensors);
	free(ck->state_tensors);
	free(ck->order);
	memset(ck, 0, sizeof *ck);
}

/* Checks the checkpoint's tensors of one kind against net's (names and
 * shapes, in order), and copies them in when copy is true. */
static int restore_tensors(const struct bp_ckpt_tensor *tensors, int count, struct bp_net *net, bool state,
                           bool copy, const char *path, struct bp_err *err)
{
	const char *what = state ? "state" : "parameter";
	int nt = state ? bp_net_nstate_tensors(net) : bp_net_ntensors(net);
	if (nt != count)
		return bp_fail(err, BP_ERR_DATA, path, "checkpoint has %d %s tensors, the model %d", count, what, nt);
	float *dst = state ? net->state : net->param;
	for (int j = 0; j < nt; j++) {
		struct bp_tensor_desc d;
		char name[64];
		if (state)
			bp_net_state_tensor(net, j, &d, name, sizeof name);
		else
			bp_net_tensor(net, j, &d, name, sizeof name);
		const struct bp_ckpt_tensor *t = &tensors[j];
		bool same = strcmp(name, t->name) == 0 && d.rank == t->rank;
		for (int r = 0; same && r < d.rank; r++)
			same = d.dims[r] == t->dims[r];
		if (!same)
			return bp_fail(err, BP_ERR_DATA, path, "checkpoint %s tensor '%s' does not match the model's '%s'",
			               what, t->name, name);
		for (size_t i = 0; copy && i < d.size; i++)
			dst[d.offset + i] = f32_at(t->data, i);
	}
	return 0;
}

int bp_ckpt_restore_net(const struct bp_ckpt *ck, struct bp_net *net, const char *path, struct bp_err *err)
{
	for (int copy = 0; copy < 2; copy++)
		if (restore_tensors(ck->tensors, ck->ntensors, net, false, copy, path, err)
		    || restore_tensors(ck->state_tensors, ck->nstate_tensors, net, true, copy, path, err))
			return -1;
	return 0;
}

int bp_ckpt_restore_optim(const struct bp_ckpt *ck, struct bp_optim *o, const char *path, struct bp_err *err)
{
	struct bp_optim_slot slots[BP_OPTIM_MAX_SLOTS];
	int ns = bp_optim_slots(o, slots);
	if (ck->optim_type != (int)o->cfg.type || ck->nslots != ns)
		return bp_fail(err, BP_ERR_DATA, path, "the checkpoint's optimiser state is for another optimiser");
	for (int s = 0; s < ns; s++) {
		if (ck->slots[s].n != o->n || strcmp(ck->slots[s].name, slots[s].name) != 0)
			return bp_fail(err, BP_ERR_DATA, path, "the checkpoint's optimiser state does not match the model");
		for (size_t i = 0; i < o->n; i++)
			slots[s].data[i] = f32_at(ck->slots[s].data, i);
	}
	o->step = ck->optim_step;
	return 0;
}
