/* Shared by the fuzz harnesses: the input as a file that the readers can
 * open by path (a memfd, so nothing touches the disk), optionally gzipped. */
#ifndef BP_FUZZ_UTIL_H
#define BP_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness-level failure: the reader broke its contract. */
#define FUZZ_CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

/* Every -1 must come with an error that says something. */
static inline void fuzz_check_err(const struct bp_err *err)
{
	FUZZ_CHECK(err->kind >= BP_ERR_RUNTIME && err->kind <= BP_ERR_DIVERGED);
	FUZZ_CHECK(err->msg[0] != '\0');
	FUZZ_CHECK(memchr(err->msg, '\0', sizeof err->msg) && memchr(err->where, '\0', sizeof err->where));
}

/* Replaces the memfd's contents with data; returns a path that opens it
 * ("/proc/self/fd/N"), or NULL when no memfd can be made. */
static inline const char *fuzz_file(const void *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("bptrain-fuzz", 0);
		if (fd < 0)
			return NULL;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0)
		return NULL;
	const unsigned char *p = data;
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite(fd, p + done, size - done, (off_t)done);
		if (n <= 0)
			return NULL;
		done += (size_t)n;
	}
	return path;
}

/* A gzip stream of data (malloc'd; *out_len its length), or NULL. */
static inline unsigned char *fuzz_gzip(const void *data, size_t size, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	uLong cap = deflateBound(&z, (uLong)size) + 32;
	unsigned char *out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)size;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

/* The file the readers see: data as is (mode 0), gzipped (1), or gzipped
 * and then cut short by cut bytes or with one byte flipped (2, 3). */
static inline const char *fuzz_file_mode(const uint8_t *data, size_t size, int mode, uint8_t cut)
{
	if (mode == 0)
		return fuzz_file(data, size);
	size_t glen = 0;
	unsigned char *gz = fuzz_gzip(data, size, &glen);
	if (!gz)
		return NULL;
	if (mode == 2)
		glen = (size_t)(cut % 32 + 1) < glen ? glen - (size_t)(cut % 32 + 1) : 0;
	else if (mode == 3 && glen)
		gz[(size_t)cut * 7919 % glen] ^= (unsigned char)(cut | 1);
	const char *path = fuzz_file(gz, glen);
	free(gz);
	return path;
}

#endif
