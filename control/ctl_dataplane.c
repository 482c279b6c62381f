/* SPDX-License-Identifier: MIT */
/* ctl_dataplane: see ctl_dataplane.h. */
#include "ctl_dataplane.h"

#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>

#include "ctl_log.h"
#include "dp_dedup.h"
#include "dp_nic.h"
#include "dp_port.h"
#include "dp_worker.h"

static void port_log(void *arg, enum dp_port_log_level level, const char *msg)
{
	(void)arg;
	ctl_log(level == DP_PORT_LOG_ERR ? CTL_LOG_ERR : level == DP_PORT_LOG_WARN ? CTL_LOG_WARN
										  : CTL_LOG_INFO, "%s", msg);
}

/*
 * The engines' settings. The retry window remembers, per producer, `window` batches times the
 * shard groups one batch makes on a worker: a frame's records spread over every shard that worker
 * owns, so the entries are window x the shards a worker owns (the logs found at start, or the
 * shard limit when more may be created), up to DP_PER_WORKER_SHARDS_MAX shards: 512 entries,
 * 12.6 MiB for 1024 producers. A worker owning more shards than that still answers retries of
 * batches that touched at most that many of them.
 */
#define DP_PER_WORKER_SHARDS_MAX 16u

static void ingest_config(const struct ctl_config *cfg, unsigned workers, unsigned shards,
			  struct dp_ingest_config *ic)
{
	dp_ingest_config_default(ic);
	ic->workers = workers;
	if (shards < cfg->shard_limit)
		shards = cfg->shard_limit;
	unsigned per = (shards + workers - 1) / workers;
	if (per < 1)
		per = 1;
	if (per > DP_PER_WORKER_SHARDS_MAX)
		per = DP_PER_WORKER_SHARDS_MAX;
	ic->flush_depth = cfg->flush_depth;
	ic->dedup_window = cfg->retry_window ? cfg->retry_window : DP_DEDUP_WINDOW_DEFAULT;
	ic->dedup_entries = per * ic->dedup_window;
	if (ic->dedup_entries > DP_DEDUP_ENTRIES_MAX)
		ic->dedup_entries = DP_DEDUP_ENTRIES_MAX;
	if (cfg->retry_window > DP_DEDUP_WINDOW_DEFAULT) {
		/* A wide window is for a few deep producers: keep the table near 64 MiB (about 48
		 * bytes per entry, dp_dedup.h). */
		uint64_t p = (64ull << 20) / ((uint64_t)ic->dedup_entries * 48);
		ic->dedup_producers = p < 4 ? 4 : p > DP_DEDUP_PRODUCERS_DEFAULT ?
				      DP_DEDUP_PRODUCERS_DEFAULT : (unsigned)p;
	}
	if (cfg->pending_frames) {
		/* Every group of every pending frame may wait for its flush (a group per shard
		 * the frame touches on this worker). */
		uint64_t aw = (uint64_t)cfg->pending_frames * per;
		ic->pending_frames = cfg->pending_frames;
		if (aw > ic->await_max)
			ic->await_max = aw > (1u << 24) ? 1u << 24 : (unsigned)aw;
	}
}

int ctl_dataplane_start(const struct ctl_config *cfg, unsigned shards, struct ctl_dataplane *d)
{
	struct dp_ingest_config ic;
	if (cfg->no_dataplane) {
		ingest_config(cfg, 1, shards, &ic);
		ic.pending_frames = 1;  /* no frames arrive: only control puts */
		int r = dp_ingest_group_new(&ic, &d->own);
		if (r < 0) {
			ctl_log(CTL_LOG_ERR, "cannot set up the shard logs' engine: %s; ingestd needs "
				"Linux >= 5.6 with io_uring enabled (sysctl kernel.io_uring_disabled=0)",
				strerror(-r));
			return r;
		}
		d->g = d->own;
		d->n = 1;
		ctl_log(CTL_LOG_INFO, "no dataplane (--nic none): the AWS API only");
		return 0;
	}
	struct dp_port_config pc = {
		.n_nics = cfg->n_nics, .workers = cfg->workers, .lcores = cfg->lcores,
		.ip = cfg->ip, .prefix = cfg->prefix, .netns = cfg->netns,
		.eal_args = cfg->eal_args, .log = port_log,
		.tx_backlog = cfg->pending_frames,  /* an ack per pending frame may wait for room */
	};
	for (unsigned i = 0; i < cfg->n_nics; i++)
		pc.nics[i] = cfg->nics[i];
	if (cfg->tap_ip_set) {
		pc.kernel_ip = cfg->tap_ip;
		pc.kernel_prefix = cfg->tap_prefix;
	} else if (!cfg->n_nics && !cfg->ip) {
		/* The embedded default: a TAP the host reaches at once, on 198.18.0.0/24. */
		pc.kernel_ip = DP_PORT_DEFAULT_IP + 1;
		pc.kernel_prefix = DP_PORT_DEFAULT_PREFIX;
	}
	int r = dp_port_start(&pc, &d->port);
	if (r < 0) {
		ctl_log(CTL_LOG_ERR, "cannot start the dataplane: %s; it needs root (or CAP_NET_ADMIN "
			"and CAP_SYS_ADMIN) for its NICs; run with --nic none for the AWS API only",
			strerror(-r));
		return r;
	}
	d->n = d->port->workers;
	struct dp_nic_config nc = { .port = d->port };
	ingest_config(cfg, d->n, shards, &nc.ingest);
	/* Keep the kernel's page-cache copies off the workers' cores (dp_committer_set_iowq_cpus). */
	unsigned io_cpus = dp_port_io_cpus(d->port, &nc.ingest.iowq_cpus);
	nc.ingest.iowq_set = io_cpus > 0;
	if ((r = dp_nic_new(&nc, &d->nic)) < 0) {
		ctl_log(CTL_LOG_ERR, "cannot set up the ingest engines: %s", strerror(-r));
		return r;
	}
	d->g = dp_nic_group(d->nic);
	struct dp_worker_config wc = { .port = d->port, .udp_port = cfg->ingest_port };
	dp_nic_worker_config(d->nic, &wc);
	if ((r = dp_workers_start(&wc, &d->workers)) < 0) {
		ctl_log(CTL_LOG_ERR, "cannot launch the workers: %s", strerror(-r));
		return r;
	}
	char ip[16];
	/* dp_port logged each NIC; say where producers send. */
	ctl_log(CTL_LOG_INFO, "dataplane: %u worker(s), ingest on %s:%u/udp%s%s%s; shard-log I/O "
		"on %u CPU(s) beside the workers'", d->n, dp_port_ip_str(d->port->ip, ip),
		cfg->ingest_port, d->port->no_huge ? ", without huge pages" : "",
		d->port->netns[0] ? ", NICs in netns " : "", d->port->netns, io_cpus);
	return 0;
}

void ctl_dataplane_stop(struct ctl_dataplane *d)
{
	dp_workers_free(d->workers);
	dp_nic_free(d->nic);
	dp_port_stop(d->port);
	dp_ingest_group_free(d->own);
}


static void add_u64(json_t *o, const char *k, uint64_t v)
{
	json_t *old = json_object_get(o, k);
	uint64_t base = old ? (uint64_t)json_integer_value(old) : 0;
	json_object_set_new(o, k, json_integer((json_int_t)(base + v)));
}

/* Drop reasons with a count, as {reason: count}; also summed into tot. */
static json_t *drops_json(const uint64_t *v, unsigned n, const char *(*name)(unsigned),
			  json_t *tot)
{
	json_t *o = json_object();
	for (unsigned i = 0; i < n; i++)
		if (v[i]) {
			json_object_set_new(o, name(i), json_integer((json_int_t)v[i]));
			add_u64(tot, name(i), v[i]);
		}
	return o;
}

static const char *pkt_drop_name(unsigned i)
{
	return dp_pkt_drop_name((enum dp_pkt_drop)i);
}

static const char *frame_drop_name(unsigned i)
{
	return dp_drop_name((enum dp_drop)i);
}

static json_t *nic_json(const struct dp_port_nic *n)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:b}", "name", n->name, "driver", n->driver,
			      "interface", n->ifname, "port_id", (int)n->port_id, "queues",
			      (int)n->queues, "rss", (int)n->rss);
	struct rte_eth_stats es;
	if (o && rte_eth_stats_get(n->port_id, &es) == 0) {
		json_object_set_new(o, "rx_packets", json_integer((json_int_t)es.ipackets));
		json_object_set_new(o, "rx_bytes", json_integer((json_int_t)es.ibytes));
		json_object_set_new(o, "rx_missed", json_integer((json_int_t)es.imissed));
		json_object_set_new(o, "rx_errors", json_integer((json_int_t)es.ierrors));
		json_object_set_new(o, "rx_no_mbuf", json_integer((json_int_t)es.rx_nombuf));
		json_object_set_new(o, "tx_packets", json_integer((json_int_t)es.opackets));
		json_object_set_new(o, "tx_bytes", json_integer((json_int_t)es.obytes));
		json_t *qs = json_array();
		for (unsigned q = 0; q < n->queues && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; q++)
			json_array_append_new(qs, json_pack("{s:i, s:I, s:I}", "queue", (int)q,
							    "rx_packets", (json_int_t)es.q_ipackets[q],
							    "rx_bytes", (json_int_t)es.q_ibytes[q]));
		json_object_set_new(o, "rx_queues", qs);
	}
	return o;
}

json_t *ctl_dataplane_stats(void *arg)
{
	const struct ctl_dataplane *d = arg;
	json_t *out = json_object(), *nics = json_array(), *ws = json_array();
	json_t *tot = json_object(), *tot_pkt = json_object(), *tot_frame = json_object();
	json_t *tot_status = json_object();
	if (!out || !nics || !ws || !tot || !tot_pkt || !tot_frame || !tot_status)
		goto oom;
	json_object_set_new(out, "mode", json_string(d->port ? "dpdk" : "none"));
	json_object_set_new(out, "workers", json_integer(d->n));
	for (unsigned i = 0; d->port && i < d->port->n_nics; i++)
		json_array_append_new(nics, nic_json(&d->port->nics[i]));
	for (unsigned i = 0; i < d->n; i++) {
		json_t *w = json_pack("{s:i}", "worker", (int)i);
		if (!w)
			goto oom;
		if (d->workers) {
			struct dp_worker_stats st;
			dp_worker_stats_read(d->workers, i, &st);
			static const char *const k[] = { "rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
				"arp_replies", "icmp_replies", "udp_packets", "udp_bytes" };
			const uint64_t v[] = { st.rx_pkts, st.rx_bytes, st.tx_pkts, st.tx_bytes,
				st.arp_replies, st.icmp_replies, st.udp_pkts, st.udp_bytes };
			for (unsigned j = 0; j < 8; j++) {
				json_object_set_new(w, k[j], json_integer((json_int_t)v[j]));
				add_u64(tot, k[j], v[j]);
			}
			json_object_set_new(w, "packet_drops", drops_json(st.drops, DP_PKT_DROP_COUNT,
									  pkt_drop_name, tot_pkt));
		}
		if (d->nic) {
			struct dp_nic_stats ns;
			dp_nic_stats_read(d->nic, i, &ns);
			json_t *o = json_object();
			for (unsigned j = 0; j < DP_NIC_C__COUNT; j++) {
				json_object_set_new(o, dp_nic_counter_name(j),
						    json_integer((json_int_t)ns.c[j]));
				add_u64(tot, dp_nic_counter_name(j), ns.c[j]);
			}
			json_object_set_new(w, "nic", o);
		}
		struct dp_ingest_stats is;
		dp_ingest_stats_get(dp_ingest_worker(d->g, i), &is);
		json_t *o = json_object();
		for (unsigned j = 0; j < DP_INGEST_C__COUNT; j++) {
			const char *name = dp_ingest_counter_name(j);
			json_object_set_new(o, name, json_integer((json_int_t)is.c[j]));
			if (j != DP_INGEST_C_ACK_MS_MAX) {
				add_u64(tot, name, is.c[j]);
			} else {
				json_t *m = json_object_get(tot, name);
				if (!m || (uint64_t)json_integer_value(m) < is.c[j])
					json_object_set_new(tot, name,
							    json_integer((json_int_t)is.c[j]));
			}
		}
		json_object_set_new(o, "frame_drops", drops_json(is.drops, DP_DROP__COUNT,
								 frame_drop_name, tot_frame));
		int iq = dp_committer_iowq_status(dp_ingest_committer(dp_ingest_worker(d->g, i)));
		json_object_set_new(o, "io_workers", iq < 0 ? json_sprintf("affinity refused: %s",
			strerror(-iq)) : json_string(iq == 1 ? "off the worker's cores" :
			iq == 2 ? "off the worker's cores once it writes" : "on the worker's cores"));
		json_t *acked = json_object();
		for (unsigned j = 0; j < DP_INGEST_STATUS_SLOTS; j++)
			if (is.status[j]) {
				json_object_set_new(acked, dp_ack_status_name(j),
						    json_integer((json_int_t)is.status[j]));
				add_u64(tot_status, dp_ack_status_name(j), is.status[j]);
			}
		json_object_set_new(o, "records_acked", acked);
		json_object_set_new(w, "ingest", o);
		json_array_append_new(ws, w);
	}
	/* Commit latency: arrival to ack, the mean over every acked frame and control put. */
	json_int_t acks = json_integer_value(json_object_get(tot, "acks")) -
			  json_integer_value(json_object_get(tot, "acks-error")) +
			  json_integer_value(json_object_get(tot, "no-ack"));
	json_int_t puts = json_integer_value(json_object_get(tot, "control-puts-done"));
	json_object_set_new(tot, "ack_ms_mean", json_real(acks ? (double)json_integer_value(
		json_object_get(tot, "ack-ms-sum")) / (double)acks : 0.0));
	json_object_set_new(tot, "control_put_ms_mean", json_real(puts ? (double)
		json_integer_value(json_object_get(tot, "control-put-ms-sum")) / (double)puts : 0.0));
	json_object_set_new(tot, "packet_drops", tot_pkt);
	json_object_set_new(tot, "frame_drops", tot_frame);
	json_object_set_new(tot, "records_acked", tot_status);
	json_object_set_new(out, "nics", nics);
	json_object_set_new(out, "per_worker", ws);
	json_object_set_new(out, "totals", tot);
	return out;
oom:
	json_decref(out);
	json_decref(nics);
	json_decref(ws);
	json_decref(tot);
	json_decref(tot_pkt);
	json_decref(tot_frame);
	json_decref(tot_status);
	return NULL;
}
