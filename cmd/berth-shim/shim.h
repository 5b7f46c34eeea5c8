/*
 * berth-shim: berth's per-container shim and, bind-mounted into a
 * container at /.berth/init, that container's init. See main.c for the
 * protocol with the engine (engine/start.go, engine/restart.go,
 * engine/health.go) and engine/internal/ctrstate for the files it shares
 * with it.
 *
 * It is C, not Go, for one reason: it stays beside every container for
 * as long as the container runs, and a Go program that only sleeps holds
 * about 1.8 MiB of resident memory on its own (runtime, threads, the
 * pages of its binary), more than podman's conmon with all its work.
 * This program is single-threaded: one poll loop serves the container's
 * output, the attach clients, the healthcheck and the reaping of
 * children.
 */
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Names shared with engine/internal/ctrstate. */
#define STATE_FILE "state.json"
#define LOG_FILE "container.log"
#define RUNTIME_LOG "runc.log"
#define INIT_PID_FILE "init.pid"
#define BUNDLE_DIR "bundle"
#define PAUSED_FILE "paused"
#define HEALTH_FILE "health.json"
#define STOPPING_FILE "stopping"
#define RESTART_POLICY_FILE "restart-policy"
#define STATE_VERSION 1

/* The event journal in the state root, shared with internal/eventlog. */
#define EVENTS_FILE "events.jsonl"
#define EVENTS_MAX (4 << 20)

enum {
	FRAME_STDOUT = 1,
	FRAME_STDERR = 2,
	FRAME_STDIN = 3,
	FRAME_CLOSE_STDIN = 4,
	FRAME_RESIZE = 5,
};

/* util.c: a growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};
void buf_grow(struct buf *b, size_t n);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_int(struct buf *b, long long v);
void buf_uint(struct buf *b, unsigned long long v);
void buf_json_string(struct buf *b, const char *s, size_t n);
void buf_time(struct buf *b, const struct timespec *t); /* RFC 3339, as Go's RFC3339Nano in UTC */
void buf_free(struct buf *b);

/* util.c: everything else small. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *str_cat(const char *first, ...); /* NULL-terminated list of strings, concatenated */
char *str_vcat(const char *first, va_list ap);
char *str_int(long long v);
int64_t mono_ns(void);
void real_now(struct timespec *t);
void logf_shim(const char *msg); /* a line to stderr (shim.log), with the time */
__attribute__((noreturn)) void die_oom(void);
int parse_duration(const char *s, int64_t *ns); /* Go's time.ParseDuration; 0 ok, -1 bad */
void format_duration(struct buf *b, int64_t ns); /* Go's Duration.String */
int parse_int(const char *s, long long *v);     /* whole string, decimal */
int write_file_atomic(const char *path, const void *data, size_t n, mode_t mode, char **err);
int read_file(const char *path, struct buf *out, size_t max);
long long file_size(const char *path);
int file_exists(const char *path);
int read_pid_file(const char *path, pid_t *pid);
int proc_start(pid_t pid, unsigned long long *start, int *zombie);
int mkdir_all(const char *path, mode_t mode);
char *last_error_message(const char *log, size_t n); /* the runtime's JSON log; malloc'd, "" if none */
const char *exit_text(int status, char *scratch, size_t n); /* Go's ProcessState.String */
int exit_code_of(int status); /* 128+n for signal n */

/*
 * util.c: spawn starts argv[0] (a path) with fds[i] as its descriptor i,
 * every other descriptor closed, the signal mask and dispositions reset.
 * setsid: in a session of its own. Returns the PID, or -1 with *err set
 * (malloc'd) when it could not be started (including a failed exec).
 */
pid_t spawn(char *const argv[], const int *fds, int nfds, int setsid_, char **err);
/* run_wait runs argv (see spawn) and waits for it; 0 when it exits 0. */
int run_wait(char *const argv[], const int *fds, int nfds, char **err);
/* run_output is run_wait with stdin on /dev/null and stdout and stderr captured (64 KiB). */
int run_output(char *const argv[], struct buf *out, char **err);

/* unix sockets (util.c) */
int listen_unix(const char *name); /* a path, or an abstract name starting with '@' */
int recv_fd(int conn);             /* the first descriptor of one message, or -1 */
int peer_is_allowed(int conn);     /* uid 0 or this process's */

/* init.c */
int init_main(int argc, char **argv);

/* shim.c */
int shim_main(int argc, char **argv);

#endif
