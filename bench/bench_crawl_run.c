/* SPDX-License-Identifier: MIT */
/*
 * bench_crawl's C side: cat_crawl.h uses C11 atomics, which C++17 cannot include, so the
 * benchmark calls the engine through this one function.
 */
#include <stddef.h>

#include "cat_crawl.h"

int bench_crawl_once(const char *root, const struct cat_classifiers *cl, unsigned *tables,
		     size_t *partitions);

/* One crawl of root: 0 with the tables found and the first table's partitions, or < 0. */
int bench_crawl_once(const char *root, const struct cat_classifiers *cl, unsigned *tables,
		     size_t *partitions)
{
	struct cat_crawl_config cfg = {
		.root = root, .location = "s3://bench/events", .classifiers = cl,
		.crawler_name = "bench",
	};
	struct cat_crawl_result *r = NULL;
	int rc = cat_crawl_run(&cfg, &r);
	if (rc < 0)
		return rc;
	*tables = r->n_tables;
	*partitions = r->n_tables ? json_array_size(r->tables[0].partitions) : 0;
	cat_crawl_result_free(r);
	return 0;
}
