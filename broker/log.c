/*
 * Logging to stderr or syslog. A line is formatted into one buffer and
 * written with a single write(2) (or one syslog(3) call), so lines from one
 * process never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

enum log_level log_max_level = LOG_LVL_INFO;
static bool to_syslog;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level l)
{
	return level_names[l];
}

void log_use_syslog(bool on)
{
	if (on == to_syslog)
		return;
	if (on)
		/* connected now, not at the first line: after this no file is opened on demand */
		openlog("jbusd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else
		closelog();
	to_syslog = on;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int priorities[] = {
		[LOG_LVL_ERROR] = LOG_ERR,
		[LOG_LVL_WARN] = LOG_WARNING,
		[LOG_LVL_INFO] = LOG_INFO,
		[LOG_LVL_DEBUG] = LOG_DEBUG,
	};
	char line[1024];
	int saved = errno, n;
	va_list ap;

	if (lvl > log_max_level)
		return;
	if (to_syslog) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(priorities[lvl], "%s", line);
		errno = saved;
		return;
	}
	n = snprintf(line, sizeof(line), "jbusd: %s: ", level_names[lvl]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* best effort: a log line that cannot be written is not worth failing for */
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
	}
	errno = saved;
}
