/* SPDX-License-Identifier: MIT */
/*
 * cat_grok: the Grok compiler of the classifiers. A Grok pattern ("%{SYSLOGTIMESTAMP:ts}
 * %{WORD:host} %{GREEDYDATA:msg}") becomes one PCRE2 regular expression with a named group per
 * field, anchored at both ends of a line, plus the list of fields and their catalog types.
 *
 * Patterns. The built-in library (the names Glue and Logstash publish: USERNAME, INT, NUMBER,
 * WORD, NOTSPACE, DATA, GREEDYDATA, QUOTEDSTRING, IPV4, IPV6, IP, HOSTNAME, IPORHOST,
 * URIPATHPARAM, MONTH, TIME, TIMESTAMP_ISO8601, HTTPDATE, SYSLOGTIMESTAMP, SYSLOGBASE,
 * COMMONAPACHELOG, COMBINEDAPACHELOG, ...; cat_grok_library() lists them) is data in cat_grok.c.
 * A classifier's CustomPatterns add lines "NAME regex" (blank lines and lines starting with '#'
 * are skipped); a custom name shadows a built-in one, as in Glue.
 *
 * Expansion. %{NAME} becomes (?:body), %{NAME:field} becomes (?<field>body) and
 * %{NAME:field:type} also gives the field a type (byte, short, int, long -> bigint; float,
 * double -> double; boolean -> boolean; date, timestamp -> timestamp; string). Fields named
 * UNWANTED are not captured (Glue's throw-away name). Field names are folded to what PCRE2
 * accepts as a group name ([A-Za-z0-9_], not starting with a digit, at most 32 bytes); a name
 * used twice is one column (the regex is compiled with PCRE2_DUPNAMES). Raw (?<name>re) groups in
 * a pattern are fields of type string too.
 *
 * Limits (each a refusal with a message, never a crash or a runaway): references nest at most
 * CAT_GROK_DEPTH_MAX deep; a pattern that refers to itself, directly or through others, is a
 * cycle; the expanded regex is at most CAT_GROK_REGEX_MAX bytes (a chain of patterns that each
 * use the previous twice would otherwise grow exponentially); GrokPattern at most
 * CAT_GROK_PATTERN_MAX bytes and CustomPatterns at most CAT_GROK_CUSTOM_MAX (Glue's limits).
 * Each custom pattern's body and the whole expansion are compiled with PCRE2 to prove them
 * valid; errors name the pattern and the byte offset.
 *
 * Threads: no shared state; any thread.
 */
#ifndef CAT_GROK_H
#define CAT_GROK_H

#include <stddef.h>

#define CAT_GROK_PATTERN_MAX 2048   /* GrokPattern: Glue allows 1..2048 bytes */
#define CAT_GROK_CUSTOM_MAX 16000   /* CustomPatterns: Glue allows up to 16000 bytes */
/* Deepest chain of references: the library's deepest is 6 (COMBINEDAPACHELOG); 32 leaves
 * room for custom layers and still bounds the recursion of the expander. */
#define CAT_GROK_DEPTH_MAX 32
/* Longest expanded regex: COMBINEDAPACHELOG expands to about 3 KiB; 64 KiB keeps every
 * reasonable pattern and bounds what a hostile one makes us allocate and compile. */
#define CAT_GROK_REGEX_MAX 65536
/* Longest field (group) name PCRE2 accepts. */
#define CAT_GROK_NAME_MAX 32
/* Most fields of one pattern (columns of one table). */
#define CAT_GROK_FIELDS_MAX 256

enum cat_grok_type {
	CAT_GROK_STRING,
	CAT_GROK_BIGINT,
	CAT_GROK_DOUBLE,
	CAT_GROK_BOOLEAN,
	CAT_GROK_TIMESTAMP,
};

/* The catalog type of t ("string", "bigint", ...). */
const char *cat_grok_type_name(enum cat_grok_type t);

struct cat_grok_field {
	char name[CAT_GROK_NAME_MAX + 1];
	enum cat_grok_type type;
};

/* A compiled Grok pattern. regex is "^(?:...)$" in PCRE2 syntax (compile with PCRE2_DUPNAMES). */
struct cat_grok {
	char *regex;
	size_t regex_len;
	unsigned n_fields;
	struct cat_grok_field fields[];  /* in order of first appearance */
};

/*
 * Compile pattern with custom (CustomPatterns text, may be NULL). On success *ret is a new
 * cat_grok (free with cat_grok_free) and 0 is returned. On failure returns -EINVAL (err holds
 * the reason: "unknown pattern name FOO at offset 12 of GrokPattern", "CustomPatterns line 2
 * (FOO): missing right parenthesis at offset 3", "pattern A refers to itself: A -> B -> A", ...),
 * -E2BIG when a limit is exceeded (err says which) or -ENOMEM.
 */
int cat_grok_compile(const char *pattern, const char *custom, struct cat_grok **ret, char *err,
		     size_t errlen);
/* NULL is accepted. */
void cat_grok_free(struct cat_grok *g);

/* The built-in library: n names, in definition order; returns the body of name or NULL. */
const char *cat_grok_library(const char *name);
unsigned cat_grok_library_size(void);
const char *cat_grok_library_name(unsigned i);

#endif
