/*
 * The container's init (/.berth/init, `init: true`): PID 1 that starts the
 * command, forwards signals to it and reaps every zombie in the container.
 *
 *   init [--ready-fd=N] [--] COMMAND [ARG...]
 *
 * It exits with the command's exit code (128+n if signal n killed it; 127
 * when the command is not found, 126 when it cannot be run). Once the
 * signals it forwards are blocked (so queued for it, never lost, even as a
 * PID 1 that the kernel would otherwise spare them), and before it starts
 * the command, it writes one byte to descriptor N and closes it: the shim
 * waits for that byte before it reports the container running, so no stop
 * signal can arrive before this process takes it.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Busybox sh, httpd and sleep run as PID 1 ignore SIGTERM; as the init's
 * child they do not. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

static void init_error(const char *msg)
{
	struct buf b = {0};
	buf_puts(&b, "berth-init: ");
	buf_puts(&b, msg);
	buf_putc(&b, '\n');
	(void)!write(2, b.p, b.len);
	buf_free(&b);
}

/* executable: 0, or the errno that makes path no command. */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111))
		return EACCES;
	return 0;
}

/* look_path finds name as a shell would through $PATH (a name with a slash
 * is taken as it is). On failure it returns NULL with *code 127 (not found)
 * or 126 (found, not runnable) and prints why, worded as os/exec does. */
static char *look_path(const char *name, int *code)
{
	struct buf msg = {0};
	if (strchr(name, '/')) {
		int e = executable(name);
		if (!e)
			return xstrdup(name);
		*code = e == EACCES ? 126 : 127;
		buf_puts(&msg, "exec: \"");
		buf_puts(&msg, name);
		buf_puts(&msg, e == EACCES ? "\": permission denied" : "\": no such file or directory");
		buf_putc(&msg, 0);
		init_error(msg.p);
		buf_free(&msg);
		return NULL;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	int denied = 0;
	for (const char *p = path;;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n && p[0] == '/') { /* never a command found relative to the working directory */
			char *cand = xmalloc(n + strlen(name) + 2);
			memcpy(cand, p, n);
			cand[n] = '/';
			strcpy(cand + n + 1, name);
			int e = executable(cand);
			if (!e)
				return cand;
			denied = denied || e == EACCES;
			free(cand);
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	*code = denied ? 126 : 127;
	buf_puts(&msg, "exec: \"");
	buf_puts(&msg, name);
	buf_puts(&msg, denied ? "\": permission denied" : "\": executable file not found in $PATH");
	buf_putc(&msg, 0);
	init_error(msg.p);
	buf_free(&msg);
	return NULL;
}

int init_main(int argc, char **argv)
{
	int ready = -1;
	int i = 1;
	if (i < argc && !strncmp(argv[i], "--ready-fd=", 11)) {
		long long n;
		if (parse_int(argv[i] + 11, &n) < 0 || n < 3 || n > 1 << 20) {
			char *m = str_cat("bad ", argv[i], NULL);
			init_error(m);
			return 2;
		}
		ready = (int)n;
		i++;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc) {
		init_error("no command");
		return 2;
	}

	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++)
		sigaddset(&set, forwarded[k]);
	sigprocmask(SIG_BLOCK, &set, &old);
	if (ready >= 0) {
		(void)!write(ready, "r", 1);
		close(ready);
	}

	/* Not PID 1 (a container sharing the host's PID namespace): orphans
	 * would go past this process; as a subreaper it still reaps them. */
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	int code = 127;
	char *path = look_path(argv[i], &code);
	if (!path)
		return code;
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		init_error("pipe failed");
		return 127;
	}
	pid_t child = fork();
	if (child < 0) {
		init_error("fork failed");
		return 127;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		execv(path, argv + i);
		int e = errno;
		(void)!write(ep[1], &e, sizeof e);
		_exit(127);
	}
	close(ep[1]);
	int e = 0;
	ssize_t r;
	do
		r = read(ep[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	close(ep[0]);
	if (r == (ssize_t)sizeof e) {
		char *m = str_cat("exec ", path, ": ", strerror(e), NULL);
		init_error(m);
		waitpid(child, NULL, 0);
		return e == EACCES || e == ENOEXEC ? 126 : 127;
	}

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t p = waitpid(-1, &status, WNOHANG);
			if (p < 0 && errno == EINTR)
				continue;
			if (p <= 0)
				break;
			if (p == child)
				return exit_code_of(status);
		}
	}
}
