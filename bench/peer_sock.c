/* Socket helpers of the peer drivers (peer_sock.h). */
#include "peer_sock.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

long long peer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int peer_sock_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline_ms - peer_now_ms();
		int r = poll(&p, 1, left > 0 ? (int)(left > 1 << 30 ? 1 << 30 : left) : 0);

		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

pid_t peer_sock_pid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	return cred.pid;
}
