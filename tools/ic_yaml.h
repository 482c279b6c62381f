/* SPDX-License-Identifier: MIT */
/*
 * ic_yaml: a YAML document (libyaml) as a JSON value (jansson), with the place every value came
 * from, so that errors about a declaration can name its file, line and column.
 *
 * What it maps. Mappings become objects (keys must be scalars; duplicate keys are refused),
 * sequences arrays, and scalars by YAML's core schema: plain `true`/`false`, `null`/`~`/empty,
 * integers and floats become those JSON types, anything quoted or otherwise a string. Anchors
 * and aliases are refused (a declaration file has no use for them, and they make documents that
 * expand without bound). Only the first document of a stream is read; a second one is an error.
 *
 * Where a value came from is looked up by its JSON Pointer (RFC 6901, e.g. "/streams/0/ShardCount").
 *
 * Threads: none of its own.
 */
#ifndef IC_YAML_H
#define IC_YAML_H

#include <stddef.h>

#include <jansson.h>

struct ic_yaml;

/* Bounds on what one document may hold (nesting depth, nodes, and bytes of input). */
#define IC_YAML_MAX_DEPTH 64
#define IC_YAML_MAX_NODES 100000
#define IC_YAML_MAX_BYTES (16u << 20)

/*
 * Parse len bytes of YAML text; name labels error messages (a file name). Returns 0 with *ret
 * set, or -EINVAL with a message "NAME:LINE:COL: what is wrong" in err (errlen bytes), or -ENOMEM.
 */
int ic_yaml_parse(const char *name, const char *text, size_t len, struct ic_yaml **ret,
		  char *err, size_t errlen);
void ic_yaml_free(struct ic_yaml *y);

/* The document's root value (borrowed; an empty document is an empty object). */
json_t *ic_yaml_root(const struct ic_yaml *y);

/*
 * "NAME:LINE:COL" of the value at pointer (or of the nearest enclosing value that was recorded),
 * written into out. Lines and columns count from 1.
 */
void ic_yaml_where(const struct ic_yaml *y, const char *pointer, char *out, size_t n);

#endif
