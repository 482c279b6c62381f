/* SPDX-License-Identifier: MIT */
/*
 * ctl_cbor: the AWS CBOR protocol (Content-Type application/x-amz-cbor-1.1) translated at the edge
 * to and from the JSON values the AWS JSON 1.1 handlers work on. The Java SDKs (and so KCL, Flink
 * and Spark) speak it to Kinesis: the shapes are those of the JSON protocol, but blobs travel as
 * CBOR byte strings instead of base64 text and timestamps as tag 1 around an integer of epoch
 * milliseconds instead of a number of epoch seconds. Errors come back in the same shape as JSON
 * errors: a map with "__type" and "message".
 *
 * The decoder runs libcbor's streaming decoder and builds jansson values directly, without an
 * intermediate libcbor item tree; the encoder writes item heads with libcbor's encoding functions
 * into one growing buffer. No state; any thread.
 *
 * What the decoder accepts (anything else is -EINVAL with a message naming the byte offset):
 *  - exactly one data item filling the buffer: an empty buffer, a truncated item or bytes after
 *    the item are rejected;
 *  - definite and indefinite-length arrays, maps, text and byte strings (the Java SDKs write
 *    indefinite-length maps and arrays, and long strings in chunks); a chunk must be a definite
 *    string of the same major type, and a text chunk may not split a UTF-8 character;
 *  - maps whose keys are text strings, each key at most once;
 *  - text that is valid UTF-8 (checked by jansson) without U+0000, as jansson's JSON decoder
 *    requires by default, so handlers may treat strings as C strings;
 *  - integers in [INT64_MIN, INT64_MAX] (jansson's json_int_t); outside that range is rejected
 *    rather than rounded;
 *  - half, single and double floats that are finite (JSON has no NaN or infinity);
 *  - false, true and null; undefined and the other simple values are rejected;
 *  - tag 1 around an integer, read as epoch milliseconds (the AWS SDK convention, not RFC 8949's
 *    seconds; a float inside tag 1 is rejected so that seconds from a generic encoder are never
 *    misread by a factor of 1000); tag 55799 (self-described CBOR) anywhere, ignored; no other
 *    tag, and no tag on a map key, before a break or directly on another tag 1;
 *  - nesting at most CTL_CBOR_MAX_DEPTH arrays and maps deep, at most CTL_CBOR_MAX_ITEMS items in
 *    all, at most CTL_CBOR_MAX_LEN bytes of input. Declared lengths are never trusted for
 *    allocation: a string must lie inside the buffer, a container is grown item by item.
 */
#ifndef CTL_CBOR_H
#define CTL_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Arrays and maps nested deeper than this are rejected; the deepest Kinesis shape is 4 levels. */
#define CTL_CBOR_MAX_DEPTH 32

/*
 * Item heads in one request (each container, string, string chunk, number, tag and break counts
 * one). A one-byte CBOR item becomes a json_t of some 50 bytes, so this caps the memory one
 * request can cost at about 16 MiB; PutRecords at its 500-record limit is about 2,000 heads.
 */
#define CTL_CBOR_MAX_ITEMS (1u << 18)

/* Larger bodies are refused before decoding; Kinesis requests are at most 10 MiB. */
#define CTL_CBOR_MAX_LEN ((size_t)32 << 20)

/*
 * Field-name hints for one service: which object members hold blobs and which hold timestamps,
 * as the service's API model marks them. NULL-terminated lists; either may be NULL. A hint
 * applies to the value of a member of that name at any depth, and to the elements of an array
 * that is such a value (a list of blobs or of timestamps).
 */
struct ctl_cbor_hints {
	const char *const *blob_fields;
	const char *const *time_fields;
};

/*
 * Kinesis 2013-12-02: blob Data (PutRecord, PutRecordsRequestEntry, Record); timestamps
 * ApproximateArrivalTimestamp (Record), ConsumerCreationTimestamp (Consumer,
 * ConsumerDescription), StreamCreationTimestamp (ListShards, ListStreamConsumers,
 * StreamDescription, StreamDescriptionSummary) and Timestamp (GetShardIterator, ShardFilter,
 * StartingPosition).
 */
extern const struct ctl_cbor_hints ctl_cbor_kinesis_hints;

/*
 * Decode a CBOR request body into the JSON value the JSON protocol would have produced for the
 * same request: byte strings become base64 text (ctl_b64), timestamps become JSON reals of epoch
 * seconds. In a member named in h->time_fields an untagged number is read as epoch milliseconds
 * too; tag 1 is honoured wherever it appears. h may be NULL (no hints).
 *
 * buf/len: the body; out: receives a new reference on success only; err/errlen: receives a
 * NUL-terminated reason on failure (may be NULL/0).
 * Returns 0, -EINVAL when the body is not acceptable CBOR (see the list above), -E2BIG when len
 * exceeds CTL_CBOR_MAX_LEN, -ENOMEM when memory runs out. jansson reports invalid UTF-8 and
 * allocation failure alike; both read as -EINVAL.
 */
int ctl_cbor_to_json(const uint8_t *buf, size_t len, const struct ctl_cbor_hints *h, json_t **out,
		     char *err, size_t errlen);

/*
 * Encode a JSON response as CBOR. String members named in h->blob_fields are base64-decoded and
 * emitted as byte strings; number members named in h->time_fields (epoch seconds, maybe
 * fractional) become tag 1 around integer epoch milliseconds, rounded to the nearest. Other
 * values map one to one: integers to CBOR integers, reals to doubles, strings to text, true,
 * false, null, arrays and objects (in jansson's order) with definite lengths.
 *
 * On success *buf is a malloc'd buffer the caller frees and *len its length; on failure neither
 * is written. Returns 0, -EINVAL when a blob member is not valid base64 or j nests deeper than
 * 2 * CTL_CBOR_MAX_DEPTH, -ERANGE when a timestamp does not fit int64 milliseconds, -ENOMEM.
 */
int ctl_json_to_cbor(const json_t *j, const struct ctl_cbor_hints *h, uint8_t **buf, size_t *len);

#endif
