/* SPDX-License-Identifier: MIT */
/*
 * wf_fn: the function runtime (see wf_fn.h for the contract). Built-ins run on the owner's
 * thread; programs run on worker threads, each of which forks, execs without a shell and waits
 * on the child through a pidfd while it feeds stdin and drains stdout and stderr, so a program
 * that hangs, floods or dies costs one worker and never the owner. Finished calls go on a done
 * list under a mutex; the owner delivers them in wf_fn_runtime_poll().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wf_fn.h"

#define FN_MAX_BUILTINS 32
#define FN_MAX_WORKERS 64
/* A call's own log kept in memory: enough for Lambda's 4 KB LogResult tail with room. */
#define FN_LOG_KEEP (64u * 1024u)
/* A program's stderr beyond this per call is counted, not kept. */
#define FN_STDERR_MAX (256u * 1024u)
#define FN_NOFILE 1024u
#define FN_DEPTH_MAX 64

struct fn_builtin {
	char name[64];
	wf_fn_builtin_fn fn;
	void *arg;
};

/* Owned copy of a wf_fn_def. */
struct fn_def_copy {
	struct wf_fn_def d;
	char **env;
	char *strs[6];
};

struct wf_fn_call {
	struct wf_fn_call *next;
	struct wf_fn_runtime *rt;
	struct fn_def_copy def;
	char *payload;
	size_t len;
	wf_fn_done_fn done;
	void *arg;
	char request_id[37];
	struct timespec started;
	bool completed;
	/* the outcome */
	bool ok;
	char *text;
	size_t text_len;
	char *log;          /* this call's log, tail of at most FN_LOG_KEEP bytes */
	size_t log_len;
	uint64_t duration_us;
	uint64_t max_rss_kb;
};

struct wf_fn_runtime {
	struct wf_fn_config cfg;
	struct fn_builtin builtins[FN_MAX_BUILTINS];
	unsigned n_builtins;
	unsigned pending;        /* owner's count: invoked, not delivered */

	pthread_mutex_t mu;      /* guards everything below */
	pthread_cond_t cv;
	struct wf_fn_call *q_head, *q_tail;   /* waiting for a worker */
	unsigned q_len;
	struct wf_fn_call *d_head, *d_tail;   /* finished, not delivered */
	pid_t running[FN_MAX_WORKERS];        /* process group per worker, 0 when idle */
	bool stop;
	pthread_mutex_t log_mu;  /* function log files: append and rotate */
	pthread_t threads[FN_MAX_WORKERS];
	unsigned n_threads;
};

/* ---- small helpers --------------------------------------------------------------------------- */

static void random_uuid(char out[37])
{
	uint8_t b[16];
	FILE *f = NULL;
	size_t got = 0;
	/* getrandom through the libc wrapper where present; /dev/urandom otherwise. */
	if (syscall(SYS_getrandom, b, sizeof(b), 0) == (long)sizeof(b))
		got = sizeof(b);
	if (got != sizeof(b) && (f = fopen("/dev/urandom", "rb"))) {
		got = fread(b, 1, sizeof(b), f);
		fclose(f);
	}
	if (got != sizeof(b)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)getpid();
		for (int i = 0; i < 16; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			b[i] = (uint8_t)(x >> 56);
		}
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static uint64_t elapsed_us(const struct timespec *from)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t us = (int64_t)(now.tv_sec - from->tv_sec) * 1000000 +
		     (now.tv_nsec - from->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

/* A growable byte buffer; bounded ones keep their tail (keep_tail) or stop (!keep_tail). */
struct buf {
	char *p;
	size_t len, cap, max;
	size_t dropped;
	bool keep_tail;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->max && b->len + n > b->max) {
		if (!b->keep_tail) {
			size_t room = b->max - b->len;
			b->dropped += n - room;
			n = room;
		} else if (n >= b->max) {
			b->dropped += b->len + n - b->max;
			s += n - b->max;
			n = b->max;
			b->len = 0;
		} else {
			size_t cut = b->len + n - b->max;
			memmove(b->p, b->p + cut, b->len - cut);
			b->len -= cut;
			b->dropped += cut;
		}
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

json_t *wf_fn_error(const char *type, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:s, s:s}", "errorType", type, "errorMessage", msg);
}

/* ---- definitions ----------------------------------------------------------------------------- */

static void def_free(struct fn_def_copy *c)
{
	for (size_t i = 0; i < sizeof(c->strs) / sizeof(c->strs[0]); i++)
		free(c->strs[i]);
	if (c->env)
		for (char **e = c->env; *e; e++)
			free(*e);
	free(c->env);
	memset(c, 0, sizeof(*c));
}

static int dup_opt(const char *s, char **slot, const char **out)
{
	if (!s) {
		*out = NULL;
		return 0;
	}
	*slot = strdup(s);
	if (!*slot)
		return -ENOMEM;
	*out = *slot;
	return 0;
}

static int def_copy(const struct wf_fn_def *in, struct fn_def_copy *c)
{
	memset(c, 0, sizeof(*c));
	c->d.kind = in->kind;
	c->d.timeout_s = in->timeout_s ? in->timeout_s : 3;
	c->d.memory_mb = in->memory_mb ? in->memory_mb : WF_FN_MEMORY_MIN_MB;
	if (dup_opt(in->name ? in->name : "function", &c->strs[0], &c->d.name) < 0 ||
	    dup_opt(in->handler, &c->strs[1], &c->d.handler) < 0 ||
	    dup_opt(in->task_root, &c->strs[2], &c->d.task_root) < 0 ||
	    dup_opt(in->log_path, &c->strs[3], &c->d.log_path) < 0 ||
	    dup_opt(in->version ? in->version : "$LATEST", &c->strs[4], &c->d.version) < 0 ||
	    dup_opt(in->region ? in->region : "us-east-1", &c->strs[5], &c->d.region) < 0)
		goto nomem;
	size_t n = 0;
	while (in->env && in->env[n])
		n++;
	c->env = calloc(n + 1, sizeof(char *));
	if (!c->env)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		if (!(c->env[i] = strdup(in->env[i])))
			goto nomem;
	c->d.env = (const char *const *)c->env;
	return 0;
nomem:
	def_free(c);
	return -ENOMEM;
}

/* ---- logs ------------------------------------------------------------------------------------ */

static void log_append(struct wf_fn_runtime *rt, const char *path, const char *s, size_t n)
{
	if (!path || !n)
		return;
	pthread_mutex_lock(&rt->log_mu);
	struct stat st;
	if (stat(path, &st) == 0 && (size_t)st.st_size + n > rt->cfg.log_max_bytes) {
		/* One rotated copy: the file never holds more than the bound, two at most on disk. */
		char old[4096];
		if ((size_t)snprintf(old, sizeof(old), "%s.1", path) < sizeof(old))
			rename(path, old);
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd >= 0) {
		if (n > rt->cfg.log_max_bytes) {
			s += n - rt->cfg.log_max_bytes;
			n = rt->cfg.log_max_bytes;
		}
		while (n) {
			ssize_t w = write(fd, s, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			s += w;
			n -= (size_t)w;
		}
		close(fd);
	}
	pthread_mutex_unlock(&rt->log_mu);
}

static void call_log_add(struct wf_fn_call *call, const char *s, size_t n)
{
	struct buf b = { call->log, call->log_len, call->log ? call->log_len + 1 : 0, FN_LOG_KEEP,
			 0, true };
	if (buf_add(&b, s, n) == 0) {
		call->log = b.p;
		call->log_len = b.len;
	}
}

void wf_fn_call_log(struct wf_fn_call *call, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
	line[len++] = '\n';
	call_log_add(call, line, len);
}

const char *wf_fn_call_id(const struct wf_fn_call *call)
{
	return call->request_id;
}

/* ---- completion ------------------------------------------------------------------------------ */

static void call_free(struct wf_fn_call *call)
{
	if (!call)
		return;
	def_free(&call->def);
	free(call->payload);
	free(call->text);
	free(call->log);
	free(call);
}

/* Lambda's closing lines, then the call goes on the done list. */
static void finish(struct wf_fn_call *call)
{
	struct wf_fn_runtime *rt = call->rt;
	call->duration_us = elapsed_us(&call->started);
	if (!call->ok && call->text) {
		/* Lambda logs the unhandled error too. */
		call_log_add(call, call->text, call->text_len);
		call_log_add(call, "\n", 1);
	}
	char tail[512];
	double ms = (double)call->duration_us / 1000.0;
	int n = snprintf(tail, sizeof(tail), "END RequestId: %s\nREPORT RequestId: %s\tDuration: "
			 "%.2f ms\tBilled Duration: %" PRIu64 " ms\tMemory Size: %u MB\tMax "
			 "Memory Used: %" PRIu64 " MB\t\n", call->request_id, call->request_id, ms,
			 (call->duration_us + 999) / 1000, call->def.d.memory_mb,
			 (call->max_rss_kb + 1023) / 1024);
	if (n > 0)
		call_log_add(call, tail, (size_t)n < sizeof(tail) ? (size_t)n : sizeof(tail) - 1);
	log_append(rt, call->def.d.log_path, call->log, call->log_len);
	pthread_mutex_lock(&rt->mu);
	call->next = NULL;
	if (rt->d_tail)
		rt->d_tail->next = call;
	else
		rt->d_head = call;
	rt->d_tail = call;
	pthread_mutex_unlock(&rt->mu);
	if (rt->cfg.wake)
		rt->cfg.wake(rt->cfg.wake_arg);
}

static void set_outcome_json(struct wf_fn_call *call, bool ok, json_t *v)
{
	free(call->text);
	call->text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(v);
	if (!call->text) {
		ok = false;
		call->text = strdup("{\"errorType\":\"Runtime.Unknown\",\"errorMessage\":\"out of "
				    "memory\"}");
	}
	call->ok = ok;
	call->text_len = call->text ? strlen(call->text) : 0;
}

void wf_fn_complete(struct wf_fn_call *call, bool ok, const char *text, size_t len)
{
	if (call->completed)
		return;
	call->completed = true;
	free(call->text);
	call->text = malloc(len + 1);
	if (call->text) {
		memcpy(call->text, text, len);
		call->text[len] = '\0';
		call->text_len = len;
		call->ok = ok;
	} else {
		set_outcome_json(call, false, NULL);
	}
	finish(call);
}

void wf_fn_complete_json(struct wf_fn_call *call, bool ok, json_t *v)
{
	if (call->completed) {
		json_decref(v);
		return;
	}
	call->completed = true;
	set_outcome_json(call, ok, v);
	finish(call);
}

/* ---- programs -------------------------------------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The environment: the function's Variables, then Lambda's own (which win; the API refuses
 * Variables that use their names). */
static char **build_env(const struct wf_fn_def *d)
{
	static const char *const fixed[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
					     "TZ=:UTC" };
	char std[8][512];
	int k = 0;
	snprintf(std[k++], sizeof(std[0]), "AWS_LAMBDA_FUNCTION_NAME=%s", d->name);
	snprintf(std[k++], sizeof(std[0]), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%u", d->memory_mb);
	snprintf(std[k++], sizeof(std[0]), "AWS_LAMBDA_FUNCTION_VERSION=%s", d->version);
	snprintf(std[k++], sizeof(std[0]), "AWS_REGION=%s", d->region);
	snprintf(std[k++], sizeof(std[0]), "AWS_DEFAULT_REGION=%s", d->region);
	snprintf(std[k++], sizeof(std[0]), "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", d->name);
	snprintf(std[k++], sizeof(std[0]), "_HANDLER=%s", d->handler);
	snprintf(std[k++], sizeof(std[0]), "LAMBDA_TASK_ROOT=%s", d->task_root ? d->task_root : "/");
	size_t nu = 0;
	while (d->env && d->env[nu])
		nu++;
	size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	char **env = calloc(nu + nf + (size_t)k + 1, sizeof(char *));
	if (!env)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < nu; i++) {
		const char *eq = strchr(d->env[i], '=');
		if (!eq)
			continue;
		bool reserved = false;
		for (int j = 0; j < k && !reserved; j++)
			reserved = strncmp(std[j], d->env[i], (size_t)(eq - d->env[i]) + 1) == 0;
		if (!reserved && !(env[n++] = strdup(d->env[i])))
			goto nomem;
	}
	for (size_t i = 0; i < nf; i++) {
		bool set = false;
		for (size_t j = 0; j < n && !set; j++)
			set = strncmp(env[j], fixed[i], (size_t)(strchr(fixed[i], '=') - fixed[i]) + 1)
			      == 0;
		if (!set && !(env[n++] = strdup(fixed[i])))
			goto nomem;
	}
	for (int j = 0; j < k; j++)
		if (!(env[n++] = strdup(std[j])))
			goto nomem;
	return env;
nomem:
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(env);
	return NULL;
}

static void free_env(char **env)
{
	if (!env)
		return;
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

/* In the child, between fork and execve: async-signal-safe calls only. */
static __attribute__((noreturn)) void child_exec(const struct wf_fn_def *d, char *const argv[],
						 char *const envp[], int in, int out, int err,
						 int report)
{
	setpgid(0, 0);
	/* No set-uid gains through exec, and the program dies with the worker that started it
	 * (the daemon going away takes its functions along). */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	if (chdir(d->task_root ? d->task_root : "/") < 0)
		goto fail;
	uint64_t mem = (uint64_t)d->memory_mb * 1024 * 1024;
	struct rlimit as = { mem, mem };
	struct rlimit cpu = { d->timeout_s + 1, d->timeout_s + 1 };
	struct rlimit nofile = { FN_NOFILE, FN_NOFILE };
	struct rlimit core = { 0, 0 };
	if (setrlimit(RLIMIT_AS, &as) < 0 || setrlimit(RLIMIT_CPU, &cpu) < 0 ||
	    setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
		goto fail;
	/* Every descriptor of the daemon but the report pipe (close-on-exec) goes. */
	if (report > 3) {
		syscall(SYS_close_range, 3u, (unsigned)report - 1, 0u);
		syscall(SYS_close_range, (unsigned)report + 1, ~0u, 0u);
	} else {
		syscall(SYS_close_range, 4u, ~0u, 0u);
	}
	execve(argv[0], argv, envp);
fail:;
	int e = errno;
	ssize_t w = write(report, &e, sizeof(e));
	(void)w;
	_exit(127);
}

static const char *signal_word(int sig)
{
	/* As Go's os/exec prints them, which is what Lambda's messages show. */
	switch (sig) {
	case SIGKILL: return "killed";
	case SIGSEGV: return "segmentation fault";
	case SIGABRT: return "aborted";
	case SIGTERM: return "terminated";
	case SIGXCPU: return "CPU time limit exceeded";
	case SIGBUS: return "bus error";
	case SIGFPE: return "floating point exception";
	case SIGILL: return "illegal instruction";
	case SIGPIPE: return "broken pipe";
	default: return "unknown signal";
	}
}

static void worker_set_running(struct wf_fn_runtime *rt, unsigned w, pid_t pid)
{
	pthread_mutex_lock(&rt->mu);
	rt->running[w] = pid;
	pthread_mutex_unlock(&rt->mu);
}

/* Decide the outcome from the exit status and what the program printed. */
static void program_outcome(struct wf_fn_call *call, int status, bool timed_out,
			    const struct buf *out)
{
	const struct wf_fn_def *d = &call->def.d;
	if (timed_out) {
		set_outcome_json(call, false, wf_fn_error("Sandbox.Timedout", "RequestId: %s Error: "
							  "Task timed out after %u.00 seconds",
							  call->request_id, d->timeout_s));
		return;
	}
	if (out->dropped) {
		set_outcome_json(call, false, wf_fn_error("Function.ResponseSizeTooLarge",
							  "Response payload size exceeded maximum "
							  "allowed payload size (%u bytes).",
							  WF_FN_RESPONSE_MAX));
		return;
	}
	json_error_t je;
	json_t *v = out->len ? json_loadb(out->p, out->len, JSON_DECODE_ANY, &je) : NULL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (!out->len) {
			set_outcome_json(call, true, json_null());
			return;
		}
		if (!v) {
			set_outcome_json(call, false, wf_fn_error("Runtime.MarshalError", "Unable to "
								  "marshal response: the output "
								  "is not JSON (%s at position %d)",
								  je.text, je.position));
			return;
		}
		json_decref(v);
		/* The program's text is the result as it printed it. */
		free(call->text);
		call->text = malloc(out->len + 1);
		if (!call->text) {
			set_outcome_json(call, false, NULL);
			return;
		}
		memcpy(call->text, out->p, out->len + 1);
		call->text_len = out->len;
		call->ok = true;
		return;
	}
	if (v && json_is_object(v) && json_is_string(json_object_get(v, "errorType"))) {
		set_outcome_json(call, false, v);
		return;
	}
	json_decref(v);
	char why[64];
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "signal: %s", signal_word(WTERMSIG(status)));
	else
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
	set_outcome_json(call, false, wf_fn_error("Runtime.ExitError", "RequestId: %s Error: "
						  "Runtime exited with error: %s",
						  call->request_id, why));
}

static void run_program(struct wf_fn_runtime *rt, unsigned w, struct wf_fn_call *call)
{
	const struct wf_fn_def *d = &call->def.d;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int pidfd = -1;
	char **envp = build_env(d);
	char *argv[2] = { (char *)d->handler, NULL };
	struct buf ob = { .max = WF_FN_RESPONSE_MAX };
	struct buf eb = { .max = FN_STDERR_MAX };
	if (!envp || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		set_outcome_json(call, false, wf_fn_error("Runtime.Unknown", "RequestId: %s Error: "
							  "cannot set up the runtime: %s",
							  call->request_id, strerror(errno)));
		goto out;
	}
	pid_t pid = fork();
	if (pid < 0) {
		set_outcome_json(call, false, wf_fn_error("Runtime.Unknown", "RequestId: %s Error: "
							  "fork: %s", call->request_id,
							  strerror(errno)));
		goto out;
	}
	if (pid == 0)
		child_exec(d, argv, envp, in[0], out[1], err[1], rep[1]);
	setpgid(pid, pid);  /* also here, so the group exists before anyone signals it */
	worker_set_running(rt, w, pid);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&rep[1]);
	int exec_errno = 0;
	ssize_t rn;
	while ((rn = read(rep[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
		;
	if (rn != (ssize_t)sizeof(exec_errno))
		exec_errno = 0;  /* EOF: execve succeeded */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	set_nonblock(in[1]);
	set_nonblock(out[0]);
	set_nonblock(err[0]);

	const char *payload = call->payload;
	size_t left = call->len;
	if (!left) {
		payload = "{}";
		left = 2;
	}
	if (exec_errno)
		close_fd(&in[1]);
	bool exited = false, timed_out = false;
	uint64_t limit_us = (uint64_t)d->timeout_s * 1000000;
	while (out[0] >= 0 || err[0] >= 0 || !exited) {
		uint64_t el = elapsed_us(&call->started);
		if (el >= limit_us && !exited) {
			timed_out = true;
			kill(-pid, SIGKILL);
			break;
		}
		if (exited) {
			/* Whatever still holds the pipes is a leftover of the group: gone with it. */
			kill(-pid, SIGKILL);
		}
		struct pollfd p[4];
		int np = 0, i_in = -1, i_out = -1, i_err = -1, i_pid = -1;
		if (in[1] >= 0) {
			i_in = np;
			p[np++] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
		}
		if (out[0] >= 0) {
			i_out = np;
			p[np++] = (struct pollfd){ .fd = out[0], .events = POLLIN };
		}
		if (err[0] >= 0) {
			i_err = np;
			p[np++] = (struct pollfd){ .fd = err[0], .events = POLLIN };
		}
		if (!exited && pidfd >= 0) {
			i_pid = np;
			p[np++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		}
		int wait_ms = (int)((limit_us - (el < limit_us ? el : limit_us)) / 1000) + 1;
		if (pidfd < 0 && wait_ms > 50)
			wait_ms = 50;  /* no pidfd: look at the child now and then */
		int pr = poll(p, (nfds_t)np, exited ? 1000 : wait_ms);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr == 0 && exited)
			break;  /* a leftover that survived SIGKILL cannot hold us */
		if (i_in >= 0 && p[i_in].revents) {
			ssize_t wr = write(in[1], payload, left);
			if (wr > 0) {
				payload += wr;
				left -= (size_t)wr;
			}
			if ((wr < 0 && errno != EAGAIN && errno != EINTR) || !left ||
			    (p[i_in].revents & (POLLERR | POLLHUP)))
				close_fd(&in[1]);
		}
		char chunk[16384];
		if (i_out >= 0 && p[i_out].revents) {
			ssize_t r = read(out[0], chunk, sizeof(chunk));
			if (r > 0 && buf_add(&ob, chunk, (size_t)r) < 0)
				ob.dropped += (size_t)r;
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				close_fd(&out[0]);
			if (ob.dropped && !exited) {
				kill(-pid, SIGKILL);  /* the answer cannot be delivered: stop now */
			}
		}
		if (i_err >= 0 && p[i_err].revents) {
			ssize_t r = read(err[0], chunk, sizeof(chunk));
			if (r > 0)
				buf_add(&eb, chunk, (size_t)r);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				close_fd(&err[0]);
		}
		if (i_pid >= 0 && p[i_pid].revents)
			exited = true;
		if (pidfd < 0 && !exited) {
			siginfo_t si = { 0 };
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid)
				exited = true;
		}
	}
	int status = 0;
	struct rusage ru = { 0 };
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL);  /* leftovers of the group never outlive the call */
	worker_set_running(rt, w, 0);
	call->max_rss_kb = (uint64_t)ru.ru_maxrss;
	if (eb.len) {
		call_log_add(call, eb.p, eb.len);
		if (eb.p[eb.len - 1] != '\n')
			call_log_add(call, "\n", 1);
	}
	if (eb.dropped) {
		char note[96];
		int n = snprintf(note, sizeof(note), "[%zu bytes of stderr not kept]\n", eb.dropped);
		call_log_add(call, note, (size_t)n);
	}
	if (exec_errno) {
		char note[600];
		int n = snprintf(note, sizeof(note), "fork/exec %s: %s\n", d->handler,
				 strerror(exec_errno));
		call_log_add(call, note, (size_t)n);
		set_outcome_json(call, false, wf_fn_error("Runtime.InvalidEntrypoint", "RequestId: "
							  "%s Error: fork/exec %s: %s",
							  call->request_id, d->handler,
							  strerror(exec_errno)));
	} else {
		program_outcome(call, status, timed_out, &ob);
	}
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	close_fd(&pidfd);
	free(ob.p);
	free(eb.p);
	free_env(envp);
	call->completed = true;
	finish(call);
}

struct worker_arg {
	struct wf_fn_runtime *rt;
	unsigned index;
};

static void *worker_main(void *p)
{
	struct worker_arg wa = *(struct worker_arg *)p;
	free(p);
	struct wf_fn_runtime *rt = wa.rt;
	/* A program that closes stdin early makes our write fail with EPIPE, not kill us. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		pthread_mutex_lock(&rt->mu);
		while (!rt->stop && !rt->q_head)
			pthread_cond_wait(&rt->cv, &rt->mu);
		if (rt->stop) {
			pthread_mutex_unlock(&rt->mu);
			return NULL;
		}
		struct wf_fn_call *call = rt->q_head;
		rt->q_head = call->next;
		if (!rt->q_head)
			rt->q_tail = NULL;
		rt->q_len--;
		pthread_mutex_unlock(&rt->mu);
		/* Lambda's START line, and the timeout counts from here, not from the queue. */
		clock_gettime(CLOCK_MONOTONIC, &call->started);
		run_program(rt, wa.index, call);
		/* A pending SIGPIPE from this call is consumed, not left for the next. */
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&set, NULL, &zero) > 0)
			;
	}
}

/* ---- the runtime ----------------------------------------------------------------------------- */

static void builtin_flatten(void *arg, const struct wf_fn_def *def, const char *payload,
			    size_t len, struct wf_fn_call *call)
{
	(void)arg;
	(void)def;
	json_error_t je;
	json_t *in = len ? json_loadb(payload, len, JSON_DECODE_ANY, &je) : json_object();
	if (!in) {
		wf_fn_complete_json(call, false, wf_fn_error("Runtime.MarshalError", "Unable to "
							     "unmarshal input: %s", je.text));
		return;
	}
	json_t *out = wf_fn_flatten(in);
	json_decref(in);
	if (!out) {
		wf_fn_complete_json(call, false, wf_fn_error("Runtime.Unknown", "the input nests "
							     "deeper than %d levels",
							     FN_DEPTH_MAX));
		return;
	}
	wf_fn_complete_json(call, true, out);
}

static void builtin_generate(void *arg, const struct wf_fn_def *def, const char *payload,
			     size_t len, struct wf_fn_call *call)
{
	(void)def;
	(void)payload;
	(void)len;
	uint64_t *seq = arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	wf_fn_complete_json(call, true, wf_fn_generate_record((*seq)++, (uint64_t)ts.tv_nsec));
}

int wf_fn_runtime_new(const struct wf_fn_config *cfg, struct wf_fn_runtime **ret)
{
	struct wf_fn_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->cfg = *cfg;
	if (!rt->cfg.workers)
		rt->cfg.workers = 4;
	if (!rt->cfg.queue_max)
		rt->cfg.queue_max = 1024;
	if (!rt->cfg.log_max_bytes)
		rt->cfg.log_max_bytes = 1u << 20;
	if (rt->cfg.workers > FN_MAX_WORKERS) {
		free(rt);
		return -EINVAL;
	}
	pthread_mutex_init(&rt->mu, NULL);
	pthread_mutex_init(&rt->log_mu, NULL);
	pthread_cond_init(&rt->cv, NULL);
	int r = 0;
	for (unsigned i = 0; i < rt->cfg.workers; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));
		if (!wa) {
			r = -ENOMEM;
			break;
		}
		*wa = (struct worker_arg){ rt, i };
		int e = pthread_create(&rt->threads[i], NULL, worker_main, wa);
		if (e) {
			free(wa);
			r = -e;
			break;
		}
		rt->n_threads++;
	}
	if (r == 0)
		r = wf_fn_builtin_register(rt, "flatten_json", builtin_flatten, NULL);
	if (r == 0) {
		uint64_t *seq = calloc(1, sizeof(*seq));
		r = seq ? wf_fn_builtin_register(rt, "generate_record", builtin_generate, seq)
			: -ENOMEM;
		if (r < 0)
			free(seq);
	}
	if (r < 0) {
		wf_fn_runtime_free(rt);
		return r;
	}
	*ret = rt;
	return 0;
}

void wf_fn_runtime_free(struct wf_fn_runtime *rt)
{
	if (!rt)
		return;
	pthread_mutex_lock(&rt->mu);
	rt->stop = true;
	for (unsigned i = 0; i < FN_MAX_WORKERS; i++)
		if (rt->running[i] > 0)
			kill(-rt->running[i], SIGKILL);
	pthread_cond_broadcast(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
	for (unsigned i = 0; i < rt->n_threads; i++)
		pthread_join(rt->threads[i], NULL);
	for (struct wf_fn_call *c = rt->q_head, *n; c; c = n) {
		n = c->next;
		call_free(c);
	}
	for (struct wf_fn_call *c = rt->d_head, *n; c; c = n) {
		n = c->next;
		call_free(c);
	}
	for (unsigned i = 0; i < rt->n_builtins; i++)
		if (rt->builtins[i].fn == builtin_generate)
			free(rt->builtins[i].arg);
	pthread_mutex_destroy(&rt->mu);
	pthread_mutex_destroy(&rt->log_mu);
	pthread_cond_destroy(&rt->cv);
	free(rt);
}

static const struct fn_builtin *find_builtin(const struct wf_fn_runtime *rt, const char *name)
{
	for (unsigned i = 0; name && i < rt->n_builtins; i++)
		if (strcmp(rt->builtins[i].name, name) == 0)
			return &rt->builtins[i];
	return NULL;
}

int wf_fn_builtin_register(struct wf_fn_runtime *rt, const char *name, wf_fn_builtin_fn fn,
			   void *arg)
{
	if (!name || !*name || strlen(name) >= sizeof(rt->builtins[0].name) || !fn)
		return -EINVAL;
	if (find_builtin(rt, name))
		return -EEXIST;
	if (rt->n_builtins == FN_MAX_BUILTINS)
		return -ENOSPC;
	struct fn_builtin *b = &rt->builtins[rt->n_builtins++];
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->fn = fn;
	b->arg = arg;
	return 0;
}

bool wf_fn_builtin_exists(const struct wf_fn_runtime *rt, const char *name)
{
	return find_builtin(rt, name) != NULL;
}

int wf_fn_invoke(struct wf_fn_runtime *rt, const struct wf_fn_def *def, const char *payload,
		 size_t len, wf_fn_done_fn done, void *arg)
{
	if (!def || !def->handler || !done)
		return -EINVAL;
	if (def->timeout_s > WF_FN_TIMEOUT_MAX_S ||
	    (def->memory_mb && (def->memory_mb < WF_FN_MEMORY_MIN_MB ||
				def->memory_mb > WF_FN_MEMORY_MAX_MB)))
		return -EINVAL;
	const struct fn_builtin *b = NULL;
	if (def->kind == WF_FN_BUILTIN) {
		if (!(b = find_builtin(rt, def->handler)))
			return -EINVAL;
	} else if (def->kind != WF_FN_PROGRAM || def->handler[0] != '/') {
		return -EINVAL;
	}
	if (!b) {
		pthread_mutex_lock(&rt->mu);
		bool full = rt->q_len >= rt->cfg.queue_max;
		pthread_mutex_unlock(&rt->mu);
		if (full)
			return -EAGAIN;
	}
	struct wf_fn_call *call = calloc(1, sizeof(*call));
	if (!call)
		return -ENOMEM;
	call->rt = rt;
	call->done = done;
	call->arg = arg;
	random_uuid(call->request_id);
	clock_gettime(CLOCK_MONOTONIC, &call->started);
	if (def_copy(def, &call->def) < 0)
		goto nomem;
	if (len) {
		if (!(call->payload = malloc(len + 1)))
			goto nomem;
		memcpy(call->payload, payload, len);
		call->payload[len] = '\0';
		call->len = len;
	}
	wf_fn_call_log(call, "START RequestId: %s Version: %s", call->request_id,
		       call->def.d.version);
	rt->pending++;
	if (b) {
		b->fn(b->arg, &call->def.d, call->payload ? call->payload : "", call->len, call);
		return 0;
	}
	pthread_mutex_lock(&rt->mu);
	call->next = NULL;
	if (rt->q_tail)
		rt->q_tail->next = call;
	else
		rt->q_head = call;
	rt->q_tail = call;
	rt->q_len++;
	pthread_cond_signal(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
	return 0;
nomem:
	call_free(call);
	return -ENOMEM;
}

int wf_fn_runtime_poll(struct wf_fn_runtime *rt)
{
	pthread_mutex_lock(&rt->mu);
	struct wf_fn_call *list = rt->d_head;
	rt->d_head = rt->d_tail = NULL;
	pthread_mutex_unlock(&rt->mu);
	int n = 0;
	while (list) {
		struct wf_fn_call *c = list;
		list = c->next;
		struct wf_fn_result r = {
			.ok = c->ok, .text = c->text ? c->text : "null", .len = c->text_len,
			.log = c->log ? c->log : "", .log_len = c->log_len,
			.request_id = c->request_id, .duration_us = c->duration_us,
		};
		rt->pending--;
		c->done(c->arg, &r);
		call_free(c);
		n++;
	}
	return n;
}

unsigned wf_fn_runtime_pending(const struct wf_fn_runtime *rt)
{
	return rt->pending;
}

/* ---- flatten_json and the record generator --------------------------------------------------- */

static int flatten_into(json_t *out, const char *prefix, const json_t *obj, int depth)
{
	if (depth > FN_DEPTH_MAX)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		char *key;
		if (prefix) {
			size_t n = strlen(prefix) + 1 + strlen(k) + 1;
			if (!(key = malloc(n)))
				return -1;
			snprintf(key, n, "%s_%s", prefix, k);
		} else if (!(key = strdup(k))) {
			return -1;
		}
		int r = 0;
		if (json_is_object(v))
			r = flatten_into(out, key, v, depth + 1);
		else
			r = json_object_set(out, key, v);
		free(key);
		if (r < 0)
			return -1;
	}
	return 0;
}

json_t *wf_fn_flatten(const json_t *v)
{
	if (json_is_object(v)) {
		json_t *out = json_object();
		if (!out || flatten_into(out, NULL, v, 0) < 0) {
			json_decref(out);
			return NULL;
		}
		return out;
	}
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *e;
		if (!out)
			return NULL;
		json_array_foreach((json_t *)v, i, e) {
			json_t *f = json_is_object(e) ? wf_fn_flatten(e) : json_incref(e);
			if (!f || json_array_append_new(out, f) < 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	return json_incref((json_t *)v);
}

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

json_t *wf_fn_generate_record(uint64_t seq, uint64_t seed)
{
	static const char *const names[] = { "alice", "bob", "carol", "dave", "erin", "frank" };
	static const char *const cities[] = { "Hanoi", "Berlin", "Lima", "Osaka", "Austin" };
	static const char *const kinds[] = { "click", "view", "purchase", "signup" };
	uint64_t s = seed ^ (seq * 0x9e3779b97f4a7c15ull);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char when[32];
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	uint64_t a = mix(&s), b = mix(&s), c = mix(&s), d = mix(&s);
	return json_pack("{s:I, s:s, s:{s:s, s:I, s:{s:s, s:s}}, s:{s:s, s:f, s:{s:s, s:b}}, "
			 "s:[s, s]}",
			 "id", (json_int_t)seq, "timestamp", when,
			 "user", "name", names[a % 6], "age", (json_int_t)(18 + b % 60),
			 "address", "city", cities[c % 5], "country", "VN",
			 "event", "type", kinds[d % 4], "value", (double)(a % 10000) / 100.0,
			 "device", "os", (b & 1) ? "linux" : "android", "mobile", (c & 1) != 0,
			 "tags", "generated", kinds[b % 4]);
}
