/*
 * Topic names and subscription patterns of protocol v1.
 *
 * A topic is 1 to 1024 bytes of UTF-8, split into levels on '/'. Empty levels
 * are allowed ("a//b", "/a", "a/"). In a pattern a level may be "+" (exactly
 * one level, possibly empty) or, as the last level only, "#" (any number of
 * levels, including none: "a/#" matches "a", "a/" and "a/b/c"). '+' and '#'
 * may not appear inside a level, and not at all in a topic one publishes to.
 * Topics starting with '$' belong to the broker: a pattern whose first level
 * is a wildcard does not match them ("#" does not match "$sys/x";
 * "$sys/#" does).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define TOPIC_MAX 1024

/* NULL when t[0..n) may be published to by a client, else the reason. */
const char *topic_check_name(const char *t, size_t n);

/* NULL when p[0..n) is a valid subscription pattern, else the reason. */
const char *topic_check_pattern(const char *p, size_t n);

/* Does valid pattern p match valid topic t (including the '$' rule)? */
bool topic_match(const char *p, size_t plen, const char *t, size_t tlen);

/*
 * Does valid pattern a match every topic valid pattern p matches? ("a/#"
 * covers "a/+/b"; "#" does not cover "$sys/x", "+/x" does not cover "a/#").
 */
bool topic_covers(const char *a, size_t alen, const char *p, size_t plen);

/* Is there a topic that valid patterns a and b both match? */
bool topic_overlap(const char *a, size_t alen, const char *b, size_t blen);
