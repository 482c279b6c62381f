/* SPDX-License-Identifier: MIT */
/*
 * dp_crc32c: CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every batch in
 * the shard log. Uses the SSE4.2 crc32 instruction, three interleaved streams on long buffers;
 * a slicing-by-8 table is the fallback on CPUs without it (never a bitwise loop).
 * Thread-safe, no state beyond the tables built at load time.
 */
#ifndef DP_CRC32C_H
#define DP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extend `crc` (0 for a new checksum) over len bytes. dp_crc32c(0, "123456789", 9) == 0xE3069283,
 * the standard check value. Chaining holds: crc(crc(0,a),b) == crc(0,a||b).
 */
uint32_t dp_crc32c(uint32_t crc, const void *buf, size_t len);

/* The table fallback, exposed so tests and benchmarks can compare both paths. */
uint32_t dp_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* 1 when the hardware path is in use. */
int dp_crc32c_hw(void);

#endif
