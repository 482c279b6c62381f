/* SPDX-License-Identifier: MIT */
/*
 * cat_grok: see cat_grok.h. The built-in library below is written for this project from the
 * published pattern names and what each is documented to match; where a pattern has an
 * established regex shape (lookbehinds around numbers, atomic groups in QUOTEDSTRING) it keeps
 * that shape, because users' Grok expects those semantics and PCRE2 runs them exactly. IPV6
 * follows RFC 3986's IPv6address grammar.
 *
 * Expansion is recursive with memoisation: each named pattern is expanded once per compile, so
 * the work is linear in the size of the output, which CAT_GROK_REGEX_MAX bounds.
 */
#include "cat_grok.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lib_pattern {
	const char *name;
	const char *body;
};

/* The built-in library, in an order where every name is defined before the first use (not
 * required by the expander; it keeps the table readable). */
static const struct lib_pattern g_lib[] = {
	{ "USERNAME", "[a-zA-Z0-9._-]+" },
	{ "USER", "%{USERNAME}" },
	{ "INT", "(?:[+-]?(?:[0-9]+))" },
	{ "BASE10NUM", "(?<![0-9.+-])(?>[+-]?(?:(?:[0-9]+(?:\\.[0-9]+)?)|(?:\\.[0-9]+)))" },
	{ "NUMBER", "(?:%{BASE10NUM})" },
	{ "BASE16NUM", "(?<![0-9A-Fa-f])(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+))" },
	{ "BASE16FLOAT", "\\b(?<![0-9A-Fa-f.])(?:[+-]?(?:0x)?(?:(?:[0-9A-Fa-f]+(?:\\.[0-9A-Fa-f]*)?)"
			 "|(?:\\.[0-9A-Fa-f]+)))\\b" },
	{ "BOOLEAN", "(?i:true|false)" },
	{ "POSINT", "\\b(?:[1-9][0-9]*)\\b" },
	{ "NONNEGINT", "\\b(?:[0-9]+)\\b" },
	{ "WORD", "\\b\\w+\\b" },
	{ "NOTSPACE", "\\S+" },
	{ "SPACE", "\\s*" },
	{ "DATA", ".*?" },
	{ "GREEDYDATA", ".*" },
	{ "QUOTEDSTRING", "(?>(?<!\\\\)(?>\"(?>\\\\.|[^\\\\\"]+)+\"|\"\"|(?>'(?>\\\\.|[^\\\\']+)+')"
			  "|''|(?>`(?>\\\\.|[^\\\\`]+)+`)|``))" },
	{ "QS", "%{QUOTEDSTRING}" },
	{ "UUID", "[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}" },
	{ "CISCOMAC", "(?:(?:[A-Fa-f0-9]{4}\\.){2}[A-Fa-f0-9]{4})" },
	{ "WINDOWSMAC", "(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2})" },
	{ "COMMONMAC", "(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})" },
	{ "MAC", "(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})" },
	/* One decimal octet 0..255, and four of them not inside a longer run of digits. */
	{ "IPV4OCTET", "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])" },
	{ "IPV4", "(?<![0-9])(?:%{IPV4OCTET}\\.%{IPV4OCTET}\\.%{IPV4OCTET}\\.%{IPV4OCTET})"
		  "(?![0-9])" },
	/* RFC 3986: h16 = 1*4HEXDIG, ls32 = h16:h16 / IPv4address, nine forms of IPv6address,
	 * plus a zone index (%eth0) as logs print them. */
	{ "IPV6H16", "[0-9A-Fa-f]{1,4}" },
	{ "IPV6LS32", "(?:%{IPV6H16}:%{IPV6H16}|%{IPV4OCTET}\\.%{IPV4OCTET}\\.%{IPV4OCTET}\\."
		      "%{IPV4OCTET})" },
	{ "IPV6", "(?:(?:%{IPV6H16}:){6}%{IPV6LS32}"
		  "|::(?:%{IPV6H16}:){5}%{IPV6LS32}"
		  "|(?:%{IPV6H16})?::(?:%{IPV6H16}:){4}%{IPV6LS32}"
		  "|(?:(?:%{IPV6H16}:){0,1}%{IPV6H16})?::(?:%{IPV6H16}:){3}%{IPV6LS32}"
		  "|(?:(?:%{IPV6H16}:){0,2}%{IPV6H16})?::(?:%{IPV6H16}:){2}%{IPV6LS32}"
		  "|(?:(?:%{IPV6H16}:){0,3}%{IPV6H16})?::%{IPV6H16}:%{IPV6LS32}"
		  "|(?:(?:%{IPV6H16}:){0,4}%{IPV6H16})?::%{IPV6LS32}"
		  "|(?:(?:%{IPV6H16}:){0,5}%{IPV6H16})?::%{IPV6H16}"
		  "|(?:(?:%{IPV6H16}:){0,6}%{IPV6H16})?::)(?:%[0-9A-Za-z]+)?" },
	{ "IP", "(?:%{IPV6}|%{IPV4})" },
	{ "HOSTNAME", "\\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*"
		      "(?:\\.?|\\b)" },
	{ "HOST", "%{HOSTNAME}" },
	{ "IPORHOST", "(?:%{IP}|%{HOSTNAME})" },
	{ "HOSTPORT", "%{IPORHOST}:%{POSINT}" },
	{ "UNIXPATH", "(?:/(?:[\\w_%!$@:.,+~-]+|\\\\.)*)+" },
	{ "TTY", "(?:/dev/(?:pts|tty(?:[pq])?)(?:\\w+)?/?(?:[0-9]+))" },
	{ "WINPATH", "(?>[A-Za-z]+:|\\\\)(?:\\\\[^\\\\?*]*)+" },
	{ "PATH", "(?:%{UNIXPATH}|%{WINPATH})" },
	{ "URIPROTO", "[A-Za-z](?:[A-Za-z0-9+\\-.]+)+" },
	{ "URIHOST", "%{IPORHOST}(?::%{POSINT:port})?" },
	{ "URIPATH", "(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\\-]*)+" },
	{ "URIPARAM", "\\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\\-\\[\\]<>]*" },
	{ "URIPATHPARAM", "%{URIPATH}(?:%{URIPARAM})?" },
	{ "URI", "%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?" },
	{ "MONTH", "\\b(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay"
		   "|[Jj]un(?:e)?|[Jj]ul(?:y)?|[Aa]ug(?:ust)?|[Ss]ep(?:t(?:ember)?)?|[Oo]ct(?:ober)?"
		   "|[Nn]ov(?:ember)?|[Dd]ec(?:ember)?)\\b" },
	{ "MONTHNUM", "(?:0?[1-9]|1[0-2])" },
	{ "MONTHNUM2", "(?:0[1-9]|1[0-2])" },
	{ "MONTHDAY", "(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])" },
	{ "DAY", "(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?"
		 "|Sat(?:urday)?|Sun(?:day)?)" },
	{ "YEAR", "(?>\\d\\d){1,2}" },
	{ "HOUR", "(?:2[0123]|[01]?[0-9])" },
	{ "MINUTE", "(?:[0-5][0-9])" },
	{ "SECOND", "(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)" },
	{ "TIME", "(?<![0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])" },
	{ "DATE_US", "%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}" },
	{ "DATE_EU", "%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}" },
	{ "ISO8601_TIMEZONE", "(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))" },
	{ "ISO8601_SECOND", "(?:%{SECOND}|60)" },
	{ "TIMESTAMP_ISO8601", "%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}"
			       "(?::?%{SECOND})?%{ISO8601_TIMEZONE}?" },
	{ "DATE", "(?:%{DATE_US}|%{DATE_EU})" },
	{ "DATESTAMP", "%{DATE}[- ]%{TIME}" },
	{ "TZ", "(?:[APMCE][SD]T|UTC)" },
	{ "DATESTAMP_RFC822", "%{DAY} %{MONTH} %{MONTHDAY} %{YEAR} %{TIME} %{TZ}" },
	{ "DATESTAMP_RFC2822", "%{DAY}, %{MONTHDAY} %{MONTH} %{YEAR} %{TIME} %{ISO8601_TIMEZONE}" },
	{ "DATESTAMP_OTHER", "%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{TZ} %{YEAR}" },
	{ "DATESTAMP_EVENTLOG", "%{YEAR}%{MONTHNUM2}%{MONTHDAY}%{HOUR}%{MINUTE}%{SECOND}" },
	{ "CISCOTIMESTAMP", "%{MONTH} %{MONTHDAY} %{TIME}" },
	{ "SYSLOGTIMESTAMP", "%{MONTH} +%{MONTHDAY} %{TIME}" },
	{ "PROG", "[\\x21-\\x5a\\x5c\\x5e-\\x7e]+" },
	{ "SYSLOGPROG", "%{PROG:program}(?:\\[%{POSINT:pid}\\])?" },
	{ "SYSLOGHOST", "%{IPORHOST}" },
	{ "SYSLOGFACILITY", "<%{NONNEGINT:facility}.%{NONNEGINT:priority}>" },
	{ "HTTPDATE", "%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}" },
	{ "LOGLEVEL", "(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO"
		      "|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?"
		      "|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?"
		      "|[Ee]merg(?:ency)?)" },
	{ "SYSLOGBASE", "%{SYSLOGTIMESTAMP:timestamp} (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:logsource} "
			"%{SYSLOGPROG}:" },
	{ "SYSLOGLINE", "%{SYSLOGBASE} %{GREEDYDATA:message}" },
	{ "MESSAGESLOG", "%{SYSLOGBASE} %{DATA}" },
	{ "COMMONAPACHELOG", "%{IPORHOST:clientip} %{USER:ident} %{USER:auth} "
			     "\\[%{HTTPDATE:timestamp}\\] \"(?:%{WORD:verb} %{NOTSPACE:request}"
			     "(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})\" "
			     "%{NUMBER:response} (?:%{NUMBER:bytes}|-)" },
	{ "COMBINEDAPACHELOG", "%{COMMONAPACHELOG} %{QS:referrer} %{QS:agent}" },
	/* A line that starts with an ISO 8601 or syslog timestamp, an optional level, then text. */
	{ "TIMESTAMPEDLOG", "(?:%{TIMESTAMP_ISO8601:timestamp}|%{SYSLOGTIMESTAMP:timestamp})"
			    "\\s+(?:\\[?%{LOGLEVEL:loglevel}\\]?:?\\s+)?%{GREEDYDATA:message}" },
};
#define N_LIB (sizeof(g_lib) / sizeof(g_lib[0]))

const char *cat_grok_library(const char *name)
{
	for (size_t i = 0; i < N_LIB; i++)
		if (strcmp(g_lib[i].name, name) == 0)
			return g_lib[i].body;
	return NULL;
}

unsigned cat_grok_library_size(void)
{
	return (unsigned)N_LIB;
}

const char *cat_grok_library_name(unsigned i)
{
	return i < N_LIB ? g_lib[i].name : NULL;
}

const char *cat_grok_type_name(enum cat_grok_type t)
{
	switch (t) {
	case CAT_GROK_BIGINT: return "bigint";
	case CAT_GROK_DOUBLE: return "double";
	case CAT_GROK_BOOLEAN: return "boolean";
	case CAT_GROK_TIMESTAMP: return "timestamp";
	default: return "string";
	}
}

/* ---- compile context ------------------------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap;
};

/* One definition: a library entry or a CustomPatterns line. */
struct def {
	const char *name;
	size_t name_len;
	const char *body;
	size_t body_len;
	unsigned line;     /* CustomPatterns line (1-based); 0 for the library */
	int state;         /* 0 not expanded, 1 being expanded, 2 done */
	struct sbuf out;   /* the expansion, once state is 2 */
};

/* Where the top level's output came from: to map a PCRE2 error offset back to GrokPattern. */
struct seg {
	size_t out_off, src_off;
	bool ref;
};

struct ctx {
	struct def *custom;
	unsigned n_custom;
	struct def lib[N_LIB];
	const struct def *stack[CAT_GROK_DEPTH_MAX + 2];
	unsigned depth;
	struct cat_grok_field fields[CAT_GROK_FIELDS_MAX];
	unsigned n_fields;
	struct seg *segs;
	size_t n_segs, cap_segs;
	char *err;
	size_t errlen;
};

static int fail(struct ctx *x, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *x, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (x->errlen)
		vsnprintf(x->err, x->errlen, fmt, ap);
	va_end(ap);
	return r;
}

static int sb_put(struct ctx *x, struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > CAT_GROK_REGEX_MAX + 1)
		return fail(x, -E2BIG, "the expanded regular expression exceeds %d bytes",
			    CAT_GROK_REGEX_MAX);
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return fail(x, -ENOMEM, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int sb_str(struct ctx *x, struct sbuf *b, const char *s)
{
	return sb_put(x, b, s, strlen(s));
}

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* A field name as a PCRE2 group name: runs of other characters become one '_' (so ECS-style
 * "[http][verb]" becomes "http_verb"), no leading or trailing '_' from them, no leading digit. */
static int field_fold(const char *s, size_t n, char out[CAT_GROK_NAME_MAX + 1])
{
	size_t o = 0;
	bool gap = false;
	for (size_t i = 0; i < n && o < CAT_GROK_NAME_MAX; i++) {
		if (name_char(s[i])) {
			if (gap && o > 0 && o < CAT_GROK_NAME_MAX)
				out[o++] = '_';
			gap = false;
			if (o == 0 && s[i] >= '0' && s[i] <= '9')
				out[o++] = '_';
			if (o < CAT_GROK_NAME_MAX)
				out[o++] = s[i];
		} else {
			gap = true;
		}
	}
	out[o] = '\0';
	return o ? 0 : -1;
}

static int field_add(struct ctx *x, const char *name, enum cat_grok_type t)
{
	for (unsigned i = 0; i < x->n_fields; i++)
		if (strcmp(x->fields[i].name, name) == 0)
			return 0;
	if (x->n_fields == CAT_GROK_FIELDS_MAX)
		return fail(x, -E2BIG, "more than %d fields", CAT_GROK_FIELDS_MAX);
	snprintf(x->fields[x->n_fields].name, sizeof(x->fields[0].name), "%s", name);
	x->fields[x->n_fields++].type = t;
	return 0;
}

static int type_parse(const char *s, size_t n, enum cat_grok_type *t)
{
	static const struct { const char *name; enum cat_grok_type t; } types[] = {
		{ "byte", CAT_GROK_BIGINT }, { "short", CAT_GROK_BIGINT }, { "int", CAT_GROK_BIGINT },
		{ "long", CAT_GROK_BIGINT }, { "float", CAT_GROK_DOUBLE }, { "double", CAT_GROK_DOUBLE },
		{ "boolean", CAT_GROK_BOOLEAN }, { "date", CAT_GROK_TIMESTAMP },
		{ "timestamp", CAT_GROK_TIMESTAMP }, { "string", CAT_GROK_STRING },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].name) == n && strncmp(types[i].name, s, n) == 0) {
			*t = types[i].t;
			return 0;
		}
	return -1;
}

static struct def *lookup(struct ctx *x, const char *name, size_t n)
{
	/* The last definition of a custom name wins, as a later line overrides an earlier one. */
	for (unsigned i = x->n_custom; i-- > 0;)
		if (x->custom[i].name_len == n && strncmp(x->custom[i].name, name, n) == 0)
			return &x->custom[i];
	for (size_t i = 0; i < N_LIB; i++)
		if (x->lib[i].name_len == n && strncmp(x->lib[i].name, name, n) == 0)
			return &x->lib[i];
	return NULL;
}

/* Validate a regex with PCRE2; on error write "<what>: <message> at offset N". */
static int regex_check(struct ctx *x, const char *re, size_t len, const char *what)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, len, PCRE2_DUPNAMES, &code, &off, NULL);
	if (c) {
		pcre2_code_free(c);
		return 0;
	}
	PCRE2_UCHAR msg[256];
	pcre2_get_error_message(code, msg, sizeof(msg));
	return fail(x, -EINVAL, "%s: %s at offset %zu", what, (const char *)msg, (size_t)off);
}

static int expand(struct ctx *x, const char *src, size_t n, const char *where, struct sbuf *out);

/* The expansion of d (memoised). */
static int resolve(struct ctx *x, struct def *d, const struct sbuf **ret)
{
	int r;
	if (d->state == 2) {
		*ret = &d->out;
		return 0;
	}
	if (d->state == 1) {
		/* A cycle: name the chain from d's first appearance on the stack back to d. */
		char chain[512];
		size_t o = 0;
		unsigned from = 0;
		for (unsigned i = 0; i < x->depth; i++)
			if (x->stack[i] == d)
				from = i;
		for (unsigned i = from; i < x->depth && o < sizeof(chain) - 80; i++)
			o += (size_t)snprintf(chain + o, sizeof(chain) - o, "%.*s -> ",
					      (int)x->stack[i]->name_len, x->stack[i]->name);
		snprintf(chain + o, sizeof(chain) - o, "%.*s", (int)d->name_len, d->name);
		return fail(x, -EINVAL, "pattern %.*s refers to itself: %s", (int)d->name_len, d->name,
			    chain);
	}
	if (x->depth >= CAT_GROK_DEPTH_MAX)
		return fail(x, -E2BIG, "pattern references nest deeper than %d (at %.*s)",
			    CAT_GROK_DEPTH_MAX, (int)d->name_len, d->name);
	char where[128];
	if (d->line)
		snprintf(where, sizeof(where), "CustomPatterns line %u (%.*s)", d->line,
			 (int)d->name_len, d->name);
	else
		snprintf(where, sizeof(where), "pattern %.*s", (int)d->name_len, d->name);
	d->state = 1;
	x->stack[x->depth++] = d;
	r = expand(x, d->body, d->body_len, where, &d->out);
	x->depth--;
	if (r < 0)
		return r;
	if (!d->out.p && (r = sb_put(x, &d->out, "", 0)) < 0)
		return r;
	if (d->line && (r = regex_check(x, d->out.p, d->out.len, where)) < 0)
		return r;
	d->state = 2;
	*ret = &d->out;
	return 0;
}

static int seg_add(struct ctx *x, size_t out_off, size_t src_off, bool ref)
{
	if (x->n_segs == x->cap_segs) {
		size_t cap = x->cap_segs ? 2 * x->cap_segs : 32;
		struct seg *s = realloc(x->segs, cap * sizeof(*s));
		if (!s)
			return fail(x, -ENOMEM, "out of memory");
		x->segs = s;
		x->cap_segs = cap;
	}
	x->segs[x->n_segs++] = (struct seg){ out_off, src_off, ref };
	return 0;
}

/* One %{NAME[:field[:type]]} at src[i] (src[i..i+1] is "%{"); *used: bytes consumed. */
static int reference(struct ctx *x, const char *src, size_t n, size_t i, const char *where,
		     struct sbuf *out, size_t *used)
{
	size_t j = i + 2, end;
	for (end = j; end < n && src[end] != '}'; end++)
		;
	if (end == n)
		return fail(x, -EINVAL, "unterminated %%{ at offset %zu of %s", i, where);
	const char *name = src + j, *sem = NULL, *type = NULL;
	size_t name_n, sem_n = 0, type_n = 0;
	const char *c1 = memchr(name, ':', end - j);
	if (c1) {
		name_n = (size_t)(c1 - name);
		sem = c1 + 1;
		const char *c2 = memchr(sem, ':', (size_t)(src + end - sem));
		if (c2) {
			sem_n = (size_t)(c2 - sem);
			type = c2 + 1;
			type_n = (size_t)(src + end - type);
		} else {
			sem_n = (size_t)(src + end - sem);
		}
	} else {
		name_n = end - j;
	}
	if (name_n == 0)
		return fail(x, -EINVAL, "empty pattern name at offset %zu of %s", i, where);
	for (size_t k = 0; k < name_n; k++)
		if (!name_char(name[k]))
			return fail(x, -EINVAL, "invalid pattern name %.*s at offset %zu of %s",
				    (int)name_n, name, i, where);
	struct def *d = lookup(x, name, name_n);
	if (!d)
		return fail(x, -EINVAL, "unknown pattern name %.*s at offset %zu of %s", (int)name_n,
			    name, i, where);
	enum cat_grok_type t = CAT_GROK_STRING;
	if (type && type_parse(type, type_n, &t) < 0)
		return fail(x, -EINVAL, "unknown type %.*s at offset %zu of %s (byte, short, int, "
			    "long, float, double, boolean, date, timestamp or string)", (int)type_n,
			    type, (size_t)(type - src), where);
	char field[CAT_GROK_NAME_MAX + 1] = "";
	if (sem && sem_n && !(sem_n == 8 && strncmp(sem, "UNWANTED", 8) == 0) &&
	    field_fold(sem, sem_n, field) < 0)
		return fail(x, -EINVAL, "invalid field name %.*s at offset %zu of %s", (int)sem_n, sem,
			    (size_t)(sem - src), where);
	const struct sbuf *body;
	int r = resolve(x, d, &body);
	if (r < 0)
		return r;
	if (field[0]) {
		if ((r = field_add(x, field, t)) < 0 || (r = sb_str(x, out, "(?<")) < 0 ||
		    (r = sb_str(x, out, field)) < 0 || (r = sb_str(x, out, ">")) < 0)
			return r;
	} else if ((r = sb_str(x, out, "(?:")) < 0) {
		return r;
	}
	if ((r = sb_put(x, out, body->p, body->len)) < 0 || (r = sb_str(x, out, ")")) < 0)
		return r;
	*used = end + 1 - i;
	return 0;
}

static int expand(struct ctx *x, const char *src, size_t n, const char *where, struct sbuf *out)
{
	size_t i = 0, lit = 0;
	bool top = x->depth == 0;
	int r;
	while (i < n) {
		if (src[i] == '\\' && i + 1 < n) {
			i += 2;
			continue;
		}
		if (src[i] == '%' && i + 1 < n && src[i + 1] == '{') {
			size_t used = 0;
			if ((r = sb_put(x, out, src + lit, i - lit)) < 0)
				return r;
			if (top && (r = seg_add(x, out->len, i, true)) < 0)
				return r;
			if ((r = reference(x, src, n, i, where, out, &used)) < 0)
				return r;
			i += used;
			lit = i;
			if (top && (r = seg_add(x, out->len, i, false)) < 0)
				return r;
			continue;
		}
		/* A raw named group (?<name>...) or (?P<name>...) is a field too; (?<= and (?<!
		 * are lookbehinds. */
		if (src[i] == '(' && i + 2 < n && src[i + 1] == '?') {
			size_t k = i + 2;
			if (k < n && src[k] == 'P')
				k++;
			if (k < n && src[k] == '<' && k + 1 < n && src[k + 1] != '=' && src[k + 1] != '!') {
				size_t e = k + 1;
				while (e < n && name_char(src[e]))
					e++;
				if (e < n && src[e] == '>' && e > k + 1) {
					char field[CAT_GROK_NAME_MAX + 1];
					snprintf(field, sizeof(field), "%.*s", (int)(e - k - 1), src + k + 1);
					if ((r = field_add(x, field, CAT_GROK_STRING)) < 0)
						return r;
				}
			}
		}
		i++;
	}
	return sb_put(x, out, src + lit, n - lit);
}

/* Split CustomPatterns into definitions ("NAME regex" per line). */
static int custom_parse(struct ctx *x, const char *text)
{
	unsigned line = 0, cap = 0;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *q = p, *end = p + len;
		line++;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		while (end > q && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (q < end && *q != '#') {
			const char *name = q;
			while (q < end && name_char(*q))
				q++;
			if (q == name || q == end || (*q != ' ' && *q != '\t'))
				return fail(x, -EINVAL, "CustomPatterns line %u: expected \"NAME regex\" "
					    "with NAME of letters, digits and '_'", line);
			size_t name_n = (size_t)(q - name);
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (x->n_custom == cap) {
				cap = cap ? 2 * cap : 8;
				struct def *d = realloc(x->custom, cap * sizeof(*d));
				if (!d)
					return fail(x, -ENOMEM, "out of memory");
				x->custom = d;
			}
			x->custom[x->n_custom++] = (struct def){
				.name = name, .name_len = name_n, .body = q,
				.body_len = (size_t)(end - q), .line = line,
			};
		}
		p = eol ? eol + 1 : p + len;
	}
	return 0;
}

int cat_grok_compile(const char *pattern, const char *custom, struct cat_grok **ret, char *err,
		     size_t errlen)
{
	struct ctx *x = calloc(1, sizeof(*x));
	struct sbuf out = { 0 };
	int r;
	if (errlen)
		err[0] = '\0';
	if (!x) {
		if (errlen)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	x->err = err;
	x->errlen = errlen;
	for (size_t i = 0; i < N_LIB; i++)
		x->lib[i] = (struct def){ .name = g_lib[i].name, .name_len = strlen(g_lib[i].name),
					  .body = g_lib[i].body, .body_len = strlen(g_lib[i].body) };
	size_t n = strlen(pattern);
	if (n == 0 || n > CAT_GROK_PATTERN_MAX) {
		r = fail(x, n ? -E2BIG : -EINVAL, "GrokPattern must be 1 to %d bytes",
			 CAT_GROK_PATTERN_MAX);
		goto out;
	}
	if (memchr(pattern, '\n', n) || memchr(pattern, '\r', n)) {
		r = fail(x, -EINVAL, "GrokPattern must be one line (Grok classifiers match one line "
			 "at a time)");
		goto out;
	}
	if (custom && strlen(custom) > CAT_GROK_CUSTOM_MAX) {
		r = fail(x, -E2BIG, "CustomPatterns must be at most %d bytes", CAT_GROK_CUSTOM_MAX);
		goto out;
	}
	if (custom && (r = custom_parse(x, custom)) < 0)
		goto out;
	if ((r = sb_str(x, &out, "^(?:")) < 0 || (r = seg_add(x, out.len, 0, false)) < 0 ||
	    (r = expand(x, pattern, n, "GrokPattern", &out)) < 0 || (r = sb_str(x, &out, ")$")) < 0)
		goto out;

	int code;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)out.p, out.len, PCRE2_DUPNAMES, &code, &off, NULL);
	if (!c) {
		/* Map the offset back to GrokPattern: a literal stretch maps byte for byte, an
		 * expansion to the reference that produced it. */
		PCRE2_UCHAR msg[256];
		size_t src_off = 0;
		pcre2_get_error_message(code, msg, sizeof(msg));
		for (size_t s = 0; s < x->n_segs && x->segs[s].out_off <= off; s++)
			src_off = x->segs[s].ref ? x->segs[s].src_off
						 : x->segs[s].src_off + (off - x->segs[s].out_off);
		if (src_off > n)
			src_off = n;
		r = fail(x, -EINVAL, "GrokPattern: %s at offset %zu", (const char *)msg, src_off);
		goto out;
	}
	pcre2_code_free(c);

	struct cat_grok *g = malloc(sizeof(*g) + x->n_fields * sizeof(g->fields[0]));
	if (!g) {
		r = fail(x, -ENOMEM, "out of memory");
		goto out;
	}
	g->regex = out.p;
	g->regex_len = out.len;
	out.p = NULL;
	g->n_fields = x->n_fields;
	memcpy(g->fields, x->fields, x->n_fields * sizeof(g->fields[0]));
	*ret = g;
	r = 0;
out:
	free(out.p);
	for (size_t i = 0; i < N_LIB; i++)
		free(x->lib[i].out.p);
	for (unsigned i = 0; i < x->n_custom; i++)
		free(x->custom[i].out.p);
	free(x->custom);
	free(x->segs);
	free(x);
	return r;
}

void cat_grok_free(struct cat_grok *g)
{
	if (!g)
		return;
	free(g->regex);
	free(g);
}
