/* SPDX-License-Identifier: MIT */
/*
 * dp_frame: the ingest wire protocol (docs/protocol.md): parser, frame and ack builders, chunk
 * reassembly.
 *
 * What it owns. The byte layout of the UDP frames producers send (RECORDS and CHUNK frames) and
 * of the ACK frames the appliance sends back, version 1. Everything here works on plain byte
 * buffers: no DPDK, no allocation (except dp_reasm_new), no locks, no syscalls, so the workers
 * call it on mbuf data and the tests and fuzzers call it directly.
 *
 * Invariants the rest of the dataplane relies on:
 *  - dp_frame_parse() returning DP_DROP_NONE means every length in the frame was checked against
 *    the datagram end and against the Kinesis limits (key 1..256 bytes, data 1..1 MiB, stream
 *    name 1..128 bytes of [a-zA-Z0-9_.-]); record iteration then needs no further checks.
 *  - Record pointers point into the caller's datagram: nothing is copied.
 *  - dp_ack_build() never writes more than `cap` bytes, and for every frame that parsed it fits
 *    in cap = the frame's length (proof in docs/protocol.md, "Ack size"), so an ack is never
 *    larger than the frame that caused it.
 *  - Every drop reason comes from DP_DROP_LIST, which yields the enum, its names and the status
 *    an ack reports for it.
 *
 * Threads. Parsing and building are pure functions of their arguments. A struct dp_reasm belongs
 * to one thread (its worker): no locking; the clock is passed in.
 */
#ifndef DP_FRAME_H
#define DP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_hash.h"

/* ---- wire constants (docs/protocol.md) -------------------------------------------------------- */

/* "INGS" in wire order; the 4 bytes are compared, not a host-order integer. */
#define DP_FRAME_MAGIC0 0x49
#define DP_FRAME_MAGIC1 0x4e
#define DP_FRAME_MAGIC2 0x47
#define DP_FRAME_MAGIC3 0x53
#define DP_FRAME_VERSION 1

/* Frame types (byte 5). Receivers never answer an ACK: no ack loops between two receivers. */
#define DP_FRAME_T_RECORDS 0x01
#define DP_FRAME_T_CHUNK 0x02
#define DP_FRAME_T_ACK 0x81

/* Frame flags (byte 6). Unknown bits must be zero in version 1. */
#define DP_FRAME_F_NO_ACK 0x01u /* the producer wants no ack (fire and forget) */
#define DP_FRAME_F_KNOWN DP_FRAME_F_NO_ACK

/* Record flags. */
#define DP_REC_F_EHK 0x01u /* a 16-byte explicit hash key follows the record header */

/* Ack flags (byte 6 of an ACK). */
#define DP_ACK_F_STATUS_ONLY 0x01u /* entries are one status byte per record (the fallback) */

/* Fixed sizes. The 28-byte header keeps every field at its natural alignment from the frame
 * start; records are not padded (unaligned loads cost nothing extra on x86-64 and arm64). */
#define DP_FRAME_HDR_LEN 28u
#define DP_FRAME_REC_HDR_LEN 8u    /* key_len u16, flags u8, reserved u8, data_len u32 */
#define DP_FRAME_CHUNK_HDR_LEN 16u /* ... plus total_len u32, offset u32 */
#define DP_FRAME_EHK_LEN 16u
#define DP_FRAME_STREAM_MAX 128u
/* Records per RECORDS frame. Kinesis's PutRecords takes 500; 1024 leaves room while bounding
 * the per-frame arrays a worker keeps (and fits the u16 count and run fields). */
#define DP_FRAME_RECORDS_MAX 1024u
/* Smallest encoded record: header + 1 key byte + 1 data byte. The ack-size proof uses it. */
#define DP_FRAME_REC_MIN (DP_FRAME_REC_HDR_LEN + 2u)
/* Largest UDP payload over IPv4: what a producer should size its frame buffer to at most. */
#define DP_FRAME_DATAGRAM_MAX 65507u

#define DP_ACK_HDR_LEN 28u
#define DP_ACK_RUN_OK_LEN 16u  /* count u16, status u8 (0), reserved u8, shard u32, first seq u64 */
#define DP_ACK_RUN_ERR_LEN 4u  /* count u16, status u8 (!= 0), reserved u8 */

/* ---- ack status codes (wire values, byte-sized) ----------------------------------------------- */

/* X(name, wire value, text). Wire values never change meaning; new ones are only added. */
#define DP_ACK_STATUS_LIST(X) \
	X(OK,             0, "ok") \
	X(MALFORMED,      1, "malformed") \
	X(BAD_VERSION,    2, "bad-version") \
	X(UNKNOWN_STREAM, 3, "unknown-stream") \
	X(OVERSIZE,       4, "oversize") \
	X(THROTTLED,      5, "throttled") \
	X(READ_ONLY,      6, "read-only") \
	X(STALE,          7, "stale-batch") \
	X(DUPLICATE,      8, "duplicate") \
	X(INTERNAL,       9, "internal")

enum dp_ack_status {
#define DP_ACK_X_ENUM(name, val, text) DP_ACK_##name = val,
	DP_ACK_STATUS_LIST(DP_ACK_X_ENUM)
#undef DP_ACK_X_ENUM
};

/* The status's text ("ok", "throttled", ...); NULL for a value not in the list. */
const char *dp_ack_status_name(unsigned status);

/* ---- drop reasons ----------------------------------------------------------------------------- */

/*
 * X(name, ack, text): every reason a frame or record is not taken, the status a frame-level ack
 * reports for it (-1: no ack is ever sent, because the sender cannot be trusted to be one of
 * ours or answering would loop), and its counter name. Reasons marked "caller" are decided by the
 * worker (stream lookup, rings, shard state, retry window), not by this module.
 */
#define DP_DROP_LIST(X) \
	X(NONE,           DP_ACK_OK,             "ok") \
	X(SHORT,          -1,                    "short")          /* shorter than the header */ \
	X(BAD_MAGIC,      -1,                    "bad-magic") \
	X(BAD_VERSION,    DP_ACK_BAD_VERSION,    "bad-version") \
	X(BAD_TYPE,       -1,                    "bad-type")       /* ACKs and unknown types */ \
	X(MALFORMED,      DP_ACK_MALFORMED,      "malformed")      /* reserved bits/bytes set */ \
	X(STREAM_NAME,    DP_ACK_MALFORMED,      "stream-name") \
	X(COUNT,          DP_ACK_MALFORMED,      "count")          /* 0, too many, or mismatch */ \
	X(TRUNCATED,      DP_ACK_MALFORMED,      "truncated")      /* a length past the end */ \
	X(TRAILING,       DP_ACK_MALFORMED,      "trailing-bytes") \
	X(KEY_LEN,        DP_ACK_MALFORMED,      "key-len") \
	X(DATA_LEN,       DP_ACK_MALFORMED,      "data-len")       /* empty data or chunk */ \
	X(OVERSIZE,       DP_ACK_OVERSIZE,       "oversize")       /* data or total > 1 MiB */ \
	X(CHUNK_RANGE,    DP_ACK_MALFORMED,      "chunk-range")    /* offset + len > total */ \
	X(CHUNK_OVERLAP,  DP_ACK_MALFORMED,      "chunk-overlap") \
	X(CHUNK_MISMATCH, DP_ACK_MALFORMED,      "chunk-mismatch") /* key/total differs */ \
	X(CHUNK_GAPS,     DP_ACK_THROTTLED,      "chunk-gaps")     /* too many holes */ \
	X(CHUNK_DUP,      -1,                    "chunk-dup")      /* already have it */ \
	X(REASM_BUSY,     DP_ACK_THROTTLED,      "reasm-busy")     /* every slot held */ \
	X(UNKNOWN_STREAM, DP_ACK_UNKNOWN_STREAM, "unknown-stream") /* caller */ \
	X(THROTTLED,      DP_ACK_THROTTLED,      "throttled")      /* caller: ring full */ \
	X(READ_ONLY,      DP_ACK_READ_ONLY,      "read-only")      /* caller: shard failed */ \
	X(STALE,          DP_ACK_STALE,          "stale-batch")    /* caller: retry window */ \
	X(NOT_READY,      DP_ACK_THROTTLED,      "not-ready")      /* caller: no routing table
								    yet (starting, stopping) */

enum dp_drop {
#define DP_DROP_X_ENUM(name, ack, text) DP_DROP_##name,
	DP_DROP_LIST(DP_DROP_X_ENUM)
#undef DP_DROP_X_ENUM
	DP_DROP__COUNT
};

/* The reason's counter name; "?" for a value out of range. */
const char *dp_drop_name(enum dp_drop d);
/* The ack status a frame-level ack reports for d, or -1 when no ack may be sent. */
int dp_drop_ack_status(enum dp_drop d);

/* ---- parsed frames ---------------------------------------------------------------------------- */

/* One record (or one chunk of a record) pointing into the datagram. */
struct dp_frame_rec {
	const uint8_t *key;
	const uint8_t *data;      /* this record's data, or this chunk's bytes */
	const uint8_t *ehk;       /* 16 bytes big-endian, or NULL: route by MD5(key) */
	uint32_t data_len;
	uint16_t key_len;
	/* CHUNK frames only (0 otherwise): the whole record's length and this chunk's offset. */
	uint32_t total_len;
	uint32_t offset;
};

struct dp_frame {
	/* Set as soon as the fixed envelope (magic, bytes 8..23) was read, also when parsing fails
	 * later: a frame-level error ack may then be sent to the producer. */
	bool envelope;
	uint8_t version;
	uint8_t type;             /* DP_FRAME_T_RECORDS or DP_FRAME_T_CHUNK */
	uint8_t flags;
	uint64_t producer_id;
	uint64_t batch;
	const char *stream;       /* not NUL-terminated */
	uint8_t stream_len;
	uint16_t count;           /* records (1 for a CHUNK frame) */
	size_t len;               /* the datagram's length: the cap for its ack */
	const uint8_t *recs;      /* first record header */
	const uint8_t *end;
};

/*
 * Parse and validate one datagram p[0..len). On success fills *f and returns DP_DROP_NONE;
 * otherwise returns the first reason found (f->envelope tells whether producer_id and batch are
 * valid, for a frame-level error ack). Checks, in order: length >= header, magic, version, type,
 * flags and reserved bytes, stream name, count, then each record: header inside the datagram,
 * flags, key length 1..256, data length 1..1 MiB (OVERSIZE above, before the end check), every
 * byte inside the datagram; then no trailing bytes. A CHUNK frame has count 1 and its chunk must
 * satisfy 1 <= total <= 1 MiB, offset + length <= total.
 */
enum dp_drop dp_frame_parse(const uint8_t *p, size_t len, struct dp_frame *f);

/* Record iteration over a frame that parsed: it = 0 to start. Returns true and fills *r while
 * records remain; no checks are repeated and nothing is copied. A frame that failed to parse
 * has no records (returns false at once). */
bool dp_frame_rec_next(const struct dp_frame *f, size_t *it, struct dp_frame_rec *r);

/* ExplicitHashKey bytes (big-endian) <-> the 128-bit integer that Kinesis writes in decimal. */
dp_u128 dp_be128_load(const uint8_t p[DP_FRAME_EHK_LEN]);
void dp_be128_store(dp_u128 v, uint8_t p[DP_FRAME_EHK_LEN]);

/* ---- frame builder (producers and tests) ------------------------------------------------------ */

struct dp_frame_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint16_t count;
	uint8_t type;
};

/*
 * Start a RECORDS frame in buf[0..cap). stream: 1..128 bytes of [a-zA-Z0-9_.-]; flags: a subset
 * of DP_FRAME_F_KNOWN. Returns 0, -EINVAL (bad stream or flags) or -EMSGSIZE (cap too small
 * for the header).
 */
int dp_frame_builder_init(struct dp_frame_builder *b, uint8_t *buf, size_t cap, uint64_t producer_id,
			  uint64_t batch, const char *stream, size_t stream_len, uint8_t flags);

/*
 * Append one record: key 1..256 bytes, ehk NULL or 16 bytes big-endian, data 1..1 MiB.
 * Returns 0; -EINVAL for a length out of range; -EMSGSIZE when it does not fit in cap or the
 * frame already holds DP_FRAME_RECORDS_MAX records (the frame is then unchanged: finish it and
 * start the next).
 */
int dp_frame_builder_add(struct dp_frame_builder *b, const void *key, size_t key_len,
			 const uint8_t *ehk, const void *data, size_t data_len);

/* Write the count and return the frame's length, or -EINVAL when it holds no record. */
int dp_frame_builder_finish(struct dp_frame_builder *b);

/* Encoded size of one record in a RECORDS frame. */
size_t dp_frame_rec_size(size_t key_len, bool ehk, size_t data_len);

/*
 * Build one CHUNK frame into buf[0..cap): the bytes data[0..len) at `offset` of a record of
 * total_len bytes (1..1 MiB) whose chunks all carry the same producer id and batch number (the
 * record's id), stream, key and ehk. Returns the frame's length, -EINVAL (a bad argument or
 * offset + len > total_len) or -EMSGSIZE (does not fit in cap).
 */
int dp_frame_build_chunk(uint8_t *buf, size_t cap, uint64_t producer_id, uint64_t batch,
			 const char *stream, size_t stream_len, uint8_t flags, const void *key,
			 size_t key_len, const uint8_t *ehk, uint32_t total_len, uint32_t offset,
			 const void *data, size_t len);

/* The chunk bytes a CHUNK frame of frame_cap bytes can carry for this stream and key (0 if none). */
size_t dp_frame_chunk_room(size_t frame_cap, size_t stream_len, size_t key_len, bool ehk);

/* ---- acks ------------------------------------------------------------------------------------- */

/* One record's outcome, in frame order. seq and shard are meaningful only for DP_ACK_OK. */
struct dp_ack_rec {
	uint64_t seq;
	uint32_t shard;
	uint8_t status;
};

/*
 * Build the ACK for a frame into out[0..cap); cap is the request's length (f->len), so that the
 * ack never outgrows it. recs[0..n) are the outcomes of the frame's records in frame order
 * (n = f->count). Uses the run encoding (consecutive records with the same status, and for OK
 * the same shard and consecutive sequence numbers, share one entry) when it fits in cap, else
 * the status-only fallback (one byte per record), which fits for every frame that parsed.
 * Returns the ack's length; -EINVAL (n out of 1..DP_FRAME_RECORDS_MAX, or an OK with
 * seq > DP_SEQ_MAX) or -EMSGSIZE (not even the fallback fits: not a parsed frame).
 */
int dp_ack_build(uint8_t *out, size_t cap, uint64_t producer_id, uint64_t batch,
		 const struct dp_ack_rec *recs, unsigned n);

/*
 * Build a frame-level error ack (DP_ACK_HDR_LEN bytes, no entries): the whole frame failed with
 * `status` (e.g. dp_drop_ack_status() of its drop reason, or UNKNOWN_STREAM). Requires
 * f->envelope. Returns the length, -EINVAL (no envelope, status 0 or > 255) or -EMSGSIZE
 * (cap < DP_ACK_HDR_LEN).
 */
int dp_ack_build_error(uint8_t *out, size_t cap, const struct dp_frame *f, unsigned status);

/* A parsed ack (for producers and tests). */
struct dp_ack {
	uint8_t version;
	uint8_t flags;
	uint8_t status;       /* frame-level: 0, or the error for the whole frame */
	uint64_t producer_id;
	uint64_t batch;
	uint16_t count;       /* records covered */
	uint16_t entries;
	const uint8_t *ent;
	const uint8_t *end;
};

/*
 * Parse an ACK frame. Checks magic, version, type, flags, entry sizes against the end, that the
 * runs cover exactly `count` records and that no bytes trail. Returns DP_DROP_NONE or a reason.
 */
enum dp_drop dp_ack_parse(const uint8_t *p, size_t len, struct dp_ack *a);

/*
 * Expand a parsed ack into per-record outcomes out[0..a->count) (max must be >= a->count).
 * Records under the status-only fallback get their status with seq 0 and shard 0.
 * Returns a->count or -ENOSPC.
 */
int dp_ack_expand(const struct dp_ack *a, struct dp_ack_rec *out, unsigned max);

/* ---- chunk reassembly ------------------------------------------------------------------------- */

/* Disjoint received ranges kept per record (2 KiB a slot): a chunk that would need more is
 * dropped (CHUNK_GAPS) and comes back with the producer's retry. In-order chunks need 1 range;
 * a 1 MiB record in 760 MTU-sized chunks arriving in random order peaks near 760 / 4 = 190. */
#define DP_REASM_RANGES_MAX 256u

struct dp_reasm;

/* A completed record, valid until dp_reasm_release(). */
struct dp_reasm_rec {
	unsigned slot;
	uint64_t producer_id;
	uint64_t batch;
	const char *stream;
	uint8_t stream_len;
	const uint8_t *key;
	uint16_t key_len;
	const uint8_t *ehk;       /* NULL or 16 bytes */
	const uint8_t *data;
	uint32_t data_len;
};

struct dp_reasm_stats {
	uint64_t chunks;          /* chunks stored */
	uint64_t completed;       /* records completed */
	uint64_t expired;         /* partial records dropped by the timeout */
	uint64_t evicted;         /* partial records dropped to make room (oldest first) */
	uint64_t dups;            /* chunks already held */
	uint64_t rejected;        /* chunks refused with another reason */
};

/*
 * Create a reassembler with `slots` (1..1024) records in progress, each with a DP_DATA_MAX
 * buffer allocated now (memory: slots * (1 MiB + about 2.5 KiB), fixed for its life), and a
 * timeout (>= 1 ms) counted from a record's first chunk. Returns 0, -EINVAL or -ENOMEM.
 */
int dp_reasm_new(unsigned slots, uint32_t timeout_ms, struct dp_reasm **ret);

/* Free a reassembler. NULL is accepted. */
void dp_reasm_free(struct dp_reasm *r);

/*
 * Take the chunk of a parsed CHUNK frame f at time now_ms. The record's id is (producer id,
 * batch). Partial records older than the timeout are expired first. A new record takes a free
 * slot, else the slot of the oldest partial record (evicted); completed records not yet released
 * are never evicted.
 * Returns 1 when the record is now complete (*done filled; the slot stays held until
 * dp_reasm_release), 0 when the chunk was stored and more are needed, or the negation of a
 * reason: -DP_DROP_CHUNK_DUP (bytes already held; harmless), -DP_DROP_CHUNK_OVERLAP (partly
 * overlaps what is held), -DP_DROP_CHUNK_MISMATCH (total, stream, key or ehk differ from the
 * record's first chunk), -DP_DROP_CHUNK_GAPS, -DP_DROP_REASM_BUSY (every slot holds a completed
 * record), -DP_DROP_BAD_TYPE (f is not a CHUNK frame).
 */
int dp_reasm_add(struct dp_reasm *r, const struct dp_frame *f, int64_t now_ms,
		 struct dp_reasm_rec *done);

/* Free the slot of a completed record once its data was appended (copied) or given up. */
void dp_reasm_release(struct dp_reasm *r, const struct dp_reasm_rec *done);

/* Drop partial records whose first chunk is older than the timeout. Returns how many. */
unsigned dp_reasm_expire(struct dp_reasm *r, int64_t now_ms);

/* Slots holding a partial or completed record. */
unsigned dp_reasm_in_use(const struct dp_reasm *r);

void dp_reasm_stats_get(const struct dp_reasm *r, struct dp_reasm_stats *st);

#endif
