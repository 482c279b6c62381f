/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_frame: build -> parse round trips, every malformed input and its exact drop
 * reason, acks (run encoding, the status-only fallback, frame-level errors, and the property that
 * an ack never outgrows its frame), and chunk reassembly (order, duplicates, overlaps, timeouts,
 * eviction).
 *
 * Malformed frames are made by building a valid frame and then editing bytes at offsets that
 * docs/protocol.md gives, so the tests also pin the wire layout.
 */
#include "dp_frame.h"
#include "dp_log.h"

#include "dp_test.h"

static uint64_t rng_state = UINT64_C(0x5eed0f0f12345678);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static const char STREAM[] = "orders.v1-prod_eu";
#define STREAM_LEN (sizeof(STREAM) - 1)

static uint8_t buf[1u << 17];
static uint8_t ackbuf[1u << 17];

/* A valid 2-record frame (keys "k1", "key2", data "abc", "x") in buf; returns its length. */
static size_t small_frame(void)
{
	struct dp_frame_builder b;

	if (dp_frame_builder_init(&b, buf, sizeof(buf), 7, 9, STREAM, STREAM_LEN, 0) != 0 ||
	    dp_frame_builder_add(&b, "k1", 2, NULL, "abc", 3) != 0 ||
	    dp_frame_builder_add(&b, "key2", 4, NULL, "x", 1) != 0)
		abort();
	return (size_t)dp_frame_builder_finish(&b);
}

/* Offset of the first record header in a frame built with STREAM. */
#define REC0 (DP_FRAME_HDR_LEN + STREAM_LEN)

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- round trips ------------------------------------------------------------------------------ */

static void test_one_record_round_trip(void)
{
	struct dp_frame_builder b;
	struct dp_frame f;
	struct dp_frame_rec r;
	size_t it = 0;
	int len;

	REQUIRE(dp_frame_builder_init(&b, buf, sizeof(buf), UINT64_C(0x1122334455667788),
				      UINT64_C(42), STREAM, STREAM_LEN, DP_FRAME_F_NO_ACK) == 0);
	REQUIRE(dp_frame_builder_add(&b, "pk", 2, NULL, "hello", 5) == 0);
	len = dp_frame_builder_finish(&b);
	CHECK_EQ(len, DP_FRAME_HDR_LEN + STREAM_LEN + DP_FRAME_REC_HDR_LEN + 2 + 5);
	/* The wire layout: magic, version, type, flags, stream length, little-endian integers. */
	CHECK(memcmp(buf, "INGS", 4) == 0);
	CHECK_EQ(buf[4], 1);
	CHECK_EQ(buf[5], DP_FRAME_T_RECORDS);
	CHECK_EQ(buf[6], DP_FRAME_F_NO_ACK);
	CHECK_EQ(buf[7], STREAM_LEN);
	CHECK_EQ(buf[8], 0x88);
	CHECK_EQ(buf[15], 0x11);
	CHECK_EQ(buf[16], 42);
	CHECK_EQ(buf[24], 1);
	CHECK_EQ(buf[25], 0);

	REQUIRE(dp_frame_parse(buf, (size_t)len, &f) == DP_DROP_NONE);
	CHECK(f.envelope);
	CHECK_EQ_U64(f.producer_id, UINT64_C(0x1122334455667788));
	CHECK_EQ_U64(f.batch, 42);
	CHECK_EQ(f.flags, DP_FRAME_F_NO_ACK);
	CHECK_EQ(f.count, 1);
	CHECK_EQ(f.len, len);
	CHECK_EQ(f.stream_len, STREAM_LEN);
	CHECK(memcmp(f.stream, STREAM, STREAM_LEN) == 0);
	REQUIRE(dp_frame_rec_next(&f, &it, &r));
	CHECK_EQ(r.key_len, 2);
	CHECK(memcmp(r.key, "pk", 2) == 0);
	CHECK_EQ(r.data_len, 5);
	CHECK(memcmp(r.data, "hello", 5) == 0);
	CHECK(r.ehk == NULL);
	/* Pointers into the datagram, not copies. */
	CHECK(r.data >= buf && r.data + r.data_len == buf + len);
	CHECK(!dp_frame_rec_next(&f, &it, &r));
}

/* Build n random records (some with an explicit hash key), parse, and compare each. */
static void round_trip_random(unsigned n, unsigned max_key, unsigned max_data)
{
	static uint8_t keys[DP_FRAME_RECORDS_MAX][DP_KEY_MAX], ehks[DP_FRAME_RECORDS_MAX][16];
	static uint8_t data[DP_FRAME_RECORDS_MAX][512];
	static size_t klen[DP_FRAME_RECORDS_MAX], dlen[DP_FRAME_RECORDS_MAX];
	static bool has_ehk[DP_FRAME_RECORDS_MAX];
	struct dp_frame_builder b;
	struct dp_frame f;
	struct dp_frame_rec r;
	size_t it = 0;
	unsigned i = 0;
	int len;

	REQUIRE(dp_frame_builder_init(&b, buf, sizeof(buf), rng(), rng(), STREAM, STREAM_LEN, 0) == 0);
	for (i = 0; i < n; i++) {
		klen[i] = 1 + rng() % max_key;
		dlen[i] = 1 + rng() % max_data;
		has_ehk[i] = rng() % 4 == 0;
		dp_test_fill(rng(), keys[i], klen[i]);
		dp_test_fill(rng(), data[i], dlen[i]);
		dp_test_fill(rng(), ehks[i], 16);
		REQUIRE(dp_frame_builder_add(&b, keys[i], klen[i], has_ehk[i] ? ehks[i] : NULL, data[i],
					     dlen[i]) == 0);
	}
	len = dp_frame_builder_finish(&b);
	REQUIRE(len > 0);
	REQUIRE(dp_frame_parse(buf, (size_t)len, &f) == DP_DROP_NONE);
	CHECK_EQ(f.count, n);
	for (i = 0; dp_frame_rec_next(&f, &it, &r); i++) {
		REQUIRE(i < n);
		CHECK_EQ(r.key_len, klen[i]);
		CHECK(memcmp(r.key, keys[i], klen[i]) == 0);
		CHECK_EQ(r.data_len, dlen[i]);
		CHECK(memcmp(r.data, data[i], dlen[i]) == 0);
		CHECK((r.ehk != NULL) == has_ehk[i]);
		if (r.ehk)
			CHECK(memcmp(r.ehk, ehks[i], 16) == 0);
	}
	CHECK_EQ(i, n);
}

static void test_500_records_round_trip(void)
{
	round_trip_random(500, 32, 200);
}

static void test_1024_records_is_the_limit(void)
{
	struct dp_frame_builder b;
	struct dp_frame f;
	int len;

	round_trip_random(DP_FRAME_RECORDS_MAX, 4, 8);
	REQUIRE(dp_frame_builder_init(&b, buf, sizeof(buf), 1, 1, STREAM, STREAM_LEN, 0) == 0);
	for (unsigned i = 0; i < DP_FRAME_RECORDS_MAX; i++)
		REQUIRE(dp_frame_builder_add(&b, "k", 1, NULL, "d", 1) == 0);
	CHECK_EQ(dp_frame_builder_add(&b, "k", 1, NULL, "d", 1), -EMSGSIZE);
	len = dp_frame_builder_finish(&b);
	CHECK_EQ(len, REC0 + DP_FRAME_RECORDS_MAX * DP_FRAME_REC_MIN);
	CHECK_EQ(dp_frame_parse(buf, (size_t)len, &f), DP_DROP_NONE);
	/* A header claiming 1025 records is refused before any record is read. */
	buf[24] = 0x01;
	buf[25] = 0x04;
	CHECK_EQ(dp_frame_parse(buf, (size_t)len, &f), DP_DROP_COUNT);
}

static void test_max_key_and_stream(void)
{
	char stream[DP_FRAME_STREAM_MAX];
	uint8_t key[DP_KEY_MAX];
	struct dp_frame_builder b;
	struct dp_frame f;
	struct dp_frame_rec r;
	size_t it = 0;
	int len;

	memset(stream, 'S', sizeof(stream));
	dp_test_fill(3, key, sizeof(key));
	REQUIRE(dp_frame_builder_init(&b, buf, sizeof(buf), 1, 2, stream, sizeof(stream), 0) == 0);
	REQUIRE(dp_frame_builder_add(&b, key, DP_KEY_MAX, NULL, "v", 1) == 0);
	CHECK_EQ(dp_frame_builder_add(&b, key, DP_KEY_MAX + 1, NULL, "v", 1), -EINVAL);
	CHECK_EQ(dp_frame_builder_add(&b, key, 0, NULL, "v", 1), -EINVAL);
	CHECK_EQ(dp_frame_builder_add(&b, key, 1, NULL, "v", 0), -EINVAL);
	len = dp_frame_builder_finish(&b);
	REQUIRE(dp_frame_parse(buf, (size_t)len, &f) == DP_DROP_NONE);
	CHECK_EQ(f.stream_len, DP_FRAME_STREAM_MAX);
	REQUIRE(dp_frame_rec_next(&f, &it, &r));
	CHECK_EQ(r.key_len, DP_KEY_MAX);
	CHECK(memcmp(r.key, key, DP_KEY_MAX) == 0);

	CHECK_EQ(dp_frame_builder_init(&b, buf, sizeof(buf), 1, 2, stream, sizeof(stream) + 1, 0),
		 -EINVAL);
	CHECK_EQ(dp_frame_builder_init(&b, buf, sizeof(buf), 1, 2, "bad name", 8, 0), -EINVAL);
	CHECK_EQ(dp_frame_builder_init(&b, buf, sizeof(buf), 1, 2, "s", 0, 0), -EINVAL);
	CHECK_EQ(dp_frame_builder_init(&b, buf, sizeof(buf), 1, 2, "s", 1, 0x80), -EINVAL);
	CHECK_EQ(dp_frame_builder_init(&b, buf, DP_FRAME_HDR_LEN, 1, 2, "s", 1, 0), -EMSGSIZE);
	/* A record that does not fit leaves the frame as it was. */
	REQUIRE(dp_frame_builder_init(&b, buf, REC0 + 20, 1, 2, STREAM, STREAM_LEN, 0) == 0);
	CHECK_EQ(dp_frame_builder_add(&b, "k", 1, NULL, "0123456789ab", 12), -EMSGSIZE);
	CHECK_EQ(dp_frame_builder_add(&b, "k", 1, NULL, "0123456789a", 11), 0);
	CHECK_EQ(dp_frame_builder_finish(&b), REC0 + 20);
	REQUIRE(dp_frame_builder_init(&b, buf, sizeof(buf), 1, 2, "s", 1, 0) == 0);
	CHECK_EQ(dp_frame_builder_finish(&b), -EINVAL);
}

/* Kinesis's decimal ExplicitHashKey <-> our 16 big-endian bytes, and MD5 digests read the same. */
static void test_explicit_hash_key_mapping(void)
{
	static const struct {
		const char *dec;
		uint8_t be[16];
	} v[] = {
		{ "0", { 0 } },
		{ "1", { [15] = 1 } },
		{ "340282366920938463463374607431768211455",
		  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff } },
		/* 2^127 */
		{ "170141183460469231731687303715884105728", { 0x80 } },
		/* MD5("a") = 0cc175b9c0f1b6a831c399e269772661 */
		{ "16955237001963240173058271559858726497",
		  { 0x0c, 0xc1, 0x75, 0xb9, 0xc0, 0xf1, 0xb6, 0xa8, 0x31, 0xc3, 0x99, 0xe2, 0x69, 0x77,
		    0x26, 0x61 } },
	};
	struct dp_hasher *h = NULL;
	struct dp_frame_builder b;
	struct dp_frame f;
	struct dp_frame_rec r;
	uint8_t out[16];
	dp_u128 x, md5;
	size_t it = 0;
	int len;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		REQUIRE(dp_u128_parse(v[i].dec, strlen(v[i].dec), &x) == 0);
		dp_be128_store(x, out);
		CHECK(memcmp(out, v[i].be, 16) == 0);
		CHECK(dp_be128_load(v[i].be) == x);
	}
	/* The EHK travels untouched and decodes to the routing value. */
	REQUIRE(dp_frame_builder_init(&b, buf, sizeof(buf), 1, 2, STREAM, STREAM_LEN, 0) == 0);
	REQUIRE(dp_frame_builder_add(&b, "a", 1, v[2].be, "d", 1) == 0);
	len = dp_frame_builder_finish(&b);
	CHECK_EQ(len, REC0 + DP_FRAME_REC_HDR_LEN + 16 + 2);
	CHECK_EQ(buf[REC0 + 2], DP_REC_F_EHK);
	REQUIRE(dp_frame_parse(buf, (size_t)len, &f) == DP_DROP_NONE);
	REQUIRE(dp_frame_rec_next(&f, &it, &r));
	REQUIRE(r.ehk != NULL);
	CHECK(dp_be128_load(r.ehk) == DP_U128_MAX);
	CHECK_EQ(r.key_len, 1);
	CHECK_EQ(r.key[0], 'a');
	/* MD5 routing and EHK routing meet in the same integer. */
	REQUIRE(dp_hasher_new(&h) == 0);
	REQUIRE(dp_hasher_md5(h, "a", 1, &md5) == 0);
	CHECK(md5 == dp_be128_load(v[4].be));
	dp_hasher_free(h);
}

/* ---- malformed frames ------------------------------------------------------------------------- */

static void test_malformed_frames_give_their_reason(void)
{
	struct dp_frame f;
	size_t len = small_frame();
	uint8_t save[64];

	memcpy(save, buf, sizeof(save));
#define RESET() memcpy(buf, save, sizeof(save))
#define EXPECT(l, reason) CHECK_STR(dp_drop_name(dp_frame_parse(buf, (l), &f)), dp_drop_name(reason))

	EXPECT(len, DP_DROP_NONE);
	/* Truncated header: every length below the fixed 28 bytes. */
	for (size_t l = 0; l < DP_FRAME_HDR_LEN; l++)
		EXPECT(l, DP_DROP_SHORT);
	CHECK(!f.envelope);
	EXPECT(DP_FRAME_HDR_LEN, DP_DROP_TRUNCATED);      /* the stream name is cut */
	CHECK(f.envelope);
	EXPECT(REC0, DP_DROP_COUNT);                      /* header complete, no record */
	/* Every cut inside the records. */
	for (size_t l = REC0 + 1; l < len; l++)
		if (l != REC0 + DP_FRAME_REC_HDR_LEN + 2 + 3)
			EXPECT(l, DP_DROP_TRUNCATED);
	EXPECT(REC0 + DP_FRAME_REC_HDR_LEN + 2 + 3, DP_DROP_COUNT); /* count 2, one present */

	buf[0] = 'X';
	EXPECT(len, DP_DROP_BAD_MAGIC);
	CHECK(!f.envelope);
	RESET();
	buf[4] = 2;
	EXPECT(len, DP_DROP_BAD_VERSION);
	CHECK(f.envelope);
	CHECK_EQ_U64(f.producer_id, 7);
	CHECK_EQ_U64(f.batch, 9);
	RESET();
	buf[4] = 0;
	EXPECT(len, DP_DROP_BAD_VERSION);
	RESET();
	buf[5] = DP_FRAME_T_ACK;
	EXPECT(len, DP_DROP_BAD_TYPE);
	buf[5] = 0;
	EXPECT(len, DP_DROP_BAD_TYPE);
	RESET();
	buf[6] = 0x02;
	EXPECT(len, DP_DROP_MALFORMED);
	RESET();
	buf[27] = 1;
	EXPECT(len, DP_DROP_MALFORMED);
	RESET();
	buf[7] = 0;
	EXPECT(len, DP_DROP_STREAM_NAME);
	buf[7] = DP_FRAME_STREAM_MAX + 1;
	EXPECT(len, DP_DROP_STREAM_NAME);
	RESET();
	buf[DP_FRAME_HDR_LEN + 3] = '/';
	EXPECT(len, DP_DROP_STREAM_NAME);
	RESET();
	buf[24] = 0;
	EXPECT(len, DP_DROP_COUNT);
	buf[24] = 3;
	EXPECT(len, DP_DROP_COUNT);   /* count mismatch: more counted than present */
	buf[24] = 1;
	EXPECT(len, DP_DROP_TRAILING); /* fewer counted than present */
	RESET();
	EXPECT(len + 1, DP_DROP_TRAILING);
	/* Record fields. */
	buf[REC0] = 0;
	EXPECT(len, DP_DROP_KEY_LEN);
	buf[REC0] = 1;
	buf[REC0 + 1] = 1; /* 257 */
	EXPECT(len, DP_DROP_KEY_LEN);
	RESET();
	buf[REC0 + 2] = 0x02;
	EXPECT(len, DP_DROP_MALFORMED);
	RESET();
	buf[REC0 + 3] = 1;
	EXPECT(len, DP_DROP_MALFORMED);
	RESET();
	put32(buf + REC0 + 4, 0);
	EXPECT(len, DP_DROP_DATA_LEN);
	put32(buf + REC0 + 4, DP_DATA_MAX + 1);
	EXPECT(len, DP_DROP_OVERSIZE);
	put32(buf + REC0 + 4, DP_DATA_MAX);
	EXPECT(len, DP_DROP_TRUNCATED); /* within the limit but past the datagram */
	put32(buf + REC0 + 4, UINT32_MAX);
	EXPECT(len, DP_DROP_OVERSIZE);
	RESET();
	buf[REC0] = 200; /* key length past the end */
	EXPECT(len, DP_DROP_TRUNCATED);
	RESET();
	buf[REC0 + 2] = DP_REC_F_EHK; /* claims 16 more bytes than there are */
	EXPECT(len, DP_DROP_TRUNCATED);
	RESET();
	EXPECT(len, DP_DROP_NONE);
	/* A frame that failed, even after all its records were read, yields no records. */
	EXPECT(len + 1, DP_DROP_TRAILING);
	{
		struct dp_frame_rec r;
		size_t it = 0;

		CHECK(!dp_frame_rec_next(&f, &it, &r));
	}
#undef EXPECT
#undef RESET
}

static void test_malformed_chunks(void)
{
	struct dp_frame f;
	size_t c0 = REC0;
	int len;

	len = dp_frame_build_chunk(buf, sizeof(buf), 1, 2, STREAM, STREAM_LEN, 0, "k", 1, NULL, 100, 90,
				   "0123456789", 10);
	REQUIRE(len == (int)(REC0 + DP_FRAME_CHUNK_HDR_LEN + 1 + 10));
	REQUIRE(dp_frame_parse(buf, (size_t)len, &f) == DP_DROP_NONE);
	CHECK_EQ(f.type, DP_FRAME_T_CHUNK);
	put32(buf + c0 + 12, 91); /* offset + len = 101 > total */
	CHECK_EQ(dp_frame_parse(buf, (size_t)len, &f), DP_DROP_CHUNK_RANGE);
	put32(buf + c0 + 12, 101); /* offset past the total */
	CHECK_EQ(dp_frame_parse(buf, (size_t)len, &f), DP_DROP_CHUNK_RANGE);
	put32(buf + c0 + 12, 90);
	put32(buf + c0 + 8, 0);
	CHECK_EQ(dp_frame_parse(buf, (size_t)len, &f), DP_DROP_DATA_LEN);
	put32(buf + c0 + 8, DP_DATA_MAX + 1);
	CHECK_EQ(dp_frame_parse(buf, (size_t)len, &f), DP_DROP_OVERSIZE);
	put32(buf + c0 + 8, 100);
	buf[24] = 2;
	CHECK_EQ(dp_frame_parse(buf, (size_t)len, &f), DP_DROP_COUNT);
	buf[24] = 1;
	CHECK_EQ(dp_frame_parse(buf, (size_t)len, &f), DP_DROP_NONE);
	CHECK_EQ(dp_frame_parse(buf, (size_t)len - 1, &f), DP_DROP_TRUNCATED);
	CHECK_EQ(dp_frame_parse(buf, REC0 + 15, &f), DP_DROP_TRUNCATED);
	/* Builder arguments. */
	CHECK_EQ(dp_frame_build_chunk(buf, sizeof(buf), 1, 2, STREAM, STREAM_LEN, 0, "k", 1, NULL, 100,
				      95, "0123456789", 10), -EINVAL);
	CHECK_EQ(dp_frame_build_chunk(buf, sizeof(buf), 1, 2, STREAM, STREAM_LEN, 0, "k", 1, NULL,
				      DP_DATA_MAX + 1, 0, "0123456789", 10), -EINVAL);
	CHECK_EQ(dp_frame_build_chunk(buf, REC0 + 26, 1, 2, STREAM, STREAM_LEN, 0, "k", 1, NULL, 100,
				      0, "0123456789", 10), -EMSGSIZE);
	CHECK_EQ(dp_frame_chunk_room(1400, STREAM_LEN, 1, false),
		 1400 - DP_FRAME_HDR_LEN - STREAM_LEN - DP_FRAME_CHUNK_HDR_LEN - 1);
	CHECK_EQ(dp_frame_chunk_room(40, STREAM_LEN, 1, true), 0);
}

static void test_drop_list_names_and_ack_statuses(void)
{
	for (int i = 0; i < DP_DROP__COUNT; i++) {
		const char *n = dp_drop_name((enum dp_drop)i);
		int st = dp_drop_ack_status((enum dp_drop)i);

		CHECK(n && n[0] && strcmp(n, "?") != 0);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(n, dp_drop_name((enum dp_drop)j)) != 0);
		CHECK(st == -1 || dp_ack_status_name((unsigned)st) != NULL);
	}
	CHECK_STR(dp_drop_name(DP_DROP__COUNT), "?");
	CHECK_STR(dp_drop_name(DP_DROP_KEY_LEN), "key-len");
	CHECK_EQ(dp_drop_ack_status(DP_DROP_BAD_MAGIC), -1);
	CHECK_EQ(dp_drop_ack_status(DP_DROP_BAD_TYPE), -1);
	CHECK_EQ(dp_drop_ack_status(DP_DROP_BAD_VERSION), DP_ACK_BAD_VERSION);
	CHECK_EQ(dp_drop_ack_status(DP_DROP_UNKNOWN_STREAM), DP_ACK_UNKNOWN_STREAM);
	CHECK_STR(dp_ack_status_name(DP_ACK_THROTTLED), "throttled");
	CHECK(dp_ack_status_name(200) == NULL);
}

/* ---- acks ------------------------------------------------------------------------------------- */

static void test_ack_runs_round_trip(void)
{
	struct dp_ack_rec in[6] = {
		{ .status = DP_ACK_OK, .shard = 3, .seq = 100 },
		{ .status = DP_ACK_OK, .shard = 3, .seq = 101 },
		{ .status = DP_ACK_OK, .shard = 3, .seq = 102 },
		{ .status = DP_ACK_OK, .shard = 1, .seq = 7 },
		{ .status = DP_ACK_THROTTLED },
		{ .status = DP_ACK_THROTTLED },
	}, out[6];
	struct dp_ack a;
	int len;

	len = dp_ack_build(ackbuf, 1000, 7, 9, in, 6);
	CHECK_EQ(len, DP_ACK_HDR_LEN + 2 * DP_ACK_RUN_OK_LEN + DP_ACK_RUN_ERR_LEN);
	CHECK(memcmp(ackbuf, "INGS", 4) == 0);
	CHECK_EQ(ackbuf[5], DP_FRAME_T_ACK);
	CHECK_EQ(ackbuf[DP_ACK_HDR_LEN], 3); /* first run: 3 records */
	REQUIRE(dp_ack_parse(ackbuf, (size_t)len, &a) == DP_DROP_NONE);
	CHECK_EQ_U64(a.producer_id, 7);
	CHECK_EQ_U64(a.batch, 9);
	CHECK_EQ(a.count, 6);
	CHECK_EQ(a.entries, 3);
	CHECK_EQ(a.flags, 0);
	REQUIRE(dp_ack_expand(&a, out, 6) == 6);
	for (int i = 0; i < 6; i++) {
		CHECK_EQ(out[i].status, in[i].status);
		CHECK_EQ(out[i].shard, in[i].shard);
		CHECK_EQ_U64(out[i].seq, in[i].seq);
	}
	CHECK_EQ(dp_ack_expand(&a, out, 5), -ENOSPC);

	/* A cap that the runs do not fit gets the status-only fallback. */
	len = dp_ack_build(ackbuf, DP_ACK_HDR_LEN + 2 * DP_ACK_RUN_OK_LEN + DP_ACK_RUN_ERR_LEN - 1, 7, 9,
			   in, 6);
	CHECK_EQ(len, DP_ACK_HDR_LEN + 6);
	REQUIRE(dp_ack_parse(ackbuf, (size_t)len, &a) == DP_DROP_NONE);
	CHECK_EQ(a.flags, DP_ACK_F_STATUS_ONLY);
	REQUIRE(dp_ack_expand(&a, out, 6) == 6);
	CHECK_EQ(out[0].status, DP_ACK_OK);
	CHECK_EQ_U64(out[0].seq, 0);
	CHECK_EQ(out[5].status, DP_ACK_THROTTLED);
	CHECK_EQ(dp_ack_build(ackbuf, DP_ACK_HDR_LEN + 5, 7, 9, in, 6), -EMSGSIZE);
	CHECK_EQ(dp_ack_build(ackbuf, 1000, 7, 9, in, 0), -EINVAL);
	in[0].seq = DP_SEQ_MAX + 1;
	CHECK_EQ(dp_ack_build(ackbuf, 1000, 7, 9, in, 6), -EINVAL);
}

static void test_ack_frame_level_error(void)
{
	struct dp_frame f;
	struct dp_ack a;
	size_t len = small_frame();
	int n;

	buf[4] = 9; /* a version we do not speak */
	REQUIRE(dp_frame_parse(buf, len, &f) == DP_DROP_BAD_VERSION);
	n = dp_ack_build_error(ackbuf, f.len, &f, (unsigned)dp_drop_ack_status(DP_DROP_BAD_VERSION));
	CHECK_EQ(n, DP_ACK_HDR_LEN);
	CHECK((size_t)n <= len);
	REQUIRE(dp_ack_parse(ackbuf, (size_t)n, &a) == DP_DROP_NONE);
	CHECK_EQ(a.version, DP_FRAME_VERSION); /* what this receiver speaks */
	CHECK_EQ(a.status, DP_ACK_BAD_VERSION);
	CHECK_EQ_U64(a.producer_id, 7);
	CHECK_EQ_U64(a.batch, 9);
	CHECK_EQ(a.count, 0);
	/* No envelope, no ack. */
	REQUIRE(dp_frame_parse(buf, 10, &f) == DP_DROP_SHORT);
	CHECK_EQ(dp_ack_build_error(ackbuf, 100, &f, DP_ACK_MALFORMED), -EINVAL);
	REQUIRE(dp_frame_parse(buf, len, &f) == DP_DROP_BAD_VERSION);
	CHECK_EQ(dp_ack_build_error(ackbuf, 100, &f, DP_ACK_OK), -EINVAL);
	CHECK_EQ(dp_ack_build_error(ackbuf, DP_ACK_HDR_LEN - 1, &f, DP_ACK_MALFORMED), -EMSGSIZE);
}

static void test_ack_parse_rejects_bad_acks(void)
{
	struct dp_ack_rec in[2] = {
		{ .status = DP_ACK_OK, .shard = 1, .seq = 5 },
		{ .status = DP_ACK_READ_ONLY },
	};
	struct dp_ack a;
	uint8_t save[64];
	int len = dp_ack_build(ackbuf, 1000, 1, 2, in, 2);

	REQUIRE(len == DP_ACK_HDR_LEN + DP_ACK_RUN_OK_LEN + DP_ACK_RUN_ERR_LEN);
	memcpy(save, ackbuf, sizeof(save));
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len, &a), DP_DROP_NONE);
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len - 1, &a), DP_DROP_TRUNCATED);
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len + 1, &a), DP_DROP_TRAILING);
	CHECK_EQ(dp_ack_parse(ackbuf, 27, &a), DP_DROP_SHORT);
	ackbuf[24] = 3; /* count 3, runs cover 2 */
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len, &a), DP_DROP_COUNT);
	ackbuf[24] = 1; /* a run longer than the count */
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len, &a), DP_DROP_COUNT);
	memcpy(ackbuf, save, sizeof(save));
	ackbuf[DP_ACK_HDR_LEN] = 0; /* empty run */
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len, &a), DP_DROP_MALFORMED);
	memcpy(ackbuf, save, sizeof(save));
	ackbuf[5] = DP_FRAME_T_RECORDS;
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len, &a), DP_DROP_BAD_TYPE);
	memcpy(ackbuf, save, sizeof(save));
	ackbuf[7] = DP_ACK_MALFORMED; /* a frame-level error carries no entries */
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len, &a), DP_DROP_MALFORMED);
	memcpy(ackbuf, save, sizeof(save));
	ackbuf[DP_ACK_HDR_LEN + 15] = 0x80; /* seq above 2^63 - 1 */
	CHECK_EQ(dp_ack_parse(ackbuf, (size_t)len, &a), DP_DROP_MALFORMED);
}

/*
 * The amplification property, over random frames: whatever the records and whatever the
 * outcomes (every record on its own shard, alternating errors, long runs), the ack built with
 * cap = the frame's length fits. Worst cases first: minimal records (10 bytes, a 1-byte stream)
 * each with a different shard, and alternating OK / error.
 */
static void test_ack_never_larger_than_frame(void)
{
	static struct dp_ack_rec outc[DP_FRAME_RECORDS_MAX], back[DP_FRAME_RECORDS_MAX];
	unsigned fallbacks = 0, runs = 0;

	for (int iter = 0; iter < 3000; iter++) {
		struct dp_frame_builder b;
		struct dp_frame f;
		struct dp_ack a;
		unsigned n, mode = (unsigned)iter % 4;
		bool minimal = iter < 1000;
		uint8_t key[DP_KEY_MAX], data[64];
		int len, alen;

		n = mode == 0 ? DP_FRAME_RECORDS_MAX : 1 + (unsigned)(rng() % DP_FRAME_RECORDS_MAX);
		REQUIRE(dp_frame_builder_init(&b, buf, sizeof(buf), rng(), rng(), "s", 1, 0) == 0);
		for (unsigned i = 0; i < n; i++) {
			size_t kl = minimal ? 1 : 1 + rng() % 40, dl = minimal ? 1 : 1 + rng() % 64;
			bool ehk = !minimal && rng() % 8 == 0;

			dp_test_fill(rng(), key, kl);
			dp_test_fill(rng(), data, dl);
			if (dp_frame_builder_add(&b, key, kl, ehk ? key : NULL, data, dl) != 0)
				break;
		}
		len = dp_frame_builder_finish(&b);
		REQUIRE(len > 0);
		REQUIRE(dp_frame_parse(buf, (size_t)len, &f) == DP_DROP_NONE);
		for (unsigned i = 0; i < f.count; i++) {
			switch (mode) {
			case 0: /* every record on its own shard: one 16-byte run each */
			case 1:
				outc[i] = (struct dp_ack_rec){ .status = DP_ACK_OK, .shard = i,
							       .seq = rng() & DP_SEQ_MAX };
				break;
			case 2: /* alternating OK and error */
				outc[i] = (struct dp_ack_rec){ .status = i % 2 ? DP_ACK_THROTTLED : DP_ACK_OK,
							       .shard = 1, .seq = 1000 + i };
				break;
			default: /* a few shards, consecutive numbers, some errors */
				outc[i] = (struct dp_ack_rec){ .status = rng() % 10 ? DP_ACK_OK
										   : DP_ACK_READ_ONLY,
							       .shard = (uint32_t)(i / 50), .seq = i };
				break;
			}
		}
		alen = dp_ack_build(ackbuf, f.len, f.producer_id, f.batch, outc, f.count);
		REQUIRE(alen > 0);
		CHECK((size_t)alen <= f.len);
		REQUIRE(dp_ack_parse(ackbuf, (size_t)alen, &a) == DP_DROP_NONE);
		CHECK_EQ(a.count, f.count);
		CHECK_EQ_U64(a.batch, f.batch);
		REQUIRE(dp_ack_expand(&a, back, DP_FRAME_RECORDS_MAX) == f.count);
		for (unsigned i = 0; i < f.count; i++) {
			CHECK_EQ(back[i].status, outc[i].status);
			if (!(a.flags & DP_ACK_F_STATUS_ONLY) && outc[i].status == DP_ACK_OK) {
				CHECK_EQ(back[i].shard, outc[i].shard);
				CHECK_EQ_U64(back[i].seq, outc[i].seq);
			}
		}
		if (a.flags & DP_ACK_F_STATUS_ONLY)
			fallbacks++;
		else
			runs++;
		/* Records of >= 16 encoded bytes always get the run encoding (docs/protocol.md). */
		if (!minimal && mode != 2 && (size_t)len >= 1 + DP_FRAME_HDR_LEN + 16u * f.count)
			CHECK(!(a.flags & DP_ACK_F_STATUS_ONLY));
	}
	/* Both encodings were exercised. */
	CHECK(fallbacks > 100);
	CHECK(runs > 100);
	printf("# %u run-encoded acks, %u status-only fallbacks\n", runs, fallbacks);
}

/* ---- chunk reassembly ------------------------------------------------------------------------- */

static int add_chunk(struct dp_reasm *r, uint64_t producer, uint64_t batch, const uint8_t *rec,
		     uint32_t total, uint32_t off, uint32_t len, int64_t now, struct dp_reasm_rec *done)
{
	static uint8_t cbuf[1u << 17];
	struct dp_frame f;
	int n = dp_frame_build_chunk(cbuf, sizeof(cbuf), producer, batch, STREAM, STREAM_LEN, 0,
				     "chunky", 6, NULL, total, off, rec + off, len);

	if (n < 0 || dp_frame_parse(cbuf, (size_t)n, &f) != DP_DROP_NONE)
		abort();
	return dp_reasm_add(r, &f, now, done);
}

static void test_chunked_1mib_out_of_order(void)
{
	static uint8_t rec[DP_DATA_MAX];
	const uint32_t nchunks = 20, step = DP_DATA_MAX / nchunks + 1; /* last chunk shorter */
	unsigned order[20];
	struct dp_reasm *r = NULL;
	struct dp_reasm_rec done;
	struct dp_reasm_stats st;
	int rc = -1;

	dp_test_fill(77, rec, sizeof(rec));
	for (unsigned i = 0; i < nchunks; i++)
		order[i] = i;
	for (unsigned i = nchunks - 1; i > 0; i--) {
		unsigned j = (unsigned)(rng() % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	REQUIRE(dp_reasm_new(4, 1000, &r) == 0);
	for (unsigned k = 0; k < nchunks; k++) {
		uint32_t off = order[k] * step;
		uint32_t len = off + step > DP_DATA_MAX ? DP_DATA_MAX - off : step;

		rc = add_chunk(r, 5, 6, rec, DP_DATA_MAX, off, len, 10 + k, &done);
		CHECK_EQ(rc, k + 1 < nchunks ? 0 : 1);
		if (k == 3) /* a duplicate of a held chunk changes nothing */
			CHECK_EQ(add_chunk(r, 5, 6, rec, DP_DATA_MAX, off, len, 12, &done),
				 -DP_DROP_CHUNK_DUP);
	}
	REQUIRE(rc == 1);
	CHECK_EQ_U64(done.producer_id, 5);
	CHECK_EQ_U64(done.batch, 6);
	CHECK_EQ(done.data_len, DP_DATA_MAX);
	CHECK(memcmp(done.data, rec, DP_DATA_MAX) == 0);
	CHECK_EQ(done.key_len, 6);
	CHECK(memcmp(done.key, "chunky", 6) == 0);
	CHECK(done.ehk == NULL);
	CHECK_EQ(done.stream_len, STREAM_LEN);
	CHECK(memcmp(done.stream, STREAM, STREAM_LEN) == 0);
	CHECK_EQ(dp_reasm_in_use(r), 1);
	/* A late copy of any chunk of a completed, unreleased record is a duplicate. */
	CHECK_EQ(add_chunk(r, 5, 6, rec, DP_DATA_MAX, 0, 100, 40, &done), -DP_DROP_CHUNK_DUP);
	/* A completed record is never expired, however old. */
	CHECK_EQ(dp_reasm_expire(r, 1000000), 0);
	dp_reasm_release(r, &done);
	CHECK_EQ(dp_reasm_in_use(r), 0);
	dp_reasm_stats_get(r, &st);
	CHECK_EQ_U64(st.chunks, nchunks);
	CHECK_EQ_U64(st.completed, 1);
	CHECK_EQ_U64(st.dups, 2);
	dp_reasm_free(r);
}

static void test_chunk_overlap_and_mismatch(void)
{
	static uint8_t rec[4096];
	struct dp_reasm *r = NULL;
	struct dp_reasm_rec done;
	static uint8_t cbuf[8192];
	struct dp_frame f;
	int n;

	dp_test_fill(9, rec, sizeof(rec));
	REQUIRE(dp_reasm_new(2, 1000, &r) == 0);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4096, 1000, 1000, 0, &done), 0);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4096, 1500, 1000, 0, &done), -DP_DROP_CHUNK_OVERLAP);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4096, 500, 501, 0, &done), -DP_DROP_CHUNK_OVERLAP);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4096, 0, 4096, 0, &done), -DP_DROP_CHUNK_OVERLAP);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4096, 1200, 100, 0, &done), -DP_DROP_CHUNK_DUP);
	/* Same record id, different total or key: refused. */
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4095, 0, 10, 0, &done), -DP_DROP_CHUNK_MISMATCH);
	n = dp_frame_build_chunk(cbuf, sizeof(cbuf), 1, 1, STREAM, STREAM_LEN, 0, "other", 5, NULL,
				 4096, 0, rec, 10);
	REQUIRE(n > 0 && dp_frame_parse(cbuf, (size_t)n, &f) == DP_DROP_NONE);
	CHECK_EQ(dp_reasm_add(r, &f, 0, &done), -DP_DROP_CHUNK_MISMATCH);
	/* A RECORDS frame is not a chunk. */
	n = (int)small_frame();
	REQUIRE(dp_frame_parse(buf, (size_t)n, &f) == DP_DROP_NONE);
	CHECK_EQ(dp_reasm_add(r, &f, 0, &done), -DP_DROP_BAD_TYPE);
	/* Adjacent chunks on both sides merge, and the rest completes it. */
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4096, 2000, 1000, 0, &done), 0);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4096, 0, 1000, 0, &done), 0);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 4096, 3000, 1096, 0, &done), 1);
	CHECK(memcmp(done.data, rec, 4096) == 0);
	dp_reasm_free(r);
}

static void test_chunk_gaps_are_bounded(void)
{
	static uint8_t rec[4 * DP_REASM_RANGES_MAX + 8];
	const uint32_t total = sizeof(rec);
	struct dp_reasm *r = NULL;
	struct dp_reasm_rec done;
	int rc;

	dp_test_fill(10, rec, sizeof(rec));
	REQUIRE(dp_reasm_new(1, 1000, &r) == 0);
	/* Every other 2-byte piece: each needs its own range. */
	for (uint32_t i = 0; i < DP_REASM_RANGES_MAX; i++)
		REQUIRE(add_chunk(r, 1, 1, rec, total, 4 * i, 2, 0, &done) == 0);
	CHECK_EQ(add_chunk(r, 1, 1, rec, total, 4 * DP_REASM_RANGES_MAX, 2, 0, &done),
		 -DP_DROP_CHUNK_GAPS);
	/* Filling holes needs no new range; the record still completes. */
	for (uint32_t i = 0; i < DP_REASM_RANGES_MAX; i++)
		REQUIRE(add_chunk(r, 1, 1, rec, total, 4 * i + 2, 2, 0, &done) == 0);
	rc = add_chunk(r, 1, 1, rec, total, 4 * DP_REASM_RANGES_MAX, 8, 0, &done);
	CHECK_EQ(rc, 1);
	if (rc == 1)
		CHECK(memcmp(done.data, rec, total) == 0);
	dp_reasm_free(r);
}

static void test_chunk_timeout_and_eviction(void)
{
	static uint8_t rec[1000];
	struct dp_reasm *r = NULL;
	struct dp_reasm_rec done, held;
	struct dp_reasm_stats st;

	dp_test_fill(11, rec, sizeof(rec));
	REQUIRE(dp_reasm_new(2, 100, &r) == 0);
	/* Timeout counts from the first chunk: a trickle does not keep a record alive. */
	CHECK_EQ(add_chunk(r, 1, 1, rec, 1000, 0, 100, 1000, &done), 0);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 1000, 100, 100, 1099, &done), 0);
	CHECK_EQ(dp_reasm_expire(r, 1099), 0);
	CHECK_EQ(dp_reasm_expire(r, 1100), 1);
	CHECK_EQ(dp_reasm_in_use(r), 0);
	/* After expiry the record starts over: the old chunks are gone. */
	CHECK_EQ(add_chunk(r, 1, 1, rec, 1000, 100, 900, 1200, &done), 0);
	CHECK_EQ(add_chunk(r, 2, 1, rec, 1000, 0, 10, 1201, &done), 0);
	CHECK_EQ(dp_reasm_in_use(r), 2);
	/* A third record evicts the oldest partial one (producer 1). */
	CHECK_EQ(add_chunk(r, 3, 1, rec, 1000, 0, 10, 1202, &done), 0);
	CHECK_EQ(add_chunk(r, 1, 1, rec, 1000, 0, 100, 1203, &done), 0); /* evicts producer 2 */
	CHECK_EQ(add_chunk(r, 1, 1, rec, 1000, 100, 900, 1204, &done), 1); /* was not kept */
	held = done;
	/* Completed records are never evicted: with the other slot completed too, new ones wait. */
	CHECK_EQ(add_chunk(r, 4, 1, rec, 1000, 0, 1000, 1205, &done), 1);
	CHECK_EQ(add_chunk(r, 5, 1, rec, 1000, 0, 10, 1206, &done), -DP_DROP_REASM_BUSY);
	CHECK(memcmp(held.data, rec, 1000) == 0);
	dp_reasm_release(r, &held);
	CHECK_EQ(add_chunk(r, 5, 1, rec, 1000, 0, 10, 1207, &done), 0);
	dp_reasm_stats_get(r, &st);
	CHECK_EQ_U64(st.expired, 1);
	CHECK_EQ_U64(st.evicted, 3); /* producers 1, 2, then 3 */
	CHECK_EQ_U64(st.completed, 2);
	CHECK_EQ(dp_reasm_new(0, 100, &r), -EINVAL);
	CHECK_EQ(dp_reasm_new(1, 0, &r), -EINVAL);
	dp_reasm_free(r);
	dp_reasm_free(NULL);
}

int main(void)
{
	DP_TEST_RUN(test_one_record_round_trip);
	DP_TEST_RUN(test_500_records_round_trip);
	DP_TEST_RUN(test_1024_records_is_the_limit);
	DP_TEST_RUN(test_max_key_and_stream);
	DP_TEST_RUN(test_explicit_hash_key_mapping);
	DP_TEST_RUN(test_malformed_frames_give_their_reason);
	DP_TEST_RUN(test_malformed_chunks);
	DP_TEST_RUN(test_drop_list_names_and_ack_statuses);
	DP_TEST_RUN(test_ack_runs_round_trip);
	DP_TEST_RUN(test_ack_frame_level_error);
	DP_TEST_RUN(test_ack_parse_rejects_bad_acks);
	DP_TEST_RUN(test_ack_never_larger_than_frame);
	DP_TEST_RUN(test_chunked_1mib_out_of_order);
	DP_TEST_RUN(test_chunk_overlap_and_mismatch);
	DP_TEST_RUN(test_chunk_gaps_are_bounded);
	DP_TEST_RUN(test_chunk_timeout_and_eviction);
	return dp_test_done();
}
