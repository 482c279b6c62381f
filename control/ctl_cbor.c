/* SPDX-License-Identifier: MIT */
/*
 * ctl_cbor: see ctl_cbor.h. The decoder feeds the body to libcbor's cbor_stream_decode one item
 * head at a time; its callbacks build jansson values on an explicit stack of open containers, so
 * nesting never recurses and a declared length never sizes an allocation. The encoder recurses
 * over the (server-built, depth-checked) JSON value and writes heads with libcbor's cbor_encode_*.
 */
#include "ctl_cbor.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "ctl_b64.h"

/* From botocore's kinesis/2013-12-02/service-2.json: every member of a blob or timestamp shape. */
static const char *const kinesis_blob_fields[] = { "Data", NULL };
static const char *const kinesis_time_fields[] = {
	"ApproximateArrivalTimestamp", "ConsumerCreationTimestamp", "StreamCreationTimestamp",
	"Timestamp", NULL,
};
const struct ctl_cbor_hints ctl_cbor_kinesis_hints = {
	.blob_fields = kinesis_blob_fields,
	.time_fields = kinesis_time_fields,
};

/* RFC 8949 section 3.4.2 (epoch-based date/time) and 3.4.6 (self-described CBOR). */
#define TAG_EPOCH 1
#define TAG_SELF_DESCRIBED 55799

enum hint { HINT_NONE, HINT_BLOB, HINT_TIME };

static bool name_in(const char *const *list, const char *key, size_t len)
{
	for (; list && *list; list++)
		if ((*list)[0] == key[0] && strlen(*list) == len && memcmp(*list, key, len) == 0)
			return true;
	return false;
}

static enum hint hint_of(const struct ctl_cbor_hints *h, const char *key, size_t len)
{
	if (!h || len == 0)
		return HINT_NONE;
	if (name_in(h->blob_fields, key, len))
		return HINT_BLOB;
	if (name_in(h->time_fields, key, len))
		return HINT_TIME;
	return HINT_NONE;
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* One open array or map. The frame owns node until the container is complete and placed. */
struct frame {
	json_t *node;
	uint64_t left;		/* definite: values still expected (pairs, for a map) */
	bool indef;
	bool is_map;
	bool have_key;		/* map: a key was read, its value is expected */
	enum hint hint;		/* array: its member's; map: the pending key's */
	const char *key;	/* map: the pending key, in the input or in key_own */
	size_t key_len;
	char *key_own;		/* map: a key assembled from chunks */
};

struct dec {
	const struct ctl_cbor_hints *h;
	struct frame stack[CTL_CBOR_MAX_DEPTH];
	unsigned depth;
	json_t *root;
	bool tag_epoch;		/* tag 1 read; its integer is next */
	bool tag_last;		/* the head just decoded was a tag */
	bool tag_before;	/* the head before this one was a tag: a break may not follow */
	bool chunking;		/* inside an indefinite-length string */
	bool chunk_text;
	uint8_t *chunk;		/* the chunks so far */
	size_t chunk_len, chunk_cap;
	char *b64;		/* scratch for base64 text */
	size_t b64_cap;
	const char *why;	/* first failure; decoding stops there */
	int rc;
};

static bool fail(struct dec *d, int rc, const char *why)
{
	if (!d->why) {
		d->why = why;
		d->rc = rc;
	}
	return false;
}

static bool bad(struct dec *d, const char *why)
{
	return fail(d, -EINVAL, why);
}

static bool oom(struct dec *d)
{
	return fail(d, -ENOMEM, "out of memory");
}

static struct frame *top(struct dec *d)
{
	return d->depth ? &d->stack[d->depth - 1] : NULL;
}

static bool awaiting_key(struct dec *d)
{
	struct frame *f = top(d);

	return f && f->is_map && !f->have_key;
}

static enum hint cur_hint(struct dec *d)
{
	struct frame *f = top(d);

	return f ? f->hint : HINT_NONE;
}

/*
 * Place a finished value (taking its reference; NULL means an allocation failed) as the root, an
 * array element or the pending key's value, then close the definite containers it filled.
 */
static bool put(struct dec *d, json_t *v)
{
	if (!v)
		return oom(d);
	for (;;) {
		struct frame *f = top(d);
		int r;

		if (!f) {
			d->root = v;
			return true;
		}
		if (f->is_map) {
			size_t before = json_object_size(f->node);

			/*
			 * The checked setter validates the key's UTF-8; both setters steal v,
			 * even on failure. A key seen before replaces its value instead of
			 * adding one: that is how a duplicate shows, without a second hash
			 * lookup per key.
			 */
			r = json_object_setn_new(f->node, f->key, f->key_len, v);
			free(f->key_own);
			f->key_own = NULL;
			f->have_key = false;
			f->hint = HINT_NONE;
			if (r != 0)
				return bad(d, "map key is not valid UTF-8");
			if (json_object_size(f->node) == before)
				return bad(d, "duplicate map key");
		} else if (json_array_append_new(f->node, v) != 0) {
			return oom(d);
		}
		if (f->indef || --f->left > 0)
			return true;
		v = f->node;
		f->node = NULL;
		d->depth--;
	}
}

/* Checks for every item other than a text string, a string chunk or a break. */
static bool plain_item(struct dec *d)
{
	if (d->chunking)
		return bad(d, "indefinite-length string holds an item that is not a chunk");
	if (awaiting_key(d))
		return bad(d, "map key is not a text string");
	return true;
}

static bool no_tag(struct dec *d)
{
	return d->tag_epoch ? bad(d, "tag 1 must hold an integer of epoch milliseconds") : true;
}

static void put_int(struct dec *d, int64_t v)
{
	/* Tag 1, or a plain number in a timestamp member: epoch milliseconds to JSON's seconds. */
	if (d->tag_epoch || cur_hint(d) == HINT_TIME) {
		d->tag_epoch = false;
		put(d, json_real((double)v / 1000.0));
		return;
	}
	put(d, json_integer((json_int_t)v));
}

static void on_uint(struct dec *d, uint64_t v)
{
	if (!plain_item(d))
		return;
	if (v > INT64_MAX) {
		bad(d, "integer above INT64_MAX");
		return;
	}
	put_int(d, (int64_t)v);
}

/* CBOR major type 1 carries n for the value -1 - n. */
static void on_negint(struct dec *d, uint64_t n)
{
	if (!plain_item(d))
		return;
	if (n > INT64_MAX) {
		bad(d, "integer below INT64_MIN");
		return;
	}
	put_int(d, -1 - (int64_t)n);
}

static void on_float(struct dec *d, double v)
{
	if (!plain_item(d) || !no_tag(d))
		return;
	if (!isfinite(v)) {
		bad(d, "NaN or infinity has no JSON form");
		return;
	}
	put(d, json_real(cur_hint(d) == HINT_TIME ? v / 1000.0 : v));
}

static void on_simple(struct dec *d, json_t *v)
{
	if (!plain_item(d) || !no_tag(d)) {
		json_decref(v);
		return;
	}
	put(d, v);
}

static void open_container(struct dec *d, bool is_map, bool indef, uint64_t n)
{
	struct frame *f;
	json_t *node;

	if (!plain_item(d) || !no_tag(d))
		return;
	if (!indef && n == 0) {
		put(d, is_map ? json_object() : json_array());
		return;
	}
	if (d->depth == CTL_CBOR_MAX_DEPTH) {
		bad(d, "arrays and maps nested too deep");
		return;
	}
	node = is_map ? json_object() : json_array();
	if (!node) {
		oom(d);
		return;
	}
	f = &d->stack[d->depth];
	*f = (struct frame){
		.node = node, .left = n, .indef = indef, .is_map = is_map,
		.hint = is_map ? HINT_NONE : cur_hint(d),
	};
	d->depth++;
}

/* A complete text string: the pending map key, or a value. p is d->chunk when it was chunked. */
static void text_done(struct dec *d, const uint8_t *p, size_t n)
{
	const char *s = n ? (const char *)p : "";

	if (!no_tag(d))
		return;
	if (memchr(s, '\0', n)) {
		bad(d, "text holds U+0000");
		return;
	}
	if (awaiting_key(d)) {
		struct frame *f = top(d);

		f->key = s;
		f->key_len = n;
		f->have_key = true;
		f->hint = hint_of(d->h, s, n);
		if (n && p == d->chunk) {
			/* The key outlives the chunk buffer: the frame takes it. */
			f->key_own = (char *)d->chunk;
			d->chunk = NULL;
			d->chunk_cap = 0;
		}
		return;
	}
	json_t *v = json_stringn(s, n);
	if (!v) {
		bad(d, "text is not valid UTF-8");
		return;
	}
	put(d, v);
}

/* A complete byte string: base64 text, as the JSON protocol carries blobs. */
static void bytes_done(struct dec *d, const uint8_t *p, size_t n)
{
	size_t need = ctl_b64_enc_len(n) + 1, w;

	if (!no_tag(d))
		return;
	if (need > d->b64_cap) {
		char *b = realloc(d->b64, need);
		if (!b) {
			oom(d);
			return;
		}
		d->b64 = b;
		d->b64_cap = need;
	}
	w = ctl_b64_encode(n ? p : (const uint8_t *)"", n, d->b64);
	put(d, json_stringn_nocheck(d->b64, w));
}

static void chunk_add(struct dec *d, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (n > d->chunk_cap - d->chunk_len) {
		size_t cap = d->chunk_cap ? d->chunk_cap : 256;
		/* The chunks lie in the input, which CTL_CBOR_MAX_LEN bounds: no overflow here. */
		while (cap - d->chunk_len < n)
			cap *= 2;
		uint8_t *c = realloc(d->chunk, cap);
		if (!c) {
			oom(d);
			return;
		}
		d->chunk = c;
		d->chunk_cap = cap;
	}
	memcpy(d->chunk + d->chunk_len, p, n);
	d->chunk_len += n;
}

static void on_string(struct dec *d, const uint8_t *p, size_t n, bool text)
{
	if (d->chunking) {
		if (d->chunk_text != text)
			bad(d, "chunk of an indefinite-length string has another type");
		else if (text && n && (p[0] & 0xc0) == 0x80)
			/*
			 * RFC 8949 3.2.3: chunks of text start on a character boundary. With
			 * the UTF-8 check of the joined text this makes every chunk valid
			 * UTF-8 on its own.
			 */
			bad(d, "text chunk splits a UTF-8 character");
		else
			chunk_add(d, p, n);
		return;
	}
	if (!text) {
		if (plain_item(d))
			bytes_done(d, p, n);
		return;
	}
	text_done(d, p, n);
}

static void on_string_start(struct dec *d, bool text)
{
	if (d->chunking) {
		bad(d, "indefinite-length string inside another");
		return;
	}
	if (!text && !plain_item(d))
		return;
	if (!no_tag(d))
		return;
	d->chunking = true;
	d->chunk_text = text;
	d->chunk_len = 0;
}

static void on_break(struct dec *d)
{
	struct frame *f = top(d);

	if (d->chunking) {
		d->chunking = false;
		if (d->chunk_text)
			text_done(d, d->chunk, d->chunk_len);
		else
			bytes_done(d, d->chunk, d->chunk_len);
		return;
	}
	if (d->tag_before) {
		bad(d, "break after a tag");
		return;
	}
	if (!f || !f->indef) {
		bad(d, "break outside an indefinite-length item");
		return;
	}
	if (f->have_key) {
		bad(d, "map ends between a key and its value");
		return;
	}
	if (!no_tag(d))
		return;
	json_t *v = f->node;
	f->node = NULL;
	d->depth--;
	put(d, v);
}

static void on_tag(struct dec *d, uint64_t tag)
{
	if (!plain_item(d))
		return;
	d->tag_last = true;
	if (tag == TAG_SELF_DESCRIBED)
		return;
	if (tag != TAG_EPOCH) {
		bad(d, "unsupported tag");
		return;
	}
	if (d->tag_epoch) {
		bad(d, "tag 1 inside tag 1");
		return;
	}
	d->tag_epoch = true;
}

/* libcbor's callback table: thin adapters onto the handlers above. */
static void cb_uint8(void *c, uint8_t v) { on_uint(c, v); }
static void cb_uint16(void *c, uint16_t v) { on_uint(c, v); }
static void cb_uint32(void *c, uint32_t v) { on_uint(c, v); }
static void cb_uint64(void *c, uint64_t v) { on_uint(c, v); }
static void cb_negint8(void *c, uint8_t v) { on_negint(c, v); }
static void cb_negint16(void *c, uint16_t v) { on_negint(c, v); }
static void cb_negint32(void *c, uint32_t v) { on_negint(c, v); }
static void cb_negint64(void *c, uint64_t v) { on_negint(c, v); }
static void cb_bytes(void *c, cbor_data p, size_t n) { on_string(c, p, n, false); }
static void cb_bytes_start(void *c) { on_string_start(c, false); }
static void cb_text(void *c, cbor_data p, size_t n) { on_string(c, p, n, true); }
static void cb_text_start(void *c) { on_string_start(c, true); }
static void cb_array(void *c, size_t n) { open_container(c, false, false, n); }
static void cb_array_indef(void *c) { open_container(c, false, true, 0); }
static void cb_map(void *c, size_t n) { open_container(c, true, false, n); }
static void cb_map_indef(void *c) { open_container(c, true, true, 0); }
static void cb_tag(void *c, uint64_t t) { on_tag(c, t); }
static void cb_float(void *c, float v) { on_float(c, v); }
static void cb_double(void *c, double v) { on_float(c, v); }
static void cb_null(void *c) { on_simple(c, json_null()); }
static void cb_bool(void *c, bool b) { on_simple(c, json_boolean(b)); }
static void cb_break(void *c) { on_break(c); }

static void cb_undefined(void *c)
{
	struct dec *d = c;

	if (plain_item(d))
		bad(d, "undefined has no JSON form");
}

/* libcbor's header swaps the comments on the string members; these pairings follow its code. */
static const struct cbor_callbacks callbacks = {
	.uint8 = cb_uint8, .uint16 = cb_uint16, .uint32 = cb_uint32, .uint64 = cb_uint64,
	.negint8 = cb_negint8, .negint16 = cb_negint16, .negint32 = cb_negint32,
	.negint64 = cb_negint64,
	.byte_string = cb_bytes, .byte_string_start = cb_bytes_start,
	.string = cb_text, .string_start = cb_text_start,
	.array_start = cb_array, .indef_array_start = cb_array_indef,
	.map_start = cb_map, .indef_map_start = cb_map_indef,
	.tag = cb_tag,
	.float2 = cb_float, .float4 = cb_float, .float8 = cb_double,
	.undefined = cb_undefined, .null = cb_null, .boolean = cb_bool,
	.indef_break = cb_break,
};

int ctl_cbor_to_json(const uint8_t *buf, size_t len, const struct ctl_cbor_hints *h, json_t **out,
		     char *err, size_t errlen)
{
	/*
	 * About 2 KiB on the stack: allocating it costs more than decoding a small request (glibc
	 * consolidates its fast bins on every allocation of this size).
	 */
	struct dec dec = { .h = h }, *d = &dec;
	size_t pos = 0, items = 0;
	int rc;

	if (len > CTL_CBOR_MAX_LEN) {
		if (err && errlen)
			snprintf(err, errlen, "CBOR body of %zu bytes exceeds %zu", len,
				 CTL_CBOR_MAX_LEN);
		return -E2BIG;
	}
	while (pos < len) {
		struct cbor_decoder_result r;

		if (d->root) {
			bad(d, "bytes after the top-level item");
			break;
		}
		if (++items > CTL_CBOR_MAX_ITEMS) {
			bad(d, "too many data items");
			break;
		}
		d->tag_before = d->tag_last;
		d->tag_last = false;
		r = cbor_stream_decode(buf + pos, len - pos, &callbacks, d);
		if (r.status == CBOR_DECODER_NEDATA) {
			bad(d, "truncated item");
			break;
		}
		if (r.status != CBOR_DECODER_FINISHED) {
			bad(d, "reserved or unassigned initial byte");
			break;
		}
		if (d->why)
			break;
		pos += r.read;
	}
	if (!d->why && !d->root)
		bad(d, len ? "truncated item" : "empty body");

	rc = d->rc;
	if (rc == 0) {
		*out = d->root;
	} else {
		if (err && errlen)
			snprintf(err, errlen, "CBOR at byte %zu: %s", pos, d->why);
		json_decref(d->root);
	}
	for (unsigned i = 0; i < d->depth; i++) {
		json_decref(d->stack[i].node);
		free(d->stack[i].key_own);
	}
	free(d->chunk);
	free(d->b64);
	return rc;
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* The longest item head: initial byte and an 8-byte argument. */
#define HEAD_MAX 9

struct enc {
	uint8_t *p;
	size_t len, cap;
	const struct ctl_cbor_hints *h;
};

static int reserve(struct enc *e, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (e->cap - e->len >= n)
		return 0;
	cap = e->cap ? e->cap : 256;
	while (cap - e->len < n) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	p = realloc(e->p, cap);
	if (!p)
		return -ENOMEM;
	e->p = p;
	e->cap = cap;
	return 0;
}

/* Room for a head; each cbor_encode_* call below then writes at most HEAD_MAX bytes at end(). */
#define HEAD(e, call) do { \
	int _r = reserve((e), HEAD_MAX); \
	if (_r) \
		return _r; \
	(e)->len += call; \
	} while (0)

static uint8_t *end(struct enc *e)
{
	return e->p + e->len;
}

static size_t room(struct enc *e)
{
	return e->cap - e->len;
}

static int enc_int(struct enc *e, int64_t v)
{
	if (v >= 0)
		HEAD(e, cbor_encode_uint((uint64_t)v, end(e), room(e)));
	else
		HEAD(e, cbor_encode_negint((uint64_t)-(v + 1), end(e), room(e)));
	return 0;
}

static int enc_text(struct enc *e, const char *s, size_t n)
{
	int r;

	HEAD(e, cbor_encode_string_start(n, end(e), room(e)));
	r = reserve(e, n);
	if (r)
		return r;
	memcpy(end(e), s, n);
	e->len += n;
	return 0;
}

/* A blob member: the base64 text decoded straight into the output behind its head. */
static int enc_blob(struct enc *e, const char *s, size_t n)
{
	size_t pad = 0, raw;
	long got;
	int r;

	if (n % 4 != 0)
		return -EINVAL;
	if (n && s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	raw = n / 4 * 3 - pad;
	HEAD(e, cbor_encode_bytestring_start(raw, end(e), room(e)));
	r = reserve(e, ctl_b64_dec_max(n));
	if (r)
		return r;
	got = ctl_b64_decode(s, n, end(e));
	if (got < 0 || (size_t)got != raw)
		return -EINVAL;
	e->len += raw;
	return 0;
}

/* A timestamp member: epoch seconds to tag 1 around integer epoch milliseconds. */
static int enc_time(struct enc *e, const json_t *v)
{
	int64_t ms;

	if (json_is_integer(v)) {
		json_int_t s = json_integer_value(v);
		if (s > INT64_MAX / 1000 || s < INT64_MIN / 1000)
			return -ERANGE;
		ms = (int64_t)s * 1000;
	} else {
		double x = json_real_value(v) * 1000.0, frac;
		/* 2^63 is exact in a double; anything at or past it does not fit. */
		if (!(x > -9223372036854775808.0 && x < 9223372036854775808.0))
			return -ERANGE;
		/*
		 * Nearest millisecond, halves away from zero, without libm: the cast truncates, the
		 * fraction is exact (a double of magnitude 2^52 or more has none).
		 */
		ms = (int64_t)x;
		frac = x - (double)ms;
		if (frac >= 0.5)
			ms++;
		else if (frac <= -0.5)
			ms--;
	}
	HEAD(e, cbor_encode_tag(TAG_EPOCH, end(e), room(e)));
	return enc_int(e, ms);
}

static int enc_value(struct enc *e, const json_t *v, enum hint hint, unsigned depth)
{
	int r;

	if (depth > 2 * CTL_CBOR_MAX_DEPTH)
		return -EINVAL;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		HEAD(e, cbor_encode_map_start(json_object_size(v), end(e), room(e)));
		for (void *it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it)) {
			const char *k = json_object_iter_key(it);
			size_t kn = json_object_iter_key_len(it);

			r = enc_text(e, k, kn);
			if (r)
				return r;
			r = enc_value(e, json_object_iter_value(it), hint_of(e->h, k, kn),
				      depth + 1);
			if (r)
				return r;
		}
		return 0;
	}
	case JSON_ARRAY:
		HEAD(e, cbor_encode_array_start(json_array_size(v), end(e), room(e)));
		for (size_t i = 0; i < json_array_size(v); i++) {
			r = enc_value(e, json_array_get(v, i), hint, depth + 1);
			if (r)
				return r;
		}
		return 0;
	case JSON_STRING:
		if (hint == HINT_BLOB)
			return enc_blob(e, json_string_value(v), json_string_length(v));
		return enc_text(e, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		if (hint == HINT_TIME)
			return enc_time(e, v);
		return enc_int(e, (int64_t)json_integer_value(v));
	case JSON_REAL:
		if (hint == HINT_TIME)
			return enc_time(e, v);
		HEAD(e, cbor_encode_double(json_real_value(v), end(e), room(e)));
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		HEAD(e, cbor_encode_bool(json_is_true(v), end(e), room(e)));
		return 0;
	case JSON_NULL:
		HEAD(e, cbor_encode_null(end(e), room(e)));
		return 0;
	}
	return -EINVAL;
}

int ctl_json_to_cbor(const json_t *j, const struct ctl_cbor_hints *h, uint8_t **buf, size_t *len)
{
	struct enc e = { .h = h };
	int r;

	if (!j)
		return -EINVAL;
	r = enc_value(&e, j, HINT_NONE, 0);
	if (r) {
		free(e.p);
		return r;
	}
	*buf = e.p;
	*len = e.len;
	return 0;
}
