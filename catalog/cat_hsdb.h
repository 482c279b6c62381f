/* SPDX-License-Identifier: MIT */
/*
 * cat_hsdb: every line-matching pattern of every classifier in ONE Hyperscan database, so that a
 * line is tried against all of them in one pass whatever their number, with PCRE2 (JIT) behind
 * it for what Hyperscan cannot decide alone.
 *
 * Patterns and ids. The database holds n regular expressions in PCRE2 syntax (cat_grok's output,
 * anchored ^...$); pattern i has Hyperscan id i, so the caller maps ids to classifier/pattern
 * with its own table. Each is compiled with HS_FLAG_SINGLEMATCH (one report per line is all
 * classification needs) and HS_FLAG_ALLOWEMPTY. A pattern Hyperscan compiles as written
 * (exact) needs no second look; one that uses what Hyperscan lacks (lookarounds, atomic groups,
 * backreferences) is compiled with HS_FLAG_PREFILTER, whose matches are a superset, and every
 * such hit is confirmed by PCRE2 on that line before it counts. A pattern neither way accepts
 * is refused when the database is built; cat_hsdb_check() says so up front (CreateClassifier),
 * naming the construct, so nothing is ever silently mis-matched. PCRE2 runs only for prefilter
 * confirmation and for field extraction (cat_hsdb_extract), never as a scan of all patterns.
 * PCRE2 matches run under a match limit (CAT_HSDB_MATCH_LIMIT): a catastrophic-backtracking
 * pattern costs bounded time and counts as no match.
 *
 * Cache. Compiling is slow (seconds for hundreds of patterns), so the serialized database is
 * kept in cache_dir as hsdb-<sha256>.bin, the hash covering the Hyperscan version, this CPU's
 * platform features and every pattern; a restart with the same pattern set loads it instead of
 * compiling. A file that does not deserialize is ignored and rewritten. Writes go through a
 * temporary file and rename(), so a crash leaves either the old cache or none.
 *
 * Threads. A built cat_hsdb is immutable and shared by any number of threads; each thread
 * scans with its own cat_hsdb_scratch (Hyperscan scratch, PCRE2 match data).
 */
#ifndef CAT_HSDB_H
#define CAT_HSDB_H

#include <stdbool.h>
#include <stddef.h>

/* PCRE2 backtracking steps per confirmation or extraction: a 4 KiB line against a Grok pattern
 * takes a few thousand; 1e6 bounds a pathological pattern to about a millisecond. */
#define CAT_HSDB_MATCH_LIMIT 1000000

struct cat_hsdb;
struct cat_hsdb_scratch;

struct cat_hsdb_info {
	unsigned n_patterns;
	unsigned n_prefilter;  /* compiled with HS_FLAG_PREFILTER (confirmed by PCRE2) */
	bool from_cache;       /* loaded from cache_dir instead of compiled */
	bool cache_written;    /* a new cache file was written */
	double build_s;        /* wall time of cat_hsdb_new: compile or load, PCRE2 included */
	double hs_s;           /* of which Hyperscan compile or deserialize */
	size_t db_bytes;       /* Hyperscan database size */
};

/*
 * Can regex (PCRE2 syntax, len bytes) be part of a database? Compiles it with PCRE2 and with
 * Hyperscan (as written, else as a prefilter). Returns 0, or -EINVAL with err naming the
 * engine's reason ("Hyperscan cannot use this pattern: Embedded code is not supported at
 * index 3"), or -ENOMEM.
 */
int cat_hsdb_check(const char *regex, size_t len, char *err, size_t errlen);

/*
 * Build the database of regexes[0..n) (NUL-terminated). cache_dir may be NULL (no cache) and
 * must exist otherwise. n may be 0 (nothing ever matches). Returns 0 with *ret, or -EINVAL with
 * err naming the pattern index and the reason, or -ENOMEM.
 */
int cat_hsdb_new(const char *const *regexes, unsigned n, const char *cache_dir,
		 struct cat_hsdb **ret, char *err, size_t errlen);
/* NULL is accepted. */
void cat_hsdb_free(struct cat_hsdb *db);
void cat_hsdb_get_info(const struct cat_hsdb *db, struct cat_hsdb_info *out);

/* A scratch for one thread. Returns 0 or -ENOMEM. */
int cat_hsdb_scratch_new(const struct cat_hsdb *db, struct cat_hsdb_scratch **ret);
/* NULL is accepted. */
void cat_hsdb_scratch_free(struct cat_hsdb_scratch *s);
/* PCRE2 matches that hit CAT_HSDB_MATCH_LIMIT on this scratch so far. */
unsigned long cat_hsdb_scratch_limited(const struct cat_hsdb_scratch *s);

/*
 * The ids of the patterns that match line (len bytes, without its newline), confirmed, in
 * ascending order, at most max of them (the lowest ones: max = 1 gives the first in Glue's
 * order). Returns their number (0: none), or -EIO when Hyperscan fails.
 */
int cat_hsdb_match(const struct cat_hsdb *db, struct cat_hsdb_scratch *s, const char *line,
		   size_t len, unsigned *ids, unsigned max);

/* Called per named group that took part in the match: value is not NUL-terminated. */
typedef void (*cat_hsdb_field_fn)(void *arg, const char *name, const char *value, size_t len);

/*
 * Match pattern id against line with PCRE2 and report its named groups through fn.
 * Returns 1 when it matched, 0 when not (or the match limit was hit), -EINVAL for a bad id.
 */
int cat_hsdb_extract(const struct cat_hsdb *db, struct cat_hsdb_scratch *s, unsigned id,
		     const char *line, size_t len, cat_hsdb_field_fn fn, void *arg);

#endif
