/* SPDX-License-Identifier: MIT */
/*
 * ctl_http: the daemon's HTTP listeners, on libmicrohttpd (no HTTP parsing of our own).
 *
 * What it owns. Two listeners: the AWS-compatible API on TCP (--api-listen, 127.0.0.1:4566 by
 * default) and the admin API on a unix socket (DATA_DIR/ingestd.sock, mode 0600, every peer
 * checked with SO_PEERCRED: only root and the daemon's own user are served). Each request's body
 * is collected up to a size limit (413 beyond it, the body is never buffered past the limit) and
 * the whole request is handed to one route function.
 *
 * Threads. Everything runs on the thread that calls ctl_http_run(): the listeners use MHD's
 * external epoll mode, so route functions run on the control thread and may touch the shard logs
 * that thread owns. A route may answer later (after a flush is durable): it calls
 * ctl_http_defer() and then ctl_http_reply() when ready; the connection is suspended meanwhile.
 */
#ifndef CTL_HTTP_H
#define CTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_http;
struct ctl_http_req;

/* Route function: called once per request with the whole body. It must call ctl_http_reply()
 * (now or, after ctl_http_defer(), later). A route that does neither gets a 500. */
typedef void (*ctl_http_route_fn)(void *arg, struct ctl_http_req *rq);

/* Called when a request is finished (replied and sent, or the client went away): the route's
 * per-request state (ctl_http_req_set_state) must be released here. May be NULL. */
typedef void (*ctl_http_done_fn)(void *arg, struct ctl_http_req *rq, void *state);

struct ctl_http_config {
	const char *api_listen;    /* "HOST:PORT" or "[V6]:PORT"; NULL or "" for none */
	const char *admin_socket;  /* unix socket path; NULL for none */
	size_t max_body;           /* bytes; larger bodies get 413 */
	bool allow_public;         /* a non-loopback api_listen is refused unless set */
	unsigned max_connections;  /* per listener */
	ctl_http_route_fn api_route, admin_route;
	ctl_http_done_fn done;
	void *arg;
};

/*
 * Bind both listeners. A non-loopback api_listen address is refused (-EPERM) unless
 * allow_public, and then served with a warning in the log.
 * Returns 0, or a negative errno after logging what could not be bound and what to do
 * (e.g. "address in use: another ingestd or emulator listens on 127.0.0.1:4566; pick another
 * --api-listen").
 */
int ctl_http_new(const struct ctl_http_config *cfg, struct ctl_http **ret);

/* Stop both listeners (pending requests are dropped), remove the socket file, free. NULL ok. */
void ctl_http_free(struct ctl_http *h);

/* A file descriptor that becomes readable when ctl_http_run() has work; for poll()/epoll. */
int ctl_http_fd(const struct ctl_http *h);

/* Milliseconds until ctl_http_run() must run again for timeouts (-1: none pending). */
int ctl_http_timeout_ms(struct ctl_http *h);

/* Serve everything that is ready without blocking. Returns 0 or a negative errno. */
int ctl_http_run(struct ctl_http *h);

/* The TCP port the API listener is bound to (useful with port 0), or 0. */
unsigned ctl_http_api_port(const struct ctl_http *h);

/* ---- one request -------------------------------------------------------------------------------- */

const char *ctl_http_method(const struct ctl_http_req *rq);
const char *ctl_http_url(const struct ctl_http_req *rq);
/* Request header value (case-insensitive name) or NULL. */
const char *ctl_http_header(const struct ctl_http_req *rq, const char *name);
/* Query argument value or NULL; ctl_http_query_raw gives the raw query string ("" if none). */
const char *ctl_http_arg(const struct ctl_http_req *rq, const char *name);
const char *ctl_http_query_raw(const struct ctl_http_req *rq);
/* The request target exactly as sent ("/path?query", still percent-encoded). */
const char *ctl_http_raw_target(const struct ctl_http_req *rq);
/* Visit every request header (for SigV4). */
typedef void (*ctl_http_header_fn)(void *arg, const char *name, const char *value);
void ctl_http_headers_each(const struct ctl_http_req *rq, ctl_http_header_fn fn, void *arg);
/* The body (NUL-terminated for convenience; len excludes the NUL). */
const char *ctl_http_body(const struct ctl_http_req *rq, size_t *len);
/* True when the body exceeded max_body (it was discarded; answer 413). */
bool ctl_http_body_too_big(const struct ctl_http_req *rq);
/* True for requests that arrived on the admin socket. */
bool ctl_http_is_admin(const struct ctl_http_req *rq);

void ctl_http_req_set_state(struct ctl_http_req *rq, void *state);
void *ctl_http_req_state(const struct ctl_http_req *rq);

/* Keep the request open past the route's return; the route or a later event replies. */
void ctl_http_defer(struct ctl_http_req *rq);

/*
 * Answer the request: status, content type, and the body (copied unless own_body, in which case
 * body must be malloc'd and is freed by the library). Extra headers: a NULL-terminated
 * name, value, name, value, ... list (may be NULL). Returns 0, or -EALREADY when already
 * answered, or -ENOMEM.
 */
int ctl_http_reply(struct ctl_http_req *rq, unsigned status, const char *content_type,
		   const void *body, size_t len, bool own_body, const char *const *headers);

/*
 * Answer with len bytes of the file fd from offset on, streamed while the connection sends
 * (nothing is loaded whole). fd must be a regular file opened for reading; its ownership passes
 * in every case (closed with the response, or now on error). For a HEAD request the headers,
 * Content-Length len included, go out without the bytes. Returns 0, -EALREADY or -ENOMEM.
 */
int ctl_http_reply_fd(struct ctl_http_req *rq, unsigned status, const char *content_type, int fd,
		      uint64_t offset, uint64_t len, const char *const *headers);

#endif
