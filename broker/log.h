/*
 * Broker log: one line per event, "jbusd: <level>: <text>" on stderr or
 * <text> to syslog (facility daemon, the level as its priority), where text
 * carries key=value fields (client=, pid=, uid=, code=).
 */
#pragma once

#include <stdbool.h>

#include "util.h"

enum log_level {
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

extern enum log_level log_max_level;

/* "error", "warn", "info" or "debug" into *out; -EINVAL for anything else. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level l);
/* From now on lines go to syslog instead of stderr (true) or stderr (false). */
void log_use_syslog(bool on);

void log_msg(enum log_level lvl, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
/* Debug lines are per connection or per frame: skip the formatting cost. */
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_max_level >= LOG_LVL_DEBUG)                                                \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)
