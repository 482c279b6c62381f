/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for chunk reassembly: the input is a script of chunk arrivals (which record,
 * which byte range, how much time passes) played against a fresh 3-slot reassembler.
 *
 * Each record's bytes are a function of (producer, position), so whatever order, duplicates,
 * overlaps, timeouts and evictions the script produces, a record that completes must hold
 * exactly its own bytes; slots in use never exceed the slot count; and the stats add up.
 * One op is 8 bytes: producer (3 values) and whether to release completed records, record size
 * selector, offset (u16), length (u16), milliseconds to advance, and a flag to send a chunk that
 * disagrees with the record's key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)
#define SLOTS 3u
#define TOTAL_MAX 8192u /* small records: many ops per second, same code paths */

static uint8_t pattern(uint64_t producer, uint32_t pos)
{
	return (uint8_t)(pos * 131u + pos / 251u + producer * 17u);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t data[TOTAL_MAX], frame[TOTAL_MAX + 512];
	struct dp_reasm *r = NULL;
	struct dp_reasm_stats st;
	int64_t now = 0;
	uint64_t completed = 0, taken = 0;

	if (dp_reasm_new(SLOTS, 50, &r) != 0)
		abort();
	for (size_t i = 0; i + 8 <= n; i += 8) {
		const uint8_t *op = d + i;
		uint64_t producer = op[0] % 3;
		bool release = op[0] & 0x80;
		/* Per producer a fixed total unless the selector says otherwise: mostly consistent. */
		uint32_t total = (op[1] & 0x80) ? 1u + op[1] * 32u : 1u + (uint32_t)producer * 1000u + 2000u;
		uint32_t off = (uint32_t)(op[2] | op[3] << 8) % total;
		uint32_t len = 1u + (uint32_t)(op[4] | op[5] << 8) % (total - off);
		bool other_key = op[7] & 1;
		struct dp_reasm_rec done;
		struct dp_frame f;
		int flen, rc;

		if (total > TOTAL_MAX)
			total = TOTAL_MAX;
		if (off >= total || len > total - off)
			continue;
		now += op[6] % 32;
		for (uint32_t k = 0; k < len; k++)
			data[k] = pattern(producer, off + k);
		flen = dp_frame_build_chunk(frame, sizeof(frame), producer, 1, "s", 1, 0,
					    other_key ? "K" : "k", 1, NULL, total, off, data, len);
		PROPERTY(flen > 0);
		PROPERTY(dp_frame_parse(frame, (size_t)flen, &f) == DP_DROP_NONE);
		rc = dp_reasm_add(r, &f, now, &done);
		PROPERTY(rc == 0 || rc == 1 || (rc < 0 && -rc < DP_DROP__COUNT));
		if (rc == 1) {
			completed++;
			PROPERTY(done.producer_id == producer && done.batch == 1);
			PROPERTY(done.data_len == total);
			for (uint32_t k = 0; k < total; k++)
				PROPERTY(done.data[k] == pattern(producer, k));
			if (release) {
				dp_reasm_release(r, &done);
				taken++;
			}
		}
		PROPERTY(dp_reasm_in_use(r) <= SLOTS);
		PROPERTY(dp_reasm_in_use(r) >= completed - taken); /* held records stay */
	}
	dp_reasm_stats_get(r, &st);
	PROPERTY(st.completed == completed);
	dp_reasm_free(r);
	return 0;
}
