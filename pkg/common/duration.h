/*
 * Durations in Go's notation, because rqlite's flags, config and /status speak it
 * ("10s", "1h30m0s", "226µs"). Values are int64 nanoseconds, like time.Duration.
 */
#ifndef RQ_COMMON_DURATION_H
#define RQ_COMMON_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define DURATION_NS	INT64_C(1)
#define DURATION_US	INT64_C(1000)
#define DURATION_MS	INT64_C(1000000)
#define DURATION_S	INT64_C(1000000000)
#define DURATION_M	(INT64_C(60) * DURATION_S)
#define DURATION_H	(INT64_C(60) * DURATION_M)

/* Longest output of duration_format(), "-2562047h47m16.854775808s", with its NUL. */
#define DURATION_FMT_MAX	32

/*
 * Parses Go's time.ParseDuration syntax: an optional sign, then one or more
 * decimal numbers each with a unit ("300ms", "-1.5h", "2h45m", ".5s", "1.s");
 * units ns us µs μs ms s m h. A lone "0" (optionally signed) needs no unit.
 * Returns 0 and the value in *ns_out, or -1 when invalid or out of range
 * (*ns_out untouched). Fractions are rounded toward zero as Go does.
 */
int duration_parse(const char *s, int64_t *ns_out);

/*
 * Formats exactly like Go's time.Duration.String(): "1h30m0s", "1.5s", "226µs"
 * (µ is U+00B5), "0s", "100ms". Output is truncated to fit len (always NUL-terminated
 * when len > 0); DURATION_FMT_MAX always suffices.
 */
void duration_format(int64_t ns, char *buf, size_t len);

#endif
