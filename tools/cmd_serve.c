/*
 * jbus serve NAME -- COMMAND [ARG]...: answer the requests sent to NAME by
 * running COMMAND, so that a shell script can be a service; with --echo,
 * answer each request with its own data.
 *
 * Each request runs COMMAND once, at most -j at a time (the others wait in
 * the order they came), in a process group of its own, with the request's
 * data and a '\n' on its stdin, JBUS_FROM naming the requester and
 * JBUS_SOCKET the broker. Its stdout, which must be one JSON value, is the
 * reply. A non-zero exit, a death by signal, or output that is not one
 * JSON value (or does not fit in a frame) is answered with the error
 * command_failed, whose message ends with the end of the command's stderr;
 * a command still running after --timeout is killed with its whole process
 * group and answered with the error timeout.
 *
 * One poll() loop watches the broker's socket, a signalfd (SIGINT and
 * SIGTERM end the tool, SIGCHLD says a command may have exited) and the
 * pipes of the running commands; the nearest deadline of a running command
 * bounds each wait.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define SERVE_TAIL       400         /* bytes of stderr kept for an error message */
#define SERVE_ENVELOPE   128         /* room for the reply's envelope within max_frame */
#define SERVE_TIMEOUT_MS (30 * 1000) /* --timeout's default */
#define SERVE_JOBS_MAX   256         /* -j: three pipes each */

enum {
	OPT_ECHO = 256,
	OPT_TIMEOUT,
};

enum { PIPE_IN, PIPE_OUT, PIPE_ERR };

/* One request: waiting, then running COMMAND, until it is answered. */
struct job {
	struct job *next; /* the queue of waiting requests */
	unsigned long long id;
	char from[72]; /* the requester, for JBUS_FROM */
	char *input; /* the request's data and '\n' */
	size_t input_len, input_off;
	pid_t pid;  /* 0 once reaped */
	pid_t pgid; /* its process group: what a timeout kills */
	int status; /* its wait status */
	int fd[3];  /* our ends of its stdin, stdout, stderr; -1 once closed */
	char *out;
	size_t out_len, out_cap;
	char tail[SERVE_TAIL];
	size_t tail_len;
	long long deadline;
	bool timed_out, too_big;
};

struct serve {
	struct cli *cli;
	jbus_conn *c;
	char **cmd; /* NULL with --echo */
	unsigned long long jobs;
	long long timeout_ms;
	bool echo;
	struct job **running;     /* jobs slots */
	struct job *first, *last; /* waiting */
	int sfd;
	bool stop;
	int status;
};

static int serve_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct serve *s = opts;

	switch (opt) {
	case 'j':
		return cli_parse_count(cli, "-j", arg, &s->jobs);
	case OPT_TIMEOUT:
		return cli_parse_seconds(cli, "--timeout", arg, &s->timeout_ms);
	case OPT_ECHO:
		s->echo = true;
		return CLI_OK;
	}
	return cli_usage(cli, "unknown option");
}

static void finish(struct serve *s, int status)
{
	s->stop = true;
	if (status > s->status)
		s->status = status;
}

static int close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
	return -1;
}

static void job_free(struct job *j)
{
	for (int i = 0; i < 3; i++)
		close_fd(j->fd[i]);
	free(j->input);
	free(j->out);
	free(j);
}

/* An answer could not be queued: the connection is gone, or going. */
static void answered(struct serve *s, int r)
{
	if (r < 0 && r != -EMSGSIZE)
		finish(s, cli_fail(s->cli, s->c, r, "reply"));
}

/*
 * An error answer: why, then the end of the command's stderr. The message
 * is one line (control characters become spaces); a tail that is not
 * UTF-8 is sent with '?' for every byte outside ASCII.
 */
static void reply_failure(struct serve *s, const struct job *j, const char *code, const char *why)
{
	char msg[SERVE_TAIL + 256];
	size_t n, skip = 0;
	int r;

	/* the tail may start inside a character */
	while (skip < j->tail_len && ((unsigned char)j->tail[skip] & 0xc0) == 0x80)
		skip++;
	n = (size_t)snprintf(msg, sizeof(msg), "%s%s%.*s", why, j->tail_len > skip ? ": " : "",
			     (int)(j->tail_len - skip), j->tail + skip);
	while (n && (msg[n - 1] == ' ' || msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = ' ';
	r = jbus_reply_error(s->c, j->id, code, msg);
	if (r == JBUS_E_BAD_JSON) {
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)msg[i] >= 0x80)
				msg[i] = '?';
		r = jbus_reply_error(s->c, j->id, code, msg);
	}
	answered(s, r);
}

/* The command is done (reaped, both outputs at EOF): answer. */
static void job_answer(struct serve *s, struct job *j)
{
	const char *reason = NULL, *p = j->out;
	size_t n = j->out_len, off = 0;
	char why[160];

	if (j->timed_out) {
		snprintf(why, sizeof(why), "'%s' ran longer than %g s", s->cmd[0],
			 (double)s->timeout_ms / 1000);
		reply_failure(s, j, "timeout", why);
		return;
	}
	if (j->too_big) {
		snprintf(why, sizeof(why), "'%s' wrote more than fits in a reply (%zu bytes)",
			 s->cmd[0], jbus_conn_max_frame(s->c) - SERVE_ENVELOPE);
	} else if (WIFSIGNALED(j->status)) {
		snprintf(why, sizeof(why), "'%s' was killed by signal %d", s->cmd[0],
			 WTERMSIG(j->status));
	} else if (WEXITSTATUS(j->status)) {
		snprintf(why, sizeof(why), "'%s' exited with status %d", s->cmd[0],
			 WEXITSTATUS(j->status));
	} else {
		/* surrounding white space is not part of the value */
		while (n && strchr(" \t\r\n", p[n - 1]))
			n--;
		while (n && strchr(" \t\r\n", *p))
			p++, n--;
		if (n && jbus_json_check(p, (ssize_t)n, &off, &reason) == 0) {
			int r = jbus_reply(s->c, j->id, p, (ssize_t)n);

			if (r != -EMSGSIZE) {
				answered(s, r);
				return;
			}
			snprintf(why, sizeof(why), "'%s' wrote more than fits in a reply",
				 s->cmd[0]);
		} else {
			snprintf(why, sizeof(why),
				 "the output of '%s' is not one JSON value (byte %zu: %s)",
				 s->cmd[0], off, n ? reason : "nothing written");
		}
	}
	reply_failure(s, j, "command_failed", why);
}

/* section: running commands */

static int spawn(struct serve *s, struct job *j)
{
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dflt;
	int r = 0;

	for (int i = 0; i < 3 && r == 0; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0)
			r = errno;
	if (r == 0) {
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, p[PIPE_IN][0], STDIN_FILENO);
		posix_spawn_file_actions_adddup2(&fa, p[PIPE_OUT][1], STDOUT_FILENO);
		posix_spawn_file_actions_adddup2(&fa, p[PIPE_ERR][1], STDERR_FILENO);
		/* its own group, so a timeout kills what it started too; the tool's signal
		 * handling (blocked, SIGPIPE ignored) is not inherited */
		posix_spawnattr_init(&at);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						      POSIX_SPAWN_SETSIGDEF);
		posix_spawnattr_setpgroup(&at, 0);
		sigemptyset(&none);
		posix_spawnattr_setsigmask(&at, &none);
		sigemptyset(&dflt);
		sigaddset(&dflt, SIGPIPE);
		posix_spawnattr_setsigdefault(&at, &dflt);
		setenv("JBUS_FROM", j->from, 1);
		r = posix_spawnp(&j->pid, s->cmd[0], &fa, &at, s->cmd, environ);
		posix_spawnattr_destroy(&at);
		posix_spawn_file_actions_destroy(&fa);
	}
	for (int i = 0; i < 3; i++) {
		/* the child's ends: stdin's read end, the outputs' write ends */
		int ours = i == PIPE_IN ? 1 : 0;

		if (p[i][!ours] >= 0)
			close(p[i][!ours]);
		j->fd[i] = p[i][ours];
		if (r != 0)
			j->fd[i] = close_fd(j->fd[i]);
		else
			fcntl(j->fd[i], F_SETFL, O_NONBLOCK);
	}
	if (r != 0) {
		j->pid = 0;
		return -r;
	}
	j->pgid = j->pid;
	j->deadline = cli_now_ms() + s->timeout_ms;
	return 0;
}

static void on_request(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct serve *s = ud;
	struct job *j;
	size_t n;
	const char *d = jbus_msg_data(m, &n);

	if (s->echo) {
		answered(s, d ? jbus_reply(c, jbus_msg_request_id(m), d, (ssize_t)n) : -ENOMEM);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !d || !(j->input = malloc(n + 1))) {
		free(j);
		finish(s, cli_fail(s->cli, c, -ENOMEM, "request"));
		return;
	}
	memcpy(j->input, d, n);
	j->input[n] = '\n';
	j->input_len = n + 1;
	j->id = jbus_msg_request_id(m);
	j->fd[0] = j->fd[1] = j->fd[2] = -1;
	snprintf(j->from, sizeof(j->from), "%s", jbus_msg_from(m));
	if (s->last)
		s->last->next = j;
	else
		s->first = j;
	s->last = j;
}

/* Start waiting requests while slots are free. */
static void start_jobs(struct serve *s)
{
	for (size_t i = 0; i < s->jobs && s->first && !s->stop; i++) {
		struct job *j = s->first;
		char why[300];
		int r;

		if (s->running[i])
			continue;
		s->first = j->next;
		if (!s->first)
			s->last = NULL;
		r = spawn(s, j);
		if (r == 0) {
			s->running[i] = j;
			continue;
		}
		snprintf(why, sizeof(why), "cannot run '%s': %s", s->cmd[0], strerror(-r));
		reply_failure(s, j, "command_failed", why);
		job_free(j);
	}
}

/* Read what a pipe has; returns false at EOF or on an error (the pipe is closed). */
static bool drain_pipe(struct serve *s, struct job *j, int which)
{
	char buf[16384];
	ssize_t n;

	while ((n = read(j->fd[which], buf, sizeof(buf))) > 0) {
		if (which == PIPE_ERR) {
			size_t k = (size_t)n < SERVE_TAIL ? (size_t)n : SERVE_TAIL;
			size_t keep = j->tail_len + k > SERVE_TAIL ? SERVE_TAIL - k : j->tail_len;

			memmove(j->tail, j->tail + j->tail_len - keep, keep);
			memcpy(j->tail + keep, buf + n - k, k);
			j->tail_len = keep + k;
			continue;
		}
		if (j->out_len + (size_t)n > jbus_conn_max_frame(s->c) - SERVE_ENVELOPE) {
			/* no use reading on: kill, answer command_failed */
			j->too_big = true;
			kill(-j->pgid, SIGKILL);
			break;
		}
		if (j->out_len + (size_t)n > j->out_cap) {
			size_t cap = (j->out_cap ? j->out_cap * 2 : sizeof(buf)) + (size_t)n;
			char *p = realloc(j->out, cap);
			if (!p) {
				finish(s, cli_fail(s->cli, s->c, -ENOMEM, "reading output"));
				break;
			}
			j->out = p;
			j->out_cap = cap;
		}
		memcpy(j->out + j->out_len, buf, (size_t)n);
		j->out_len += (size_t)n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR) && !j->too_big)
		return true;
	j->fd[which] = close_fd(j->fd[which]);
	return false;
}

static void feed_stdin(struct job *j)
{
	ssize_t n = write(j->fd[PIPE_IN], j->input + j->input_off, j->input_len - j->input_off);

	if (n > 0)
		j->input_off += (size_t)n;
	/* done, or the command does not read its stdin (EPIPE): either way no more */
	if (j->input_off == j->input_len || (n < 0 && errno != EAGAIN && errno != EINTR))
		j->fd[PIPE_IN] = close_fd(j->fd[PIPE_IN]);
}

/* Still running, or something it started still holds its outputs. */
static bool job_busy(const struct job *j)
{
	return j->pid > 0 || j->fd[PIPE_OUT] >= 0 || j->fd[PIPE_ERR] >= 0;
}

/* Reap, enforce deadlines, answer and free the jobs that are done. */
static void tend_jobs(struct serve *s)
{
	long long now = cli_now_ms();

	for (size_t i = 0; i < s->jobs; i++) {
		struct job *j = s->running[i];

		if (!j)
			continue;
		if (j->pid > 0 && waitpid(j->pid, &j->status, WNOHANG) == j->pid)
			j->pid = 0;
		if (job_busy(j) && !j->timed_out && now >= j->deadline) {
			j->timed_out = true;
			kill(-j->pgid, SIGKILL);
		}
		if (!job_busy(j)) {
			job_answer(s, j);
			job_free(j);
			s->running[i] = NULL;
		}
	}
	start_jobs(s);
}

/* section: the loop */

/* Milliseconds until the next deadline of a running command (-1: none). */
static int next_deadline(const struct serve *s)
{
	long long t = -1, now = cli_now_ms();

	for (size_t i = 0; i < s->jobs; i++) {
		const struct job *j = s->running[i];

		if (j && job_busy(j) && !j->timed_out && (t < 0 || j->deadline - now < t))
			t = j->deadline - now < 0 ? 0 : j->deadline - now;
	}
	return t > INT_MAX ? INT_MAX : (int)t;
}

static void serve_loop(struct serve *s)
{
	size_t max = 2 + 3 * s->jobs;
	struct pollfd *p = calloc(max, sizeof(*p));

	if (!p) {
		finish(s, cli_fail(s->cli, s->c, -ENOMEM, "serve"));
		return;
	}
	while (!s->stop) {
		int t = next_deadline(s), lib = jbus_conn_get_timeout(s->c), r;
		size_t n = 2;

		p[0] = (struct pollfd){ jbus_conn_get_fd(s->c), jbus_conn_get_events(s->c), 0 };
		p[1] = (struct pollfd){ s->sfd, POLLIN, 0 };
		for (size_t i = 0; i < s->jobs; i++)
			for (int k = 0; k < 3; k++) {
				struct job *j = s->running[i];
				int fd = j ? j->fd[k] : -1;

				p[n++] = (struct pollfd){ fd, k == PIPE_IN ? POLLOUT : POLLIN, 0 };
			}
		if (lib >= 0 && (t < 0 || lib < t))
			t = lib;
		if (poll(p, n, t) < 0 && errno != EINTR) {
			finish(s, cli_fail(s->cli, s->c, -errno, "poll"));
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			while (read(s->sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGCHLD)
					finish(s, CLI_OK); /* SIGINT, SIGTERM: the user is done */
		}
		for (size_t i = 0, k = 2; i < s->jobs; i++, k += 3) {
			struct job *j = s->running[i];

			if (j && p[k].revents && j->fd[PIPE_IN] >= 0)
				feed_stdin(j);
			if (j && p[k + 1].revents && j->fd[PIPE_OUT] >= 0)
				drain_pipe(s, j, PIPE_OUT);
			if (j && p[k + 2].revents && j->fd[PIPE_ERR] >= 0)
				drain_pipe(s, j, PIPE_ERR);
		}
		r = jbus_conn_dispatch(s->c);
		if (r < 0)
			finish(s, cli_fail(s->cli, s->c, r, "serve"));
		else
			tend_jobs(s);
	}
	free(p);
}

/* The end: running commands are killed (their requesters get no_reply). */
static void kill_jobs(struct serve *s)
{
	struct job *j;

	for (size_t i = 0; i < s->jobs; i++) {
		j = s->running[i];
		if (j && job_busy(j))
			kill(-j->pgid, SIGKILL);
		if (j && j->pid > 0)
			waitpid(j->pid, NULL, 0);
		if (j)
			job_free(j);
	}
	while ((j = s->first)) {
		s->first = j->next;
		job_free(j);
	}
}

static int serve_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "echo", no_argument, NULL, OPT_ECHO },
		{ 0 },
	};
	struct serve s = { .cli = cli, .jobs = 1, .timeout_ms = SERVE_TIMEOUT_MS, .sfd = -1 };
	const char *name;
	sigset_t mask;
	int first, status;

	if (!cli_parse(cli, argc, argv, "j:", longopts, serve_option, &s, &first, &status))
		return status;
	if (first == argc)
		return cli_usage(cli, "missing NAME");
	name = argv[first];
	if (cli->name && strcmp(cli->name, name))
		return cli_usage(cli, "two names given: '%s' and '%s'", cli->name, name);
	if (s.echo && first + 1 < argc)
		return cli_usage(cli, "--echo answers by itself: no COMMAND ('%s')",
				 argv[first + 1]);
	if (!s.echo && first + 1 == argc)
		return cli_usage(cli, "missing COMMAND (or --echo)");
	if (s.jobs > SERVE_JOBS_MAX)
		return cli_usage(cli, "invalid -j value %llu (at most %d)", s.jobs, SERVE_JOBS_MAX);
	s.cmd = s.echo ? NULL : argv + first + 1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s.running = calloc(s.jobs, sizeof(s.running[0]));
	if (s.sfd < 0 || !s.running) {
		cli_error(cli, "cannot set up: %s", strerror(errno));
		status = CLI_FAIL;
		goto out;
	}
	status = cli_connect(cli, name, NULL, NULL, &s.c);
	if (status != CLI_OK)
		goto out;
	/* a command that uses jbus itself finds the same broker */
	setenv("JBUS_SOCKET", jbus_conn_path(s.c), 1);
	jbus_conn_on_request(s.c, on_request, &s);
	serve_loop(&s);
	status = s.status != CLI_OK ? s.status : cli->status;
out:
	kill_jobs(&s);
	jbus_conn_close(s.c, CLI_TIMEOUT_MS);
	if (s.sfd >= 0)
		close(s.sfd);
	free(s.running);
	return status;
}

const struct cli_cmd cmd_serve = {
	.name = "serve",
	.args = "NAME -- COMMAND",
	.summary = "answer the requests sent to NAME by running COMMAND",
	.help = "Connect as NAME and answer every request sent to it ('jbus call NAME')\n"
		"by running COMMAND: the request's data, one JSON value and a newline, is\n"
		"its standard input; what it writes on standard output, which must be one\n"
		"JSON value, is the reply. JBUS_FROM names the requester, JBUS_SOCKET the\n"
		"broker. When COMMAND exits with a status other than 0, is killed by a\n"
		"signal, or writes something else than one JSON value, the answer is the\n"
		"error command_failed, with the end of what it wrote on standard error.\n"
		"\n"
		"Options:\n"
		"  -j, --jobs N           run up to N commands at once (default 1: one\n"
		"                         request at a time, the others wait their turn)\n"
		"      --timeout SECONDS  kill a command (with its process group) that runs\n"
		"                         longer and answer with the error timeout\n"
		"                         (fractional allowed; default 30)\n"
		"      --echo             no COMMAND: answer each request with its data\n"
		"\n"
		"Runs until SIGINT or SIGTERM (exit status 0; running commands are killed)\n"
		"or until the broker goes away (status 1). Use 'jbus wait NAME' to know\n"
		"when it is ready.\n",
	.run = serve_run,
};
