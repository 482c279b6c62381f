/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for ctl_cbor, the AWS CBOR protocol codec: request bodies arrive from clients
 * unchecked.
 *
 * Every input is decoded with the Kinesis hints. A rejected input must fail with -EINVAL (or
 * -ENOMEM) and a message; an accepted one must also be a single, complete item to libcbor's own
 * tree loader (cbor_load), an independent reading of the same bytes. Whatever decoded is then
 * re-encoded: with the hints (it may fail only as documented: text that is not base64 in a blob
 * member, a timestamp out of range), and without them, where it must succeed, decode back to an
 * equal JSON value and re-encode to the same bytes. A violated property calls abort(), which
 * libFuzzer reports with the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "ctl_cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static void check_libcbor_agrees(const uint8_t *d, size_t n)
{
	struct cbor_load_result res;
	cbor_item_t *item = cbor_load(d, n, &res);

	PROPERTY(item != NULL || res.error.code == CBOR_ERR_MEMERROR);
	if (item) {
		PROPERTY(res.read == n);
		cbor_decref(&item);
	}
}

static void check_plain_round_trip(const json_t *j)
{
	uint8_t *a = NULL, *b = NULL;
	size_t an = 0, bn = 0;
	json_t *back = NULL;
	int r;

	r = ctl_json_to_cbor(j, NULL, &a, &an);
	if (r == -ENOMEM)
		return;
	PROPERTY(r == 0 && an > 0);
	r = ctl_cbor_to_json(a, an, NULL, &back, NULL, 0);
	PROPERTY(r == 0 || r == -ENOMEM);
	if (r == 0) {
		PROPERTY(json_equal(j, back));
		r = ctl_json_to_cbor(back, NULL, &b, &bn);
		PROPERTY(r == 0 || r == -ENOMEM);
		if (r == 0)
			PROPERTY(bn == an && memcmp(a, b, an) == 0);
	}
	free(b);
	json_decref(back);
	free(a);
}

static void check_hinted_encode(const json_t *j)
{
	uint8_t *a = NULL;
	size_t an = 0;
	json_t *back = NULL;
	int r = ctl_json_to_cbor(j, &ctl_cbor_kinesis_hints, &a, &an);

	PROPERTY(r == 0 || r == -EINVAL || r == -ERANGE || r == -ENOMEM);
	if (r != 0)
		return;
	/* What the encoder writes, the decoder reads. */
	r = ctl_cbor_to_json(a, an, &ctl_cbor_kinesis_hints, &back, NULL, 0);
	PROPERTY(r == 0 || r == -ENOMEM);
	json_decref(back);
	free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char err[128] = "";
	json_t *j = NULL;
	int r = ctl_cbor_to_json(d, n, &ctl_cbor_kinesis_hints, &j, err, sizeof(err));

	if (r != 0) {
		PROPERTY(r == -EINVAL || r == -ENOMEM);
		PROPERTY(j == NULL);
		PROPERTY(r == -ENOMEM || strncmp(err, "CBOR at byte ", 13) == 0);
		return 0;
	}
	PROPERTY(j != NULL);
	check_libcbor_agrees(d, n);
	check_plain_round_trip(j);
	check_hinted_encode(j);
	json_decref(j);
	return 0;
}
