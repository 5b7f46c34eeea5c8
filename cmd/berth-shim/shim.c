/*
 * The per-container supervisor: `berth-shim shim …`, started detached (its
 * own session) by the engine for each container it starts.
 *
 * # Protocol with the engine
 *
 * The engine starts `berth-shim shim --root R --run-dir D --runtime PATH
 * --id ID --berth BERTH [options]` in its own session, with stdin and
 * stdout on /dev/null, stderr appending to shim.log, and a pipe as fd 3.
 * The shim creates and starts the container with the runtime, writes
 * state.json (status running, PIDs and start times) and closes fd 3
 * without writing: the container runs. If it cannot, it writes one line of
 * error text to fd 3, leaves no runtime state behind and exits non-zero
 * (2 for bad arguments); the engine undoes the rest and returns that text.
 *
 * While the container runs, the shim copies its stdout and stderr into
 * container.log as JSON lines ({"time":…,"stream":"stdout","log":"text"},
 * the text without its newline, lines over 16 KiB split) and reaps every
 * child (it is a child subreaper, so the container's init becomes its
 * child when the runtime exits). When the init exits, the shim drains the
 * remaining output (at most 2 s), records the OOM kill if any, deletes the
 * runtime's state, writes state.json (status exited, exit code — 128+signal
 * for a signal — and finish time) and exits. state.json saying exited
 * therefore means the log is complete and the runtime holds nothing more.
 *
 * Options:
 *   --restart always|unless-stopped|on-failure[:N]  restart after an exit,
 *       with a back-off of 100ms doubling to a minute (reset by a run of
 *       10s), state.json saying restarting in between and counting the
 *       restarts, unless the engine wrote the stopping marker (Stop does
 *       before it signals).
 *   --health-test WORD… --health-interval/-timeout/-start-period/
 *       -start-interval DURATION --health-retries N  run the healthcheck
 *       through the runtime's exec while the container runs, recording
 *       health.json. Durations are Go's ("30s", "1m30s").
 *   --tty  take the container's terminal from the runtime's console socket.
 *   --stdin  keep the container's stdin, for attach clients.
 *   --init  the container's process is the init: wait for its ready byte.
 *   --log-max-size BYTES --log-max-file N  rotate container.log.
 *   --log-compress  gzip the rotated files (.1.gz, .2.gz…): after each
 *       rotation, start `BERTH log-compress LOG` (it compresses every
 *       rotated file not yet compressed) and wait for it before the next
 *       rotation, so that the shim itself carries no compressor.
 *   --auto-remove  once the container has exited for good, start
 *       `BERTH container rm ID` (detached) before exiting.
 *   --runc-cgroup PATH  the runtime is runc and the container has a PID
 *       namespace of its own, in cgroup PATH (linux.cgroupsPath): once its
 *       init has exited, do what `runc delete` does for a stopped container
 *       of that kind, without running it: remove the cgroup PATH (and the
 *       cgroups below it) in every hierarchy under /sys/fs/cgroup, then
 *       runc's state directory <run-dir>/runc/<id>. (No process is left in
 *       a PID namespace whose init is gone, so runc would kill none.)
 *   --debug  log the runtime's command lines to stderr.
 *
 * Attach clients reach the container's stdin or terminal, and its raw
 * output, on the unix socket <run-dir>/attach/<id[:24]>.sock: frames of one
 * type byte, a 4-byte big-endian length and the payload (types in shim.h).
 * Only clients of the shim's own user (or root) are served; a new client is
 * first sent the run's output so far (its first 64 KiB); a client that
 * cannot take output within a second is dropped.
 *
 * The shim's own errors go to its standard error, which the engine opens
 * on shim.log in the container directory.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define READY_FD 3
#define MAX_LINE (16 << 10)          /* longest log entry; longer lines are split */
#define READ_BUF (32 << 10)          /* largest read of the container's output */
#define REPLAY_MAX (64 << 10)        /* output a new attach client is sent first */
#define FRAME_MAX (32 << 10)         /* largest frame a client may send */
#define DRAIN_TIMEOUT_NS 2000000000LL /* output still open after the init exited */
#define INIT_READY_TIMEOUT_MS 10000
#define CONSOLE_TIMEOUT_MS 10000
#define BACKOFF_MIN_NS 100000000LL
#define BACKOFF_MAX_NS 60000000000LL
#define BACKOFF_RESET_NS 10000000000LL
#define STOP_POLL_NS 20000000LL
#define HEALTH_LOG_LEN 5
#define HEALTH_OUTPUT_MAX 4096

enum { POLICY_NO, POLICY_ALWAYS, POLICY_UNLESS_STOPPED, POLICY_ON_FAILURE };

struct options {
	char *root, *run_dir, *runtime, *id, *berth, *runc_cgroup;
	char *restart_arg, *log_max_size_arg, *log_max_file_arg;
	int debug, tty, init, stdin_, auto_remove, log_compress;
	int policy;
	long long max_retries;
	long long log_max_size;
	int log_max_file;
	/* healthcheck */
	char **test;
	int ntest;
	char *interval_arg, *timeout_arg, *period_arg, *start_iv_arg, *retries_arg;
	int64_t interval, timeout, start_period, start_interval;
	int retries;
};

enum { ST_RUNNING, ST_RESTARTING, ST_EXITED };
static const char *const status_names[] = {"running", "restarting", "exited"};

struct state {
	int status;
	pid_t pid;
	unsigned long long init_start;
	int exit_code;
	int oom_killed;
	struct timespec started, finished;
	char *error;
	pid_t shim_pid;
	unsigned long long shim_start;
	int restart_count;
};

struct stream {
	int fd; /* -1 once closed */
	const char *name;
	char frame;
	struct buf line; /* the current line so far, at most MAX_LINE bytes */
};

struct client {
	int fd;
	struct buf in; /* frames received, not yet handled */
	struct client *next;
};

struct result {
	struct timespec start, end;
	int exit_code;
	struct buf output;
};

static struct options O;
static char *dir;    /* the container directory */
static int ready_fd = -1; /* readiness pipe; -1 once closed */
static int sig_fd = -1;   /* SIGCHLD */

/* logs */
static int log_fd = -1;
static char *log_path;
static long long log_size;
static struct stream streams[3]; /* stdout, stderr, terminal */

/* the current run */
static pid_t init_pid;
static int init_exited, init_status;
static int stdin_w = -1; /* the container's stdin pipe, without a terminal */
static int tty_fd = -1;  /* the terminal's master side (also streams[2].fd) */

/* attach */
static int listen_fd = -1;
static struct client *clients;
static struct buf replay;
static struct buf pending; /* input for stdin or the terminal, not yet written */

/* health */
static struct {
	int active;
	int64_t started, next, deadline;
	pid_t pid;
	int out_fd;
	int exited, status, killed, in_start_period;
	struct timespec start;
	struct buf out;
	/* what health.json records */
	const char *status_name;
	int failing_streak;
	struct result log[HEALTH_LOG_LEN];
	int nlog;
} H = {.pid = -1, .out_fd = -1};

static char *path_of(const char *name) { return str_cat(dir, "/", name, NULL); }

/* logmsg logs its arguments, up to a NULL, concatenated. */
static void logmsg(const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	char *s = str_vcat(first, ap);
	va_end(ap);
	logf_shim(s);
	free(s);
}

static char *quote(const char *s)
{
	struct buf b = {0};
	buf_putc(&b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *s);
	}
	buf_putc(&b, '"');
	buf_putc(&b, 0);
	return b.p;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* ---- arguments ---- */

static char *parse_policy(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	O.policy = POLICY_NO;
	O.max_retries = 0;
	if (!n || (n == 2 && !strncmp(s, "no", 2))) {
		if (!colon)
			return NULL;
	} else if ((n == 6 && !strncmp(s, "always", 6)) || (n == 14 && !strncmp(s, "unless-stopped", 14))) {
		if (!colon) {
			O.policy = n == 6 ? POLICY_ALWAYS : POLICY_UNLESS_STOPPED;
			return NULL;
		}
	} else if (n == 10 && !strncmp(s, "on-failure", 10)) {
		long long v;
		O.policy = POLICY_ON_FAILURE;
		if (!colon)
			return NULL;
		if (!parse_int(colon + 1, &v) && v >= 0) {
			O.max_retries = v;
			return NULL;
		}
	}
	O.policy = POLICY_NO;
	return str_cat("bad restart policy ", quote(s), NULL);
}

static char *parse_health(void)
{
	struct {
		const char *arg;
		int64_t *dst, def;
	} d[] = {
	    {O.interval_arg, &O.interval, 30000000000LL},
	    {O.timeout_arg, &O.timeout, 30000000000LL},
	    {O.period_arg, &O.start_period, 0},
	    {O.start_iv_arg, &O.start_interval, 5000000000LL},
	};
	for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
		*d[i].dst = d[i].def;
		if (!d[i].arg)
			continue;
		int64_t v;
		if (parse_duration(d[i].arg, &v) < 0 || v < 0)
			return str_cat("bad healthcheck duration ", quote(d[i].arg), NULL);
		if (v > 0 || d[i].def == 0)
			*d[i].dst = v;
	}
	O.retries = 3;
	if (O.retries_arg) {
		long long n;
		if (parse_int(O.retries_arg, &n) < 0 || n < 0 || n > 1 << 30)
			return str_cat("bad healthcheck retries ", quote(O.retries_arg), NULL);
		if (n > 0)
			O.retries = (int)n;
	}
	if (!O.ntest)
		return NULL;
	if (!strcmp(O.test[0], "CMD")) {
		O.test++;
		O.ntest--;
	} else if (!strcmp(O.test[0], "CMD-SHELL")) {
		if (O.ntest != 2)
			return xstrdup("CMD-SHELL healthcheck takes one command");
		char **t = xmalloc(4 * sizeof *t);
		t[0] = "/bin/sh";
		t[1] = "-c";
		t[2] = O.test[1];
		t[3] = NULL;
		O.test = t;
		O.ntest = 3;
	} else if (!strcmp(O.test[0], "NONE")) {
		O.ntest = 0;
		return NULL;
	} else
		return str_cat("bad healthcheck test ", quote(O.test[0]), NULL);
	if (!O.ntest)
		return xstrdup("empty healthcheck command");
	return NULL;
}

static char *parse_args(int argc, char **argv)
{
	O.test = xmalloc(((size_t)argc + 2) * sizeof *O.test);
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		if (!strcmp(a, "--debug") || !strcmp(a, "--tty") || !strcmp(a, "--stdin") || !strcmp(a, "--auto-remove") ||
		    !strcmp(a, "--init") || !strcmp(a, "--log-compress")) {
			O.log_compress |= !strcmp(a, "--log-compress");
			O.debug |= !strcmp(a, "--debug");
			O.tty |= !strcmp(a, "--tty");
			O.stdin_ |= !strcmp(a, "--stdin");
			O.auto_remove |= !strcmp(a, "--auto-remove");
			O.init |= !strcmp(a, "--init");
			continue;
		}
		char *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
		char *name = strndup(a, n);
		if (!name)
			die_oom();
		char **dst = NULL;
		if (!strcmp(name, "--root"))
			dst = &O.root;
		else if (!strcmp(name, "--run-dir"))
			dst = &O.run_dir;
		else if (!strcmp(name, "--runtime"))
			dst = &O.runtime;
		else if (!strcmp(name, "--berth"))
			dst = &O.berth;
		else if (!strcmp(name, "--runc-cgroup"))
			dst = &O.runc_cgroup;
		else if (!strcmp(name, "--id"))
			dst = &O.id;
		else if (!strcmp(name, "--restart"))
			dst = &O.restart_arg;
		else if (!strcmp(name, "--log-max-size"))
			dst = &O.log_max_size_arg;
		else if (!strcmp(name, "--log-max-file"))
			dst = &O.log_max_file_arg;
		else if (!strcmp(name, "--health-test"))
			dst = &O.test[O.ntest++];
		else if (!strcmp(name, "--health-interval"))
			dst = &O.interval_arg;
		else if (!strcmp(name, "--health-timeout"))
			dst = &O.timeout_arg;
		else if (!strcmp(name, "--health-start-period"))
			dst = &O.period_arg;
		else if (!strcmp(name, "--health-start-interval"))
			dst = &O.start_iv_arg;
		else if (!strcmp(name, "--health-retries"))
			dst = &O.retries_arg;
		if (!dst || (!eq && i + 1 >= argc)) {
			char *msg = dst ? str_cat(name, " needs a value", NULL) : str_cat("unknown argument ", quote(a), NULL);
			free(name);
			return msg;
		}
		*dst = eq ? eq + 1 : argv[++i];
		free(name);
	}
	O.test[O.ntest] = NULL;
	if (!O.root || !O.run_dir || !O.runtime || !O.id || !*O.root || !*O.run_dir || !*O.runtime || !*O.id)
		return xstrdup("usage: berth shim --root DIR --run-dir DIR --runtime PATH --id ID");
	if (strpbrk(O.id, "/.") || strlen(O.id) > 128)
		return str_cat("bad container ID ", quote(O.id), NULL);
	char *err = parse_policy(O.restart_arg ? O.restart_arg : "");
	if (err)
		return err;
	if ((err = parse_health()))
		return err;
	if (O.log_max_size_arg) {
		if (parse_int(O.log_max_size_arg, &O.log_max_size) < 0 || O.log_max_size < 0)
			return str_cat("bad --log-max-size ", quote(O.log_max_size_arg), NULL);
	}
	O.log_max_file = 1;
	if (O.log_max_file_arg) {
		long long v;
		if (parse_int(O.log_max_file_arg, &v) < 0 || v < 1 || v > 1 << 20)
			return str_cat("bad --log-max-file ", quote(O.log_max_file_arg), NULL);
		O.log_max_file = (int)v;
	}
	return NULL;
}

/* runtime_argvv is the runtime's command line with args (NULL-terminated):
 * its --root and log format first. argv[2] is allocated (free_argv). */
static char **runtime_argvv(const char *const *args)
{
	size_t n = 0, k = 0;
	while (args[k])
		k++;
	char **argv = xmalloc((k + 6) * sizeof *argv);
	argv[n++] = O.runtime;
	argv[n++] = "--root";
	argv[n++] = str_cat(O.run_dir, "/runc", NULL);
	argv[n++] = "--log-format";
	argv[n++] = "json";
	for (size_t i = 0; i < k; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	return argv;
}

/* runtime_argv is runtime_argvv of its arguments, up to a NULL. */
static char **runtime_argv(const char *first, ...)
{
	const char *args[16];
	size_t n = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s && n < 15; s = va_arg(ap, const char *))
		args[n++] = s;
	va_end(ap);
	args[n] = NULL;
	return runtime_argvv(args);
}

static void debug_exec(char **argv)
{
	if (!O.debug)
		return;
	struct buf b = {0};
	buf_puts(&b, "exec");
	for (char **a = argv; *a; a++) {
		buf_putc(&b, ' ');
		buf_puts(&b, *a);
	}
	buf_putc(&b, 0);
	logf_shim(b.p);
	buf_free(&b);
}

static void free_argv(char **argv)
{
	free(argv[2]);
	free(argv);
}

/* ---- logs ---- */

static pid_t compress_pid; /* the running `BERTH log-compress`, or 0 */

/* compress_wait waits for the compression of the last rotation: the next
 * one renames the files it works on. */
static void compress_wait(void)
{
	int status;
	pid_t p;
	if (compress_pid <= 0)
		return;
	while ((p = waitpid(compress_pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (p == compress_pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		logf_shim("log compression failed (see above)");
	compress_pid = 0;
}

/* compress_start starts `BERTH log-compress LOG` for the files just
 * rotated; its errors go to the shim's own log. */
static void compress_start(void)
{
	if (!O.berth || !*O.berth) {
		logf_shim("log compression: no --berth given");
		return;
	}
	char *argv[] = {O.berth, "log-compress", log_path, NULL};
	int fds[3] = {-1, -1, 2};
	char *err = NULL;
	compress_pid = spawn(argv, fds, 3, 0, &err);
	if (compress_pid < 0) {
		logmsg("log compression: ", err, NULL);
		free(err);
		compress_pid = 0;
	}
}

/* rename_rotated renames the rotated file number from to number to, under
 * both of its names (plain, and .gz once compressed). */
static void rename_rotated(int from, int to)
{
	for (int gz = 0; gz < 2; gz++) {
		char a[24], b[24];
		snprintf(a, sizeof a, ".%d%s", from, gz ? ".gz" : "");
		snprintf(b, sizeof b, ".%d%s", to, gz ? ".gz" : "");
		char *pa = str_cat(log_path, a, NULL), *pb = str_cat(log_path, b, NULL);
		rename(pa, pb);
		free(pa);
		free(pb);
	}
}

static int log_open(char **err)
{
	log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (log_fd < 0) {
		if (err)
			*err = str_cat("open ", log_path, ": ", strerror(errno), NULL);
		return -1;
	}
	struct stat st;
	log_size = fstat(log_fd, &st) == 0 ? (long long)st.st_size : 0;
	return 0;
}

/* log_rotate shifts the files by one, dropping the oldest, and starts a new
 * current file (Docker's json-file scheme). */
static int log_rotate(void)
{
	int rc = 0;
	close(log_fd);
	log_fd = -1;
	if (O.log_max_file == 1)
		rc = unlink(log_path);
	else {
		compress_wait();
		char num[24];
		for (int gz = 0; gz < 2; gz++) {
			snprintf(num, sizeof num, ".%d%s", O.log_max_file - 1, gz ? ".gz" : "");
			char *oldest = str_cat(log_path, num, NULL);
			unlink(oldest);
			free(oldest);
		}
		for (int i = O.log_max_file - 2; i >= 1; i--)
			rename_rotated(i, i + 1);
		char *first = str_cat(log_path, ".1", NULL);
		rc = rename(log_path, first);
		free(first);
	}
	int e = errno;
	if (rc == 0 && O.log_compress && O.log_max_file > 1)
		compress_start();
	char *oerr = NULL;
	if (log_open(&oerr) < 0) {
		logmsg("log rotation: ", oerr, NULL);
		free(oerr);
		return -1;
	}
	if (rc < 0)
		logmsg("log rotation: ", strerror(e), NULL);
	return rc;
}

/* log_write appends whole entries, rotating first when one would take the
 * file past the maximum size. */
static void log_write(const char *b, size_t n)
{
	while (n > 0) {
		size_t chunk = n;
		long long room = O.log_max_size - log_size;
		if (O.log_max_size > 0 && (long long)n > room) {
			const char *nl = NULL;
			for (long long i = (room > 0 ? room : 0) - 1; i >= 0; i--)
				if (b[i] == '\n') {
					nl = b + i;
					break;
				}
			if (nl)
				chunk = (size_t)(nl - b) + 1;
			else if (log_size > 0) {
				if (log_rotate() < 0)
					O.log_max_size = 0; /* keep logging, unrotated */
				if (log_fd < 0)
					return;
				continue;
			} else { /* an entry longer than a file: alone in one */
				const char *first = memchr(b, '\n', n);
				if (first)
					chunk = (size_t)(first - b) + 1;
			}
		}
		if (log_fd < 0)
			return;
		ssize_t w = write(log_fd, b, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w > 0)
			log_size += w;
		b += chunk;
		n -= chunk;
	}
}

static void emit(struct buf *out, struct stream *s, const struct timespec *now)
{
	buf_puts(out, "{\"time\":\"");
	buf_time(out, now);
	buf_puts(out, "\",\"stream\":\"");
	buf_puts(out, s->name);
	buf_puts(out, "\",\"log\":");
	buf_json_string(out, s->line.p, s->line.len);
	buf_puts(out, "}\n");
	s->line.len = 0;
}

/* feed cuts data into entries: one per line, without the newline, lines
 * longer than MAX_LINE split. A line without its newline yet is held back
 * until the newline, MAX_LINE bytes or the end of the stream. */
static void feed(struct buf *out, struct stream *s, const struct timespec *now, const char *data, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t chunk = nl ? (size_t)(nl - data) : n;
		const char *c = data;
		while (s->line.len + chunk > MAX_LINE) {
			size_t room = MAX_LINE - s->line.len;
			buf_put(&s->line, c, room);
			emit(out, s, now);
			c += room;
			chunk -= room;
		}
		buf_put(&s->line, c, chunk);
		if (!nl)
			return;
		emit(out, s, now);
		n -= (size_t)(nl + 1 - data);
		data = nl + 1;
	}
}

/* ---- attach ---- */

static void drop_client(struct client *c)
{
	for (struct client **p = &clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	close(c->fd);
	buf_free(&c->in);
	free(c);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1; /* including SO_SNDTIMEO's EAGAIN */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* tap sends a chunk of output to every client, and keeps it for the replay. */
static void tap(char type, const char *data, size_t n)
{
	if (listen_fd < 0 && !clients)
		return;
	char hdr[5] = {type, (char)(n >> 24), (char)(n >> 16), (char)(n >> 8), (char)n};
	if (replay.len + 5 + n <= REPLAY_MAX) {
		buf_put(&replay, hdr, 5);
		buf_put(&replay, data, n);
	}
	for (struct client *c = clients, *next; c; c = next) {
		next = c->next;
		if (send_all(c->fd, hdr, 5) < 0 || send_all(c->fd, data, n) < 0)
			drop_client(c);
	}
}

static void accept_clients(void)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (!peer_is_allowed(fd)) {
			close(fd);
			continue;
		}
		struct timeval tv = {.tv_sec = 1};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (send_all(fd, replay.p, replay.len) < 0) {
			close(fd);
			continue;
		}
		struct client *c = xmalloc(sizeof *c);
		*c = (struct client){.fd = fd, .next = clients};
		clients = c;
	}
}

static int input_fd(void) { return tty_fd >= 0 ? tty_fd : stdin_w; }

/* handle_frames takes a client's complete frames, stopping while input
 * waits to be written (so that frames keep their order). */
static void handle_frames(struct client *c)
{
	while (!pending.len && c->in.len >= 5) {
		unsigned char *h = (unsigned char *)c->in.p;
		uint32_t n = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
		if (n > FRAME_MAX) {
			drop_client(c);
			return;
		}
		if (c->in.len < 5 + (size_t)n)
			return;
		const char *p = c->in.p + 5;
		switch (h[0]) {
		case FRAME_STDIN:
			if (input_fd() >= 0)
				buf_put(&pending, p, n);
			break;
		case FRAME_CLOSE_STDIN:
			if (stdin_w >= 0) {
				close(stdin_w);
				stdin_w = -1;
			}
			break;
		case FRAME_RESIZE:
			if (tty_fd >= 0 && n == 4) {
				const unsigned char *q = (const unsigned char *)p;
				struct winsize ws = {.ws_row = (unsigned short)(q[0] << 8 | q[1]),
						     .ws_col = (unsigned short)(q[2] << 8 | q[3])};
				ioctl(tty_fd, TIOCSWINSZ, &ws);
			}
			break;
		}
		memmove(c->in.p, c->in.p + 5 + n, c->in.len - 5 - n);
		c->in.len -= 5 + n;
	}
}

static void read_client(struct client *c)
{
	buf_grow(&c->in, 4096);
	ssize_t r = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		drop_client(c);
		return;
	}
	c->in.len += (size_t)r;
	handle_frames(c);
}

/* flush_input writes what it can of the pending input. */
static void flush_input(void)
{
	int fd = input_fd();
	if (fd < 0) {
		pending.len = 0;
		return;
	}
	while (pending.len) {
		ssize_t w = write(fd, pending.p, pending.len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			pending.len = 0;
			return;
		}
		memmove(pending.p, pending.p + w, pending.len - (size_t)w);
		pending.len -= (size_t)w;
	}
	for (struct client *c = clients, *next; c && !pending.len; c = next) {
		next = c->next;
		handle_frames(c);
	}
}

/* socket_path is <run-dir>/attach/<id, at most 24 bytes><suffix>, in a
 * directory only root enters (made here), with what a killed shim left
 * there removed; NULL if the directory cannot be made. The ID is shortened
 * to keep the path within the 108 bytes a socket address holds. */
static char *socket_path(const char *suffix)
{
	char short_id[25];
	snprintf(short_id, sizeof short_id, "%s", O.id);
	char *adir = str_cat(O.run_dir, "/attach", NULL);
	char *path = str_cat(adir, "/", short_id, suffix, NULL);
	int ok = mkdir_all(adir, 0700) == 0;
	if (!ok) {
		logmsg("mkdir ", adir, ": ", strerror(errno), NULL);
		free(path);
		path = NULL;
	} else
		unlink(path);
	free(adir);
	return path;
}

static char *attach_path;

static void listen_attach(void)
{
	attach_path = socket_path(".sock");
	if (attach_path && (listen_fd = listen_unix(attach_path)) < 0)
		logmsg("attach socket: ", attach_path, ": ", strerror(errno), NULL);
	if (listen_fd < 0)
		logf_shim("the container cannot be attached to");
}

static void close_attach(void)
{
	if (listen_fd >= 0) {
		unlink(attach_path);
		close(listen_fd);
		listen_fd = -1;
	}
	while (clients)
		drop_client(clients);
	if (stdin_w >= 0) {
		close(stdin_w);
		stdin_w = -1;
	}
}

/* ---- children ---- */

static void reap_all(void)
{
	for (;;) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);
		if (p < 0 && errno == EINTR)
			continue;
		if (p <= 0)
			return;
		if (p == init_pid && !init_exited) {
			init_exited = 1;
			init_status = status;
		} else if (p == H.pid) {
			H.exited = 1;
			H.status = status;
		} else if (p == compress_pid) {
			compress_pid = 0;
			if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
				logf_shim("log compression failed (see above)");
		}
		/* anything else: an orphan */
	}
}

/* ---- the loop ---- */

static void close_stream(struct stream *s)
{
	if (s->fd < 0)
		return;
	if (s->line.len) {
		struct buf out = {0};
		struct timespec now;
		real_now(&now);
		emit(&out, s, &now);
		log_write(out.p, out.len);
		buf_free(&out);
	}
	close(s->fd);
	if (s->fd == tty_fd)
		tty_fd = -1;
	s->fd = -1;
}

static void read_stream(struct stream *s)
{
	static char rbuf[READ_BUF];
	ssize_t r = read(s->fd, rbuf, sizeof rbuf);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) { /* EOF, or EIO from a terminal whose other side is gone */
		close_stream(s);
		return;
	}
	tap(s->frame, rbuf, (size_t)r);
	struct buf out = {0};
	struct timespec now;
	real_now(&now);
	feed(&out, s, &now, rbuf, (size_t)r);
	if (out.len)
		log_write(out.p, out.len);
	buf_free(&out);
}

static void health_service(void);
static int64_t health_wait(void);

/* poll_once waits at most timeout ns (-1: no limit) for something to do,
 * and does it. */
static void poll_once(int64_t timeout)
{
	struct pollfd fds[64];
	struct client *cl[64];
	int n = 0, ncl = 0;
	fds[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
	int i_listen = -1, i_input = -1, i_health = -1, i_stream[3] = {-1, -1, -1};
	if (listen_fd >= 0) {
		i_listen = n;
		fds[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
	}
	for (int k = 0; k < 3; k++)
		if (streams[k].fd >= 0) {
			i_stream[k] = n;
			fds[n++] = (struct pollfd){.fd = streams[k].fd, .events = POLLIN};
		}
	if (pending.len && input_fd() >= 0) {
		i_input = n;
		fds[n++] = (struct pollfd){.fd = input_fd(), .events = POLLOUT};
	}
	if (H.out_fd >= 0) {
		i_health = n;
		fds[n++] = (struct pollfd){.fd = H.out_fd, .events = POLLIN};
	}
	int i_clients = n;
	if (!pending.len)
		for (struct client *c = clients; c && n < 64; c = c->next) {
			cl[ncl++] = c;
			fds[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
		}
	if (H.active) {
		int64_t hw = health_wait();
		if (timeout < 0 || (hw >= 0 && hw < timeout))
			timeout = hw;
	}
	int ms = timeout < 0 ? -1 : (int)((timeout + 999999) / 1000000);
	int r = poll(fds, (nfds_t)n, ms);
	if (r < 0) {
		if (errno != EINTR)
			logmsg("poll: ", strerror(errno), NULL);
		if (H.active)
			health_service();
		return;
	}
	if (fds[0].revents) {
		struct signalfd_siginfo si;
		while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
			;
		reap_all();
	}
	for (int k = 0; k < 3; k++)
		if (i_stream[k] >= 0 && fds[i_stream[k]].revents && streams[k].fd == fds[i_stream[k]].fd)
			read_stream(&streams[k]);
	if (i_input >= 0 && fds[i_input].revents)
		flush_input();
	if (i_health >= 0 && fds[i_health].revents && H.out_fd >= 0) {
		char tmp[4096];
		ssize_t got = read(H.out_fd, tmp, sizeof tmp);
		if (got > 0) {
			size_t keep = HEALTH_OUTPUT_MAX - H.out.len;
			buf_put(&H.out, tmp, (size_t)got < keep ? (size_t)got : keep);
		} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
			close(H.out_fd);
			H.out_fd = -1;
		}
	}
	for (int k = 0; k < ncl; k++) {
		if (!fds[i_clients + k].revents)
			continue;
		/* the client may have been dropped by an earlier step */
		for (struct client *c = clients; c; c = c->next)
			if (c == cl[k] && c->fd == fds[i_clients + k].fd) {
				read_client(c);
				break;
			}
	}
	if (i_listen >= 0 && fds[i_listen].revents)
		accept_clients();
	if (H.active)
		health_service();
}

/* ---- state ---- */

static int write_state(struct state *st, char **err)
{
	struct buf b = {0};
	buf_puts(&b, "{\"version\":");
	buf_int(&b, STATE_VERSION);
	buf_puts(&b, ",\"status\":\"");
	buf_puts(&b, status_names[st->status]);
	buf_putc(&b, '"');
	if (st->pid) {
		buf_puts(&b, ",\"pid\":");
		buf_int(&b, st->pid);
		buf_puts(&b, ",\"init_start\":");
		buf_uint(&b, st->init_start);
	}
	buf_puts(&b, ",\"exit_code\":");
	buf_int(&b, st->exit_code);
	if (st->oom_killed)
		buf_puts(&b, ",\"oom_killed\":true");
	if (st->started.tv_sec || st->started.tv_nsec) {
		buf_puts(&b, ",\"started_at\":\"");
		buf_time(&b, &st->started);
		buf_putc(&b, '"');
	}
	if (st->finished.tv_sec || st->finished.tv_nsec) {
		buf_puts(&b, ",\"finished_at\":\"");
		buf_time(&b, &st->finished);
		buf_putc(&b, '"');
	}
	if (st->error && *st->error) {
		buf_puts(&b, ",\"error\":");
		buf_json_string(&b, st->error, strlen(st->error));
	}
	if (st->restart_count) {
		buf_puts(&b, ",\"restart_count\":");
		buf_int(&b, st->restart_count);
	}
	if (st->shim_pid) {
		buf_puts(&b, ",\"shim_pid\":");
		buf_int(&b, st->shim_pid);
		buf_puts(&b, ",\"shim_start\":");
		buf_uint(&b, st->shim_start);
	}
	buf_puts(&b, "}\n");
	char *path = path_of(STATE_FILE);
	int rc = write_file_atomic(path, b.p, b.len, 0644, err);
	free(path);
	buf_free(&b);
	return rc;
}

static void record_state(struct state *st)
{
	char *err = NULL;
	if (write_state(st, &err) < 0) {
		logf_shim(err);
		free(err);
	}
}

/* ---- events ---- */

/*
 * record_event appends one event about the container to the state root's
 * event journal, as internal/eventlog's Append does (names, format,
 * locking and rotation change there together): the current file, flocked
 * and checked to be still the current one, rotated to .1 once it has
 * reached EVENTS_MAX, then one line stamped with the time (a new file's
 * first is the begin line naming the rotated one by device and inode, for
 * followers). kv are the event's attribute pairs, NULL-terminated; readers
 * add the container's name, image and labels. A failure is logged: the
 * container's exit is recorded all the same.
 */
static void record_event(const char *action, ...)
{
	char *cur = str_cat(O.root, "/" EVENTS_FILE, NULL);
	char *rot = str_cat(O.root, "/" EVENTS_FILE ".1", NULL);
	struct buf b = {0};
	const char *what = "rotated under every attempt";
	int err = 0;
	for (int attempt = 0; attempt < 5; attempt++) {
		int fd = open(cur, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			what = "open", err = errno;
			break;
		}
		int rc;
		while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
			;
		if (rc < 0) {
			what = "lock", err = errno;
			close(fd);
			break;
		}
		struct stat fst, pst;
		if (fstat(fd, &fst) < 0 || stat(cur, &pst) < 0 || fst.st_ino != pst.st_ino || fst.st_dev != pst.st_dev) {
			close(fd); /* rotated while we waited: the new one */
			continue;
		}
		if (pst.st_size > 0 && pst.st_size >= EVENTS_MAX) {
			if (rename(cur, rot) < 0) {
				what = "rotate", err = errno;
				close(fd);
				break;
			}
			close(fd);
			continue;
		}
		struct timespec now;
		real_now(&now);
		struct stat rst;
		if (pst.st_size == 0 && stat(rot, &rst) == 0) {
			/* A new file begins with the identity of the one before it. */
			char prev[48];
			snprintf(prev, sizeof prev, "%llu:%llu", (unsigned long long)rst.st_dev,
				 (unsigned long long)rst.st_ino);
			buf_puts(&b, "{\"version\":1,\"time\":\"");
			buf_time(&b, &now);
			buf_puts(&b, "\",\"type\":\"journal\",\"action\":\"begin\",\"id\":\"\",\"attributes\":{\"previous\":\"");
			buf_puts(&b, prev);
			buf_puts(&b, "\"}}\n");
		}
		buf_puts(&b, "{\"version\":1,\"time\":\"");
		buf_time(&b, &now);
		buf_puts(&b, "\",\"type\":\"container\",\"action\":");
		buf_json_string(&b, action, strlen(action));
		buf_puts(&b, ",\"id\":");
		buf_json_string(&b, O.id, strlen(O.id));
		va_list ap;
		va_start(ap, action);
		int first = 1;
		for (const char *k; (k = va_arg(ap, const char *));) {
			const char *v = va_arg(ap, const char *);
			buf_puts(&b, first ? ",\"attributes\":{" : ",");
			first = 0;
			buf_json_string(&b, k, strlen(k));
			buf_putc(&b, ':');
			buf_json_string(&b, v, strlen(v));
		}
		va_end(ap);
		buf_puts(&b, first ? "}\n" : "}}\n");
		what = NULL;
		if (write(fd, b.p, b.len) != (ssize_t)b.len)
			what = "append", err = errno;
		close(fd);
		break;
	}
	if (what) {
		char *msg = str_cat("event journal: ", what, err ? ": " : "", err ? strerror(err) : "", NULL);
		logf_shim(msg);
		free(msg);
	}
	buf_free(&b);
	free(cur);
	free(rot);
}

/* ---- health ---- */

static void write_health(void)
{
	struct buf b = {0};
	buf_puts(&b, "{\"status\":");
	buf_json_string(&b, H.status_name, strlen(H.status_name));
	buf_puts(&b, ",\"failing_streak\":");
	buf_int(&b, H.failing_streak);
	buf_puts(&b, ",\"log\":[");
	for (int i = 0; i < H.nlog; i++) {
		struct result *r = &H.log[i];
		if (i)
			buf_putc(&b, ',');
		buf_puts(&b, "{\"start\":\"");
		buf_time(&b, &r->start);
		buf_puts(&b, "\",\"end\":\"");
		buf_time(&b, &r->end);
		buf_puts(&b, "\",\"exit_code\":");
		buf_int(&b, r->exit_code);
		buf_puts(&b, ",\"output\":");
		buf_json_string(&b, r->output.p ? r->output.p : "", r->output.len);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}\n");
	char *path = path_of(HEALTH_FILE), *err = NULL;
	if (write_file_atomic(path, b.p, b.len, 0644, &err) < 0) {
		logmsg("health: ", err, NULL);
		free(err);
	}
	free(path);
	buf_free(&b);
}

/* health_delay is the wait before the next probe. */
static int64_t health_delay(void)
{
	if (mono_ns() - H.started < O.start_period)
		return O.start_interval < O.interval ? O.start_interval : O.interval;
	return O.interval;
}

/* health_reset starts a run's health over: starting, no results. */
static void health_reset(void)
{
	for (int i = 0; i < H.nlog; i++)
		buf_free(&H.log[i].output);
	H.nlog = 0;
	H.status_name = "starting";
	H.failing_streak = 0;
	write_health();
}

/* health_begin starts probing the run that start began (and reset). */
static void health_begin(void)
{
	if (!O.ntest)
		return;
	H.active = 1;
	H.started = mono_ns();
	H.next = H.started + health_delay();
	H.pid = -1;
}

/* health_record adds a result and updates the status, as Docker does. */
static void health_record(int exit_code, struct buf *output)
{
	if (H.nlog == HEALTH_LOG_LEN) {
		buf_free(&H.log[0].output);
		memmove(H.log, H.log + 1, (HEALTH_LOG_LEN - 1) * sizeof H.log[0]);
		H.nlog--;
	}
	struct result *r = &H.log[H.nlog++];
	r->start = H.start;
	real_now(&r->end);
	r->exit_code = exit_code;
	r->output = *output;
	*output = (struct buf){0};
	const char *was = H.status_name;
	if (exit_code == 0) {
		H.status_name = "healthy";
		H.failing_streak = 0;
	} else if (H.in_start_period && !strcmp(H.status_name, "starting")) {
		/* failures in the start period do not count */
	} else if (++H.failing_streak >= O.retries)
		H.status_name = "unhealthy";
	if (strcmp(was, H.status_name)) { /* as Docker: on a change; before the state, as die */
		char *action = str_cat("health_status: ", H.status_name, NULL);
		record_event(action, NULL);
		free(action);
	}
	write_health();
	H.next = mono_ns() + health_delay();
}

static void health_probe(void)
{
	real_now(&H.start);
	H.in_start_period = mono_ns() - H.started < O.start_period;
	char *pid_file = path_of("health.pid");
	unlink(pid_file);
	size_t n = 0;
	char **argv = xmalloc(((size_t)O.ntest + 12) * sizeof *argv);
	char **base = runtime_argv("exec", "--pid-file", pid_file, O.id, NULL);
	for (char **a = base; *a; a++)
		argv[n++] = *a;
	for (int i = 0; i < O.ntest; i++)
		argv[n++] = O.test[i];
	argv[n] = NULL;
	debug_exec(argv);
	int p[2];
	char *err = NULL;
	H.out.len = 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		err = xstrdup(strerror(errno));
	} else {
		int fds[3] = {-1, p[1], p[1]};
		H.exited = H.killed = 0;
		H.pid = spawn(argv, fds, 3, 0, &err);
		close(p[1]);
		if (H.pid < 0)
			close(p[0]);
		else {
			H.out_fd = p[0];
			set_nonblock(H.out_fd);
			H.deadline = mono_ns() + O.timeout;
		}
	}
	if (err) {
		struct buf out = {0};
		buf_puts(&out, err);
		free(err);
		H.pid = -1;
		health_record(-1, &out);
	}
	free(base[2]);
	free(base);
	free(argv);
	free(pid_file);
}

/* health_wait is how long until the healthcheck needs the loop: -1 for
 * not before a child exits. */
static int64_t health_wait(void)
{
	int64_t now = mono_ns(), due;
	if (H.pid < 0)
		due = H.next;
	else if (H.exited)
		due = now;
	else if (!H.killed)
		due = H.deadline;
	else
		return -1;
	return due > now ? due - now : 0;
}

static void health_service(void)
{
	int64_t now = mono_ns();
	if (H.pid < 0) {
		if (now < H.next)
			return;
		char *paused = path_of(PAUSED_FILE);
		int is_paused = file_exists(paused);
		free(paused);
		if (is_paused) { /* a frozen container is not probed, as in Docker */
			H.next = now + health_delay();
			return;
		}
		health_probe();
		return;
	}
	if (H.exited) {
		if (H.out_fd >= 0) { /* what is there; a process left behind may hold the pipe */
			char tmp[4096];
			ssize_t got;
			while ((got = read(H.out_fd, tmp, sizeof tmp)) > 0) {
				size_t keep = HEALTH_OUTPUT_MAX - H.out.len;
				buf_put(&H.out, tmp, (size_t)got < keep ? (size_t)got : keep);
			}
			close(H.out_fd);
			H.out_fd = -1;
		}
		H.pid = -1;
		if (H.killed) {
			struct buf msg = {0};
			buf_puts(&msg, "Health check exceeded timeout (");
			format_duration(&msg, O.timeout);
			buf_putc(&msg, ')');
			H.out.len = 0;
			health_record(-1, &msg);
		} else {
			struct buf out = H.out;
			H.out = (struct buf){0};
			health_record(exit_code_of(H.status), &out);
		}
		return;
	}
	if (!H.killed && now >= H.deadline) {
		/* Kill the check inside the container, then the runtime's exec. */
		char *pid_file = path_of("health.pid");
		pid_t p;
		if (read_pid_file(pid_file, &p) == 0)
			kill(p, SIGKILL);
		free(pid_file);
		kill(H.pid, SIGKILL);
		H.killed = 1;
	}
}

/* health_end stops the healthcheck: the container exited. The runtime's
 * exec of a probe still running is killed and reaped here, so that it does
 * not outlive the shim (the engine's Stop and Remove return once the shim
 * is gone). Its check in the container is not signalled: it died with the
 * container's PID namespace, and its PID may be another process's now. */
static void health_end(void)
{
	if (!H.active)
		return;
	H.active = 0;
	if (H.pid > 0 && !H.exited) {
		kill(H.pid, SIGKILL);
		while (waitpid(H.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (H.out_fd >= 0) {
		close(H.out_fd);
		H.out_fd = -1;
	}
	H.pid = -1;
}

/* ---- the container ---- */

static void force_delete(void)
{
	char **argv = runtime_argv("delete", "--force", O.id, NULL);
	debug_exec(argv);
	struct buf out = {0};
	char *err = NULL;
	if (run_output(argv, &out, &err) < 0) {
		char *msg = last_error_message(out.p ? out.p : "", out.len);
		logmsg("runtime delete --force: ", err ? err : "failed", ": ", msg, NULL);
		free(msg);
	}
	free(err);
	buf_free(&out);
	free_argv(argv);
}

/* runtime_error is a failed runtime command as one line: the last error
 * the runtime logged after offset, without runc's preamble. */
static char *runtime_error(const char *log, long long offset, const char *verb, const char *err)
{
	struct buf b = {0};
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (lseek(fd, offset, SEEK_SET) == offset) {
			char tmp[8192];
			ssize_t r;
			while (b.len < 1 << 20 && (r = read(fd, tmp, sizeof tmp)) > 0)
				buf_put(&b, tmp, (size_t)r);
		}
		close(fd);
	}
	char *msg = last_error_message(b.p ? b.p : "", b.len);
	buf_free(&b);
	if (!*msg) {
		free(msg);
		return str_cat("runtime ", verb, ": ", err ? err : "failed", NULL);
	}
	char *pre1 = str_cat("runc ", verb, " failed: ", NULL);
	const char *m = msg;
	if (!strncmp(m, pre1, strlen(pre1)))
		m += strlen(pre1);
	static const char pre2[] = "unable to start container process: ";
	if (!strncmp(m, pre2, sizeof pre2 - 1))
		m += sizeof pre2 - 1;
	char *out = xstrdup(m);
	free(pre1);
	free(msg);
	return out;
}

/* drain waits for the output streams to reach EOF, at most DRAIN_TIMEOUT_NS,
 * then closes them. */
static void drain(void)
{
	int64_t deadline = mono_ns() + DRAIN_TIMEOUT_NS;
	for (;;) {
		int open_ = streams[0].fd >= 0 || streams[1].fd >= 0 || streams[2].fd >= 0;
		if (!open_)
			return;
		int64_t left = deadline - mono_ns();
		if (left <= 0)
			break;
		poll_once(left);
	}
	logf_shim("output still open 2s after the container exited; closing it");
	for (int k = 0; k < 3; k++)
		close_stream(&streams[k]);
}

/* await_init waits until the container's init reports that it forwards
 * signals, or closes the pipe without a word (it died: the reaping will
 * see its exit), at most INIT_READY_TIMEOUT_MS. */
static void await_init(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;
	do
		r = poll(&p, 1, INIT_READY_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		logf_shim("the container's init is not ready after 10s; reporting it running anyway");
		return;
	}
	char c;
	(void)!read(fd, &c, 1);
}

/* receive_terminal takes the terminal's master side that the runtime sent
 * to the console socket; runc run has returned, so the connection is
 * queued already. */
static int receive_terminal(int l, char **err)
{
	struct pollfd p = {.fd = l, .events = POLLIN};
	if (poll(&p, 1, CONSOLE_TIMEOUT_MS) <= 0) {
		*err = xstrdup("no terminal received");
		return -1;
	}
	int conn = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		*err = xstrdup(strerror(errno));
		return -1;
	}
	struct timeval tv = {.tv_sec = CONSOLE_TIMEOUT_MS / 1000};
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int fd = recv_fd(conn);
	close(conn);
	if (fd < 0)
		*err = xstrdup("no terminal received");
	return fd;
}

static void close_pair(int *a, int *b)
{
	if (*a >= 0)
		close(*a);
	if (*b >= 0)
		close(*b);
	*a = *b = -1;
}

/* start runs the container (the runtime's run --detach: one run of the
 * runtime, not create then start), records it running and reports
 * readiness. On error nothing of the container remains in the runtime. */
static int start(struct state *st, int restart_count, char **errp)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int out[2] = {-1, -1}, errp_[2] = {-1, -1}, in[2] = {-1, -1}, ir[2] = {-1, -1};
	int console = -1, term = -1, rc = -1;
	char *err = NULL, *console_name = NULL;
	char *runtime_log = path_of(RUNTIME_LOG), *pid_file = path_of(INIT_PID_FILE), *bundle = path_of(BUNDLE_DIR);
	if (devnull < 0) {
		err = str_cat("open /dev/null: ", strerror(errno), NULL);
		goto out;
	}
	if (log_fd < 0 && log_open(&err) < 0) /* kept across restarts */
		goto out;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp_, O_CLOEXEC) < 0) {
		err = str_cat("pipe: ", strerror(errno), NULL);
		goto out;
	}
	unlink(pid_file);
	long long offset = file_size(runtime_log);
	const char *cargs[16];
	int nc = 0;
	cargs[nc++] = "--log";
	cargs[nc++] = runtime_log;
	cargs[nc++] = "run";
	cargs[nc++] = "--detach";
	cargs[nc++] = "--bundle";
	cargs[nc++] = bundle;
	cargs[nc++] = "--pid-file";
	cargs[nc++] = pid_file;
	if (O.tty) {
		/* A path in a directory only root enters, not an abstract name: a
		 * container on the host's network could connect to that first. */
		console_name = socket_path(".console");
		if (!console_name || (console = listen_unix(console_name)) < 0) {
			err = str_cat("console socket: ", strerror(errno), NULL);
			goto out;
		}
		cargs[nc++] = "--console-socket";
		cargs[nc++] = console_name;
	}
	int files[4] = {devnull, out[1], errp_[1], -1};
	int nfiles = 3;
	if (O.init) { /* the init's readiness pipe: its descriptor 3 */
		if (pipe2(ir, O_CLOEXEC) < 0) {
			err = str_cat("pipe: ", strerror(errno), NULL);
			goto out;
		}
		cargs[nc++] = "--preserve-fds";
		cargs[nc++] = "1";
		files[3] = ir[1];
		nfiles = 4;
	}
	cargs[nc++] = O.id;
	cargs[nc] = NULL;
	if (O.stdin_ && !O.tty) {
		if (pipe2(in, O_CLOEXEC) < 0) {
			err = str_cat("pipe: ", strerror(errno), NULL);
			goto out;
		}
		files[0] = in[0];
	}
	char **argv = runtime_argvv(cargs);
	debug_exec(argv);
	char *rerr = NULL;
	int started = run_wait(argv, files, nfiles, &rerr) == 0;
	free_argv(argv);
	/* The container holds its own copies now; ours must go so that EOF
	 * comes when the container's processes are gone. */
	if (ir[1] >= 0) {
		close(ir[1]);
		ir[1] = -1;
	}
	if (in[0] >= 0) {
		close(in[0]);
		in[0] = -1;
	}
	close(out[1]);
	close(errp_[1]);
	out[1] = errp_[1] = -1;
	if (started && console >= 0) {
		char *terr = NULL;
		term = receive_terminal(console, &terr);
		if (term < 0) {
			force_delete();
			err = str_cat("terminal: ", terr, NULL);
			free(terr);
			free(rerr);
			goto out;
		}
	}
	if (!started) {
		err = runtime_error(runtime_log, offset, "run", rerr);
		free(rerr);
		goto out;
	}
	pid_t pid;
	if (read_pid_file(pid_file, &pid) < 0) {
		force_delete();
		err = str_cat("bad pid file ", pid_file, NULL);
		goto out;
	}
	unsigned long long init_start = 0;
	proc_start(pid, &init_start, NULL);

	/* the run's streams */
	init_pid = pid;
	init_exited = 0;
	set_nonblock(out[0]);
	set_nonblock(errp_[0]);
	streams[0] = (struct stream){.fd = out[0], .name = "stdout", .frame = FRAME_STDOUT, .line = streams[0].line};
	streams[1] = (struct stream){.fd = errp_[0], .name = "stderr", .frame = FRAME_STDERR, .line = streams[1].line};
	streams[2] = (struct stream){.fd = -1, .name = "stdout", .frame = FRAME_STDOUT, .line = streams[2].line};
	out[0] = errp_[0] = -1;
	if (term >= 0) {
		set_nonblock(term);
		streams[2].fd = tty_fd = term;
		term = -1;
	}
	if (in[1] >= 0) {
		set_nonblock(in[1]);
		stdin_w = in[1];
		in[1] = -1;
	}
	replay.len = 0;
	pending.len = 0;

	if (ir[0] >= 0)
		await_init(ir[0]);

	struct timespec now;
	real_now(&now);
	*st = (struct state){
	    .status = ST_RUNNING,
	    .pid = pid,
	    .init_start = init_start,
	    .started = now,
	    .shim_pid = getpid(),
	    .restart_count = restart_count,
	};
	proc_start(getpid(), &st->shim_start, NULL);
	if (O.ntest) /* before readiness: a started container has a health from the start */
		health_reset();
	if (write_state(st, &err) < 0) {
		/* Without a state file the engine cannot see the container: give up. */
		kill(pid, SIGKILL);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		init_exited = 1;
		force_delete();
		drain();
		goto out;
	}
	/* Recorded here, before the engine hears of the start and before an
	 * exit can be reaped: the journal has start before its die. */
	record_event("start", NULL);
	if (ready_fd >= 0) {
		close(ready_fd);
		ready_fd = -1;
	}
	rc = 0;
out:
	if (devnull >= 0)
		close(devnull);
	close_pair(&out[0], &out[1]);
	close_pair(&errp_[0], &errp_[1]);
	close_pair(&in[0], &in[1]);
	close_pair(&ir[0], &ir[1]);
	if (console >= 0) {
		close(console);
		unlink(console_name);
	}
	if (term >= 0)
		close(term);
	free(console_name);
	free(runtime_log);
	free(pid_file);
	free(bundle);
	if (rc < 0)
		*errp = err ? err : xstrdup("start failed");
	return rc;
}

static int stopping(void)
{
	char *p = path_of(STOPPING_FILE);
	int r = file_exists(p);
	free(p);
	return r;
}

/* reload_policy reads the restart policy the engine wrote when the
 * container's policy was updated while it ran (docker update --restart):
 * it replaces the one of --restart from then on. */
static void reload_policy(void)
{
	char *p = path_of(RESTART_POLICY_FILE);
	struct buf b = {0};
	int ok = read_file(p, &b, 256) == 0;
	free(p);
	if (!ok)
		return;
	buf_putc(&b, 0);
	char *nl = strchr(b.p, '\n');
	if (nl)
		*nl = 0;
	char *err = parse_policy(b.p);
	if (err) {
		logmsg(RESTART_POLICY_FILE, ": ", err, NULL);
		free(err);
	}
	buf_free(&b);
}

static int policy_restarts(int code, int count)
{
	reload_policy();
	switch (O.policy) {
	case POLICY_ALWAYS:
	case POLICY_UNLESS_STOPPED:
		return 1;
	case POLICY_ON_FAILURE:
		return code != 0 && (O.max_retries == 0 || count < O.max_retries);
	}
	return 0;
}

static int oom_killed(void)
{
	const char *files[] = {"/sys/fs/cgroup/memory/berth/", "/memory.oom_control", "/sys/fs/cgroup/berth/",
			       "/memory.events"};
	for (int i = 0; i < 4; i += 2) {
		char *p = str_cat(files[i], O.id, files[i + 1], NULL);
		struct buf b = {0};
		int ok = read_file(p, &b, 4096) == 0;
		free(p);
		if (!ok)
			continue;
		buf_putc(&b, 0);
		for (char *line = b.p; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			if (!strncmp(line, "oom_kill ", 9)) {
				int n = atoi(line + 9);
				buf_free(&b);
				return n > 0;
			}
			line = nl ? nl + 1 : NULL;
		}
		buf_free(&b);
	}
	return 0;
}

static int64_t ts_diff(const struct timespec *a, const struct timespec *b);
/* rm_cgroup removes the cgroup directory p, the cgroups below it first
 * (a cgroup directory holds only the kernel's files, which go with it, and
 * its children). 0 when it is gone or never was, else an errno. A cgroup
 * whose last task is still leaving (EBUSY) is tried again for about 250 ms,
 * as runc does. */
static int rm_cgroup(const char *p)
{
	DIR *d = opendir(p);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : errno;
	int rc = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *c = str_cat(p, "/", e->d_name, NULL);
		int r = rm_cgroup(c);
		rc = rc ? rc : r;
		free(c);
	}
	closedir(d);
	for (int i = 0;; i++) {
		if (rmdir(p) == 0 || errno == ENOENT)
			return rc;
		if (errno != EBUSY || i >= 8)
			return errno;
		struct timespec ts = {0, (1L << i) * 1000000L}; /* 1, 2, 4 … 128 ms */
		nanosleep(&ts, NULL);
	}
}

/* rm_tree removes the directory p and everything in it; 0 when it is gone
 * or never was, else an errno. */
static int rm_tree(const char *p)
{
	DIR *d = opendir(p);
	if (!d)
		return errno == ENOENT ? 0 : errno;
	int rc = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT)
			continue;
		int r = errno;
		if (r == EISDIR) {
			char *c = str_cat(p, "/", e->d_name, NULL);
			r = rm_tree(c);
			free(c);
		}
		rc = rc ? rc : r;
	}
	closedir(d);
	if (rmdir(p) < 0 && errno != ENOENT)
		rc = rc ? rc : errno;
	return rc;
}

/* delete_runc_state is `runc delete` of the stopped container, for
 * --runc-cgroup: its cgroup in every hierarchy (v1's controllers, the
 * hybrid unified one, and a v2 root), then runc's state directory, which
 * goes even when a cgroup could not (as in runc's own delete; the engine's
 * removal of the container tries the cgroups again). */
static void delete_runc_state(void)
{
	const char *base = "/sys/fs/cgroup";
	char *v2 = str_cat(base, O.runc_cgroup, NULL);
	int r = rm_cgroup(v2);
	if (r)
		logmsg("remove cgroup ", v2, ": ", strerror(r), NULL);
	free(v2);
	DIR *d = opendir(base);
	if (d) {
		for (struct dirent *e; (e = readdir(d));) {
			if (e->d_name[0] == '.')
				continue;
			char *c = str_cat(base, "/", e->d_name, O.runc_cgroup, NULL);
			if ((r = rm_cgroup(c)))
				logmsg("remove cgroup ", c, ": ", strerror(r), NULL);
			free(c);
		}
		closedir(d);
	}
	char *st = str_cat(O.run_dir, "/runc/", O.id, NULL);
	if ((r = rm_tree(st)))
		logmsg("remove runtime state ", st, ": ", strerror(r), NULL);
	free(st);
}

/* delete_runtime_state removes what the runtime holds of the stopped
 * container: by runc's own delete, or as it would (--runc-cgroup). */
static void delete_runtime_state(void)
{
	if (O.runc_cgroup) {
		delete_runc_state();
		return;
	}
	char **argv = runtime_argv("delete", O.id, NULL);
	debug_exec(argv);
	struct buf out = {0};
	char *err = NULL;
	if (run_output(argv, &out, &err) < 0) {
		char *msg = last_error_message(out.p ? out.p : "", out.len);
		logmsg("runtime delete: ", err ? err : "failed", ": ", msg, NULL);
		free(msg);
	}
	free(err);
	buf_free(&out);
	free_argv(argv);
}

/* supervise waits for the container's init to exit, then records it:
 * exited, or restarting when the policy says the run is followed by
 * another (so that exited is only ever written once the shim is done). */
static void supervise(struct state *st)
{
	health_begin();
	while (!init_exited)
		poll_once(-1);
	health_end();
	drain();
	compress_wait(); /* exited: the log is complete, and in its final files */
	if (stdin_w >= 0) { /* the run's streams are gone */
		close(stdin_w);
		stdin_w = -1;
	}
	pending.len = 0;
	st->oom_killed = oom_killed();
	delete_runtime_state();
	int code = exit_code_of(init_status);
	st->status = ST_EXITED;
	st->exit_code = code;
	real_now(&st->finished);
	if (policy_restarts(code, st->restart_count) && !stopping()) {
		st->status = ST_RESTARTING;
		st->pid = 0;
		st->init_start = 0;
	}
	/* The event before the state: whoever sees the exit (Wait, then a
	 * removal) finds the die already in the journal. */
	char *code_s = str_int(code);
	struct buf dur = {0};
	buf_int(&dur, ts_diff(&st->finished, &st->started) / 1000000000);
	buf_putc(&dur, 0);
	record_event("die", "exitCode", code_s, "execDuration", dur.p, NULL);
	buf_free(&dur);
	free(code_s);
	record_state(st);
}

/* sleep_unless_stopping waits d ns and reports 1, or 0 as soon as the
 * engine starts stopping the container. */
static int sleep_unless_stopping(int64_t d)
{
	int64_t deadline = mono_ns() + d;
	for (;;) {
		if (stopping())
			return 0;
		int64_t left = deadline - mono_ns();
		if (left <= 0)
			return 1;
		poll_once(left < STOP_POLL_NS ? left : STOP_POLL_NS);
	}
}

static int64_t ts_diff(const struct timespec *a, const struct timespec *b)
{
	return ((int64_t)a->tv_sec - b->tv_sec) * 1000000000 + (a->tv_nsec - b->tv_nsec);
}

/* run supervises the container until it exits for good: each run is
 * recorded when it ends, and restarted as the policy says unless the
 * engine is stopping the container (back-off as Docker's). */
static void run(struct state st)
{
	int64_t delay = 0;
	for (;;) {
		supervise(&st);
		if (st.status != ST_RESTARTING)
			return;
		for (;;) {
			int64_t ran = ts_diff(&st.finished, &st.started);
			delay = delay == 0 || ran >= BACKOFF_RESET_NS ? BACKOFF_MIN_NS
				: 2 * delay < BACKOFF_MAX_NS	    ? 2 * delay
								    : BACKOFF_MAX_NS;
			if (!sleep_unless_stopping(delay)) {
				st.status = ST_EXITED;
				record_state(&st);
				return;
			}
			st.restart_count++;
			struct state next;
			char *err = NULL;
			if (start(&next, st.restart_count, &err) == 0) {
				free(st.error);
				st = next;
				break;
			}
			/* A failed start counts as a failed run, as in Docker. */
			logmsg("restart: ", err, NULL);
			struct timespec now;
			real_now(&now);
			free(st.error);
			st.error = err;
			st.exit_code = 128;
			st.started = st.finished = now;
			st.status = ST_EXITED;
			st.pid = 0;
			st.init_start = 0;
			if (policy_restarts(st.exit_code, st.restart_count) && !stopping())
				st.status = ST_RESTARTING;
			record_state(&st);
			if (st.status != ST_RESTARTING)
				return;
		}
		if (stopping()) /* stopped while it was being restarted: the engine's signal may have missed it */
			kill(st.pid, SIGKILL);
	}
}

/* start_removal starts `BERTH container rm ID` in its own session, without
 * waiting for it: the shim's exit is what Stop and Wait watch for, and the
 * removal waits for the container's lock, which a Stop may hold. */
static void start_removal(void)
{
	if (!O.berth || !*O.berth) {
		logf_shim("auto-remove: no --berth given");
		return;
	}
	char *argv[] = {O.berth, "--root", O.root, "--run-dir", O.run_dir, "--runtime", O.runtime,
			"container", "rm", O.id, NULL};
	int fds[3] = {-1, -1, 2};
	char *err = NULL;
	if (spawn(argv, fds, 3, 1, &err) < 0) {
		logmsg("auto-remove: ", err, NULL);
		free(err);
	}
}

static void not_ready(const char *msg)
{
	if (ready_fd < 0)
		return;
	(void)!write(ready_fd, msg, strlen(msg));
	close(ready_fd);
	ready_fd = -1;
}

int shim_main(int argc, char **argv)
{
	/* The readiness pipe is for the shim alone: the runtime and the
	 * container must not inherit it, or its EOF would wait for them. */
	if (fcntl(READY_FD, F_SETFD, FD_CLOEXEC) == 0)
		ready_fd = READY_FD;
	char *err = parse_args(argc, argv);
	if (err) {
		char *msg = str_cat("berth shim: ", err, "\n", NULL);
		(void)!write(2, msg, strlen(msg));
		not_ready(msg);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	dir = str_cat(O.root, "/containers/", O.id, NULL);
	log_path = path_of(LOG_FILE);
	for (int k = 0; k < 3; k++)
		streams[k].fd = -1;
	if (sig_fd < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		char *msg = str_cat("become child subreaper: ", strerror(errno), NULL);
		logmsg("start: ", msg, NULL);
		not_ready(msg);
		return 1;
	}
	listen_attach();
	struct state st;
	if (start(&st, 0, &err) < 0) {
		logmsg("start: ", err, NULL);
		not_ready(err);
		close_attach();
		return 1;
	}
	run(st);
	close_attach();
	if (log_fd >= 0)
		close(log_fd);
	if (O.auto_remove)
		start_removal();
	return 0;
}
