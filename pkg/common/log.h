/*
 * Logging for every role. Each line names its process ("[rqlited]", "[storage]" …)
 * so the interleaved output of one node stays readable.
 */
#ifndef RQ_COMMON_LOG_H
#define RQ_COMMON_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Name used as the line prefix; copied. */
void log_init(const char *procname, enum log_level level);
void log_set_level(enum log_level level);
/* Parses ERROR/WARN/INFO/DEBUG (any case); returns -1 if unknown. */
int log_level_parse(const char *s, enum log_level *out);

/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For our own broken invariants and start-up failures: log and exit(1). */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
