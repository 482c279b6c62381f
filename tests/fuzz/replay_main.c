/* SPDX-License-Identifier: MIT */
/*
 * Replays a libFuzzer target over every file of a corpus directory without libFuzzer, so that
 * the gcc and sanitizer builds run each target's corpus as a test. One TAP line per file.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (!d) {
		printf("1..0 # SKIP no corpus at %s\n", argv[1]);
		return 77;
	}
	char *names[4096];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 4096)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp);
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		FILE *f = fopen(path, "rb");
		if (!f) {
			printf("not ok %d - %s (cannot open)\n", i + 1, names[i]);
			continue;
		}
		uint8_t *buf = malloc(1 << 22);
		size_t len = buf ? fread(buf, 1, 1 << 22, f) : 0;
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);  /* a violated property aborts the process */
		free(buf);
		printf("ok %d - %s\n", i + 1, names[i]);
		free(names[i]);
	}
	printf("1..%d\n", n);
	return 0;
}
