/*
 * What the kernel tells about a process (see jt.h): memory, open file
 * descriptors and CPU time from /proc, and RLIMIT_NOFILE, for the fault
 * and load tests that watch the broker from outside.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"

long jt_pid_rss_kib(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	long kib = -1;
	FILE *f;

	jt_fmt(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (kib < 0 && getline(&line, &cap, f) > 0)
		if (sscanf(line, "VmRSS: %ld kB", &kib) != 1)
			kib = -1;
	free(line);
	fclose(f);
	ck_assert_msg(kib >= 0, "no VmRSS in %s", path);
	return kib;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int jt_pid_fds(pid_t pid, int *fds, size_t cap)
{
	char path[64];
	struct dirent *e;
	size_t kept = 0;
	int n = 0;
	DIR *d;

	jt_fmt(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	ck_assert_msg(d != NULL, "%s: %s", path, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end)
			continue; /* "." and ".." */
		n++;
		if (kept < cap)
			fds[kept++] = (int)fd;
	}
	closedir(d);
	/* readdir's order is the kernel's: sort what we kept (all of it when cap sufficed) */
	if (kept)
		qsort(fds, kept, sizeof(*fds), cmp_int);
	return n;
}

const char *jt_pid_fd_target(pid_t pid, int fd)
{
	static char target[PATH_MAX];
	char path[64];
	ssize_t n;

	jt_fmt(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	return target;
}

int jt_pid_fd_flags(pid_t pid, int fd)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	unsigned flags;
	int r = -1;
	FILE *f;

	jt_fmt(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (r < 0 && getline(&line, &cap, f) > 0)
		if (sscanf(line, "flags: %o", &flags) == 1)
			r = (int)flags;
	free(line);
	fclose(f);
	return r;
}

int64_t jt_pid_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	long tck = sysconf(_SC_CLK_TCK);
	ssize_t n;
	FILE *f;

	jt_fmt(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	/* the command name (field 2) may hold spaces and ')': fields 3.. follow the last ')' */
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
	ck_assert_msg(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			     &stime) == 2,
		      "cannot parse %s", path);
	ck_assert_int_gt(tck, 0);
	return (int64_t)((utime + stime) * 1000 / (unsigned long long)tck);
}

struct rlimit jt_pid_set_nofile(pid_t pid, rlim_t soft)
{
	struct rlimit old, rl;

	ck_assert_msg(prlimit(pid, RLIMIT_NOFILE, NULL, &old) == 0, "prlimit %d: %s", (int)pid,
		      strerror(errno));
	rl.rlim_cur = soft;
	rl.rlim_max = old.rlim_max;
	ck_assert_msg(prlimit(pid, RLIMIT_NOFILE, &rl, NULL) == 0, "prlimit %d to %llu: %s",
		      (int)pid, (unsigned long long)soft, strerror(errno));
	return old;
}

void jt_nofile_at_least(rlim_t n)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	/* RLIM_INFINITY is the largest value: no special case */
	if (rl.rlim_cur >= n)
		return;
	if (rl.rlim_max < n)
		rl.rlim_max = n;
	rl.rlim_cur = n;
	/* raising the hard limit needs CAP_SYS_RESOURCE (the tests run as root in CI) */
	ck_assert_msg(setrlimit(RLIMIT_NOFILE, &rl) == 0,
		      "cannot raise RLIMIT_NOFILE to %llu: %s (raise it, or run as root)",
		      (unsigned long long)n, strerror(errno));
}
