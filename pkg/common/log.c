/*
 * Line-oriented logging to stderr with a timestamp and the process name.
 * One write(2) per line so lines from the four processes of a node never interleave.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char log_procname[32] = "rqlited";
static enum log_level log_current = LOG_LEVEL_INFO;

void
log_init(const char *procname, enum log_level level)
{
	snprintf(log_procname, sizeof(log_procname), "%s", procname);
	log_current = level;
}

void
log_set_level(enum log_level level)
{
	log_current = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
log_vemit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (level > log_current)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ [%s] ",
	    ts.tv_nsec / 1000000, log_procname);
	if (n < sizeof(line)) {
		int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (w > 0)
			n += (size_t)w;
	}
	if (n >= sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (errnum != 0) {
		int w = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (w > 0)
			n += (size_t)w;
		if (n >= sizeof(line) - 2)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_BODY(level, errnum) do {			\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_vemit((level), (errnum), fmt, ap);		\
	va_end(ap);					\
} while (0)

void log_warn(const char *fmt, ...) { int e = errno; LOG_BODY(LOG_LEVEL_WARN, e); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_INFO, 0); }
void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_DEBUG, 0); }

void
fatal(const char *fmt, ...)
{
	int e = errno;
	LOG_BODY(LOG_LEVEL_ERROR, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}
