/* SPDX-License-Identifier: MIT */
/*
 * prod_engine against an in-memory receiver (a struct prod_io that parses every datagram, keeps
 * what arrived, and answers it from wait()): how many batches go out before the first ack, and
 * after a send reported the path lost.
 *
 * Why it matters: a sender's kernel holds datagrams to an unresolved neighbour and flushes them
 * once the neighbour answers while newer datagrams already go straight out, so a burst sent
 * before anything came back can arrive out of order, a later batch written before an earlier
 * one with no resend (a key's send order broken). The producer sends one batch alone until an
 * ack proves the path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dp_frame.h"
#include "dp_test.h"
#include "prod_engine.h"

#define PENDING_MAX 4096u

struct fake {
	struct {
		uint64_t batch;
		uint16_t count;
		size_t len;
	} pend[PENDING_MAX];      /* arrived, not answered yet */
	unsigned npend;
	uint64_t max_batch;       /* the highest batch number that arrived */
	uint64_t records_acked;   /* records of distinct batches answered */
	uint8_t answered[1024];   /* by batch number: answered once already */
	uint64_t next_seq;
	unsigned waits;
	unsigned first_wait_pending;  /* batches arrived when wait() first ran */
	unsigned max_pending;         /* the most arrived-unanswered batches at one wait() */
	bool acked_any;
	unsigned bad_frames;
	/* loss: the send after `lose_after` datagrams arrived reports the path unreachable */
	unsigned lose_after;
	unsigned datagrams;
	bool lost;                /* a loss was reported and no ack has gone out since */
	uint64_t max_before_loss; /* max_batch when the loss was reported */
	unsigned new_after_loss;  /* datagrams of batches newer than that, before the next ack */
};

static int fake_send(void *arg, const struct iovec *iov, unsigned n)
{
	struct fake *fk = arg;
	if (fk->lose_after && !fk->lost && fk->datagrams >= fk->lose_after) {
		/* Every batch built so far is in this burst or arrived before it. */
		fk->lose_after = 0;
		fk->lost = true;
		fk->max_before_loss = fk->max_batch;
		for (unsigned i = 0; i < n; i++) {
			struct dp_frame f;
			if (dp_frame_parse(iov[i].iov_base, iov[i].iov_len, &f) == DP_DROP_NONE &&
			    f.batch > fk->max_before_loss)
				fk->max_before_loss = f.batch;
		}
		return -EHOSTUNREACH;
	}
	for (unsigned i = 0; i < n; i++) {
		struct dp_frame f;
		fk->datagrams++;
		if (dp_frame_parse(iov[i].iov_base, iov[i].iov_len, &f) != DP_DROP_NONE ||
		    fk->npend == PENDING_MAX) {
			fk->bad_frames++;
			continue;
		}
		if (fk->lost && f.batch > fk->max_before_loss)
			fk->new_after_loss++;
		if (f.batch > fk->max_batch)
			fk->max_batch = f.batch;
		fk->pend[fk->npend].batch = f.batch;
		fk->pend[fk->npend].count = f.count;
		fk->pend[fk->npend].len = f.len;
		fk->npend++;
	}
	return (int)n;
}

/* Answer everything that arrived, every record ok; with nothing to answer, let time pass (the
 * producer's resend timers). */
static int fake_wait(void *arg, struct prod *p, int64_t wait_ns, bool want_send, int input_fd)
{
	struct fake *fk = arg;
	(void)want_send;
	(void)input_fd;
	if (fk->waits++ == 0)
		fk->first_wait_pending = fk->npend;
	if (fk->npend > fk->max_pending)
		fk->max_pending = fk->npend;
	if (fk->npend == 0) {
		int64_t ns = wait_ns < 2000000 ? wait_ns : 2000000;
		struct timespec ts = { 0, (long)ns };
		nanosleep(&ts, NULL);
		return 0;
	}
	for (unsigned k = 0; k < fk->npend; k++) {
		struct dp_ack_rec recs[DP_FRAME_RECORDS_MAX];
		uint8_t buf[DP_FRAME_DATAGRAM_MAX];
		for (unsigned i = 0; i < fk->pend[k].count; i++)
			recs[i] = (struct dp_ack_rec){ .status = DP_ACK_OK, .shard = 0,
						       .seq = fk->next_seq++ };
		int len = dp_ack_build(buf, fk->pend[k].len, 7, fk->pend[k].batch, recs,
				       fk->pend[k].count);
		if (len <= 0) {
			fk->bad_frames++;
			continue;
		}
		uint64_t b = fk->pend[k].batch;
		if (b < sizeof(fk->answered) && !fk->answered[b]) {
			fk->answered[b] = 1;
			fk->records_acked += fk->pend[k].count;
		}
		fk->acked_any = true;
		fk->lost = false;
		prod_rx(p, buf, (size_t)len, prod_now_ns());
	}
	fk->npend = 0;
	return 0;
}

static int run_producer(struct fake *fk, uint64_t count, unsigned timeout_ms)
{
	struct prod_opts o;
	struct prod *p = NULL;
	prod_opts_default(&o, "test_prod_engine");
	o.stream = "s";
	o.producer_id = 7;
	o.producer_id_set = true;
	o.generate = true;
	o.count = count;
	o.size = 20;
	o.keys = 50;
	o.batch = 10;
	o.inflight = 8;
	o.window = 32;
	o.timeout_ms = timeout_ms;
	o.retries = 5;
	int rc = prod_new(&o, 1472, &p);
	if (rc < 0)
		return rc;
	const struct prod_io io = { .send = fake_send, .wait = fake_wait, .arg = fk,
				    .peer = "fake" };
	rc = prod_run(p, &io);
	prod_free(p);
	return rc;
}

/* Before any ack, one batch alone; after it, the window fills. */
static void test_first_batch_goes_alone(void)
{
	struct fake *fk = calloc(1, sizeof(*fk));
	REQUIRE(fk);
	CHECK_EQ(run_producer(fk, 2000, 1000), 0);
	CHECK_EQ(fk->bad_frames, 0);
	CHECK_EQ_U64(fk->records_acked, 2000);
	CHECK_EQ(fk->first_wait_pending, 1);
	/* Then up to --inflight at once: the ack opened the window. */
	CHECK(fk->max_pending > 1);
	CHECK(fk->max_pending <= 8);
	free(fk);
}

/* A send reported unreachable: its batches are resent and every record is answered once; no
 * batch newer than those goes out before an ack came back. */
static void test_lost_path_closes_the_window(void)
{
	struct fake *fk = calloc(1, sizeof(*fk));
	REQUIRE(fk);
	fk->lose_after = 40;
	CHECK_EQ(run_producer(fk, 2000, 20), 0);
	CHECK_EQ(fk->bad_frames, 0);
	CHECK_EQ_U64(fk->records_acked, 2000);
	CHECK(fk->max_before_loss > 0);
	CHECK_EQ(fk->new_after_loss, 0);
	free(fk);
}

int main(void)
{
	DP_TEST_RUN(test_first_batch_goes_alone);
	DP_TEST_RUN(test_lost_path_closes_the_window);
	return dp_test_done();
}
