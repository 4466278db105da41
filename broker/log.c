/*
 * Logging to stderr. The line is formatted into one buffer and written with
 * a single write(2), so lines from one process never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum log_level log_max_level = LOG_LVL_INFO;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	int saved = errno, n;
	va_list ap;

	if (lvl > log_max_level)
		return;
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
