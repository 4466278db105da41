/* Default socket path resolution (see sockpath.h). */
#include "sockpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* env overrides; else <runtime dir>/<name>.<ext>; else /tmp/<name>-<uid>.<ext> */
static int resolve(char *buf, size_t cap, const char *var, const char *ext)
{
	const char *env = getenv(var);
	int n;

	if (env && *env) {
		n = snprintf(buf, cap, "%s", env);
	} else if ((env = getenv("XDG_RUNTIME_DIR")) && *env) {
		n = snprintf(buf, cap, "%s/jbus.%s", env, ext);
	} else {
		n = snprintf(buf, cap, "/tmp/jbus-%u.%s", (unsigned)getuid(), ext);
	}
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int sockpath_default(char *buf, size_t cap)
{
	return resolve(buf, cap, "JBUS_SOCKET", "sock");
}

int sockpath_default_dgram(char *buf, size_t cap)
{
	return resolve(buf, cap, "JBUS_DGRAM_SOCKET", "dgram");
}
