/* The shim's small helpers: buffers, JSON and time text, files, processes, sockets. */
#define _GNU_SOURCE
#include "shim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

void die_oom(void)
{
	static const char msg[] = "berth-shim: out of memory\n";
	(void)!write(2, msg, sizeof msg - 1);
	_exit(70);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die_oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die_oom();
	return p;
}

char *str_vcat(const char *first, va_list ap)
{
	struct buf b = {0};
	for (const char *s = first; s; s = va_arg(ap, const char *))
		buf_puts(&b, s);
	buf_putc(&b, 0);
	return b.p;
}

char *str_cat(const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	char *s = str_vcat(first, ap);
	va_end(ap);
	return s;
}

char *str_int(long long v)
{
	struct buf b = {0};
	buf_int(&b, v);
	buf_putc(&b, 0);
	return b.p;
}

void buf_grow(struct buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return;
	size_t c = b->cap ? b->cap : 64;
	while (c - b->len < n)
		c *= 2;
	b->p = xrealloc(b->p, c);
	b->cap = c;
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

void buf_putc(struct buf *b, char c) { buf_put(b, &c, 1); }

void buf_uint(struct buf *b, unsigned long long v)
{
	char tmp[24];
	int i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_put(b, tmp + i, sizeof tmp - i);
}

void buf_int(struct buf *b, long long v)
{
	if (v < 0) {
		buf_putc(b, '-');
		buf_uint(b, -(unsigned long long)v);
		return;
	}
	buf_uint(b, (unsigned long long)v);
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* utf8_len is the length of the valid UTF-8 sequence at s (n bytes left),
 * or 0 when it is not one (Go's utf8.DecodeRune rules: no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		need = 2;
	else if (c < 0xF0) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c < 0xF5) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need;
}

void buf_json_string(struct buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	buf_grow(b, n + 2);
	buf_putc(b, '"');
	size_t start = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if (c >= 0x20 && c != '"' && c != '\\') {
				i++;
				continue;
			}
			buf_put(b, s + start, i - start);
			switch (c) {
			case '"':
			case '\\':
				buf_putc(b, '\\');
				buf_putc(b, (char)c);
				break;
			case '\n':
				buf_puts(b, "\\n");
				break;
			case '\r':
				buf_puts(b, "\\r");
				break;
			case '\t':
				buf_puts(b, "\\t");
				break;
			default: {
				char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
				buf_put(b, u, 6);
			}
			}
			start = ++i;
			continue;
		}
		size_t l = utf8_len(s + i, n - i);
		if (!l) {
			buf_put(b, s + start, i - start);
			buf_puts(b, "\\ufffd");
			start = ++i;
			continue;
		}
		i += l;
	}
	buf_put(b, s + start, n - start);
	buf_putc(b, '"');
}

void buf_time(struct buf *b, const struct timespec *t)
{
	struct tm tm;
	time_t sec = t->tv_sec;
	gmtime_r(&sec, &tm);
	char tmp[64];
	int n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	buf_put(b, tmp, (size_t)n);
	long ns = t->tv_nsec;
	if (ns > 0) {
		char frac[10];
		for (int i = 8; i >= 0; i--) {
			frac[i] = (char)('0' + ns % 10);
			ns /= 10;
		}
		int len = 9;
		while (len > 0 && frac[len - 1] == '0')
			len--;
		buf_putc(b, '.');
		buf_put(b, frac, (size_t)len);
	}
	buf_putc(b, 'Z');
}

int64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void real_now(struct timespec *t) { clock_gettime(CLOCK_REALTIME, t); }

void logf_shim(const char *msg)
{
	struct buf b = {0};
	struct timespec now;
	real_now(&now);
	buf_time(&b, &now);
	buf_putc(&b, ' ');
	buf_puts(&b, msg);
	buf_putc(&b, '\n');
	(void)!write(2, b.p, b.len);
	buf_free(&b);
}

int parse_int(const char *s, long long *v)
{
	if (!*s)
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end || isspace((unsigned char)*s))
		return -1;
	*v = x;
	return 0;
}

/* parse_duration reads Go's duration syntax: "0", or one or more of a
 * decimal number (a fraction allowed) followed by ns, us, µs, μs, ms, s, m
 * or h; an optional leading sign. */
int parse_duration(const char *s, int64_t *out)
{
	int neg = 0;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	if (!*s)
		return -1;
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = {
	    {"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000}, {"ms", 1000000},
	    {"s", 1000000000}, {"m", 60LL * 1000000000}, {"h", 3600LL * 1000000000},
	};
	uint64_t total = 0;
	while (*s) {
		uint64_t whole = 0, frac = 0, scale = 1;
		int digits = 0;
		while (*s >= '0' && *s <= '9') {
			if (whole > (UINT64_MAX - 9) / 10)
				return -1;
			whole = whole * 10 + (uint64_t)(*s++ - '0');
			digits++;
		}
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9') {
				if (scale < 1000000000000000000ULL) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
				s++;
				digits++;
			}
		}
		if (!digits)
			return -1;
		const char *u = s;
		while (*s && *s != '.' && (*s < '0' || *s > '9'))
			s++;
		size_t ul = (size_t)(s - u);
		int64_t unit = 0;
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			if (strlen(units[i].name) == ul && !memcmp(units[i].name, u, ul))
				unit = units[i].ns;
		if (!unit)
			return -1;
		if (whole > (uint64_t)INT64_MAX / (uint64_t)unit)
			return -1;
		uint64_t v = whole * (uint64_t)unit + (uint64_t)((long double)frac * (long double)unit / (long double)scale);
		total += v;
		if (total > (uint64_t)INT64_MAX)
			return -1;
	}
	*out = neg ? -(int64_t)total : (int64_t)total;
	return 0;
}

/* frac_digits writes v/10^prec with its fraction, trailing zeros dropped. */
static void frac_digits(struct buf *b, uint64_t v, int prec)
{
	uint64_t p = 1;
	for (int i = 0; i < prec; i++)
		p *= 10;
	buf_uint(b, v / p);
	uint64_t f = v % p;
	if (!f)
		return;
	char tmp[20];
	for (int i = prec - 1; i >= 0; i--) {
		tmp[i] = (char)('0' + f % 10);
		f /= 10;
	}
	int len = prec;
	while (len > 0 && tmp[len - 1] == '0')
		len--;
	buf_putc(b, '.');
	buf_put(b, tmp, (size_t)len);
}

void format_duration(struct buf *b, int64_t d)
{
	uint64_t u = d < 0 ? -(uint64_t)d : (uint64_t)d;
	if (d < 0)
		buf_putc(b, '-');
	if (u < 1000000000ULL) {
		if (u == 0)
			buf_puts(b, "0s");
		else if (u < 1000) {
			buf_uint(b, u);
			buf_puts(b, "ns");
		} else if (u < 1000000) {
			frac_digits(b, u, 3);
			buf_puts(b, "\xc2\xb5s");
		} else {
			frac_digits(b, u, 6);
			buf_puts(b, "ms");
		}
		return;
	}
	uint64_t secs = u / 1000000000ULL, h = secs / 3600, m = secs / 60 % 60;
	if (h) {
		buf_uint(b, h);
		buf_putc(b, 'h');
	}
	if (h || m) {
		buf_uint(b, m);
		buf_putc(b, 'm');
	}
	frac_digits(b, (secs % 60) * 1000000000ULL + u % 1000000000ULL, 9);
	buf_putc(b, 's');
}

/* errtext is strerror with a lower-case first letter, as Go words errors. */
static const char *errtext(int e, char *scratch, size_t n)
{
	snprintf(scratch, n, "%s", strerror(e));
	if (scratch[0] && scratch[1] && !isupper((unsigned char)scratch[1]))
		scratch[0] = (char)tolower((unsigned char)scratch[0]);
	return scratch;
}

int write_file_atomic(const char *path, const void *data, size_t n, mode_t mode, char **err)
{
	char e[128];
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path)) : xstrdup(".");
	if (!dir)
		die_oom();
	if (!*dir) {
		free(dir);
		dir = xstrdup("/");
	}
	char *tmp = str_cat(dir, "/.", slash ? slash + 1 : path, ".tmpXXXXXX", NULL);
	int fd = mkostemp(tmp, O_CLOEXEC);
	int rc = -1, saved = 0;
	if (fd < 0) {
		saved = errno;
		goto out;
	}
	const char *p = data;
	size_t left = n;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			saved = errno;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	if (!saved && fchmod(fd, mode) < 0)
		saved = errno;
	if (!saved && fsync(fd) < 0)
		saved = errno;
	if (close(fd) < 0 && !saved)
		saved = errno;
	if (!saved && rename(tmp, path) < 0)
		saved = errno;
	if (saved) {
		unlink(tmp);
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (rc && err)
		*err = str_cat("write ", path, ": ", errtext(saved, e, sizeof e), NULL);
	free(tmp);
	free(dir);
	return rc;
}

int read_file(const char *path, struct buf *out, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char tmp[4096];
	while (out->len < max) {
		size_t want = max - out->len < sizeof tmp ? max - out->len : sizeof tmp;
		ssize_t r = read(fd, tmp, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		buf_put(out, tmp, (size_t)r);
	}
	close(fd);
	return 0;
}

long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) < 0 ? 0 : (long long)st.st_size;
}

int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int read_pid_file(const char *path, pid_t *pid)
{
	struct buf b = {0};
	if (read_file(path, &b, 64) < 0)
		return -1;
	buf_putc(&b, 0);
	char *s = b.p;
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	long long v;
	int rc = parse_int(s, &v);
	buf_free(&b);
	if (rc < 0 || v <= 0 || v > INT_MAX)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

int proc_start(pid_t pid, unsigned long long *start, int *zombie)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* fields after the command: field 3 (state) is the first; 22 is the 20th */
	char *tok, *save = NULL;
	int i = 0;
	for (tok = strtok_r(p, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), i++) {
		if (i == 0 && zombie)
			*zombie = (tok[0] == 'Z' || tok[0] == 'X') && !tok[1];
		if (i == 19) {
			*start = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -1;
}

int mkdir_all(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_rune(struct buf *b, unsigned r)
{
	if (r < 0x80)
		buf_putc(b, (char)r);
	else if (r < 0x800) {
		buf_putc(b, (char)(0xC0 | r >> 6));
		buf_putc(b, (char)(0x80 | (r & 0x3F)));
	} else if (r < 0x10000) {
		buf_putc(b, (char)(0xE0 | r >> 12));
		buf_putc(b, (char)(0x80 | (r >> 6 & 0x3F)));
		buf_putc(b, (char)(0x80 | (r & 0x3F)));
	} else {
		buf_putc(b, (char)(0xF0 | r >> 18));
		buf_putc(b, (char)(0x80 | (r >> 12 & 0x3F)));
		buf_putc(b, (char)(0x80 | (r >> 6 & 0x3F)));
		buf_putc(b, (char)(0x80 | (r & 0x3F)));
	}
}

/* json_unquote decodes the body of a JSON string (without its quotes). */
static void json_unquote(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 >= n) {
			buf_putc(out, s[i]);
			continue;
		}
		char c = s[++i];
		switch (c) {
		case 'n':
			buf_putc(out, '\n');
			break;
		case 't':
			buf_putc(out, '\t');
			break;
		case 'r':
			buf_putc(out, '\r');
			break;
		case 'b':
			buf_putc(out, '\b');
			break;
		case 'f':
			buf_putc(out, '\f');
			break;
		case 'u': {
			unsigned r = 0;
			int ok = i + 4 < n;
			for (int k = 1; ok && k <= 4; k++) {
				int h = hexval((unsigned char)s[i + k]);
				ok = h >= 0;
				r = r << 4 | (unsigned)(h < 0 ? 0 : h);
			}
			if (!ok) {
				buf_putc(out, c);
				break;
			}
			i += 4;
			if (r >= 0xD800 && r < 0xDC00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
				unsigned lo = 0;
				int ok2 = 1;
				for (int k = 3; k <= 6; k++) {
					int h = hexval((unsigned char)s[i + k]);
					ok2 = ok2 && h >= 0;
					lo = lo << 4 | (unsigned)(h < 0 ? 0 : h);
				}
				if (ok2 && lo >= 0xDC00 && lo < 0xE000) {
					r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				}
			}
			if (r >= 0xD800 && r < 0xE000)
				r = 0xFFFD;
			put_rune(out, r);
			break;
		}
		default:
			buf_putc(out, c);
		}
	}
}

char *last_error_message(const char *log, size_t n)
{
	struct buf msg = {0};
	const char *end = log + n;
	for (const char *line = log; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		size_t ll = (size_t)(le - line);
		if (memmem(line, ll, "\"level\":\"error\"", 15) || memmem(line, ll, "\"level\":\"fatal\"", 15)) {
			const char *k = memmem(line, ll, "\"msg\":\"", 7);
			if (k) {
				const char *v = k + 7, *j = v;
				while (j < le && *j != '"')
					j += *j == '\\' ? 2 : 1;
				if (j < le) {
					msg.len = 0;
					json_unquote(&msg, v, (size_t)(j - v));
				}
			}
		}
		line = le + 1;
	}
	/* its words, one space between them */
	struct buf out = {0};
	for (size_t i = 0; i < msg.len;) {
		while (i < msg.len && isspace((unsigned char)msg.p[i]))
			i++;
		size_t j = i;
		while (j < msg.len && !isspace((unsigned char)msg.p[j]))
			j++;
		if (j > i) {
			if (out.len)
				buf_putc(&out, ' ');
			buf_put(&out, msg.p + i, j - i);
		}
		i = j;
	}
	buf_putc(&out, 0);
	buf_free(&msg);
	return out.p;
}

const char *exit_text(int status, char *scratch, size_t n)
{
	if (WIFSIGNALED(status)) {
		char name[64];
		snprintf(name, sizeof name, "%s", strsignal(WTERMSIG(status)));
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		snprintf(scratch, n, "signal: %s", name);
	} else
		snprintf(scratch, n, "exit status %d", WEXITSTATUS(status));
	return scratch;
}

int exit_code_of(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* cloexec_from marks every descriptor from lo on close-on-exec. */
static void cloexec_from(int lo)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lo, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 1 << 20)
		max = 1 << 20;
	for (int fd = lo; fd < max; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

pid_t spawn(char *const argv[], const int *fds, int nfds, int setsid_, char **err)
{
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		char e[128];
		if (err)
			*err = str_cat("pipe: ", errtext(errno, e, sizeof e), NULL);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		char e[128];
		int saved = errno;
		close(ep[0]);
		close(ep[1]);
		if (err)
			*err = str_cat("fork/exec ", argv[0], ": ", errtext(saved, e, sizeof e), NULL);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (setsid_)
			setsid();
		/* Move the sources out of the way of their targets first. */
		int high[16];
		int floor = nfds > 3 ? nfds : 3;
		for (int i = 0; i < nfds && i < 16; i++) {
			int src = fds[i];
			if (src < 0)
				src = open("/dev/null", O_RDWR | O_CLOEXEC);
			high[i] = fcntl(src, F_DUPFD_CLOEXEC, floor + 16);
		}
		for (int i = 0; i < nfds && i < 16; i++)
			dup2(high[i], i);
		cloexec_from(nfds);
		execv(argv[0], argv);
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
		char t[128];
		waitpid(pid, NULL, 0);
		if (err)
			*err = str_cat("fork/exec ", argv[0], ": ", errtext(e, t, sizeof t), NULL);
		return -1;
	}
	return pid;
}

/* wait_success waits for child pid: 0 when it exits 0, else -1 with *err
 * saying how it ended. */
static int wait_success(pid_t pid, char **err)
{
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			char e[128];
			if (err)
				*err = str_cat("wait: ", errtext(errno, e, sizeof e), NULL);
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (err) {
		char t[96];
		*err = xstrdup(exit_text(status, t, sizeof t));
	}
	return -1;
}

int run_wait(char *const argv[], const int *fds, int nfds, char **err)
{
	pid_t pid = spawn(argv, fds, nfds, 0, err);
	return pid < 0 ? -1 : wait_success(pid, err);
}

int run_output(char *const argv[], struct buf *out, char **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		char e[128];
		if (err)
			*err = str_cat("pipe: ", errtext(errno, e, sizeof e), NULL);
		return -1;
	}
	int fds[3] = {-1, p[1], p[1]};
	pid_t pid = spawn(argv, fds, 3, 0, err);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	char tmp[4096];
	for (;;) {
		ssize_t r = read(p[0], tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out->len < 64 << 10)
			buf_put(out, tmp, (size_t)r);
	}
	close(p[0]);
	return wait_success(pid, err);
}

int listen_unix(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	if (n >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, name, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	if (name[0] == '@') {
		sa.sun_path[0] = 0;
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int recv_fd(int conn)
{
	char data[256];
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	ssize_t r;
	do
		r = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	int got = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < k; i++) {
			if (got < 0)
				got = fds[i];
			else
				close(fds[i]);
		}
	}
	if (got < 0)
		errno = ENOENT;
	return got;
}

int peer_is_allowed(int conn)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	return cred.uid == 0 || cred.uid == getuid();
}
