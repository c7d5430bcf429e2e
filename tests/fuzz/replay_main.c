/* main() for the regression replay (-DBP_FUZZ_REPLAY): feeds every file
 * named on the command line, and every file in every folder named there,
 * through the harness's LLVMFuzzerTestOneInput, as libFuzzer would replay
 * a corpus. A crash, a sanitizer report or a broken contract fails it. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	unsigned char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			fclose(f);
			fprintf(stderr, "replay: out of memory reading %s\n", path);
			return -1;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
		if (len == cap) {
			unsigned char *nb = realloc(buf, cap * 2);
			if (!nb)
				free(buf);
			buf = nb;
			cap *= 2;
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		fprintf(stderr, "replay: cannot read %s\n", path);
		return -1;
	}
	/* A copy of exactly len bytes, so ASan sees any read past the input. */
	unsigned char *in = malloc(len ? len : 1);
	if (!in) {
		free(buf);
		return -1;
	}
	memcpy(in, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(in, len);
	free(in);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	long files = 0;
	int failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed |= replay_file(argv[i]) != 0;
			files++;
			continue;
		}
		struct dirent **names;
		int n = scandir(argv[i], &names, NULL, NULL);
		if (n < 0) {
			fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], strerror(errno));
			failed = 1;
			continue;
		}
		qsort(names, (size_t)n, sizeof *names, by_name);
		for (int j = 0; j < n; j++) {
			if (names[j]->d_name[0] != '.' && strcmp(names[j]->d_name, "README") != 0) {
				size_t len = strlen(argv[i]) + strlen(names[j]->d_name) + 2;
				char *path = malloc(len);
				if (path) {
					snprintf(path, len, "%s/%s", argv[i], names[j]->d_name);
					struct stat fst;
					if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode)) {
						failed |= replay_file(path) != 0;
						files++;
					}
					free(path);
				}
			}
			free(names[j]);
		}
		free(names);
	}
	printf("replayed %ld inputs\n", files);
	return failed;
}
