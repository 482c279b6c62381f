/* SPDX-License-Identifier: MIT */
/*
 * ctl_http: see ctl_http.h. Both MHD daemons run in external epoll mode; their epoll descriptors
 * are gathered in one epoll set of ours so the event loop waits on a single fd.
 */
#include "ctl_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ctl_log.h"

struct ctl_http {
	struct ctl_http_config cfg;
	struct MHD_Daemon *api, *admin;
	int epfd;
	int admin_fd;
	char *admin_path;
	unsigned api_port;
};

struct ctl_http_req {
	struct ctl_http *h;
	struct MHD_Connection *conn;
	bool admin;
	bool routed, deferred, suspended, too_big, refused, replied;
	char *raw_uri;
	const char *method, *url;
	char *body;
	size_t len, cap;
	void *state;
	struct MHD_Response *resp;
	unsigned status;
};

/* ---- listeners ---------------------------------------------------------------------------------- */

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, bool *loopback)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || strlen(spec) >= sizeof(host))
		return -EINVAL;
	size_t hl = (size_t)(colon - spec);
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535)
		return -EINVAL;

	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*in4);
		*loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*in6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		return 0;
	}
	return -EINVAL;
}

/* Only root and the daemon's own user may use the admin socket. */
static bool peer_allowed(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return false;
	struct ucred uc;
	socklen_t l = sizeof(uc);
	if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0)
		return false;
	return uc.uid == 0 || uc.uid == geteuid();
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct ctl_http_req *rq = calloc(1, sizeof(*rq));
	if (!rq)
		return NULL;
	rq->h = cls;
	rq->conn = conn;
	rq->raw_uri = strdup(uri ? uri : "/");
	return rq;
}

static enum MHD_Result queue_stored(struct ctl_http_req *rq)
{
	enum MHD_Result r = MHD_queue_response(rq->conn, rq->status, rq->resp);
	MHD_destroy_response(rq->resp);
	rq->resp = NULL;
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls, bool admin)
{
	struct ctl_http *h = cls;
	struct ctl_http_req *rq = *con_cls;
	(void)version;

	if (!rq)
		return MHD_NO; /* out of memory in uri_log: drop the connection */
	if (!rq->method) {
		rq->method = method;
		rq->url = url;
		rq->admin = admin;
		if (admin && !peer_allowed(conn))
			rq->refused = true;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (rq->too_big || rq->refused)
			return MHD_YES;
		if (rq->len + n > h->cfg.max_body) {
			rq->too_big = true;
			free(rq->body);
			rq->body = NULL;
			rq->len = rq->cap = 0;
			return MHD_YES;
		}
		if (rq->len + n + 1 > rq->cap) {
			size_t cap = rq->cap ? rq->cap : 4096;
			while (cap < rq->len + n + 1)
				cap *= 2;
			char *nb = realloc(rq->body, cap);
			if (!nb)
				return MHD_NO;
			rq->body = nb;
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, upload, n);
		rq->len += n;
		return MHD_YES;
	}
	if (rq->resp)
		return queue_stored(rq);
	if (rq->routed) {
		/* Resumed without an answer: cannot happen through ctl_http_reply; answer anyway. */
		static const char msg[] = "{\"__type\":\"InternalFailure\"}";
		ctl_http_reply(rq, 500, "application/json", msg, sizeof(msg) - 1, false, NULL);
		return queue_stored(rq);
	}
	rq->routed = true;
	if (rq->refused) {
		static const char msg[] = "{\"message\":\"admin socket: peer is neither root nor the "
					  "daemon's user\"}";
		ctl_http_reply(rq, 403, "application/json", msg, sizeof(msg) - 1, false, NULL);
		return queue_stored(rq);
	}
	if (!rq->body) {
		rq->body = malloc(1);
		if (!rq->body)
			return MHD_NO;
	}
	rq->body[rq->len] = '\0';
	(admin ? h->cfg.admin_route : h->cfg.api_route)(h->cfg.arg, rq);
	if (rq->resp)
		return queue_stored(rq);
	if (rq->deferred) {
		rq->suspended = true;
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	static const char msg[] = "{\"__type\":\"InternalFailure\",\"message\":\"no answer\"}";
	ctl_http_reply(rq, 500, "application/json", msg, sizeof(msg) - 1, false, NULL);
	return queue_stored(rq);
}

static enum MHD_Result on_api(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	return on_request(cls, conn, url, method, version, upload, upload_size, con_cls, false);
}

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	return on_request(cls, conn, url, method, version, upload, upload_size, con_cls, true);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct ctl_http *h = cls;
	struct ctl_http_req *rq = *con_cls;
	(void)conn;
	(void)toe;
	if (!rq)
		return;
	if (h->cfg.done)
		h->cfg.done(h->cfg.arg, rq, rq->state);
	if (rq->resp)
		MHD_destroy_response(rq->resp);
	free(rq->body);
	free(rq->raw_uri);
	free(rq);
	*con_cls = NULL;
}

static int add_epoll(struct ctl_http *h, struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di)
		return -EINVAL;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = d };
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, di->epoll_fd, &ev) < 0)
		return -errno;
	return 0;
}

static struct MHD_Daemon *start_daemon(struct ctl_http *h, MHD_AccessHandlerCallback fn,
				       const struct sockaddr *sa, int listen_fd)
{
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (sa && sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (listen_fd >= 0)
		return MHD_start_daemon(flags, 0, NULL, NULL, fn, h,
					MHD_OPTION_LISTEN_SOCKET, listen_fd,
					MHD_OPTION_URI_LOG_CALLBACK, uri_log, h,
					MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
					MHD_OPTION_CONNECTION_LIMIT, h->cfg.max_connections,
					MHD_OPTION_CONNECTION_TIMEOUT, 120u,
					MHD_OPTION_END);
	return MHD_start_daemon(flags, 0, NULL, NULL, fn, h,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
				MHD_OPTION_URI_LOG_CALLBACK, uri_log, h,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_CONNECTION_LIMIT, h->cfg.max_connections,
				MHD_OPTION_CONNECTION_TIMEOUT, 120u,
				MHD_OPTION_END);
}

/* The admin socket: created with mode 0600 from the start (umask around bind), a stale socket
 * file from an unclean stop is replaced, anything else at the path is left alone. */
static int bind_unix(const char *path, int *fd_out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		ctl_log(CTL_LOG_ERR, "admin socket path %s is longer than %zu bytes; use a shorter "
			"--admin-socket or --data-dir", path, sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			ctl_log(CTL_LOG_ERR, "%s exists and is not a socket; move it away or choose "
				"another --admin-socket", path);
			return -EEXIST;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			ctl_log(CTL_LOG_ERR, "another ingestd is serving %s; stop it first or use "
				"another --data-dir", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	int e = errno;
	umask(old);
	if (r < 0 || listen(fd, 128) < 0) {
		if (r == 0)
			e = errno;
		ctl_log(CTL_LOG_ERR, "cannot bind admin socket %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	*fd_out = fd;
	return 0;
}

int ctl_http_new(const struct ctl_http_config *cfg, struct ctl_http **ret)
{
	struct ctl_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cfg = *cfg;
	if (!h->cfg.max_connections)
		h->cfg.max_connections = 1024;
	h->admin_fd = -1;
	int r;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		r = -errno;
		goto fail;
	}

	if (cfg->api_listen && cfg->api_listen[0]) {
		struct sockaddr_storage ss;
		socklen_t sl;
		bool lo;
		r = parse_listen(cfg->api_listen, &ss, &sl, &lo);
		if (r < 0) {
			ctl_log(CTL_LOG_ERR, "--api-listen %s: expected HOST:PORT such as 127.0.0.1:4566",
				cfg->api_listen);
			goto fail;
		}
		if (!lo && !cfg->allow_public) {
			r = -EPERM;
			ctl_log(CTL_LOG_ERR, "--api-listen %s is not a loopback address: requests are "
				"not authenticated without --credentials FILE, so the API only listens "
				"on loopback; give --credentials to serve other hosts", cfg->api_listen);
			goto fail;
		}
		h->api = start_daemon(h, on_api, (struct sockaddr *)&ss, -1);
		if (!h->api) {
			r = -EADDRINUSE;
			ctl_log(CTL_LOG_ERR, "cannot listen on %s (address in use or not available): "
				"stop the other server on that port or choose another --api-listen",
				cfg->api_listen);
			goto fail;
		}
		if (!lo)
			ctl_log(CTL_LOG_WARN, "the AWS API listens on %s, which is not a loopback "
				"address: every host that reaches it can try it (SigV4 signatures are "
				"required)", cfg->api_listen);
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->api, MHD_DAEMON_INFO_BIND_PORT);
		h->api_port = di ? di->port : 0;
		if ((r = add_epoll(h, h->api)) < 0)
			goto fail;
	}
	if (cfg->admin_socket) {
		r = bind_unix(cfg->admin_socket, &h->admin_fd);
		if (r < 0)
			goto fail;
		h->admin_path = strdup(cfg->admin_socket);
		h->admin = start_daemon(h, on_admin, NULL, h->admin_fd);
		if (!h->admin || !h->admin_path) {
			r = -ENOMEM;
			ctl_log(CTL_LOG_ERR, "cannot serve the admin socket %s", cfg->admin_socket);
			goto fail;
		}
		if ((r = add_epoll(h, h->admin)) < 0)
			goto fail;
	}
	*ret = h;
	return 0;
fail:
	ctl_http_free(h);
	return r;
}

void ctl_http_free(struct ctl_http *h)
{
	if (!h)
		return;
	if (h->api)
		MHD_stop_daemon(h->api);
	if (h->admin)
		MHD_stop_daemon(h->admin);
	if (h->admin_fd >= 0)
		close(h->admin_fd);
	if (h->admin_path)
		unlink(h->admin_path);
	free(h->admin_path);
	if (h->epfd >= 0)
		close(h->epfd);
	free(h);
}

int ctl_http_fd(const struct ctl_http *h)
{
	return h->epfd;
}

unsigned ctl_http_api_port(const struct ctl_http *h)
{
	return h->api_port;
}

int ctl_http_timeout_ms(struct ctl_http *h)
{
	struct MHD_Daemon *ds[2] = { h->api, h->admin };
	long best = -1;
	for (int i = 0; i < 2; i++) {
		MHD_UNSIGNED_LONG_LONG t;
		if (ds[i] && MHD_get_timeout(ds[i], &t) == MHD_YES) {
			long v = t > 60000 ? 60000 : (long)t;
			if (best < 0 || v < best)
				best = v;
		}
	}
	return (int)best;
}

int ctl_http_run(struct ctl_http *h)
{
	struct epoll_event ev[4];
	/* Drain our set (level-triggered) so it does not stay readable; MHD_run does the work. */
	(void)epoll_wait(h->epfd, ev, 4, 0);
	if (h->api && MHD_run(h->api) != MHD_YES)
		return -EIO;
	if (h->admin && MHD_run(h->admin) != MHD_YES)
		return -EIO;
	return 0;
}

/* ---- one request -------------------------------------------------------------------------------- */

const char *ctl_http_method(const struct ctl_http_req *rq)
{
	return rq->method;
}

const char *ctl_http_url(const struct ctl_http_req *rq)
{
	return rq->url;
}

const char *ctl_http_header(const struct ctl_http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *ctl_http_arg(const struct ctl_http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *ctl_http_query_raw(const struct ctl_http_req *rq)
{
	const char *q = strchr(rq->raw_uri, '?');
	return q ? q + 1 : "";
}

const char *ctl_http_raw_target(const struct ctl_http_req *rq)
{
	return rq->raw_uri;
}

struct hdr_visit {
	ctl_http_header_fn fn;
	void *arg;
};

static enum MHD_Result hdr_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct hdr_visit *v = cls;
	(void)kind;
	v->fn(v->arg, key, value ? value : "");
	return MHD_YES;
}

void ctl_http_headers_each(const struct ctl_http_req *rq, ctl_http_header_fn fn, void *arg)
{
	struct hdr_visit v = { fn, arg };
	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, hdr_iter, &v);
}

const char *ctl_http_body(const struct ctl_http_req *rq, size_t *len)
{
	*len = rq->too_big ? 0 : rq->len;
	return rq->body ? rq->body : "";
}

bool ctl_http_body_too_big(const struct ctl_http_req *rq)
{
	return rq->too_big;
}

bool ctl_http_is_admin(const struct ctl_http_req *rq)
{
	return rq->admin;
}

void ctl_http_req_set_state(struct ctl_http_req *rq, void *state)
{
	rq->state = state;
}

void *ctl_http_req_state(const struct ctl_http_req *rq)
{
	return rq->state;
}

void ctl_http_defer(struct ctl_http_req *rq)
{
	rq->deferred = true;
}

/* Attach the headers and hand resp to the connection (queued when the route returns, or now
 * for a suspended one). */
static int queue_reply(struct ctl_http_req *rq, struct MHD_Response *resp, unsigned status,
		       const char *content_type, const char *const *headers)
{
	if (!resp)
		return -ENOMEM;
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (unsigned i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		MHD_add_response_header(resp, headers[i], headers[i + 1]);
	rq->resp = resp;
	rq->status = status;
	rq->replied = true;
	if (rq->suspended) {
		rq->suspended = false;
		rq->deferred = false;
		MHD_resume_connection(rq->conn);
	}
	return 0;
}

int ctl_http_reply(struct ctl_http_req *rq, unsigned status, const char *content_type,
		   const void *body, size_t len, bool own_body, const char *const *headers)
{
	if (rq->replied)
		return -EALREADY;
	struct MHD_Response *resp;
	if (own_body)
		resp = MHD_create_response_from_buffer_with_free_callback(len, (void *)body, free);
	else
		resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	return queue_reply(rq, resp, status, content_type, headers);
}

int ctl_http_reply_fd(struct ctl_http_req *rq, unsigned status, const char *content_type, int fd,
		      uint64_t offset, uint64_t len, const char *const *headers)
{
	if (rq->replied) {
		close(fd);
		return -EALREADY;
	}
	/* MHD reads (or sendfile()s) the range while sending and closes fd with the response. */
	struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, offset);
	if (!resp) {
		close(fd);
		return -ENOMEM;
	}
	return queue_reply(rq, resp, status, content_type, headers);
}
