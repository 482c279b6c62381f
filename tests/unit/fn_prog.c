/* SPDX-License-Identifier: MIT */
/*
 * A function program for the runtime's tests: its behaviour is chosen by the function's
 * Variable MODE (argv carries nothing but the path, as the runtime promises).
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

static char *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *p = malloc(cap);
	ssize_t r;
	while (p && (r = read(0, p + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			p = realloc(p, cap *= 2);
	}
	*len = n;
	return p;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n - 1;  /* the directory's own descriptor */
}

int main(int argc, char **argv)
{
	const char *mode = getenv("MODE");
	if (!mode)
		mode = "echo";
	size_t len;
	char *in = read_stdin(&len);
	if (!strcmp(mode, "echo")) {
		fwrite(in, 1, len, stdout);
		return 0;
	}
	if (!strcmp(mode, "env")) {
		json_t *env = json_object();
		for (char **e = environ; *e; e++) {
			char *eq = strchr(*e, '=');
			if (!eq)
				continue;
			*eq = '\0';
			json_object_set_new(env, *e, json_string(eq + 1));
		}
		struct rlimit nf, as, cpu;
		getrlimit(RLIMIT_NOFILE, &nf);
		getrlimit(RLIMIT_AS, &as);
		getrlimit(RLIMIT_CPU, &cpu);
		char cwd[512];
		int nnp = -1;
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		while (f && fgets(line, sizeof(line), f))
			if (strncmp(line, "NoNewPrivs:", 11) == 0)
				nnp = atoi(line + 11);
		if (f)
			fclose(f);
		json_t *o = json_pack("{s:i, s:i, s:s, s:o, s:I, s:I, s:I, s:i, s:s}", "nnp", nnp,
				      "argc", argc,
				      "argv0", argv[0], "env", env, "nofile", (json_int_t)nf.rlim_cur,
				      "as", (json_int_t)as.rlim_cur, "cpu", (json_int_t)cpu.rlim_cur,
				      "fds", count_fds(), "cwd", getcwd(cwd, sizeof(cwd)) ? cwd : "");
		json_dumpf(o, stdout, JSON_COMPACT);
		return 0;
	}
	if (!strcmp(mode, "sleep")) {
		sleep(30);
		return 0;
	}
	if (!strcmp(mode, "alloc")) {
		/* Touch 512 MiB in 16 MiB steps: beyond a 128 MB function's address space. */
		/* Kept where the compiler cannot prove them unused (clang drops dead allocations). */
		static char *volatile keep[32];
		for (int i = 0; i < 32; i++) {
			char *p = keep[i] = malloc(16u << 20);
			if (!p) {
				fprintf(stderr, "allocation %d failed\n", i);
				return 12;
			}
			memset(p, 1, 16u << 20);
		}
		puts("{\"allocated\":true}");
		return 0;
	}
	if (!strcmp(mode, "stderr")) {
		fprintf(stderr, "a line on stderr\nanother\n");
		puts("{\"ok\":1}");
		return 0;
	}
	if (!strcmp(mode, "badjson")) {
		puts("not json {");
		return 0;
	}
	if (!strcmp(mode, "exit3"))
		return 3;
	if (!strcmp(mode, "errobj")) {
		puts("{\"errorType\":\"MyError\",\"errorMessage\":\"boom\",\"stackTrace\":[\"at x\"]}");
		return 1;
	}
	if (!strcmp(mode, "abort"))
		abort();
	if (!strcmp(mode, "stray")) {
		/* A child that keeps stdout open long after the program answered. */
		if (fork() == 0) {
			sleep(60);
			_exit(0);
		}
		puts("{\"stray\":true}");
		return 0;
	}
	if (!strcmp(mode, "big")) {
		for (int i = 0; i < 7 * 1024; i++)
			fputs("                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                "
			      "                                                                ",
			      stdout);
		return 0;
	}
	free(in);
	return 2;
}
