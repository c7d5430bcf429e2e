#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bp_write_atomic(const char *path, const void *data, size_t len, struct bp_err *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return bp_fail(err, BP_ERR_RUNTIME, path, "path too long");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return bp_fail(err, BP_ERR_RUNTIME, tmp, "cannot create file: %s", strerror(errno));
	const unsigned char *p = data;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			close(fd);
			unlink(tmp);
			return bp_fail(err, BP_ERR_RUNTIME, path, "cannot write: %s", strerror(e));
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return bp_fail(err, BP_ERR_RUNTIME, path, "cannot write: %s", strerror(e));
	}
	if (close(fd) != 0) {
		int e = errno;
		unlink(tmp);
		return bp_fail(err, BP_ERR_RUNTIME, path, "cannot write: %s", strerror(e));
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return bp_fail(err, BP_ERR_RUNTIME, path, "cannot replace file: %s", strerror(e));
	}
	return 0;
}

int bp_mkdirs(const char *path, struct bp_err *err)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return bp_fail(err, BP_ERR_RUNTIME, path, "bad folder name");
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		struct stat st;
		if (stat(buf, &st) != 0) {
			if (mkdir(buf, 0777) != 0 && errno != EEXIST)
				return bp_fail(err, BP_ERR_RUNTIME, buf, "cannot create folder: %s", strerror(errno));
		} else if (!S_ISDIR(st.st_mode)) {
			return bp_fail(err, BP_ERR_RUNTIME, buf, "cannot create folder: a file of that name exists");
		}
		buf[i] = c;
	}
	return 0;
}

int bp_path_join(char *buf, size_t size, const char *dir, const char *name, struct bp_err *err)
{
	if (snprintf(buf, size, "%s/%s", dir, name) >= (int)size)
		return bp_fail(err, BP_ERR_RUNTIME, dir, "path too long");
	return 0;
}

int bp_read_file(const char *path, char **out, size_t *len, enum bp_errkind kind, struct bp_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return bp_fail(err, kind, path, "cannot open: %s", strerror(errno));
	size_t cap = 4096, n = 0;
	char *p = malloc(cap);
	while (p) {
		n += fread(p + n, 1, cap - 1 - n, f);
		if (n < cap - 1)
			break;
		char *q = realloc(p, cap * 2);
		if (!q) {
			free(p);
			p = NULL;
			break;
		}
		p = q;
		cap *= 2;
	}
	int bad = ferror(f);
	fclose(f);
	if (!p)
		return bp_fail_oom(err, path, cap);
	if (bad) {
		free(p);
		return bp_fail(err, kind, path, "cannot read");
	}
	p[n] = '\0';
	*out = p;
	if (len)
		*len = n;
	return 0;
}
