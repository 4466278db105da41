/*
 * What the peer drivers do with their client library's socket: wait on it
 * with a deadline, and ask the kernel who is at the other end.
 */
#pragma once

#include <sys/types.h>

/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
long long peer_now_ms(void);

/*
 * poll()s fd for events until deadline_ms (peer_now_ms() time; a past
 * deadline polls once without waiting), retrying on EINTR. 1 when ready
 * (POLLHUP and POLLERR count as ready: the next read or write reports them),
 * 0 at the deadline, -errno.
 */
int peer_sock_wait(int fd, short events, long long deadline_ms);

/* The pid of the process at the other end of the unix socket fd (SO_PEERCRED), -1 if unknown. */
pid_t peer_sock_pid(int fd);
