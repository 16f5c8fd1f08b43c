/*
 * tcp-tls: a TLS connection on an fd, and a socket's use of it.
 *
 * The handshake runs on a watcher of its own (the socket's read and
 * write watchers stay stopped meanwhile), bounded by a timer, and ends in
 * one call of its done function.  Afterwards the engine reads and writes
 * plaintext through tcp_conn_recv() and tcp_conn_send(): SSL_read and
 * SSL_write on a TLS socket, recv and send otherwise.  OpenSSL may hold
 * decrypted bytes the kernel no longer signals (tcp_tls_pending()): the
 * readers take another turn for them instead of waiting for the fd.
 * The peer's close_notify is the end of stream; its FIN without one is
 * an end of stream too, marked truncated.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "proto-errors.h"
#include "tcp.h"
#include "tcp-tls.h"

struct tcp_tls {
	struct ev_loop		*loop;
	SSL			*ssl;		/* NULL once closed */
	int			 fd;
	bool			 verify;	/* the peer's certificate is checked */
	bool			 handshaking, open;
	bool			 truncated;	/* FIN without close_notify */
	bool			 read_wants_write;	/* SSL_read waits for room */
	bool			 shut_sent;	/* close_notify sent */
	bool			 broken;	/* a fatal error: no close_notify may follow */
	bool			 write_blocked;	/* a record is half sent: the next write retries it */
	bool			 stashed;	/* an end or error behind bytes returned: */
	ssize_t			 stash;		/* 0 or -errno, for the next read */
	int			 alert_in, alert_out;	/* fatal alerts, -1: none */
	ev_io			 io;		/* the handshake's */
	ev_timer		 timer;		/* bounds the handshake */
	tcp_tls_done_fn		 done;
	void			*arg;
	struct tcp_tls_info	 info;		/* once open */
};

/* Records the fatal alerts sent and received (for the failure's data). */
static void
on_info(const SSL *ssl, int where, int ret)
{
	struct tcp_tls *tls = SSL_get_app_data(ssl);

	if (!tls || !(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
		return;
	if (where & SSL_CB_READ)
		tls->alert_in = ret & 0xff;
	else
		tls->alert_out = ret & 0xff;
}

/* A TLS connection on fd with ssl (now its own).  NULL without memory. */
struct tcp_tls *
tcp_tls_new(struct ev_loop *loop, void *ssl, int fd, bool verify)
{
	struct tcp_tls *tls = calloc(1, sizeof(*tls));

	if (!tls)
		return NULL;
	tls->loop = loop;
	tls->ssl = ssl;
	tls->fd = fd;
	tls->verify = verify;
	tls->alert_in = tls->alert_out = -1;
	SSL_set_app_data(tls->ssl, tls);
	SSL_set_info_callback(tls->ssl, on_info);
	if (SSL_set_fd(tls->ssl, fd) != 1) {
		SSL_set_app_data(tls->ssl, NULL);
		tls->ssl = NULL;	/* the caller's still */
		free(tls);
		return NULL;
	}
	return tls;
}

static void
hs_stop(struct tcp_tls *tls)
{
	ev_io_stop(tls->loop, &tls->io);
	ev_timer_stop(tls->loop, &tls->timer);
	tls->handshaking = false;
}

/* Frees tls (NULL is fine): the handshake stops, the fd stays open.  Returns NULL. */
struct tcp_tls *
tcp_tls_free(struct tcp_tls *tls)
{
	if (!tls)
		return NULL;
	hs_stop(tls);
	tcp_tls_ssl_free(tls->ssl);
	tcp_tls_info_clear(&tls->info);
	free(tls);
	return NULL;
}

/* The fd the handshake watches changed (an inbound socket got its own). */
void
tcp_tls_set_fd(struct tcp_tls *tls, int fd)
{
	tls->fd = fd;
}

/* The handshake ended: f NULL when it succeeded. */
static void
hs_end(struct tcp_tls *tls, const struct tcp_tls_failure *f)
{
	hs_stop(tls);
	if (!f) {
		if (tcp_tls_info_fill(&tls->info, tls->ssl, tls->verify) < 0) {
			struct tcp_tls_failure oom = { .reason = "other" };

			tls->done(tls->arg, &oom);
			return;
		}
		tls->open = true;
	}
	ERR_clear_error();
	tls->done(tls->arg, f);
}

/* One step of the handshake: on, or waiting for the fd, or over. */
static void
hs_step(struct tcp_tls *tls)
{
	struct tcp_tls_failure f;
	unsigned long lib_err;
	int r, err, sys;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(tls->ssl);
	if (r == 1) {
		hs_end(tls, NULL);
		return;
	}
	sys = errno;
	err = SSL_get_error(tls->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		int events = err == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;

		if (!ev_is_active(&tls->io) || (tls->io.events & (EV_READ | EV_WRITE)) != events) {
			ev_io_stop(tls->loop, &tls->io);
			ev_io_set(&tls->io, tls->fd, events);
			ev_io_start(tls->loop, &tls->io);
		}
		return;
	}
	lib_err = ERR_peek_error();
	tcp_tls_failure_of(&f, tls->ssl, err, lib_err, sys, tls->alert_in, tls->alert_out);
	hs_end(tls, &f);
}

static void
hs_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	hs_step((struct tcp_tls *)((char *)w - offsetof(struct tcp_tls, io)));
}

static void
hs_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_tls *tls = (struct tcp_tls *)((char *)w - offsetof(struct tcp_tls, timer));
	struct tcp_tls_failure f = { .reason = "handshakeTimeout" };

	hs_end(tls, &f);
}

/*
 * Starts the handshake (timeout_ms > 0 bounds it); done(arg, failure)
 * is called once, perhaps before this returns.
 */
void
tcp_tls_handshake(struct tcp_tls *tls, int64_t timeout_ms, tcp_tls_done_fn done, void *arg)
{
	tls->done = done;
	tls->arg = arg;
	tls->handshaking = true;
	ev_io_init(&tls->io, hs_on_io, tls->fd, EV_READ);
	ev_timer_init(&tls->timer, hs_on_timeout, (double)timeout_ms / 1000., 0.);
	if (timeout_ms > 0)
		ev_timer_start(tls->loop, &tls->timer);
	hs_step(tls);
}

/*
 * Starts TLS on t's connection as cfg says (t->tls_cfg, freed here, or the caller's):
 * done(t, failure) once the handshake is over.  Returns 0, or -ENOMEM
 * (nothing started).
 */
int
tcp_tls_start(struct tcp *t, struct tcp_tls_config *cfg, int64_t timeout_ms,
	      tcp_tls_done_fn done)
{
	void *ssl = tcp_tls_new_ssl(t->eng, cfg, t->host ? t->host : "127.0.0.1",
				    t->port < 0 ? 0 : t->port);

	if (!ssl)
		return -ENOMEM;
	t->tls = tcp_tls_free(t->tls);
	t->tls = tcp_tls_new(t->eng->loop, ssl, t->fd, tcp_tls_config_verifies(cfg));
	if (!t->tls) {
		tcp_tls_ssl_free(ssl);
		return -ENOMEM;
	}
	if (cfg == t->tls_cfg)
		t->tls_cfg = tcp_tls_config_free(t->tls_cfg);	/* the SSL has it all */
	tcp_tls_handshake(t->tls, timeout_ms, done, t);
	return 0;
}

/* Why t cannot start TLS now (tcp.startTls), or NULL. */
const char *
tcp_tls_start_busy(const struct tcp *t)
{
	const char *why;

	if (t->tls)
		return "tls";
	if ((why = tcp_channel_busy(t)))
		return why;	/* channel, pumping, reading, writing, shutdown */
	if (t->connect_op)
		return "writing";
	if (t->eof)
		return "eof";
	return NULL;
}

/* tcp.startTls's handshake ended: answered, or the connection is over. */
static void
on_start_tls_done(void *arg, const struct tcp_tls_failure *f)
{
	struct tcp *t = arg;
	struct tcp_op *op = t->connect_op;

	t->connect_op = NULL;
	t->eng->ev->tls(t, f, false);
	if (f) {
		struct tcp_error e = { .code = PROTO_E_TLS, .tls = f, .sys_errno = f->sys_errno };

		/* What waited for the handshake gets the same; the connection is reset. */
		if (op)
			t->eng->ev->op_failed(t, op, &e);
		tcp_measure_loss(t, true);
		tcp_cancel_list(&t->reads, &e);
		tcp_fail_writes(t, &e);
		tcp_close_fd(t, true);
		tcp_set_state(t, TCP_STATE_ERROR);
		return;
	}
	if (op)
		t->eng->ev->tls_started(t, op);
	tcp_flush_writes(t);
	if (t->state == TCP_STATE_CONNECTED)
		tcp_update_io(t);
}

/*
 * tcp.startTls on t (connected, not busy), with t->tls_cfg: op is over
 * when the handshake is.  Reads and writes asked meanwhile wait for it.
 */
void
tcp_start_tls(struct tcp *t, struct tcp_op *op)
{
	int r;

	op->tcp = t;
	op->kind = TCP_OP_OPEN;
	t->connect_op = op;
	ev_io_stop(t->eng->loop, &t->rio);
	ev_io_stop(t->eng->loop, &t->wio);
	flow_cancel(&t->run_item);
	if (t->owner)
		flow_unstall(&t->stall_item);
	r = tcp_tls_start(t, t->tls_cfg, (int64_t)t->eng->conf->tls_handshake_timeout_ms,
			  on_start_tls_done);
	if (r < 0) {
		t->connect_op = NULL;
		t->tls_cfg = tcp_tls_config_free(t->tls_cfg);
		t->eng->ev->op_failed(t, op, &(struct tcp_error){ .sys_errno = -r });
		tcp_update_io(t);
	}
}

/* The socket's own timer ran out during its handshake: handshakeTimeout. */
void
tcp_tls_timed_out(struct tcp *t)
{
	if (tcp_tls_handshaking(t))
		hs_on_timeout(t->eng->loop, &t->tls->timer, 0);
}

bool
tcp_tls_handshaking(const struct tcp *t)
{
	return t->tls && t->tls->handshaking;
}

/*
 * Whether OpenSSL holds bytes of t's connection that the fd will not
 * signal: plaintext of a record already decrypted, or an end or error
 * stashed.  Not SSL_has_pending(): that is true of a record that came in
 * part too, whose rest the fd signals; taking turns for it would spin.
 * Without read-ahead OpenSSL reads one record at a time, so no whole
 * record waits in its buffer unseen.
 */
bool
tcp_tls_pending(const struct tcp *t)
{
	return t->tls && (t->tls->stashed ||
			  (t->tls->open && t->tls->ssl && SSL_pending(t->tls->ssl) > 0));
}

/*
 * Whether OpenSSL holds a record of the head write, half sent: that
 * write must be retried as it is, so it cannot be cancelled now.
 */
bool
tcp_tls_write_blocked(const struct tcp *t)
{
	return t->tls && t->tls->write_blocked;
}

/* Whether the last read waits for room to write (clear: and forget it). */
bool
tcp_tls_read_wants_write(struct tcp *t, bool clear)
{
	bool r = t->tls && t->tls->read_wants_write;

	if (r && clear)
		t->tls->read_wants_write = false;
	return r;
}

/*
 * t's fd is being closed: unless reset, close_notify goes first (once,
 * as far as the kernel takes it).  What the handshake agreed stays for
 * tcp.info; the SSL object goes.
 */
void
tcp_tls_close(struct tcp *t, bool reset)
{
	struct tcp_tls *tls = t->tls;

	if (!tls)
		return;
	hs_stop(tls);
	if (tls->ssl && tls->open && !reset && !tls->shut_sent && !tls->broken) {
		ERR_clear_error();
		(void) SSL_shutdown(tls->ssl);
		tls->shut_sent = true;
	}
	tcp_tls_ssl_free(tls->ssl);
	tls->ssl = NULL;
	tls->open = false;
	ERR_clear_error();
}

const struct tcp_tls_info *
tcp_tls_info(const struct tcp *t)
{
	return t->tls && t->tls->info.version[0] ? &t->tls->info : NULL;
}

bool
tcp_tls_truncated(const struct tcp *t)
{
	return t->tls && t->tls->truncated;
}

/* An SSL_read or SSL_write that did not move bytes: -EAGAIN, 0 (end) or -errno. */
static ssize_t
io_error(struct tcp_tls *tls, int r, bool reading)
{
	int err = SSL_get_error(tls->ssl, r), sys = errno;
	unsigned long e;

	switch (err) {
	case SSL_ERROR_WANT_READ:
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		if (reading)
			tls->read_wants_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;	/* close_notify */
	case SSL_ERROR_SYSCALL:
		tls->broken = true;
		if (sys == 0 || !ERR_peek_error()) {
			if (reading && (sys == 0 || sys == EAGAIN)) {
				tls->truncated = true;	/* FIN without close_notify */
				ERR_clear_error();
				return 0;
			}
		}
		ERR_clear_error();
		return -(sys ? sys : EPIPE);
	default:
		tls->broken = true;
		e = ERR_peek_error();
		ERR_clear_error();
		if (reading && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			tls->truncated = true;
			return 0;
		}
		return -EPROTO;
	}
}

/* recv() on t's connection in plaintext: bytes, 0 at the end, -EAGAIN or -errno. */
ssize_t
tcp_conn_recv(struct tcp *t, char *buf, size_t len)
{
	struct tcp_tls *tls = t->tls;
	size_t got = 0;
	ssize_t n;

	if (!tls) {
		n = recv(t->fd, buf, len, MSG_DONTWAIT);
		return n < 0 ? (errno == EINTR ? -EAGAIN : -errno) : n;
	}
	if (tls->stashed) {
		tls->stashed = false;
		return tls->stash;
	}
	if (!tls->open || !tls->ssl)
		return -ENOTCONN;
	/* Records are 16 KiB at most: fill what was asked while OpenSSL has more. */
	while (got < len) {
		size_t k = 0;
		int r;

		ERR_clear_error();	/* SSL_get_error() reads the queue: nothing stale */
		errno = 0;
		r = SSL_read_ex(tls->ssl, buf + got, len - got, &k);
		if (r == 1) {
			got += k;
			continue;
		}
		n = io_error(tls, 0, true);
		if (n == -EAGAIN && !SSL_has_pending(tls->ssl))
			(void) SSL_free_buffers(tls->ssl);	/* idle sockets hold none */
		if (got == 0)
			return n;
		if (n != -EAGAIN) {
			/* An end or an error after bytes: told on the next read. */
			tls->stashed = true;
			tls->stash = n;
		}
		break;
	}
	return (ssize_t)got;
}

/* send() on t's connection in plaintext: bytes taken, -EAGAIN or -errno. */
ssize_t
tcp_conn_send(struct tcp *t, const char *buf, size_t len)
{
	struct tcp_tls *tls = t->tls;
	size_t k = 0;
	ssize_t n;

	if (!tls) {
		n = send(t->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		return n < 0 ? (errno == EINTR ? -EAGAIN : -errno) : n;
	}
	if (!tls->open || !tls->ssl)
		return -ENOTCONN;
	/*
	 * Record by record (partial writes): as much as the kernel takes.
	 * After a WANT_WRITE the caller's next call starts at the same byte
	 * with at least as many, as OpenSSL requires.
	 */
	for (size_t done = 0; done < len; done += k) {
		ERR_clear_error();
		errno = 0;
		tls->write_blocked = false;
		if (SSL_write_ex(tls->ssl, buf + done, len - done, &k) == 1)
			continue;
		n = io_error(tls, 0, false);
		tls->write_blocked = n == -EAGAIN;
		if (done > 0 && n == -EAGAIN)
			return (ssize_t)done;
		return n == 0 ? -EPIPE : n;
	}
	return (ssize_t)len;
}

/*
 * Half-close of t's connection: close_notify on TLS, then FIN.  Returns
 * 0, -EAGAIN (close_notify waits for room: ask again) or -errno.
 */
int
tcp_conn_shutdown_wr(struct tcp *t)
{
	struct tcp_tls *tls = t->tls;

	if (tls && tls->open && tls->ssl && !tls->shut_sent && !tls->broken) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_shutdown(tls->ssl);
		if (r < 0) {
			int err = SSL_get_error(tls->ssl, r);

			ERR_clear_error();
			if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
				return -EAGAIN;
		}
		tls->shut_sent = true;
	}
	if (shutdown(t->fd, SHUT_WR) < 0)
		return -errno;
	return 0;
}
