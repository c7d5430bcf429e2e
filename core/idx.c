#include "idx.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* The first buffer for data of unknown size; fuzz builds shrink it so that
 * small inputs reach the paths that grow it. */
#ifndef BP_IDX_FIRST_CHUNK
#define BP_IDX_FIRST_CHUNK ((size_t)1 << 20)
#endif
#define FIRST_CHUNK ((size_t)BP_IDX_FIRST_CHUNK)
#ifndef BP_GZ_BUFFER
#define BP_GZ_BUFFER (256u << 10)
#endif
#define GZ_BUFFER ((unsigned)BP_GZ_BUFFER)
#define MAX_GZREAD ((size_t)1 << 30)

void bp_prefault(void *p, size_t from, size_t to)
{
#ifdef MADV_POPULATE_WRITE
	const uintptr_t page = 4096;
	uintptr_t a = ((uintptr_t)p + from + page - 1) & ~(page - 1), b = ((uintptr_t)p + to) & ~(page - 1);
	if (b > a + 16 * page)
		madvise((void *)a, b - a, MADV_POPULATE_WRITE);  /* failure is harmless */
#else
	(void)p, (void)from, (void)to;
#endif
}

size_t bp_dtype_size(int type)
{
	switch (type) {
	case BP_DT_U8: case BP_DT_I8: return 1;
	case BP_DT_I16: return 2;
	case BP_DT_I32: case BP_DT_F32: return 4;
	case BP_DT_F64: return 8;
	default: return 0;
	}
}

const char *bp_dtype_name(int type)
{
	switch (type) {
	case BP_DT_U8: return "uint8";
	case BP_DT_I8: return "int8";
	case BP_DT_I16: return "int16";
	case BP_DT_I32: return "int32";
	case BP_DT_F32: return "float32";
	case BP_DT_F64: return "float64";
	default: return "?";
	}
}

struct gzFile_s *bp_gz_open(const char *path, struct bp_err *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return bp_fail(err, BP_ERR_DATA, path, "cannot open data file: %s", strerror(errno)), NULL;
	if (S_ISDIR(st.st_mode))
		return bp_fail(err, BP_ERR_DATA, path, "is a folder, not a data file"), NULL;
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return bp_fail(err, BP_ERR_DATA, path, "is not a regular file"), NULL;
	errno = 0;
	gzFile f = gzopen(path, "rb");
	if (!f) {
		if (errno)
			return bp_fail(err, BP_ERR_DATA, path, "cannot open data file: %s", strerror(errno)), NULL;
		return bp_fail_oom(err, "a zlib stream", GZ_BUFFER), NULL;
	}
	gzbuffer(f, GZ_BUFFER);
	return f;
}

static int gz_fail(gzFile f, const char *path, struct bp_err *err)
{
	int code = Z_OK;
	const char *msg = gzerror(f, &code);
	if (code == Z_ERRNO)
		return bp_fail(err, BP_ERR_DATA, path, "cannot read data file: %s", strerror(errno));
	if (code == Z_BUF_ERROR)
		return bp_fail(err, BP_ERR_DATA, path, "truncated gzip data (unexpected end of file)");
	if (code == Z_MEM_ERROR)
		return bp_fail(err, BP_ERR_RUNTIME, path, "out of memory in zlib");
	return bp_fail(err, BP_ERR_DATA, path, "corrupt gzip data: %s", msg && *msg ? msg : "unknown error");
}

long long bp_gz_read(struct gzFile_s *f, void *buf, size_t len, const char *path, struct bp_err *err)
{
	size_t got = 0;
	while (got < len) {
		size_t want = len - got < MAX_GZREAD ? len - got : MAX_GZREAD;
		int n = gzread(f, (char *)buf + got, (unsigned)want);
		if (n < 0)
			return gz_fail(f, path, err);
		got += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	if (got < len) {
		int code = Z_OK;
		gzerror(f, &code);
		if (code != Z_OK)
			return gz_fail(f, path, err);
	}
	return (long long)got;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Big-endian elements to native order, in place. */
static void swap_elements(void *data, size_t n, size_t size)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	(void)data, (void)n, (void)size;
	return;
#endif
	if (size == 2) {
		uint16_t *p = data;
		for (size_t i = 0; i < n; i++)
			p[i] = __builtin_bswap16(p[i]);
	} else if (size == 4) {
		uint32_t *p = data;
		for (size_t i = 0; i < n; i++)
			p[i] = __builtin_bswap32(p[i]);
	} else if (size == 8) {
		uint64_t *p = data;
		for (size_t i = 0; i < n; i++)
			p[i] = __builtin_bswap64(p[i]);
	}
}

static int read_header(struct bp_idx *idx, gzFile f, const char *path, uint64_t *bytes, struct bp_err *err)
{
	unsigned char head[4 + 4 * BP_IDX_MAX_RANK];
	long long n = bp_gz_read(f, head, 4, path, err);
	if (n < 0)
		return -1;
	if (n == 0)
		return bp_fail(err, BP_ERR_DATA, path, "empty file, expected an IDX header");
	if (n < 4)
		return bp_fail(err, BP_ERR_DATA, path, "short IDX header: %lld of 4 magic bytes", n);
	if (head[0] != 0 || head[1] != 0)
		return bp_fail(err, BP_ERR_DATA, path,
		               "not an IDX file: bad magic %02x %02x %02x %02x (expected 00 00 TYPE RANK)",
		               head[0], head[1], head[2], head[3]);
	size_t esize = bp_dtype_size(head[2]);
	if (!esize)
		return bp_fail(err, BP_ERR_DATA, path,
		               "unknown IDX element type 0x%02x (expected 08, 09, 0b, 0c, 0d or 0e)", head[2]);
	int rank = head[3];
	if (rank < 1 || rank > BP_IDX_MAX_RANK)
		return bp_fail(err, BP_ERR_DATA, path, "unsupported IDX rank %d (expected 1 to %d)",
		               rank, BP_IDX_MAX_RANK);
	n = bp_gz_read(f, head + 4, 4 * (size_t)rank, path, err);
	if (n < 0)
		return -1;
	if (n < 4 * rank)
		return bp_fail(err, BP_ERR_DATA, path, "short IDX header: %d dimensions announced, file ends after %lld bytes",
		               rank, 4 + n);
	idx->type = head[2];
	idx->rank = rank;
	uint64_t item = 1;
	for (int i = 0; i < rank; i++) {
		idx->dims[i] = be32(head + 4 + 4 * i);
		if (i > 0)
			item *= idx->dims[i];
		if (item > BP_IDX_MAX_BYTES)
			break;
	}
	uint64_t total = (uint64_t)idx->dims[0] * item;
	if (item > BP_IDX_MAX_BYTES || (item && total / item != idx->dims[0]) || total > BP_IDX_MAX_BYTES / esize)
		return bp_fail(err, BP_ERR_DATA, path, "IDX header claims more than %llu GiB of data",
		               (unsigned long long)(BP_IDX_MAX_BYTES >> 30));
	idx->count = idx->dims[0];
	idx->item = (size_t)item;
	*bytes = total * esize;
	return 0;
}

/* Plain files: compare the claim with the file size before allocating;
 * *sized tells whether that was possible. */
static int check_plain_size(gzFile f, const char *path, uint64_t bytes, bool *sized, struct bp_err *err)
{
	struct stat st;
	*sized = false;
	if (!gzdirect(f) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	*sized = true;
	uint64_t avail = (uint64_t)st.st_size - (uint64_t)gztell(f);
	if ((uint64_t)st.st_size < (uint64_t)gztell(f) || avail < bytes)
		return bp_fail(err, BP_ERR_DATA, path,
		               "IDX header claims %llu bytes of data but the file holds %llu",
		               (unsigned long long)bytes, (unsigned long long)avail);
	return 0;
}

int bp_idx_read(struct bp_idx *idx, const char *path, struct bp_err *err)
{
	memset(idx, 0, sizeof *idx);
	gzFile f = bp_gz_open(path, err);
	if (!f)
		return -1;
	uint64_t bytes = 0;
	unsigned char *buf = NULL;
	bool sized = false;
	if (read_header(idx, f, path, &bytes, err) || check_plain_size(f, path, bytes, &sized, err))
		goto fail;
	/* Grow as the data arrives: never reserve what has not been read. */
	size_t cap = 0, got = 0;
	while (got < bytes) {
		size_t next = cap ? 2 * cap : FIRST_CHUNK;
		if (sized)
			next = (size_t)bytes;  /* already checked against the file size */
		if (next > bytes)
			next = (size_t)bytes;
		unsigned char *nb = realloc(buf, next);
		if (!nb) {
			bp_fail_oom(err, "IDX data", next);
			goto fail;
		}
		buf = nb;
		bp_prefault(buf, cap, next);
		cap = next;
		long long n = bp_gz_read(f, buf + got, cap - got, path, err);
		if (n < 0)
			goto fail;
		got += (size_t)n;
		if (got < cap) {
			bp_fail(err, BP_ERR_DATA, path,
			        "IDX header claims %llu bytes of data but the file holds %zu",
			        (unsigned long long)bytes, got);
			goto fail;
		}
	}
	unsigned char extra;
	long long more = bp_gz_read(f, &extra, 1, path, err);
	if (more < 0)
		goto fail;
	if (more > 0) {
		bp_fail(err, BP_ERR_DATA, path, "IDX file holds more data than its header's %llu bytes",
		        (unsigned long long)bytes);
		goto fail;
	}
	gzclose(f);
	swap_elements(buf, (size_t)bytes / bp_dtype_size(idx->type), bp_dtype_size(idx->type));
	idx->data = buf;
	return 0;
fail:
	free(buf);
	gzclose(f);
	memset(idx, 0, sizeof *idx);
	return -1;
}

void bp_idx_release(struct bp_idx *idx)
{
	if (!idx)
		return;
	free(idx->data);
	memset(idx, 0, sizeof *idx);
}

static int write_fail(gzFile f, const char *path, const char *what, struct bp_err *err)
{
	int code = Z_OK;
	const char *msg = f ? gzerror(f, &code) : "";
	if (code == Z_ERRNO || !f)
		bp_fail(err, BP_ERR_RUNTIME, path, "cannot %s: %s", what, strerror(errno));
	else
		bp_fail(err, BP_ERR_RUNTIME, path, "cannot %s: %s", what, msg);
	if (f)
		gzclose(f);
	unlink(path);
	return -1;
}

int bp_idx_write(const char *path, bool gz, enum bp_dtype type, int rank, const uint32_t *dims,
                 const void *data, struct bp_err *err)
{
	size_t esize = bp_dtype_size(type);
	BP_BUG(!esize || rank < 1 || rank > BP_IDX_MAX_RANK);
	unsigned char head[4 + 4 * BP_IDX_MAX_RANK] = { 0, 0, (unsigned char)type, (unsigned char)rank };
	size_t n = 1;
	for (int i = 0; i < rank; i++) {
		head[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
		head[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
		head[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
		head[7 + 4 * i] = (unsigned char)dims[i];
		n *= dims[i];
	}
	errno = 0;
	gzFile f = gzopen(path, gz ? "wb6" : "wbT");
	if (!f)
		return write_fail(NULL, path, "create IDX file", err);
	if (gzwrite(f, head, (unsigned)(4 + 4 * rank)) != (int)(4 + 4 * rank))
		return write_fail(f, path, "write IDX header", err);
	unsigned char chunk[1 << 14];
	const unsigned char *src = data;
	size_t per = sizeof chunk / esize, done = 0;
	while (done < n) {
		size_t k = n - done < per ? n - done : per;
		memcpy(chunk, src + done * esize, k * esize);
		swap_elements(chunk, k, esize);  /* native → big-endian (little-endian hosts) */
		if (gzwrite(f, chunk, (unsigned)(k * esize)) != (int)(k * esize))
			return write_fail(f, path, "write IDX data", err);
		done += k;
	}
	if (gzclose(f) != Z_OK) {
		bp_fail(err, BP_ERR_RUNTIME, path, "cannot close IDX file: %s", strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}
