/* Default socket path resolution (see sockpath.h). */
#include "sockpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int sockpath_default(char *buf, size_t cap)
{
	const char *env = getenv("JBUS_SOCKET");
	int n;

	if (env && *env) {
		n = snprintf(buf, cap, "%s", env);
	} else if ((env = getenv("XDG_RUNTIME_DIR")) && *env) {
		n = snprintf(buf, cap, "%s/jbus.sock", env);
	} else {
		n = snprintf(buf, cap, "/tmp/jbus-%u.sock", (unsigned)getuid());
	}
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}
