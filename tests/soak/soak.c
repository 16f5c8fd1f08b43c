/*
 * soak: many clients, each driving many sockets through tisockd at once,
 * for a fixed time, with every byte checked end to end.
 *
 *	soak DAEMON [SECONDS [CLIENTS [SOCKETS [SEED]]]]
 *
 * One process, one poll loop: a loopback echo server and a sink server,
 * and CLIENTS control connections speaking raw JSON-RPC, each with
 * SOCKETS slots.  A slot repeats a random life until the time is up:
 *  - echo: connect; rounds of tcp.write of 1 B to 64 KiB, then the same
 *    bytes back through tcp.read or through pump (tcp.data), compared
 *    byte for byte; then shutdown and read to EOF, or close at once;
 *  - sink: connect; writes; shutdown; the sink answers with the count and
 *    FNV-1a hash of what it got, which must equal what was sent; close.
 * Every answer must be a success.  At the end it prints bytes moved,
 * operations, errors by kind, the daemon's peak RSS (VmHWM) and most fds,
 * and fails on any lost or corrupted byte, any error, a daemon that did
 * not exit 0, or a peak RSS over the budget (the daemon's start-up RSS
 * plus CLIENTS x client-budget-bytes).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "proto-base64.h"
#include "spawn.h"

#define BUDGET		(4u << 20)	/* client-budget-bytes given to the daemon */
#define MAX_PAYLOAD	65536
#define MAX_FDS		4096

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t
fnv(uint64_t h, const unsigned char *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static void
nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

struct buf {
	unsigned char	*p;
	size_t		 len, off, cap;
};

static void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		if (b->off > 0) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->len + n > b->cap) {
			b->cap = (b->len + n) * 2;
			b->p = realloc(b->p, b->cap);
			if (!b->p)
				abort();
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static size_t
buf_used(const struct buf *b)
{
	return b->len - b->off;
}

/* Writes what fd takes.  false on a hard error. */
static bool
buf_flush(struct buf *b, int fd)
{
	while (buf_used(b) > 0) {
		ssize_t k = send(fd, b->p + b->off, buf_used(b), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0)
			return errno == EAGAIN || errno == EINTR;
		b->off += (size_t)k;
	}
	b->off = b->len = 0;
	return true;
}

/* ---- statistics ------------------------------------------------------------ */

static struct {
	uint64_t	bytes_sent, bytes_back, bytes_sunk, ops, lives, echo_rounds, pumps;
	uint64_t	corrupt, lost;
	char		errors[32][96];
	uint64_t	error_n[32];
	int		nerrors;
} st;

static void
count_error(const char *kind)
{
	for (int i = 0; i < st.nerrors; i++)
		if (strcmp(st.errors[i], kind) == 0) {
			st.error_n[i]++;
			return;
		}
	if (st.nerrors < 32) {
		snprintf(st.errors[st.nerrors], sizeof(st.errors[0]), "%s", kind);
		st.error_n[st.nerrors++] = 1;
	}
}

/* ---- the servers ---------------------------------------------------------- */

enum peer_kind { ECHO, SINK };

struct peer {
	enum peer_kind	 kind;
	int		 fd;
	struct buf	 out;
	bool		 eof;
	uint64_t	 count, hash;	/* SINK */
};

static struct peer *peers[MAX_FDS];
static int lfd_echo, lfd_sink, port_echo, port_sink;

static int
listen_loopback(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		abort();
	nonblock(fd);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
peer_accept_all(int lfd, enum peer_kind kind)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct peer *p = calloc(1, sizeof(*p));

		if (!p || fd >= MAX_FDS)
			abort();
		p->kind = kind;
		p->fd = fd;
		p->hash = FNV_INIT;
		peers[fd] = p;
	}
}

static void
peer_close(struct peer *p)
{
	peers[p->fd] = NULL;
	close(p->fd);
	free(p->out.p);
	free(p);
}

/* Echo: back what came, reading only while little is queued.  Sink: count and hash. */
static void
peer_io(struct peer *p, short revents)
{
	unsigned char b[65536];
	ssize_t n;

	if (!buf_flush(&p->out, p->fd)) {
		peer_close(p);
		return;
	}
	if (p->eof) {
		if (buf_used(&p->out) == 0)
			peer_close(p);	/* all answered: close (FIN) */
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)) || buf_used(&p->out) > (1u << 20))
		return;
	n = recv(p->fd, b, sizeof(b), MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			peer_close(p);
		return;
	}
	if (n == 0) {
		p->eof = true;
		if (p->kind == SINK) {
			uint64_t w[2] = { p->count, p->hash };

			buf_put(&p->out, w, sizeof(w));
		}
		if (!buf_flush(&p->out, p->fd) || buf_used(&p->out) == 0)
			peer_close(p);
		return;
	}
	if (p->kind == ECHO) {
		buf_put(&p->out, b, (size_t)n);
		if (!buf_flush(&p->out, p->fd))
			peer_close(p);
	} else {
		p->count += (uint64_t)n;
		p->hash = fnv(p->hash, b, (size_t)n);
	}
}

/* ---- the clients ----------------------------------------------------------- */

enum slot_state {
	S_IDLE,
	S_CONNECTING,
	S_WRITING,		/* echo: tcp.write of the round's payload */
	S_READING,		/* echo: tcp.read until the payload is back */
	S_PUMP_ON,		/* echo: tcp.pump enable answered? */
	S_PUMPING,		/* echo: tcp.data until the payload is back */
	S_PUMP_OFF,
	S_SINK_WRITING,
	S_SHUTTING,		/* tcp.shutdown */
	S_DRAINING,		/* tcp.read to EOF */
	S_CLOSING,
	S_DONE,
};

struct slot {
	enum slot_state	 state;
	enum peer_kind	 kind;
	long long	 sock;		/* daemon socket id */
	long long	 waiting;	/* request id awaited, 0: none */
	int		 rounds;
	size_t		 want, got;	/* echo round: bytes sent, bytes back */
	uint64_t	 hash_sent, hash_got;	/* this round (echo) or this life (sink) */
	uint64_t	 sent_total;
	unsigned char	 tail[16];	/* sink: count + hash from the server */
	size_t		 ntail;
};

struct client {
	int		 fd;
	struct buf	 out, in;
	struct slot	*slots;
	int		 nslots;
	long long	 next_id;
};

static struct client *clients;
static int nclients, nslots;
static bool time_up;

static void
client_send(struct client *c, struct slot *s, const char *method, const char *params_fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
client_send(struct client *c, struct slot *s, const char *method, const char *params_fmt, ...)
{
	static char *line;
	static size_t cap;
	va_list ap;
	int n;

	if (!line) {
		cap = 2 * MAX_PAYLOAD + 1024;
		line = malloc(cap);
	}
	s->waiting = ++c->next_id;
	n = snprintf(line, cap, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\",\"params\":",
		     s->waiting, method);
	va_start(ap, params_fmt);
	n += vsnprintf(line + n, cap - (size_t)n, params_fmt, ap);
	va_end(ap);
	line[n++] = '}';
	line[n++] = '\n';
	buf_put(&c->out, line, (size_t)n);
	st.ops++;
}

static void
payload(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = rnd();

		memcpy(p + i, &r, n - i < 8 ? n - i : 8);
	}
}

/* Sends one write of a random payload and hashes it. */
static size_t
send_payload(struct client *c, struct slot *s)
{
	static unsigned char raw[MAX_PAYLOAD];
	static char b64[MAX_PAYLOAD * 2];
	size_t n = 1 + rnd() % MAX_PAYLOAD;

	payload(raw, n);
	s->hash_sent = fnv(s->hash_sent, raw, n);
	proto_base64_encode(b64, raw, n);
	b64[proto_base64_encoded_len(n)] = '\0';
	client_send(c, s, "tcp.write", "{\"socket\":%lld,\"data\":\"%s\"}", s->sock, b64);
	s->sent_total += n;
	st.bytes_sent += n;
	return n;
}

static void
start_life(struct client *c, struct slot *s)
{
	if (time_up) {
		s->state = S_DONE;
		return;
	}
	memset(s, 0, sizeof(*s));
	s->kind = rnd() % 3 ? ECHO : SINK;
	s->rounds = 1 + (int)(rnd() % 6);
	s->hash_sent = s->hash_got = FNV_INIT;
	s->state = S_CONNECTING;
	st.lives++;
	client_send(c, s, "tcp.connect", "{\"port\":%d,\"noDelay\":%s}",
		    s->kind == ECHO ? port_echo : port_sink, rnd() % 2 ? "true" : "false");
}

static void
echo_round(struct client *c, struct slot *s)
{
	s->hash_sent = s->hash_got = FNV_INIT;
	s->got = 0;
	s->want = send_payload(c, s);
	s->state = S_WRITING;
}

static void
end_life(struct client *c, struct slot *s)
{
	if (rnd() % 2) {
		s->state = S_SHUTTING;
		client_send(c, s, "tcp.shutdown", "{\"socket\":%lld}", s->sock);
	} else {
		s->state = S_CLOSING;
		client_send(c, s, "tcp.close", "{\"socket\":%lld}", s->sock);
	}
}

/* Bytes arrived for s (a read's answer or a tcp.data). */
static void
slot_bytes(struct slot *s, const char *b64)
{
	unsigned char raw[MAX_PAYLOAD * 2];
	ssize_t n = proto_base64_decode(raw, b64, strlen(b64));

	if (n < 0) {
		count_error("bad base64 from the daemon");
		return;
	}
	if (s->state == S_DRAINING && s->kind == SINK) {
		for (ssize_t i = 0; i < n; i++)
			if (s->ntail < sizeof(s->tail))
				s->tail[s->ntail++] = raw[i];
			else
				st.corrupt++;	/* the sink says 16 bytes, no more */
		return;
	}
	if (s->state == S_DRAINING) {
		st.corrupt += (uint64_t)n;	/* echo: nothing is left after a round */
		return;
	}
	s->hash_got = fnv(s->hash_got, raw, (size_t)n);
	s->got += (size_t)n;
	st.bytes_back += (uint64_t)n;
	if (s->got > s->want)
		st.corrupt++;
}

static void
round_done(struct client *c, struct slot *s)
{
	if (s->hash_got != s->hash_sent)
		st.corrupt++;
	st.echo_rounds++;
	if (--s->rounds > 0)
		echo_round(c, s);
	else
		end_life(c, s);
}

/* The awaited answer for s. */
static void
slot_answer(struct client *c, struct slot *s, const cJSON *m)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(m, "result");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(m, "error");
	const cJSON *v;

	s->waiting = 0;
	if (err) {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(err, "data");
		char kind[96];

		snprintf(kind, sizeof(kind), "%d %s",
			 cJSON_GetObjectItemCaseSensitive(err, "code")->valueint,
			 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "errname"))
				 ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "errname"))
				 : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message")));
		count_error(kind);
		if (s->sock) {
			s->state = S_CLOSING;
			client_send(c, s, "tcp.close", "{\"socket\":%lld,\"abort\":true}", s->sock);
		} else {
			start_life(c, s);
		}
		return;
	}
	switch (s->state) {
	case S_CONNECTING:
		s->sock = (long long)cJSON_GetObjectItemCaseSensitive(res, "socket")->valuedouble;
		if (s->kind == ECHO) {
			echo_round(c, s);
		} else {
			s->state = S_SINK_WRITING;
			send_payload(c, s);
		}
		break;
	case S_WRITING:
		if (rnd() % 2) {
			s->state = S_READING;
			client_send(c, s, "tcp.read", "{\"socket\":%lld,\"length\":%zu}", s->sock,
				    s->want - s->got);
		} else {
			s->state = S_PUMP_ON;
			st.pumps++;
			client_send(c, s, "tcp.pump", "{\"socket\":%lld,\"chunkSize\":%d}", s->sock,
				    (int)(1 + rnd() % 32768));
		}
		break;
	case S_READING:
		v = cJSON_GetObjectItemCaseSensitive(res, "data");
		if (!cJSON_IsString(v)) {
			st.lost++;	/* EOF before the bytes came back */
			end_life(c, s);
			break;
		}
		slot_bytes(s, v->valuestring);
		if (s->got < s->want)
			client_send(c, s, "tcp.read", "{\"socket\":%lld,\"length\":%zu}", s->sock,
				    s->want - s->got);
		else
			round_done(c, s);
		break;
	case S_PUMP_ON:
		s->state = S_PUMPING;
		if (s->got >= s->want) {	/* everything came with the answer's neighbours */
			s->state = S_PUMP_OFF;
			client_send(c, s, "tcp.pump", "{\"socket\":%lld,\"enable\":false}", s->sock);
		}
		break;
	case S_PUMP_OFF:
		round_done(c, s);
		break;
	case S_SINK_WRITING:
		if (s->rounds-- > 0) {
			send_payload(c, s);
		} else {
			s->state = S_SHUTTING;
			client_send(c, s, "tcp.shutdown", "{\"socket\":%lld}", s->sock);
		}
		break;
	case S_SHUTTING:
		s->state = S_DRAINING;
		client_send(c, s, "tcp.read", "{\"socket\":%lld}", s->sock);
		break;
	case S_DRAINING:
		v = cJSON_GetObjectItemCaseSensitive(res, "data");
		if (cJSON_IsString(v)) {
			slot_bytes(s, v->valuestring);
			client_send(c, s, "tcp.read", "{\"socket\":%lld}", s->sock);
			break;
		}
		if (s->kind == SINK) {
			uint64_t w[2];

			memcpy(w, s->tail, sizeof(w));
			if (s->ntail != sizeof(w) || w[0] != s->sent_total || w[1] != s->hash_sent)
				st.lost++;
			else
				st.bytes_sunk += s->sent_total;
		}
		s->state = S_CLOSING;
		client_send(c, s, "tcp.close", "{\"socket\":%lld}", s->sock);
		break;
	case S_CLOSING:
		start_life(c, s);
		break;
	default:
		count_error("an answer in an unexpected state");
		break;
	}
}

static struct slot *
slot_of_socket(struct client *c, long long sock)
{
	for (int i = 0; i < c->nslots; i++)
		if (c->slots[i].sock == sock && c->slots[i].state != S_IDLE)
			return &c->slots[i];
	return NULL;
}

static void
client_message(struct client *c, const char *line, size_t len)
{
	cJSON *m = cJSON_ParseWithLength(line, len);
	const cJSON *id, *method;

	if (!m) {
		count_error("a line that is not JSON");
		return;
	}
	id = cJSON_GetObjectItemCaseSensitive(m, "id");
	method = cJSON_GetObjectItemCaseSensitive(m, "method");
	if (cJSON_IsNumber(id)) {
		long long want = (long long)id->valuedouble;

		for (int i = 0; i < c->nslots; i++)
			if (c->slots[i].waiting == want) {
				slot_answer(c, &c->slots[i], m);
				break;
			}
	} else if (cJSON_IsString(method) && strcmp(method->valuestring, "tcp.data") == 0) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "params");
		struct slot *s = slot_of_socket(c,
			(long long)cJSON_GetObjectItemCaseSensitive(p, "socket")->valuedouble);
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(p, "data");

		if (s && cJSON_IsString(data)) {
			slot_bytes(s, data->valuestring);
			if (s->state == S_PUMPING && s->got >= s->want) {
				s->state = S_PUMP_OFF;
				client_send(c, s, "tcp.pump", "{\"socket\":%lld,\"enable\":false}",
					    s->sock);
			}
		} else if (!s) {
			count_error("tcp.data for no socket of ours");
		}
	} else if (cJSON_IsString(method)) {
		count_error(method->valuestring);	/* tcp.error, tcp.closed: unexpected here */
	}
	cJSON_Delete(m);
}

static bool
client_io(struct client *c, short revents)
{
	unsigned char b[1 << 16];
	ssize_t n;

	if (!buf_flush(&c->out, c->fd))
		return false;
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return true;
	n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	buf_put(&c->in, b, (size_t)n);
	for (;;) {
		unsigned char *start = c->in.p + c->in.off;
		unsigned char *nl = memchr(start, '\n', buf_used(&c->in));

		if (!nl)
			break;
		client_message(c, (const char *)start, (size_t)(nl - start));
		c->in.off += (size_t)(nl - start) + 1;
	}
	return buf_flush(&c->out, c->fd);
}

/* ---- the daemon's footprint --------------------------------------------------- */

static int
fds_of(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd";
	int seconds = argc > 2 ? atoi(argv[2]) : 10;
	long long start, end, stop_at;
	struct spawned sp;
	struct pollfd *pfds;
	long rss0, rss_peak, rss_budget;
	int max_fds = 0, status, fail = 0;
	uint64_t errors = 0;
	char conf[256];

	nclients = argc > 3 ? atoi(argv[3]) : 8;
	nslots = argc > 4 ? atoi(argv[4]) : 8;
	rng_state = argc > 5 ? strtoull(argv[5], NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
	if (!rng_state)
		rng_state = 1;
	signal(SIGPIPE, SIG_IGN);
	printf("soak: %d s, %d clients x %d sockets, seed %llu\n", seconds, nclients, nslots,
	       (unsigned long long)rng_state);
	snprintf(conf, sizeof(conf), "[daemon]\nresolver-lookups = f\n[limits]\nclient-budget-bytes = %u\n"
		 "client-sockets = %d\n", BUDGET, nslots * 2);
	if (spawn_start(&sp, bin, conf, 0) < 0) {
		fprintf(stderr, "soak: the daemon did not start\n");
		return 1;
	}
	rss0 = spawn_status_kib(sp.pid, "VmRSS:");
	lfd_echo = listen_loopback(&port_echo);
	lfd_sink = listen_loopback(&port_sink);
	clients = calloc((size_t)nclients, sizeof(*clients));
	for (int i = 0; i < nclients; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		struct client *c = &clients[i];

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sp.socket);
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			perror("soak: connect to the daemon");
			return 1;
		}
		nonblock(c->fd);
		c->nslots = nslots;
		c->slots = calloc((size_t)nslots, sizeof(*c->slots));
		for (int k = 0; k < nslots; k++)
			start_life(c, &c->slots[k]);
	}
	pfds = calloc(MAX_FDS, sizeof(*pfds));
	start = spawn_now_ms();
	stop_at = start + seconds * 1000LL;
	end = stop_at + 60000;		/* lives under way get a minute to finish */
	for (long long last_sample = 0;;) {
		int n = 0, busy = 0;

		time_up = spawn_now_ms() >= stop_at;
		for (int i = 0; i < nclients; i++) {
			struct client *c = &clients[i];

			for (int k = 0; k < c->nslots; k++)
				busy += c->slots[k].state != S_DONE;
			if (c->fd >= 0)
				pfds[n++] = (struct pollfd){ .fd = c->fd, .events =
					(short)(POLLIN | (buf_used(&c->out) ? POLLOUT : 0)) };
		}
		if (!busy || spawn_now_ms() > end)
			break;
		pfds[n++] = (struct pollfd){ .fd = lfd_echo, .events = POLLIN };
		pfds[n++] = (struct pollfd){ .fd = lfd_sink, .events = POLLIN };
		for (int fd = 0; fd < MAX_FDS; fd++)
			if (peers[fd])
				pfds[n++] = (struct pollfd){ .fd = fd, .events =
					(short)(POLLIN | (buf_used(&peers[fd]->out) ? POLLOUT : 0)) };
		if (poll(pfds, (nfds_t)n, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			int fd = pfds[i].fd;

			if (!pfds[i].revents)
				continue;
			if (fd == lfd_echo)
				peer_accept_all(fd, ECHO);
			else if (fd == lfd_sink)
				peer_accept_all(fd, SINK);
			else if (peers[fd])
				peer_io(peers[fd], pfds[i].revents);
			else
				for (int k = 0; k < nclients; k++)
					if (clients[k].fd == fd && !client_io(&clients[k], pfds[i].revents)) {
						count_error("the daemon closed a control connection");
						close(fd);
						clients[k].fd = -1;
						for (int j = 0; j < clients[k].nslots; j++)
							clients[k].slots[j].state = S_DONE;
					}
		}
		if (spawn_now_ms() - last_sample >= 100) {
			int f = fds_of(sp.pid);

			if (f > max_fds)
				max_fds = f;
			last_sample = spawn_now_ms();
		}
	}
	rss_peak = spawn_status_kib(sp.pid, "VmHWM:");
	for (int i = 0; i < nclients; i++)
		for (int k = 0; k < clients[i].nslots; k++)
			if (clients[i].slots[k].state != S_DONE) {
				count_error("a socket still busy at the end");
				break;
			}
	for (int i = 0; i < nclients; i++)
		if (clients[i].fd >= 0)
			close(clients[i].fd);
	status = spawn_stop(&sp);
	/* What the run held, released (the test is clean under ASan too). */
	free(pfds);
	for (int i = 0; i < nclients; i++) {
		free(clients[i].slots);
		free(clients[i].out.p);
		free(clients[i].in.p);
	}
	free(clients);
	for (int fd = 0; fd < MAX_FDS; fd++)
		if (peers[fd])
			peer_close(peers[fd]);
	close(lfd_echo);
	close(lfd_sink);

	rss_budget = rss0 + (long)nclients * (BUDGET / 1024) * 2;
	printf("soak: %.1f s; %llu lives, %llu echo rounds (%llu pumped), %llu requests\n",
	       (double)(spawn_now_ms() - start) / 1000., (unsigned long long)st.lives,
	       (unsigned long long)st.echo_rounds, (unsigned long long)st.pumps,
	       (unsigned long long)st.ops);
	printf("soak: bytes: %llu sent, %llu echoed back, %llu confirmed by the sink\n",
	       (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_back,
	       (unsigned long long)st.bytes_sunk);
	printf("soak: daemon: peak RSS %ld KiB (start %ld KiB, budget %ld KiB), most fds %d\n",
	       rss_peak, rss0, rss_budget, max_fds);
	for (int i = 0; i < st.nerrors; i++) {
		printf("soak: error %s: %llu\n", st.errors[i], (unsigned long long)st.error_n[i]);
		errors += st.error_n[i];
	}
	printf("soak: corrupted %llu, lost %llu, errors %llu\n", (unsigned long long)st.corrupt,
	       (unsigned long long)st.lost, (unsigned long long)errors);
	if (st.corrupt || st.lost || errors) {
		printf("soak: FAIL: bytes lost or corrupted, or errors\n");
		fail = 1;
	}
	if (spawn_rss_is_inflated()) {
		printf("soak: (the RSS budget is not checked under valgrind or a sanitizer)\n");
	} else if (rss_peak > rss_budget) {
		printf("soak: FAIL: the daemon's peak RSS is over the budget\n");
		fail = 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("soak: FAIL: the daemon ended with status %#x\n", status);
		fail = 1;
	}
	if (st.lives == 0 || st.bytes_sent == 0) {
		printf("soak: FAIL: nothing happened\n");
		fail = 1;
	}
	printf("soak: %s\n", fail ? "FAIL" : "ok");
	return fail;
}
