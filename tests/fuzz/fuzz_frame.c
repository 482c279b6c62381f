/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ingest frame parser and the ack builder: the bytes of one datagram,
 * straight from the network.
 *
 * Properties, each checked with abort():
 *  - parsing never reads outside the input (the sanitizers watch) and gives a reason in the list;
 *  - a frame that parses is canonical: rebuilding it from its parsed fields with the builders
 *    gives the same bytes, and every record lies inside the datagram within the Kinesis limits;
 *  - its ack, built with cap = the frame's length for outcomes chosen from the input (including
 *    one shard per record, the worst case), fits in the cap, parses, and expands back to the
 *    same statuses (and shards and sequence numbers unless it fell back to statuses only);
 *  - a frame that fails after its envelope gets a frame-level error ack no larger than itself;
 *  - the same bytes read as an ack parse without crashing, and an ack that parses expands to
 *    exactly its count of outcomes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_frame.h"
#include "dp_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static uint8_t rebuilt[1u << 22];
static uint8_t ack[1u << 22];
static struct dp_ack_rec outc[DP_FRAME_RECORDS_MAX], back[DP_FRAME_RECORDS_MAX];

static void check_canonical(const uint8_t *d, size_t n, const struct dp_frame *f)
{
	struct dp_frame_builder b;
	struct dp_frame_rec r;
	size_t it = 0;
	int len = -1;

	if (f->type == DP_FRAME_T_CHUNK) {
		PROPERTY(dp_frame_rec_next(f, &it, &r));
		len = dp_frame_build_chunk(rebuilt, sizeof(rebuilt), f->producer_id, f->batch, f->stream,
					   f->stream_len, f->flags, r.key, r.key_len, r.ehk, r.total_len,
					   r.offset, r.data, r.data_len);
	} else {
		PROPERTY(dp_frame_builder_init(&b, rebuilt, sizeof(rebuilt), f->producer_id, f->batch,
					       f->stream, f->stream_len, f->flags) == 0);
		while (dp_frame_rec_next(f, &it, &r))
			PROPERTY(dp_frame_builder_add(&b, r.key, r.key_len, r.ehk, r.data, r.data_len) == 0);
		len = dp_frame_builder_finish(&b);
	}
	PROPERTY(len > 0 && (size_t)len == n);
	PROPERTY(memcmp(rebuilt, d, n) == 0);
}

static void check_ack(const uint8_t *d, size_t n, const struct dp_frame *f)
{
	struct dp_frame_rec r;
	struct dp_ack a;
	size_t it = 0;
	unsigned i = 0;
	/* The outcome pattern comes from the input, so the fuzzer explores encodings too. */
	unsigned mode = d[n - 1] % 4;
	int alen;

	while (dp_frame_rec_next(f, &it, &r)) {
		PROPERTY(i < f->count);
		PROPERTY(r.key >= d && r.key + r.key_len <= d + n);
		PROPERTY(r.data > r.key && r.data + r.data_len <= d + n);
		PROPERTY(r.key_len >= 1 && r.key_len <= DP_KEY_MAX);
		PROPERTY(r.data_len >= 1 && r.data_len <= DP_DATA_MAX);
		switch (mode) {
		case 0: /* one shard per record */
			outc[i] = (struct dp_ack_rec){ .status = DP_ACK_OK, .shard = i, .seq = i * 7u };
			break;
		case 1: /* one run */
			outc[i] = (struct dp_ack_rec){ .status = DP_ACK_OK, .shard = 1, .seq = 100 + i };
			break;
		case 2: /* from the record's first data byte */
			outc[i] = (struct dp_ack_rec){ .status = r.data[0] % 3 ? DP_ACK_OK : DP_ACK_THROTTLED,
						       .shard = r.data[0] % 5, .seq = i };
			break;
		default: /* alternating success and failure */
			outc[i] = (struct dp_ack_rec){ .status = i % 2 ? DP_ACK_READ_ONLY : DP_ACK_OK,
						       .shard = 2, .seq = DP_SEQ_MAX - i };
			break;
		}
		i++;
	}
	PROPERTY(i == f->count);
	alen = dp_ack_build(ack, f->len, f->producer_id, f->batch, outc, f->count);
	PROPERTY(alen > 0 && (size_t)alen <= n);
	PROPERTY(dp_ack_parse(ack, (size_t)alen, &a) == DP_DROP_NONE);
	PROPERTY(a.count == f->count && a.producer_id == f->producer_id && a.batch == f->batch);
	PROPERTY(dp_ack_expand(&a, back, DP_FRAME_RECORDS_MAX) == f->count);
	for (i = 0; i < f->count; i++) {
		PROPERTY(back[i].status == outc[i].status);
		if (!(a.flags & DP_ACK_F_STATUS_ONLY) && outc[i].status == DP_ACK_OK)
			PROPERTY(back[i].shard == outc[i].shard && back[i].seq == outc[i].seq);
	}
}

static void check_as_ack(const uint8_t *d, size_t n)
{
	struct dp_ack a;
	enum dp_drop r = dp_ack_parse(d, n, &a);

	PROPERTY((unsigned)r < DP_DROP__COUNT);
	if (r == DP_DROP_NONE) {
		PROPERTY(a.count <= DP_FRAME_RECORDS_MAX);
		PROPERTY(dp_ack_expand(&a, back, DP_FRAME_RECORDS_MAX) == a.count);
		for (unsigned i = 0; i < a.count; i++)
			PROPERTY(back[i].status != DP_ACK_OK || back[i].seq <= DP_SEQ_MAX);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct dp_frame f;
	enum dp_drop r = dp_frame_parse(d, n, &f);

	PROPERTY((unsigned)r < DP_DROP__COUNT);
	PROPERTY(f.len == n);
	if (r == DP_DROP_NONE) {
		PROPERTY(f.envelope && f.count >= 1 && f.count <= DP_FRAME_RECORDS_MAX);
		PROPERTY(n >= DP_FRAME_HDR_LEN + 1 + DP_FRAME_REC_MIN);
		check_canonical(d, n, &f);
		check_ack(d, n, &f);
	} else if (f.envelope && dp_drop_ack_status(r) > 0) {
		int alen = dp_ack_build_error(ack, f.len, &f, (unsigned)dp_drop_ack_status(r));

		PROPERTY(alen == DP_ACK_HDR_LEN && (size_t)alen <= n);
	}
	check_as_ack(d, n);
	return 0;
}
