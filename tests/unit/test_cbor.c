/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ctl_cbor: RFC 8949 Appendix A vectors in both directions, Kinesis request and
 * response shapes as the Java SDKs send and read them, round trips, and rejected input. The
 * Kinesis vectors were written by hand from RFC 8949's encoding rules, independently of libcbor.
 */
#include "ctl_cbor.h"

#include <errno.h>

#include "ctl_b64.h"
#include "dp_test.h"

/* A CBOR byte vector as a string literal, with its length (it may hold NUL bytes). */
struct vec {
	const char *cbor;
	size_t len;
	const char *json;
};
#define VEC(c, j) { (c), sizeof(c) - 1, (j) }
#define DECODES(c, h, j) decodes_to((c), sizeof(c) - 1, (h), (j))
#define ENCODES(j, h, c) encodes_to((j), (h), (c), sizeof(c) - 1)

/* Decode v->cbor and compare with the JSON text; returns 1 when equal. */
static int decodes_to(const char *cbor, size_t len, const struct ctl_cbor_hints *h,
		      const char *json)
{
	json_t *got = NULL, *want = json_loads(json, JSON_DECODE_ANY, NULL);
	char err[160] = "";
	int r = ctl_cbor_to_json((const uint8_t *)cbor, len, h, &got, err, sizeof(err));
	int ok = r == 0 && want && json_equal(got, want);

	if (!ok) {
		char *s = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
		printf("# decode rc %d (%s): got %s, want %s\n", r, err, s ? s : "-", json);
		free(s);
	}
	json_decref(got);
	json_decref(want);
	return ok;
}

/* Encode the JSON text and compare with the expected bytes; returns 1 when equal. */
static int encodes_to(const char *json, const struct ctl_cbor_hints *h, const char *cbor,
		      size_t len)
{
	json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
	uint8_t *buf = NULL;
	size_t n = 0;
	int r = j ? ctl_json_to_cbor(j, h, &buf, &n) : -1;
	int ok = r == 0 && n == len && memcmp(buf, cbor, len) == 0;

	if (!ok) {
		printf("# encode rc %d of %s: %zu bytes:", r, json, n);
		for (size_t i = 0; i < n; i++)
			printf(" %02x", buf[i]);
		printf("\n");
	}
	free(buf);
	json_decref(j);
	return ok;
}

/* RFC 8949 Appendix A items with a JSON form, in preferred serialization. */
static const struct vec rfc_both[] = {
	VEC("\x00", "0"), VEC("\x01", "1"), VEC("\x0a", "10"), VEC("\x17", "23"),
	VEC("\x18\x18", "24"), VEC("\x18\x19", "25"), VEC("\x18\x64", "100"),
	VEC("\x19\x03\xe8", "1000"), VEC("\x1a\x00\x0f\x42\x40", "1000000"),
	VEC("\x1b\x00\x00\x00\xe8\xd4\xa5\x10\x00", "1000000000000"),
	VEC("\x20", "-1"), VEC("\x29", "-10"), VEC("\x38\x63", "-100"),
	VEC("\x39\x03\xe7", "-1000"),
	VEC("\xfb\x3f\xf1\x99\x99\x99\x99\x99\x9a", "1.1"),
	VEC("\xfb\x7e\x37\xe4\x3c\x88\x00\x75\x9c", "1.0e+300"),
	VEC("\xfb\xc0\x10\x66\x66\x66\x66\x66\x66", "-4.1"),
	VEC("\xf4", "false"), VEC("\xf5", "true"), VEC("\xf6", "null"),
	VEC("\x60", "\"\""), VEC("\x61\x61", "\"a\""), VEC("\x64\x49\x45\x54\x46", "\"IETF\""),
	VEC("\x62\x22\x5c", "\"\\\"\\\\\""), VEC("\x62\xc3\xbc", "\"\\u00fc\""),
	VEC("\x63\xe6\xb0\xb4", "\"\\u6c34\""), VEC("\x64\xf0\x90\x85\x91", "\"\\ud800\\udd51\""),
	VEC("\x80", "[]"), VEC("\x83\x01\x02\x03", "[1,2,3]"),
	VEC("\x83\x01\x82\x02\x03\x82\x04\x05", "[1,[2,3],[4,5]]"),
	VEC("\x98\x19\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
	    "\x14\x15\x16\x17\x18\x18\x18\x19",
	    "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]"),
	VEC("\xa0", "{}"), VEC("\xa2\x61\x61\x01\x61\x62\x82\x02\x03", "{\"a\":1,\"b\":[2,3]}"),
	VEC("\x82\x61\x61\xa1\x61\x62\x61\x63", "[\"a\",{\"b\":\"c\"}]"),
	VEC("\xa5\x61\x61\x61\x41\x61\x62\x61\x42\x61\x63\x61\x43\x61\x64\x61\x44\x61\x65\x61\x45",
	    "{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\",\"d\":\"D\",\"e\":\"E\"}"),
};

/* RFC 8949 Appendix A items that decode but that the encoder writes another way. */
static const struct vec rfc_decode_only[] = {
	VEC("\xf9\x00\x00", "0.0"), VEC("\xf9\x80\x00", "-0.0"), VEC("\xf9\x3c\x00", "1.0"),
	VEC("\xf9\x3e\x00", "1.5"), VEC("\xf9\x7b\xff", "65504.0"),
	VEC("\xfa\x47\xc3\x50\x00", "100000.0"),
	VEC("\xfa\x7f\x7f\xff\xff", "3.4028234663852886e+38"),
	VEC("\xf9\x00\x01", "5.960464477539063e-8"), VEC("\xf9\x04\x00", "0.00006103515625"),
	VEC("\xf9\xc4\x00", "-4.0"),
	/* Byte strings are base64 text, as in the JSON protocol. */
	VEC("\x40", "\"\""), VEC("\x44\x01\x02\x03\x04", "\"AQIDBA==\""),
	/* Indefinite-length items. */
	VEC("\x5f\x42\x01\x02\x43\x03\x04\x05\xff", "\"AQIDBAU=\""),
	VEC("\x7f\x65\x73\x74\x72\x65\x61\x64\x6d\x69\x6e\x67\xff", "\"streaming\""),
	VEC("\x9f\xff", "[]"), VEC("\x9f\x01\x82\x02\x03\x9f\x04\x05\xff\xff", "[1,[2,3],[4,5]]"),
	VEC("\x9f\x01\x82\x02\x03\x82\x04\x05\xff", "[1,[2,3],[4,5]]"),
	VEC("\x83\x01\x82\x02\x03\x9f\x04\x05\xff", "[1,[2,3],[4,5]]"),
	VEC("\x83\x01\x9f\x02\x03\xff\x82\x04\x05", "[1,[2,3],[4,5]]"),
	VEC("\x9f\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14"
	    "\x15\x16\x17\x18\x18\x18\x19\xff",
	    "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]"),
	VEC("\xbf\x61\x61\x01\x61\x62\x9f\x02\x03\xff\xff", "{\"a\":1,\"b\":[2,3]}"),
	VEC("\x82\x61\x61\xbf\x61\x62\x61\x63\xff", "[\"a\",{\"b\":\"c\"}]"),
	VEC("\xbf\x63\x46\x75\x6e\xf5\x63\x41\x6d\x74\x21\xff", "{\"Fun\":true,\"Amt\":-2}"),
	/* Tag 1 holds epoch milliseconds here (AWS), not RFC 8949's seconds. */
	VEC("\xc1\x1a\x51\x4b\x67\xb0", "1363896.24"),
	/* Self-described CBOR (tag 55799) is transparent. */
	VEC("\xd9\xd9\xf7\xa0", "{}"),
	/* Non-preferred heads decode the same. */
	VEC("\x18\x00", "0"), VEC("\x59\x00\x01\x00", "\"AA==\""), VEC("\xd8\x01\x00", "0.0"),
	/* The extremes of json_int_t. */
	VEC("\x1b\x7f\xff\xff\xff\xff\xff\xff\xff", "9223372036854775807"),
	VEC("\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", "-9223372036854775808"),
	/* A chunked key. */
	VEC("\xbf\x7f\x62\x44\x61\x62\x74\x61\xff\x41\x00\xff", "{\"Data\":\"AA==\"}"),
	VEC("\xa1\x7f\xff\x01", "{\"\":1}"),
	/* Chunks, empty ones too, joined. */
	VEC("\x5f\x40\x41\x00\x40\xff", "\"AA==\""), VEC("\x7f\x60\xff", "\"\""),
	VEC("\x7f\x62\xc3\xbc\x60\x61\x61\xff", "\"\\u00fca\""),
};

static void test_cbor_rfc8949_vectors(void)
{
	for (size_t i = 0; i < sizeof(rfc_both) / sizeof(rfc_both[0]); i++) {
		const struct vec *v = &rfc_both[i];
		CHECK(decodes_to(v->cbor, v->len, NULL, v->json));
		CHECK(encodes_to(v->json, NULL, v->cbor, v->len));
	}
	for (size_t i = 0; i < sizeof(rfc_decode_only) / sizeof(rfc_decode_only[0]); i++) {
		const struct vec *v = &rfc_decode_only[i];
		CHECK(decodes_to(v->cbor, v->len, NULL, v->json));
	}
}

/* PutRecord as the Java SDK writes it: an indefinite-length map, Data as a byte string. */
static const char put_record[] =
	"\xbf\x6a\x53\x74\x72\x65\x61\x6d\x4e\x61\x6d\x65\x61\x73\x64\x44\x61\x74\x61\x44\x00\x01"
	"\x02\xff\x6c\x50\x61\x72\x74\x69\x74\x69\x6f\x6e\x4b\x65\x79\x62\x70\x6b\xff";

static const char put_records[] =
	"\xbf\x67\x52\x65\x63\x6f\x72\x64\x73\x9f\xbf\x64\x44\x61\x74\x61\x41\x00\x6c\x50\x61\x72"
	"\x74\x69\x74\x69\x6f\x6e\x4b\x65\x79\x61\x61\xff\xbf\x64\x44\x61\x74\x61\x40\x6c\x50\x61"
	"\x72\x74\x69\x74\x69\x6f\x6e\x4b\x65\x79\x61\x62\x6f\x45\x78\x70\x6c\x69\x63\x69\x74\x48"
	"\x61\x73\x68\x4b\x65\x79\x61\x31\xff\xff\x6a\x53\x74\x72\x65\x61\x6d\x4e\x61\x6d\x65\x61"
	"\x73\xff";

/* GetShardIterator AT_TIMESTAMP: tag 1 around 1600000000123 ms. */
static const char get_shard_iterator[] =
	"\xbf\x6a\x53\x74\x72\x65\x61\x6d\x4e\x61\x6d\x65\x61\x73\x67\x53\x68\x61\x72\x64\x49\x64"
	"\x74\x73\x68\x61\x72\x64\x49\x64\x2d\x30\x30\x30\x30\x30\x30\x30\x30\x30\x30\x30\x30\x71"
	"\x53\x68\x61\x72\x64\x49\x74\x65\x72\x61\x74\x6f\x72\x54\x79\x70\x65\x6c\x41\x54\x5f\x54"
	"\x49\x4d\x45\x53\x54\x41\x4d\x50\x69\x54\x69\x6d\x65\x73\x74\x61\x6d\x70\xc1\x1b\x00\x00"
	"\x01\x74\x87\x6e\x80\x7b\xff";

/* The same timestamp without the tag, in a member the model marks as a timestamp. */
static const char timestamp_untagged[] =
	"\xa1\x69\x54\x69\x6d\x65\x73\x74\x61\x6d\x70\x1b\x00\x00\x01\x74\x87\x6e\x80\x7b";

static void test_cbor_kinesis_requests(void)
{
	const struct ctl_cbor_hints *k = &ctl_cbor_kinesis_hints;

	CHECK(decodes_to(put_record, sizeof(put_record) - 1, k,
			 "{\"StreamName\":\"s\",\"Data\":\"AAEC/w==\",\"PartitionKey\":\"pk\"}"));
	CHECK(decodes_to(put_records, sizeof(put_records) - 1, k,
			 "{\"Records\":[{\"Data\":\"AA==\",\"PartitionKey\":\"a\"},"
			 "{\"Data\":\"\",\"PartitionKey\":\"b\",\"ExplicitHashKey\":\"1\"}],"
			 "\"StreamName\":\"s\"}"));
	CHECK(decodes_to(get_shard_iterator, sizeof(get_shard_iterator) - 1, k,
			 "{\"StreamName\":\"s\",\"ShardId\":\"shardId-000000000000\","
			 "\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":1600000000.123}"));
	CHECK(decodes_to(timestamp_untagged, sizeof(timestamp_untagged) - 1, k,
			 "{\"Timestamp\":1600000000.123}"));
	/* Without hints an untagged number stays what it is. */
	CHECK(decodes_to(timestamp_untagged, sizeof(timestamp_untagged) - 1, NULL,
			 "{\"Timestamp\":1600000000123}"));
	/* A list member inherits its member's hint. */
	CHECK(DECODES("\xa1\x69Timestamp\x82\x19\x03\xe8\x00", k, "{\"Timestamp\":[1.0,0.0]}"));
}

/* GetRecords response: Data as a byte string, the arrival time as tag 1 + integer ms. */
static const char get_records_resp[] =
	"\xa3\x67\x52\x65\x63\x6f\x72\x64\x73\x81\xa4\x6e\x53\x65\x71\x75\x65\x6e\x63\x65\x4e\x75"
	"\x6d\x62\x65\x72\x78\x38\x34\x39\x35\x39\x30\x33\x33\x38\x32\x37\x31\x34\x39\x30\x32\x35"
	"\x36\x36\x30\x38\x35\x35\x39\x36\x39\x32\x35\x33\x38\x33\x36\x31\x35\x37\x31\x30\x39\x35"
	"\x39\x32\x31\x35\x37\x35\x39\x38\x39\x31\x33\x36\x35\x38\x38\x38\x39\x38\x78\x1b\x41\x70"
	"\x70\x72\x6f\x78\x69\x6d\x61\x74\x65\x41\x72\x72\x69\x76\x61\x6c\x54\x69\x6d\x65\x73\x74"
	"\x61\x6d\x70\xc1\x1b\x00\x00\x01\x74\x87\x6e\x80\x7b\x64\x44\x61\x74\x61\x44\x00\x68\x69"
	"\x00\x6c\x50\x61\x72\x74\x69\x74\x69\x6f\x6e\x4b\x65\x79\x62\x70\x6b\x71\x4e\x65\x78\x74"
	"\x53\x68\x61\x72\x64\x49\x74\x65\x72\x61\x74\x6f\x72\x62\x69\x74\x72\x4d\x69\x6c\x6c\x69"
	"\x73\x42\x65\x68\x69\x6e\x64\x4c\x61\x74\x65\x73\x74\x00";
static const char get_records_json[] =
	"{\"Records\":[{\"SequenceNumber\":"
	"\"49590338271490256608559692538361571095921575989136588898\","
	"\"ApproximateArrivalTimestamp\":1600000000.123,\"Data\":\"AGhpAA==\","
	"\"PartitionKey\":\"pk\"}],\"NextShardIterator\":\"it\",\"MillisBehindLatest\":0}";

/* An error: the same {"__type", "message"} map as in JSON. */
static const char error_resp[] =
	"\xa2\x66\x5f\x5f\x74\x79\x70\x65\x78\x19\x52\x65\x73\x6f\x75\x72\x63\x65\x4e\x6f\x74\x46"
	"\x6f\x75\x6e\x64\x45\x78\x63\x65\x70\x74\x69\x6f\x6e\x67\x6d\x65\x73\x73\x61\x67\x65\x78"
	"\x2e\x53\x74\x72\x65\x61\x6d\x20\x73\x20\x75\x6e\x64\x65\x72\x20\x61\x63\x63\x6f\x75\x6e"
	"\x74\x20\x30\x30\x30\x30\x30\x30\x30\x30\x30\x30\x30\x30\x20\x6e\x6f\x74\x20\x66\x6f\x75"
	"\x6e\x64\x2e";

static void test_cbor_kinesis_responses(void)
{
	const struct ctl_cbor_hints *k = &ctl_cbor_kinesis_hints;

	CHECK(encodes_to(get_records_json, k, get_records_resp, sizeof(get_records_resp) - 1));
	/* And back: the decoder reads the response shape too. */
	CHECK(decodes_to(get_records_resp, sizeof(get_records_resp) - 1, k, get_records_json));
	CHECK(encodes_to("{\"__type\":\"ResourceNotFoundException\","
			 "\"message\":\"Stream s under account 000000000000 not found.\"}",
			 k, error_resp, sizeof(error_resp) - 1));
	/* Whole seconds as an integer, and rounding to the nearest millisecond. */
	CHECK(ENCODES("{\"StreamCreationTimestamp\":1600000000}", k,
		      "\xa1\x77StreamCreationTimestamp\xc1\x1b\x00\x00\x01\x74\x87\x6e\x80\x00"));
	CHECK(ENCODES("{\"Timestamp\":-1.0004}", k, "\xa1\x69Timestamp\xc1\x39\x03\xe7"));
	/* Without hints Data is text and the time a double. */
	CHECK(ENCODES("{\"Data\":\"AA==\",\"Timestamp\":1.5}", NULL,
		      "\xa2\x64\x44\x61\x74\x61\x64\x41\x41\x3d\x3d\x69Timestamp"
		      "\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00"));
	/* A blob of zero bytes, and a non-string member named like a blob. */
	CHECK(ENCODES("{\"Data\":\"AAAA\"}", k, "\xa1\x64\x44\x61\x74\x61\x43\x00\x00\x00"));
	CHECK(ENCODES("{\"Data\":7}", k, "\xa1\x64\x44\x61\x74\x61\x07"));
}

/* Kinesis-shaped values with binary data (zero bytes included) survive json -> cbor -> json. */
static void test_cbor_round_trip_kinesis(void)
{
	const struct ctl_cbor_hints *k = &ctl_cbor_kinesis_hints;
	static uint8_t raw[2048];
	static char b64[2800];
	uint64_t rng = 42;

	for (int round = 0; round < 40; round++) {
		json_t *recs = json_array(), *back = NULL;
		json_t *doc = json_pack("{s:o,s:s,s:I,s:b,s:n}", "Records", recs,
					"NextShardIterator", "AAAAAAAA", "MillisBehindLatest",
					(json_int_t)(dp_test_rng(&rng) % 100000) - 50000, "More",
					round & 1, "Nothing");
		uint8_t *buf = NULL;
		size_t n = 0;
		REQUIRE(doc);
		for (int i = 0; i < round * 3; i++) {
			size_t len = dp_test_rng(&rng) % sizeof(raw);
			int64_t ms = (int64_t)(dp_test_rng(&rng) % 4000000000000ull);

			dp_test_fill(dp_test_rng(&rng), raw, len);
			if (i % 3 == 0)
				memset(raw, 0, len);
			ctl_b64_encode(raw, len, b64);
			json_array_append_new(
				recs, json_pack("{s:s,s:f,s:s,s:s}", "SequenceNumber", "1",
						"ApproximateArrivalTimestamp", (double)ms / 1000.0,
						"Data", b64, "PartitionKey", "pk\xc3\xbc"));
		}
		REQUIRE(ctl_json_to_cbor(doc, k, &buf, &n) == 0);
		CHECK_EQ(ctl_cbor_to_json(buf, n, k, &back, NULL, 0), 0);
		CHECK(back && json_equal(doc, back));
		free(buf);
		json_decref(back);
		json_decref(doc);
	}
}

/*
 * Long text the way Jackson's CBORGenerator writes it: an indefinite-length string of chunks with
 * two-byte length heads, each cut on a character boundary; here 3-byte characters, 3 chunks.
 */
static void test_cbor_long_chunked_text(void)
{
	enum { CHUNK_CHARS = 21000, CHUNKS = 3 };
	size_t text_len = (size_t)CHUNK_CHARS * CHUNKS * 3;
	uint8_t *buf = malloc(2 + CHUNKS * (3 + CHUNK_CHARS * 3) + 1);
	char *want = malloc(text_len + 1);
	json_t *j = NULL;
	char err[160] = "";
	size_t n = 0;

	REQUIRE(buf && want);
	buf[n++] = 0x7f;
	for (int c = 0; c < CHUNKS; c++) {
		buf[n++] = 0x79;
		buf[n++] = (uint8_t)((CHUNK_CHARS * 3) >> 8);
		buf[n++] = (uint8_t)(CHUNK_CHARS * 3);
		for (int i = 0; i < CHUNK_CHARS; i++, n += 3)
			memcpy(buf + n, "\xe6\xb0\xb4", 3);
	}
	buf[n++] = 0xff;
	for (size_t i = 0; i < text_len; i += 3)
		memcpy(want + i, "\xe6\xb0\xb4", 3);
	want[text_len] = '\0';
	CHECK_EQ(ctl_cbor_to_json(buf, n, NULL, &j, NULL, 0), 0);
	CHECK(json_is_string(j) && json_string_length(j) == text_len &&
	      memcmp(json_string_value(j), want, text_len) == 0);
	json_decref(j);
	/* Cut one byte later, the second chunk would start inside a character: refused. */
	buf[3] = (uint8_t)(CHUNK_CHARS * 3 + 1);
	memmove(buf + 4 + CHUNK_CHARS * 3 + 1, buf + 4 + CHUNK_CHARS * 3,
		n - (4 + CHUNK_CHARS * 3));
	buf[4 + CHUNK_CHARS * 3] = 0xe6;
	buf[4 + CHUNK_CHARS * 3 + 3] = (uint8_t)(CHUNK_CHARS * 3 - 1);
	memmove(buf + 4 + CHUNK_CHARS * 3 + 4, buf + 4 + CHUNK_CHARS * 3 + 5,
		n - (4 + CHUNK_CHARS * 3 + 4));
	j = NULL;
	CHECK_EQ(ctl_cbor_to_json(buf, n, NULL, &j, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "splits a UTF-8 character") != NULL);
	free(want);
	free(buf);
}

/* Nesting exactly at the limit decodes; one more level does not. */
static void test_cbor_depth_limit(void)
{
	uint8_t buf[CTL_CBOR_MAX_DEPTH + 2];
	json_t *j = NULL;

	memset(buf, 0x81, CTL_CBOR_MAX_DEPTH);
	buf[CTL_CBOR_MAX_DEPTH] = 0x00;
	CHECK_EQ(ctl_cbor_to_json(buf, CTL_CBOR_MAX_DEPTH + 1, NULL, &j, NULL, 0), 0);
	json_decref(j);
	memset(buf, 0x81, CTL_CBOR_MAX_DEPTH + 1);
	buf[CTL_CBOR_MAX_DEPTH + 1] = 0x00;
	j = NULL;
	CHECK_EQ(ctl_cbor_to_json(buf, CTL_CBOR_MAX_DEPTH + 2, NULL, &j, NULL, 0), -EINVAL);
	CHECK(j == NULL);
}

static const struct vec bad[] = {
	/* Empty, truncated. */
	VEC("", "empty body"), VEC("\x18", "truncated"), VEC("\x62\x61", "truncated"),
	VEC("\x82\x01", "truncated"), VEC("\xbf\x61\x61\x01", "truncated"),
	VEC("\x5f\x41\x00", "truncated"), VEC("\xc1", "truncated"),
	VEC("\xa1\x61\x61", "truncated"),
	VEC("\x9f\x01\x02", "truncated"), VEC("\xfb\x00\x00", "truncated"),
	/* Huge declared lengths. */
	VEC("\x5b\xff\xff\xff\xff\xff\xff\xff\xff\x00", "truncated"),
	VEC("\x7b\x00\x00\x00\x00\xff\xff\xff\xff\x61", "truncated"),
	VEC("\x5a\xff\xff\xff\xff\x00", "truncated"),
	VEC("\x9b\xff\xff\xff\xff\xff\xff\xff\xff\x00", "truncated"),
	VEC("\xbb\xff\xff\xff\xff\xff\xff\xff\xff\x61\x61\x00", "truncated"),
	VEC("\x7f\x7b\xff\xff\xff\xff\xff\xff\xff\xf0\x61\xff", "truncated"),
	/* Map keys that are not text, duplicates, a map cut between key and value. */
	VEC("\xa1\x01\x02", "not a text string"), VEC("\xa1\x41\x61\x01", "not a text string"),
	VEC("\xa1\x80\x01", "not a text string"), VEC("\xbf\x01\x02\xff", "not a text string"),
	VEC("\xa1\xc1\x61\x61\x01", "not a text string"), VEC("\xa1\xf6\x01", "not a text string"),
	VEC("\xa1\x5f\xff\x01", "not a text string"),
	VEC("\xa2\x61\x61\x01\x61\x61\x02", "duplicate map key"),
	VEC("\xbf\x61\x61\x01\x61\x61\x02\xff", "duplicate map key"),
	VEC("\xbf\x61\x61\xff", "between a key and its value"),
	/* Text that is not UTF-8, or holds U+0000. */
	VEC("\x62\xc3\x28", "not valid UTF-8"), VEC("\x61\xff", "not valid UTF-8"),
	VEC("\x63\xed\xa0\x80", "not valid UTF-8"), VEC("\x62\xc0\xaf", "not valid UTF-8"),
	VEC("\x7f\x61\xc3\x61\xbc\xff", "splits a UTF-8 character"),
	VEC("\x7f\x61\xc3\xff", "not valid UTF-8"),
	VEC("\xa1\x61\xff\x01", "not valid UTF-8"), VEC("\x61\x00", "U+0000"),
	VEC("\xa1\x62\x61\x00\x01", "U+0000"),
	/* Trailing bytes. */
	VEC("\x00\x00", "bytes after"), VEC("\xa0\xff", "bytes after"),
	VEC("\x01\xff", "bytes after"),
	VEC("\x80\x80", "bytes after"),
	/* Integers beyond json_int_t. */
	VEC("\x1b\xff\xff\xff\xff\xff\xff\xff\xff", "above INT64_MAX"),
	VEC("\x1b\x80\x00\x00\x00\x00\x00\x00\x00", "above INT64_MAX"),
	VEC("\x3b\x80\x00\x00\x00\x00\x00\x00\x00", "below INT64_MIN"),
	/* Simple values and reserved initial bytes. */
	VEC("\xf7", "undefined"), VEC("\xf0", "reserved"), VEC("\xf8\x20", "reserved"),
	VEC("\x1c", "reserved"), VEC("\x5c", "reserved"), VEC("\xfc", "reserved"),
	/* Breaks and chunks out of place. */
	VEC("\xff", "break outside"), VEC("\x82\x01\xff", "break outside"),
	VEC("\x7f\x41\x00\xff", "another type"), VEC("\x7f\x7f\xff\xff", "inside another"),
	VEC("\x5f\x01\xff", "not a chunk"), VEC("\x5f\xc1\x01\xff", "not a chunk"),
	/* NaN and infinities. */
	VEC("\xf9\x7e\x00", "NaN"), VEC("\xf9\x7c\x00", "NaN"), VEC("\xf9\xfc\x00", "NaN"),
	VEC("\xfa\x7f\x80\x00\x00", "NaN"), VEC("\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00", "NaN"),
	/* Tags other than 1 and 55799, and tag 1 around anything but an integer. */
	VEC("\xc2\x41\x00", "unsupported tag"), VEC("\xc0\x60", "unsupported tag"),
	VEC("\xd8\x20\x60", "unsupported tag"), VEC("\xc6\x00", "reserved"),
	VEC("\xc1\xfb\x41\xd4\x52\xd9\xec\x20\x00\x00", "tag 1 must hold"),
	VEC("\xc1\x61\x61", "tag 1 must hold"), VEC("\xc1\x80", "tag 1 must hold"),
	VEC("\xc1\xf6", "tag 1 must hold"), VEC("\xc1\x40", "tag 1 must hold"),
	VEC("\xc1\xc1\x01", "tag 1 inside tag 1"), VEC("\x9f\xc1\xff", "break after a tag"),
	VEC("\x9f\xd9\xd9\xf7\xff", "break after a tag"),
};

static void test_cbor_rejects_bad_input(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *sentinel = json_true(), *j = sentinel;
		char err[160] = "";
		int r = ctl_cbor_to_json((const uint8_t *)bad[i].cbor, bad[i].len,
					 &ctl_cbor_kinesis_hints, &j, err, sizeof(err));

		if (r != -EINVAL || j != sentinel || !strstr(err, bad[i].json))
			printf("# bad[%zu]: rc %d, err \"%s\", want \"%s\"\n", i, r, err,
			       bad[i].json);
		CHECK_EQ(r, -EINVAL);
		CHECK(j == sentinel);
		CHECK(strstr(err, bad[i].json) != NULL);
		CHECK(strncmp(err, "CBOR at byte ", 13) == 0);
	}
}

/* Limits that need big inputs: item count, body size, indefinite nesting. */
static void test_cbor_limits(void)
{
	size_t n = CTL_CBOR_MAX_ITEMS + 2;
	uint8_t *buf = calloc(1, n + 1);
	json_t *j = NULL;
	char err[160];

	REQUIRE(buf);
	/* An indefinite array of zeros: exactly CTL_CBOR_MAX_ITEMS heads decodes... */
	buf[0] = 0x9f;
	buf[CTL_CBOR_MAX_ITEMS - 1] = 0xff;
	CHECK_EQ(ctl_cbor_to_json(buf, CTL_CBOR_MAX_ITEMS, NULL, &j, NULL, 0), 0);
	CHECK_EQ(json_array_size(j), CTL_CBOR_MAX_ITEMS - 2);
	json_decref(j);
	/* ...one more does not. */
	buf[CTL_CBOR_MAX_ITEMS - 1] = 0x00;
	buf[CTL_CBOR_MAX_ITEMS] = 0xff;
	j = NULL;
	CHECK_EQ(ctl_cbor_to_json(buf, CTL_CBOR_MAX_ITEMS + 1, NULL, &j, err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "too many data items") != NULL);
	/* A bomb of indefinite arrays stops at the depth limit, not at the end of the input. */
	memset(buf, 0x9f, n);
	CHECK_EQ(ctl_cbor_to_json(buf, n, NULL, &j, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "nested too deep") != NULL);
	CHECK(strncmp(err, "CBOR at byte 32:", 16) == 0);
	free(buf);
	/* The size check comes before any byte is read. */
	CHECK_EQ(ctl_cbor_to_json((const uint8_t *)"", CTL_CBOR_MAX_LEN + 1, NULL, &j, err,
				  sizeof(err)),
		 -E2BIG);
}

static void check_encode_fails(const char *json, int want)
{
	json_t *j = json_loads(json, 0, NULL);
	uint8_t *buf = (uint8_t *)"x";
	size_t n = 12345;

	CHECK(j != NULL);
	CHECK_EQ(ctl_json_to_cbor(j, &ctl_cbor_kinesis_hints, &buf, &n), want);
	CHECK(n == 12345 && buf[0] == 'x');
	json_decref(j);
}

static void test_cbor_encode_rejects(void)
{
	check_encode_fails("{\"Data\":\"abc\"}", -EINVAL);
	check_encode_fails("{\"Data\":\"a=bc\"}", -EINVAL);
	check_encode_fails("{\"Records\":[{\"Data\":\"AA==\"},{\"Data\":\"A A=\"}]}", -EINVAL);
	check_encode_fails("{\"Timestamp\":1e300}", -ERANGE);
	check_encode_fails("{\"Timestamp\":-9.3e15}", -ERANGE);
	check_encode_fails("{\"Timestamp\":9223372036854775807}", -ERANGE);
	check_encode_fails("{\"Timestamp\":-9223372036854776}", -ERANGE);
	/* Deeper than the encoder's guard. */
	char deep[2 * (2 * CTL_CBOR_MAX_DEPTH + 2) + 1];
	size_t d = 2 * CTL_CBOR_MAX_DEPTH + 2;
	memset(deep, '[', d);
	memset(deep + d, ']', d);
	deep[2 * d] = '\0';
	check_encode_fails(deep, -EINVAL);
}

int main(void)
{
	DP_TEST_RUN(test_cbor_rfc8949_vectors);
	DP_TEST_RUN(test_cbor_kinesis_requests);
	DP_TEST_RUN(test_cbor_kinesis_responses);
	DP_TEST_RUN(test_cbor_round_trip_kinesis);
	DP_TEST_RUN(test_cbor_long_chunked_text);
	DP_TEST_RUN(test_cbor_depth_limit);
	DP_TEST_RUN(test_cbor_rejects_bad_input);
	DP_TEST_RUN(test_cbor_limits);
	DP_TEST_RUN(test_cbor_encode_rejects);
	return dp_test_done();
}
