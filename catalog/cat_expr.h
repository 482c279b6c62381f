/* SPDX-License-Identifier: MIT */
/*
 * cat_expr: the partition filter of Glue's GetPartitions Expression, compiled once against a
 * table's partition keys and evaluated per partition.
 *
 * Language (the SQL WHERE subset Glue documents; keywords in any case):
 *
 *   expr      := term (OR term)*
 *   term      := factor (AND factor)*
 *   factor    := NOT factor | '(' expr ')' | predicate
 *   predicate := column op literal              op: = <> != < > <= >=
 *              | column [NOT] BETWEEN literal AND literal
 *              | column [NOT] IN '(' literal (',' literal)* ')'
 *              | column [NOT] LIKE 'pattern'      % any run, _ any one character
 *              | column IS [NOT] NULL
 *   column    := identifier | `identifier` | "identifier"     (matched without regard to case)
 *   literal   := 'text' ('' is a quote) | [-]digits[.digits]
 *
 * Typing. A comparison is made in the type of the column's partition key, so `year > 9` on an
 * int key compares numbers and on a string key compares text ('10' < '9'):
 *   string, char(n), varchar(n)                       text, byte order
 *   int, integer, bigint, long, smallint, tinyint     64-bit integers
 *   decimal(p,s), double, float                       doubles
 *   date                                              'YYYY-MM-DD'
 *   timestamp                                         'YYYY-MM-DD[ HH:MM:SS[.fraction]]'
 * A literal that is not a value of its column's type is an error at compile time. A partition
 * value that is not (as Hive's __HIVE_DEFAULT_PARTITION__ on an int key) makes the predicate
 * unknown, and a partition is kept only when the whole expression is true (SQL's three-valued
 * logic: NOT unknown is unknown). IS NULL holds for __HIVE_DEFAULT_PARTITION__ on a string key
 * only; on other types it is never true, as on Glue. LIKE compares the value's text. A key of
 * any other type (boolean, array<...>) may not appear in an expression.
 *
 * Bounds. At most CAT_EXPR_LEN_MAX bytes, CAT_EXPR_DEPTH_MAX nested parentheses/NOTs and
 * CAT_EXPR_NODES_MAX predicates, connectives and literals: compiling and evaluating use stack
 * proportional to the depth and time proportional to the size, whatever the request holds.
 * LIKE is matched without backtracking blow-up (time at most pattern length x value length).
 *
 * Threads. A compiled expression is immutable: any thread may evaluate it.
 */
#ifndef CAT_EXPR_H
#define CAT_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Glue's limit on an Expression's length, in bytes. */
#define CAT_EXPR_LEN_MAX 2048
/* Nesting: far beyond any filter people write, small enough for any thread's stack. */
#define CAT_EXPR_DEPTH_MAX 32
/* Nodes (predicates, AND/OR/NOT, literals): a 2048-byte expression holds fewer than 700. */
#define CAT_EXPR_NODES_MAX 1024
/* Room for a compile error message. */
#define CAT_EXPR_ERR_MAX 256

struct cat_expr;

/*
 * Compile text against keys, a JSON array of Column objects {Name, Type} (a table's
 * PartitionKeys; NULL or empty when the table has none). On error writes a message to err
 * (CAT_EXPR_ERR_MAX bytes) naming the 1-based byte position and what was expected or the
 * unknown column, and returns -EINVAL (-ENOMEM when out of memory). *ret only on success.
 */
int cat_expr_compile(const char *text, const json_t *keys, struct cat_expr **ret, char *err);
/* NULL is accepted. */
void cat_expr_free(struct cat_expr *e);

/*
 * Is the expression true for a partition whose values (in the order of the partition keys) are
 * values[0..n)? A partition with another number of values than there are keys never matches.
 */
bool cat_expr_match(const struct cat_expr *e, const char *const *values, size_t n);

/* Convenience for stored partitions: values is the Partition's Values array of strings. */
bool cat_expr_match_json(const struct cat_expr *e, const json_t *values);

#endif
