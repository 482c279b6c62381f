/* SPDX-License-Identifier: MIT */
/* ctl_uuid: the text form, the version and variant bits, and distinct draws. */
#include <string.h>

#include "ctl_uuid.h"
#include "dp_test.h"

static void test_format_known_bytes(void)
{
	const uint8_t b[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0xf6, 0x77,
				0xc8, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	char out[CTL_UUID_LEN + 1];
	memset(out, 'Z', sizeof(out));
	ctl_uuid_format(b, out);
	/* byte 6's high nibble becomes 4, byte 8's top bits 10 */
	CHECK_STR(out, "00112233-4455-4677-8899-aabbccddeeff");
	CHECK_EQ(strlen(out), (size_t)CTL_UUID_LEN);
}

static void test_format_all_ones_and_zeros(void)
{
	uint8_t b[16];
	char out[CTL_UUID_LEN + 1];
	memset(b, 0xff, sizeof(b));
	ctl_uuid_format(b, out);
	CHECK_STR(out, "ffffffff-ffff-4fff-bfff-ffffffffffff");
	memset(b, 0, sizeof(b));
	ctl_uuid_format(b, out);
	CHECK_STR(out, "00000000-0000-4000-8000-000000000000");
}

static void test_random_ids_are_v4_and_distinct(void)
{
	enum { N = 256 };
	static char ids[N][CTL_UUID_LEN + 1];
	for (int i = 0; i < N; i++) {
		ctl_uuid4(ids[i]);
		CHECK_EQ(strlen(ids[i]), (size_t)CTL_UUID_LEN);
		CHECK(ids[i][8] == '-' && ids[i][13] == '-' && ids[i][18] == '-' && ids[i][23] == '-');
		CHECK(ids[i][14] == '4');
		CHECK(strchr("89ab", ids[i][19]) != NULL);
		CHECK(strspn(ids[i], "0123456789abcdef-") == CTL_UUID_LEN);
	}
	int dup = 0;
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			dup += strcmp(ids[i], ids[j]) == 0;
	CHECK_EQ(dup, 0);
}

int main(void)
{
	DP_TEST_RUN(test_format_known_bytes);
	DP_TEST_RUN(test_format_all_ones_and_zeros);
	DP_TEST_RUN(test_random_ids_are_v4_and_distinct);
	return dp_test_done();
}
