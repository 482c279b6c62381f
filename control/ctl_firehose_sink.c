/* SPDX-License-Identifier: MIT */
/*
 * Firehose delivery workers: one thread per delivery stream runs its jobs in order, so that a
 * slow destination (an fsync, an HTTP endpoint that is down and retried for up to
 * RetryOptions.DurationInSeconds) never blocks the control thread. A job compresses and writes
 * its objects atomically (fh_object_write) or POSTs its records to the HTTP endpoint in
 * Firehose's request format; when the endpoint keeps failing past the retry duration the
 * records go to the S3 error prefix as `http-endpoint-failed`. A finished job moves to the
 * module's done queue and the control thread is woken (ctl_loop_wake) to checkpoint it.
 *
 * S3 writes that fail (ENOSPC, EIO, a permission) are retried with the same backoff for as long
 * as the stream exists: the checkpoint has not passed the job's records, so nothing is lost
 * even when the daemon stops meanwhile.
 */
#include "ctl_firehose_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctl_b64.h"
#include "ctl_log.h"
#include "ctl_uuid.h"

#define BACKOFF_BASE_MS 1000   /* Firehose: 1 s x 2^n */
#define BACKOFF_CAP_MS 120000  /* capped at 120 s */
#define HTTP_TIMEOUT_S 180     /* Firehose waits 3 minutes for an endpoint's answer */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fh_dest_unref(struct fh_dest *d)
{
	if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	free(d->prefix);
	free(d->error_prefix);
	free(d->jq_query);
	free(d->lambda_arn);
	free(d->url);
	free(d->access_key);
	free(d->common_attrs);
	free(d->stream_arn);
	free(d);
}

void fh_job_free(struct fh_job *j)
{
	if (!j)
		return;
	for (unsigned i = 0; i < j->n_objs; i++) {
		free(j->objs[i].key);
		fh_buf_free(&j->objs[i].data);
	}
	free(j->objs);
	fh_buf_free(&j->recs);
	free(j->offs);
	free(j->arrival);
	fh_dest_unref(j->dest);
	free(j);
}

/* Sleep ms, waking early when stop is set. Returns false when stopped. */
static bool nap(int64_t ms, const atomic_bool *stop)
{
	int64_t until = mono_ms() + ms;
	while (!atomic_load(stop)) {
		int64_t left = until - mono_ms();
		if (left <= 0)
			return true;
		if (left > 50)
			left = 50;
		struct timespec ts = { 0, (long)left * 1000000L };
		nanosleep(&ts, NULL);
	}
	return false;
}

static int64_t backoff_ms(unsigned attempt)
{
	int64_t d = BACKOFF_BASE_MS;
	for (unsigned i = 0; i < attempt && d < BACKOFF_CAP_MS; i++)
		d *= 2;
	if (d > BACKOFF_CAP_MS)
		d = BACKOFF_CAP_MS;
	uint16_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 32768;
	/* +-15 % jitter */
	return d + d * ((int64_t)r - 32768) * 15 / (100 * 32768);
}

int fh_error_line(struct fh_buf *b, unsigned attempts, int64_t arrival_ms, const char *code,
		  const char *message, const void *raw, size_t raw_len, const char *lambda_arn)
{
	char *b64 = malloc(ctl_b64_enc_len(raw_len) + 1);
	if (!b64)
		return -ENOMEM;
	b64[ctl_b64_encode(raw, raw_len, b64)] = 0;
	json_t *o = json_pack("{s:i, s:I, s:s, s:s, s:I, s:s}", "attemptsMade", (int)attempts,
			      "arrivalTimestamp", (json_int_t)arrival_ms, "errorCode", code,
			      "errorMessage", message, "attemptEndingTimestamp",
			      (json_int_t)wall_ms(), "rawData", b64);
	free(b64);
	if (o && lambda_arn)
		json_object_set_new(o, "lambdaArn", json_string(lambda_arn));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	int r = fh_buf_put(b, text, strlen(text));
	if (r == 0)
		r = fh_buf_put(b, "\n", 1);
	free(text);
	return r;
}

/* Write one object (compressed when asked), retrying with backoff until it is durable or the
 * worker stops. Returns 0 or the last errno (-ECANCELED when stopped). */
static int write_obj(const char *root, struct fh_job *j, const char *bucket, enum fh_codec codec,
		     const struct fh_obj *o, const atomic_bool *stop)
{
	struct fh_buf z = { 0 };
	const void *data = o->data.p;
	size_t len = o->data.len;
	int r;
	if (o->compress && codec != FH_UNCOMPRESSED) {
		/* A ZIP archive's single member is named after the object, without its suffix. */
		const char *base = strrchr(o->key, '/');
		base = base ? base + 1 : o->key;
		char entry[256];
		snprintf(entry, sizeof(entry), "%.*s", (int)(strlen(base) - strlen(fh_codec_ext(codec))),
			 base);
		if ((r = fh_compress(codec, o->data.p, o->data.len, entry, &z)) < 0)
			return r;
		data = z.p;
		len = z.len;
	}
	for (unsigned attempt = 0;; attempt++) {
		r = fh_object_write(root, bucket, o->key, data, len);
		if (r == 0 || r == -EINVAL)
			break;
		if (attempt == 0 || attempt % 10 == 0)
			ctl_log(CTL_LOG_WARN, "delivery stream %s: cannot write s3://%s/%s: %s; retrying "
				"(check the space and permissions of the S3 root)", j->stream, bucket,
				o->key, strerror(-r));
		if (!nap(backoff_ms(attempt), stop)) {
			r = -ECANCELED;
			break;
		}
	}
	fh_buf_free(&z);
	return r;
}

/* ---- HTTP endpoint ------------------------------------------------------------------------------ */

static size_t collect(char *p, size_t sz, size_t n, void *arg)
{
	struct fh_buf *b = arg;
	if (b->len > (1u << 20))  /* an answer is small; do not hoard a misbehaving one */
		return sz * n;
	return fh_buf_put(b, p, sz * n) == 0 ? sz * n : 0;
}

static int progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	return atomic_load((const atomic_bool *)arg) ? 1 : 0;
}

/* Firehose's request body: {"requestId","timestamp","records":[{"data":"<base64>"}...]}. */
static int http_body(const struct fh_job *j, const char *rid, struct fh_buf *b)
{
	char head[128];
	int w = snprintf(head, sizeof(head), "{\"requestId\":\"%s\",\"timestamp\":%" PRId64
			 ",\"records\":[", rid, wall_ms());
	int r = fh_buf_put(b, head, (size_t)w);
	for (unsigned i = 0; r == 0 && i < j->n; i++) {
		size_t n = j->offs[i + 1] - j->offs[i];
		if ((r = fh_buf_reserve(b, ctl_b64_enc_len(n) + 16)) < 0)
			break;
		memcpy(b->p + b->len, i ? ",{\"data\":\"" : "{\"data\":\"", i ? 10 : 9);
		b->len += i ? 10 : 9;
		b->len += ctl_b64_encode(j->recs.p + j->offs[i], n, (char *)b->p + b->len);
		memcpy(b->p + b->len, "\"}", 2);
		b->len += 2;
	}
	if (r == 0)
		r = fh_buf_put(b, "]}", 2);
	return r;
}

/* One POST. Returns 0 when the endpoint accepted (200 with our requestId), else -EAGAIN
 * (retry) or -EMSGSIZE (413: permanent), with a reason in why. */
static int http_post_once(const struct fh_job *j, const char *rid, const struct fh_buf *body,
			  const atomic_bool *stop, char *why, size_t wn)
{
	const struct fh_dest *d = j->dest;
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(why, wn, "out of memory");
		return -EAGAIN;
	}
	struct curl_slist *hdrs = NULL;
	char line[4400];
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "X-Amz-Firehose-Protocol-Version: 1.0");
	snprintf(line, sizeof(line), "X-Amz-Firehose-Request-Id: %s", rid);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "X-Amz-Firehose-Source-Arn: %s", d->stream_arn);
	hdrs = curl_slist_append(hdrs, line);
	if (d->access_key) {
		snprintf(line, sizeof(line), "X-Amz-Firehose-Access-Key: %s", d->access_key);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (d->common_attrs) {
		snprintf(line, sizeof(line), "X-Amz-Firehose-Common-Attributes: %s", d->common_attrs);
		hdrs = curl_slist_append(hdrs, line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	struct fh_buf z = { 0 };
	const struct fh_buf *send = body;
	if (d->http_gzip && fh_compress(FH_GZIP, body->p, body->len, NULL, &z) == 0) {
		hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
		send = &z;
	}
	struct fh_buf ans = { 0 };
	curl_easy_setopt(h, CURLOPT_URL, d->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)send->p);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)send->len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &ans);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)HTTP_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)(uintptr_t)stop);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode cr = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	int rc = -EAGAIN;
	if (cr != CURLE_OK) {
		snprintf(why, wn, "%s", curl_easy_strerror(cr));
	} else if (status == 413) {
		snprintf(why, wn, "the endpoint answered 413 (request too large)");
		rc = -EMSGSIZE;
	} else if (status != 200) {
		snprintf(why, wn, "the endpoint answered HTTP %ld", status);
	} else {
		json_t *doc = json_loadb((const char *)ans.p, ans.len, 0, NULL);
		const char *got = json_string_value(json_object_get(doc, "requestId"));
		if (got && strcmp(got, rid) == 0)
			rc = 0;
		else
			snprintf(why, wn, "the endpoint's answer does not carry the requestId");
		json_decref(doc);
	}
	fh_buf_free(&ans);
	fh_buf_free(&z);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}

static int http_run(const char *root, struct fh_job *j, const atomic_bool *stop)
{
	const struct fh_dest *d = j->dest;
	char rid[37], why[256] = "";
	ctl_uuid4(rid);  /* the same id across retries, as Firehose */
	struct fh_buf body = { 0 };
	if (http_body(j, rid, &body) < 0)
		return -ENOMEM;
	int64_t start = mono_ms();
	int r;
	for (unsigned attempt = 0;; attempt++) {
		j->attempts = attempt + 1;
		r = http_post_once(j, rid, &body, stop, why, sizeof(why));
		if (r == 0 || r == -EMSGSIZE || atomic_load(stop))
			break;
		int64_t wait = backoff_ms(attempt);
		if (mono_ms() + wait - start > d->retry_ms)
			break;
		if (!nap(wait, stop))
			break;
	}
	fh_buf_free(&body);
	if (atomic_load(stop) && r != 0)
		return -ECANCELED;
	int64_t now = wall_ms();
	if (r == 0) {
		j->ok_records += j->n;
		j->ok_bytes += j->recs.len;
		if (!d->backup_all)
			return 0;
	} else {
		ctl_log(CTL_LOG_WARN, "delivery stream %s: HTTP endpoint %s failed %u time(s) (%s); "
			"%u record(s) go to the S3 error prefix", j->stream, d->url, j->attempts, why,
			j->n);
	}
	/* AllData backups, or the failed records as error records. */
	struct fh_obj o = { 0 };
	char key[FH_EVAL_MAX + 200];
	int pl;
	if (r == 0) {
		pl = fh_prefix_eval(d->prefix, FH_PREFIX_DATA, j->oldest_ms, NULL, NULL, key,
				    sizeof(key));
		o.compress = true;
		o.data = j->recs;  /* borrowed */
	} else {
		const char *ep = d->error_prefix ? d->error_prefix : "";
		char tmp[FH_PREFIX_MAX + 64];
		if (!d->error_prefix) {
			/* Firehose's default: <prefix><error-output-type>/yyyy/MM/dd/HH/ */
			snprintf(tmp, sizeof(tmp), "%s!{firehose:error-output-type}/"
				 "!{timestamp:yyyy/MM/dd/HH}/", d->prefix ? d->prefix : "");
			ep = tmp;
		}
		pl = fh_prefix_eval(ep, FH_PREFIX_ERROR, now, "http-endpoint-failed", NULL, key,
				    sizeof(key));
		for (unsigned i = 0; i < j->n; i++)
			if (fh_error_line(&o.data, j->attempts, j->arrival[i],
					  r == -EMSGSIZE ? "HttpEndpoint.PayloadTooLarge" :
					  "HttpEndpoint.RequestTimeout", why, j->recs.p + j->offs[i],
					  j->offs[i + 1] - j->offs[i], NULL) < 0)
				return -ENOMEM;
		o.is_error = true;
	}
	if (pl < 0 || fh_object_name(j->stream, j->version, now, o.compress ?
				     fh_codec_ext(d->codec) : "", key + pl, sizeof(key) - (size_t)pl) < 0) {
		if (r != 0)
			fh_buf_free(&o.data);
		return -ENAMETOOLONG;
	}
	o.key = key;
	int wr = write_obj(root, j, d->bucket, d->codec, &o, stop);
	if (r != 0) {
		fh_buf_free(&o.data);
		if (wr == 0)
			j->failed_records += j->n;
	}
	return wr;
}

void fh_job_run(const char *s3_root, struct fh_job *j, const atomic_bool *stop)
{
	const struct fh_dest *d = j->dest;
	j->err = 0;
	for (unsigned i = 0; i < j->n_objs; i++) {
		struct fh_obj *o = &j->objs[i];
		if (!o->key)
			continue;  /* written by an earlier run of this job */
		int r = write_obj(s3_root, j, d->bucket, d->codec, o, stop);
		if (r < 0) {
			j->err = r;
			if (r != -EINVAL)
				return;
			ctl_log(CTL_LOG_ERR, "delivery stream %s: object key %s refused: %s", j->stream,
				o->key, strerror(-r));
		}
		if (o->is_error) {
			j->failed_records += o->records;
		} else {
			j->ok_records += o->records;
			j->ok_bytes += o->data.len;
			j->ok_objects++;
		}
		free(o->key);
		o->key = NULL;
		fh_buf_free(&o->data);
	}
	if (d->http && j->n > 0) {
		int r = http_run(s3_root, j, stop);
		if (r < 0)
			j->err = r;
		else
			j->n = 0;  /* done: a rerun must not post again */
	}
}

/* ---- the thread --------------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct fh_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !atomic_load(&w->stop))
			pthread_cond_wait(&w->cv, &w->mu);
		if (atomic_load(&w->stop))
			break;
		struct fh_job *j = w->head;
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->mu);
		fh_job_run(w->s3_root, j, &w->stop);
		pthread_mutex_lock(w->done_mu);
		j->next = *w->done_head;
		*w->done_head = j;
		pthread_mutex_unlock(w->done_mu);
		if (w->loop)
			ctl_loop_wake(w->loop);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int fh_worker_start(struct fh_worker *w)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	atomic_store(&w->stop, false);
	int r = pthread_create(&w->thread, NULL, worker_main, w);
	if (r != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		return -r;
	}
	w->started = true;
	return 0;
}

void fh_worker_push(struct fh_worker *w, struct fh_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void fh_worker_stop(struct fh_worker *w, struct fh_job **left)
{
	*left = NULL;
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, true);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	*left = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	w->started = false;
}
