/*
 * libtisock: the Titanium socket API (Ti.Network.Socket.TCP, Ti.Stream,
 * Ti.Buffer, Ti.Codec) in C, for programs that use TCP through tisockd.
 *
 * Conventions: handles are opaque; functions that can fail return a
 * negative errno-style code (-EINVAL, -ENOMEM, ...) or NULL with errno
 * set.  Counts are ssize_t; "until the end" arguments take TISOCK_ALL.
 * Offsets and lengths are checked as Titanium checks them: out of range
 * is -EINVAL, never a partial copy.  Destructors accept NULL and return
 * NULL.  Nothing blocks unless its documentation says so.
 *
 * Threads: a client and its sockets belong to one thread at a time.
 *
 * This version provides the client connection (to tisockd, or local),
 * Ti.Network.Socket.TCP, Ti.Stream (blocking and asynchronous, over
 * buffers, files, fds and sockets), Ti.Buffer and Ti.Codec, and TLS on
 * the daemon's connections.  Names added after the first version are
 * marked "(0.2)" or "(0.3)"; the version script gives them the symbol
 * version LIBTISOCK_0.2 or LIBTISOCK_0.3.
 */
#ifndef TISOCK_TISOCK_H
#define TISOCK_TISOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TISOCK_ALL ((ssize_t)-1)	/* "to the end" for lengths */

/* Ti.Codec TYPE_* (values are this library's own; names via tisock_codec_type_name). */
enum tisock_type {
	TISOCK_TYPE_BYTE = 1,	/* 1 byte */
	TISOCK_TYPE_SHORT = 2,	/* 2 bytes */
	TISOCK_TYPE_INT = 3,	/* 4 bytes */
	TISOCK_TYPE_LONG = 4,	/* 8 bytes */
	TISOCK_TYPE_FLOAT = 5,	/* 4 bytes, IEEE 754 single */
	TISOCK_TYPE_DOUBLE = 6,	/* 8 bytes, IEEE 754 double */
};

/* Ti.Codec byte orders, with Titanium's (Android) values. */
enum tisock_byte_order {
	TISOCK_NATIVE_ENDIAN = -1,	/* (0.2) the host's: Titanium's default byteOrder */
	TISOCK_BIG_ENDIAN = 0,
	TISOCK_LITTLE_ENDIAN = 1,
};

/* Ti.Codec CHARSET_*. */
enum tisock_charset {
	TISOCK_CHARSET_DEFAULT = 0,	/* (0.2) UTF-8, Titanium's default charset */
	TISOCK_CHARSET_ASCII = 1,
	TISOCK_CHARSET_ISO_LATIN_1 = 2,
	TISOCK_CHARSET_UTF8 = 3,
	TISOCK_CHARSET_UTF16 = 4,	/* BOM FE FF, then big-endian; decoding honours either BOM */
	TISOCK_CHARSET_UTF16BE = 5,
	TISOCK_CHARSET_UTF16LE = 6,
};

/* ---- The connection to tisockd ----------------------------------------- */

typedef struct tisock_client tisock_client;

/* What the daemon said about the last failed request (see tisock_client_last_error). */
struct tisock_error {
	int		 code;		/* JSON-RPC error code, e.g. -32011; 0: none */
	const char	*message;	/* the daemon's sentence, or the library's */
	const char	*data_json;	/* the error's data as JSON text, or NULL */
	int		 sys_errno;	/* data.errno when the daemon gave one, else 0 */
};

/*
 * Connects to tisockd at path; NULL path resolves as the daemon does:
 * $TISOCKD_SOCKET, $XDG_RUNTIME_DIR/tisockd.sock, /run/tisockd/tisockd.sock.
 * Blocks only for the local connect.  NULL with errno on failure.
 */
tisock_client	*tisock_client_open(const char *path);
/*
 * (0.2) A local client: a loop context with no daemon connection.  It
 * runs the asynchronous work of buffer and fd streams bound to it
 * (tisock_stream_set_client) like any client: fd, dispatch, run and the
 * libev adapter work on it; socket calls on it fail with -ENOTCONN.
 */
tisock_client	*tisock_client_open_local(void);
/*
 * Closes the connection (the daemon then closes every socket it owned) and
 * frees c and every tisock_tcp of c.  Inside a callback, c is closed when
 * the callback returns, and no further callbacks run.
 */
void		 tisock_client_close(tisock_client *c);
/*
 * The fd to poll for readability: it is readable whenever dispatch has
 * work (input, output to flush, callbacks due, stream fds ready).  It is
 * not the daemon connection itself but an epoll set holding it.
 */
int		 tisock_client_fd(const tisock_client *c);
/* The events to poll tisock_client_fd for: always POLLIN. */
int		 tisock_client_events(const tisock_client *c);
/* True (1) while asynchronous work is pending. */
int		 tisock_client_pending(const tisock_client *c);
/*
 * Sends queued output, reads what has arrived (waiting up to timeout_ms
 * when nothing has: 0 polls, -1 waits) and runs the callbacks it
 * completes.  Returns the number of callbacks run, or -errno (-EPIPE: the
 * daemon is gone).
 */
int		 tisock_client_dispatch(tisock_client *c, int timeout_ms);
/* Dispatches until no asynchronous work is pending.  Blocks.  0 or -errno. */
int		 tisock_client_run(tisock_client *c);
/*
 * (0.2) Every blocking call on c gives up after timeout_ms (0: waits
 * without limit, the default) with -ETIMEDOUT.  A blocking read hands
 * the timeout to the daemon, so no byte is lost: what arrives later is
 * there for the next read.  A blocking connect does too, so no socket is
 * left over.  Other blocking calls stop waiting; their late answer is
 * dropped (a write may still go out).  Asynchronous writes and shutdowns
 * get it too: their callback comes with -ETIMEDOUT once it has passed.
 * Reads, accepts and pumps wait for peers and never time out this way;
 * connects take their own timeout_ms.  0 or -EINVAL.
 */
int		 tisock_client_set_timeout(tisock_client *c, int timeout_ms);
/*
 * (0.2) Milliseconds until c must be dispatched even without input (an
 * asynchronous call's deadline), 0 when it is due, -1 when nothing is
 * timed.  Poll tisock_client_fd() with it; the libev adapter arms a
 * timer with it.
 */
int		 tisock_client_timeout(const tisock_client *c);
/*
 * (0.2) Bounds the inbox: the messages read from the daemon and not yet
 * dispatched (default 4 MiB; 0 restores it; at least 64 KiB).  Once it
 * is full the library stops reading the daemon, so the daemon's flow
 * control holds back what it sends.  A blocking call that must read on
 * to find its own answer pauses the client's pumps meanwhile; they
 * resume when dispatch has emptied the inbox.  0 or -EINVAL.
 */
int		 tisock_client_set_inbox_max(tisock_client *c, size_t bytes);
/*
 * Event-loop integration (what <tisock/adapters/libev.h> uses).  update is
 * called whenever the events c wants or its pending state may have
 * changed; cleanup when c closes.  One set of hooks per client.
 */
struct tisock_client_hooks {
	void	(*update)(void *data);
	void	(*cleanup)(void *data);
	void	 *data;
};
int		 tisock_client_set_hooks(tisock_client *c, const struct tisock_client_hooks *h);

/*
 * Notifications the library does not consume itself (monitor.event, or
 * any a newer daemon sends) go to cb from tisock_client_dispatch, with
 * params as JSON text.  NULL cb drops them (the default).  0.
 */
typedef void (*tisock_notify_cb)(tisock_client *c, const char *method, const char *params_json,
				 void *userdata);
int		 tisock_client_set_notify(tisock_client *c, tisock_notify_cb cb, void *userdata);

/* The text of the last error on c ("" when none). */
const char	*tisock_client_error(const tisock_client *c);
const struct tisock_error *tisock_client_last_error(const tisock_client *c);
/*
 * The raw JSON-RPC escape hatch: calls method with params_json (an object,
 * or NULL) and waits.  On success returns 0 and, when ret_result_json is
 * given, the result as JSON text to free().  A daemon error returns its
 * mapped errno (see tisock_client_last_error for the details).  A file
 * descriptor that comes with the answer (tcp.channel's) is closed: use
 * tisock_tcp_channel for that.  Blocks.
 */
int		 tisock_client_call(tisock_client *c, const char *method, const char *params_json,
		     char **ret_result_json);

/*
 * Cancellation (rpc.cancel).  Every request c sends has an id;
 * tisock_client_last_request_id() is the one of the request sent last
 * (0: none), e.g. just after tisock_tcp_read_async().
 * tisock_client_cancel() cancels the pending request request_id and
 * waits for the daemon's word: 1 when it was pending, and then its
 * callback (or the call waiting for it) gets -ECANCELED, with
 * tisock_client_last_error() code -32800 (a write's data says how many
 * of its bytes were written); 0 when no request of c with that id was
 * pending (unknown, or already answered: its answer stands); or a
 * negative errno.  Blocks.
 * tisock_client_interrupt() is async-signal-safe (call it from a SIGINT
 * handler, or from another thread): the blocking call then waiting on c,
 * whether or not a signal broke its wait, cancels its request and
 * returns its answer, -ECANCELED with code -32800 when the cancel came
 * first.  With no blocking call waiting it is forgotten when the next
 * one starts.
 */
int		 tisock_client_cancel(tisock_client *c, int64_t request_id);
int64_t		 tisock_client_last_request_id(const tisock_client *c);
void		 tisock_client_interrupt(tisock_client *c);

/* ---- Ti.Network.Socket.TCP ----------------------------------------------- */

typedef struct tisock_tcp tisock_tcp;
typedef struct tisock_buffer tisock_buffer;

/* Ti.Network.Socket state constants (Android's values). */
enum tisock_state {
	TISOCK_INITIALIZED = 1,
	TISOCK_CONNECTED = 2,
	TISOCK_LISTENING = 3,
	TISOCK_CLOSED = 4,
	TISOCK_ERROR = 5,
};

/* The payload of connected, accepted and error callbacks. */
struct tisock_tcp_event {
	tisock_tcp	*socket;	/* the socket (the listener, for accepted) */
	tisock_tcp	*inbound;	/* accepted: the new, connected socket */
	int		 success;	/* 1 or 0 */
	int		 code;		/* 0, or a negative errno */
	const char	*error;		/* message, "" on success */
	void		*userdata;	/* the socket's */
};

typedef void (*tisock_tcp_cb)(const struct tisock_tcp_event *ev);

struct tisock_tcp_options {
	const char	*host;			/* NULL: 127.0.0.1 */
	int		 port;
	int		 listen_queue_size;	/* 0: the system maximum */
	int		 timeout_ms;		/* connect timeout; 0: the daemon's default */
	tisock_tcp_cb	 connected;		/* after tisock_tcp_connect succeeds */
	tisock_tcp_cb	 accepted;		/* once per tisock_tcp_accept */
	tisock_tcp_cb	 error;			/* the socket went to TISOCK_ERROR */
	void		*userdata;
};

struct tisock_tcp_accept_options {
	int		 timeout_ms;		/* 0: wait without limit */
	tisock_tcp_cb	 error;			/* the inbound socket's error callback */
};

typedef struct tisock_stream tisock_stream;

/* Payload of read, write and pump callbacks (Ti.Stream's). */
struct tisock_stream_event {
	tisock_stream	*source;		/* the stream (NULL for tisock_tcp_*_async) */
	tisock_tcp	*socket;		/* the socket, for socket I/O */
	tisock_buffer	*buffer;
	ssize_t		 bytes_processed;	/* -1 at end of stream or on error */
	int64_t		 total_bytes_processed;	/* pump: bytes so far */
	int		 success;
	int		 code;			/* 0 or a negative errno */
	const char	*error;
	void		*userdata;
	tisock_stream	*destination;		/* (0.2) write_stream: the output (toStream) */
};

typedef void (*tisock_stream_cb)(const struct tisock_stream_event *ev);

/* (0.2) Socket options (tcp.setOptions): only the fields whose bit is in set are read. */
#define TISOCK_OPT_NO_DELAY		(1u << 0)	/* TCP_NODELAY */
#define TISOCK_OPT_KEEP_ALIVE		(1u << 1)	/* SO_KEEPALIVE */
#define TISOCK_OPT_KEEP_ALIVE_IDLE	(1u << 2)	/* TCP_KEEPIDLE */
#define TISOCK_OPT_TIMEOUT		(1u << 3)	/* connect timeout */
#define TISOCK_OPT_LINGER		(1u << 4)	/* SO_LINGER, the daemon's close */
#define TISOCK_OPT_SEND_BUFFER_SIZE	(1u << 5)	/* SO_SNDBUF */
#define TISOCK_OPT_RECEIVE_BUFFER_SIZE	(1u << 6)	/* SO_RCVBUF */

struct tisock_tcp_socket_options {
	unsigned	 set;			/* TISOCK_OPT_* of the fields that apply */
	int		 no_delay;		/* 1 or 0 */
	int		 keep_alive;		/* 1 or 0 */
	int		 keep_alive_idle;	/* seconds before probes, 1-32767 */
	int		 timeout_ms;		/* for a later connect; 0: the daemon's none */
	/* Added later in 0.2; like the others, read only when their bit is set. */
	int		 linger;		/* seconds, 0-3600; 0: closes reset */
	int		 send_buffer_size;	/* bytes, 1-67108864 */
	int		 receive_buffer_size;	/* bytes, 1-67108864 */
};

/* A socket in TISOCK_INITIALIZED; no I/O.  opts may be NULL.  NULL with errno. */
tisock_tcp	*tisock_tcp_create(tisock_client *c, const struct tisock_tcp_options *opts);
/* Starts connecting; the connected or error callback follows.  0 or -errno. */
int		 tisock_tcp_connect(tisock_tcp *s);
/*
 * (0.2) Connects and waits: 0 once connected, or -errno (-ECONNREFUSED,
 * -ETIMEDOUT, -ENXIO...) with s in TISOCK_ERROR.  No callback runs.
 */
int		 tisock_tcp_connect_wait(tisock_tcp *s);
/* Binds and listens.  Blocks until listening.  0 or -errno. */
int		 tisock_tcp_listen(tisock_tcp *s);
/* Arms one accept; one accepted (or error) callback follows.  0 or -errno. */
int		 tisock_tcp_accept(tisock_tcp *s, const struct tisock_tcp_accept_options *opts);
/* Reads at most length bytes (TISOCK_ALL: to the buffer's end) into buf at offset.
 * Blocks until some data or the end of stream.  Returns the count, -1 at EOF, or -errno. */
ssize_t		 tisock_tcp_read(tisock_tcp *s, tisock_buffer *buf, size_t offset, ssize_t length);
/* Writes buf[offset, +length).  Blocks until every byte is handed to the kernel. */
ssize_t		 tisock_tcp_write(tisock_tcp *s, const tisock_buffer *buf, size_t offset,
		     ssize_t length);
/*
 * The same without blocking: cb runs from tisock_client_dispatch.  A
 * read takes what has come, up to 16 MiB, whatever the buffer's size; a
 * write's bytes are copied at once and go as one request, written or
 * refused whole, so at most 12 MiB less 64 KiB (-EINVAL beyond: one
 * request line stays under the daemon's max-message-bytes).  0 or -errno.
 */
int		 tisock_tcp_read_async(tisock_tcp *s, tisock_buffer *buf, size_t offset,
		     ssize_t length, tisock_stream_cb cb, void *userdata);
int		 tisock_tcp_write_async(tisock_tcp *s, const tisock_buffer *buf, size_t offset,
		     ssize_t length, tisock_stream_cb cb, void *userdata);
/* Closes (gracefully: queued writes are sent first).  Blocks until closed.  0 or -errno. */
int		 tisock_tcp_close(tisock_tcp *s);
/*
 * (0.2) Half-close (tcp.shutdown): once the writes sent before are out,
 * FIN goes to the peer; reading goes on.  Writes are -EPIPE from now on
 * and tisock_tcp_is_writable() is 0.  The blocking form waits for the
 * daemon's answer (queued bytes flushed, FIN sent): 0 or -errno.  The
 * callback form returns 0 or -errno at once; cb (may be NULL) then runs
 * from dispatch with success and code, and the socket's userdata.
 */
int		 tisock_tcp_shutdown(tisock_tcp *s);
int		 tisock_tcp_shutdown_async(tisock_tcp *s, tisock_tcp_cb cb);
/*
 * (0.2) Sets the options whose bit is in o->set.  On a socket with no
 * daemon socket yet, no-delay, keep-alive and the timeout are kept for
 * its connect or listen (no round trip); keep-alive idle creates the
 * daemon's socket first (tcp.create).  Otherwise blocks for the
 * daemon's answer, which comes at once.  0, -EINVAL (a value out of
 * range), -EOPNOTSUPP (a bit this library does not know), -EBADF
 * (closed) or -errno.
 */
int		 tisock_tcp_set_options(tisock_tcp *s, const struct tisock_tcp_socket_options *o);
/*
 * The data channel (tcp.channel): returns a stream socket (AF_UNIX, the
 * caller's to close) that the daemon relays to s both ways: what is
 * written to it goes to the peer, what the peer sends can be read from
 * it; shutdown(fd, SHUT_WR) sends FIN, EOF means the peer's FIN, and
 * closing it while the peer still sends resets the connection.  From
 * then on s takes no read, write or pump; once both directions have
 * ended s is TISOCK_CLOSED.  Bulk data this way costs no JSON.  The fd
 * is blocking; a program moving bytes both ways at once should poll it
 * (or set O_NONBLOCK), as for any socket, so that one direction never
 * waits on the other.  Blocks for the answer.  The fd, or -errno
 * (-ENOTCONN: s is not connected).
 */
int		 tisock_tcp_channel(tisock_tcp *s);
/* A stream over s's data channel (tisock_tcp_channel), owning its fd. */
tisock_stream	*tisock_tcp_channel_stream(tisock_tcp *s);
int		 tisock_tcp_state(const tisock_tcp *s);
const char	*tisock_tcp_host(const tisock_tcp *s);
int		 tisock_tcp_port(const tisock_tcp *s);
int		 tisock_tcp_is_readable(const tisock_tcp *s);
int		 tisock_tcp_is_writable(const tisock_tcp *s);
void		*tisock_tcp_userdata(const tisock_tcp *s);
/*
 * (0.2) Sets what the socket's callbacks get as userdata; an accepted
 * socket starts with its listener's and may be given its own in the
 * accepted callback.  0 or -EINVAL.
 */
int		 tisock_tcp_set_userdata(tisock_tcp *s, void *userdata);
/*
 * (0.2) cb runs once s is freed (tisock_tcp_free, or tisock_client_close
 * for every socket left), from the dispatch after the free (from
 * tisock_client_close itself when the client closes), as the last
 * callback of s: after it no callback of s runs and s is gone, so its
 * userdata may be freed there.  The event's socket is only good for
 * tisock_tcp_userdata/_id/_host/_port inside cb.  0 or -EINVAL.
 */
int		 tisock_tcp_set_free_callback(tisock_tcp *s, tisock_tcp_cb cb);
/* The daemon's id of the socket (0 before connect or listen). */
int64_t		 tisock_tcp_id(const tisock_tcp *s);
/*
 * Closes (without waiting) and frees s; safe inside its own callbacks.
 * Operations in flight end silently.  With a free callback, the memory
 * goes after that callback has run.  Returns NULL.
 */
tisock_tcp	*tisock_tcp_free(tisock_tcp *s);

/* ---- TLS (0.3): <tisock/tls.h>, included at the end ------------------------ */

/* ---- Ti.Stream ------------------------------------------------------------ */

/* Ti.Stream modes (Android's values). */
enum tisock_mode {
	TISOCK_MODE_READ = 0,
	TISOCK_MODE_WRITE = 1,	/* writes start at 0 and grow the buffer */
	TISOCK_MODE_APPEND = 2,	/* writes start at the buffer's end */
};

/* A stream over buf (shared, not copied; buf must outlive it).  NULL with errno. */
tisock_stream	*tisock_stream_create(tisock_buffer *buf, int mode);
/* A stream over an open file descriptor (not owned: closing the stream leaves fd open). */
tisock_stream	*tisock_stream_from_fd(int fd, int mode);
/*
 * (0.2) Ti.Filesystem.openStream(mode, path): a stream over the file at
 * path, which it owns (closing the stream closes the file).  READ reads
 * from the start; WRITE creates or truncates; APPEND creates or writes
 * at the end (mode 0666 less the umask).  NULL with errno.
 */
tisock_stream	*tisock_stream_open(const char *path, int mode);
/* A stream over a connected socket: reads and writes block as tisock_tcp_read/write do. */
tisock_stream	*tisock_tcp_stream(tisock_tcp *s);
/*
 * Binds a buffer or fd stream to c (a local client will do): its
 * asynchronous operations (tisock_stream_read_async, _write_async,
 * _read_all_async, _write_stream_async, asynchronous pump) run their
 * callbacks from c's dispatch.  NULL unbinds.  Socket streams use their
 * socket's client (-EINVAL here).  -EBUSY while operations are pending.
 * Closing c drops the stream's pending operations without callbacks.
 */
int		 tisock_stream_set_client(tisock_stream *st, tisock_client *c);
/* Reads at most length bytes (TISOCK_ALL: to buf's end) into buf at offset.
 * Returns the count, -1 at the end, or -errno.  Blocks on sockets and fds. */
ssize_t		 tisock_stream_read(tisock_stream *st, tisock_buffer *buf, size_t offset,
		     ssize_t length);
/* Writes buf[offset, +length).  Returns the count or -errno. */
ssize_t		 tisock_stream_write(tisock_stream *st, const tisock_buffer *buf, size_t offset,
		     ssize_t length);
/*
 * The same without blocking (Ti.Stream.read/write with a callback).  cb
 * runs from tisock_client_dispatch with bytes_processed: the count, -1 at
 * the end, or -1 with success 0 and code on an error.  Returns 0 or
 * -errno at once (-ENOTCONN: a buffer or fd stream bound to no client).
 * Operations on one stream complete in the order they were asked for.
 * On a socket stream these are tisock_tcp_read_async / _write_async
 * (a write's bytes are copied at once).  On a buffer or fd stream, buf
 * must stay valid until cb runs (a read's buffer, on any stream, shrunk
 * below its range meanwhile fails it with -EINVAL); a buffer stream's
 * operation happens at the next dispatch, an fd stream's when the fd is
 * ready.  A callback may free the stream; closing a buffer or fd stream
 * ends its pending operations with -EBADF.  Closing or freeing a socket
 * stream detaches it: the socket's operations in flight complete with no
 * source.
 */
int		 tisock_stream_read_async(tisock_stream *st, tisock_buffer *buf, size_t offset,
		     ssize_t length, tisock_stream_cb cb, void *userdata);
int		 tisock_stream_write_async(tisock_stream *st, const tisock_buffer *buf,
		     size_t offset, ssize_t length, tisock_stream_cb cb, void *userdata);
/* Reads to the end, appending to buf (which grows).  Returns the bytes read or -errno. */
ssize_t		 tisock_stream_read_all(tisock_stream *in, tisock_buffer *buf);
/*
 * (0.2) Titanium's Ti.Stream.readAll(stream): reads to the end into a
 * new buffer whose length is exactly the bytes read.  NULL with errno.
 */
tisock_buffer	*tisock_stream_read_all_new(tisock_stream *in);
/*
 * (0.2) Titanium's Ti.Stream.readAll(stream, buffer, callback): reads to
 * the end into buf from offset 0, buf's length becoming the bytes read;
 * cb then runs from dispatch with bytes_processed the total (or -1 with
 * success 0 and code on an error; buf then holds what was read).  buf
 * must not be touched meanwhile.  Returns 0 or -errno at once.
 */
int		 tisock_stream_read_all_async(tisock_stream *in, tisock_buffer *buf,
		     tisock_stream_cb cb, void *userdata);
/* Copies in to out in chunks of at most max_chunk bytes until in ends.  Returns the total. */
ssize_t		 tisock_stream_write_stream(tisock_stream *in, tisock_stream *out, size_t max_chunk);
/*
 * (0.2) Titanium's Ti.Stream.writeStream(in, out, maxChunkSize,
 * callback): the same, one chunk in flight at a time; cb runs from
 * dispatch with source in, destination out and bytes_processed the
 * total written (or -1 with success 0 and code).  Closing or freeing
 * either stream meanwhile ends it without the callback.  0 or -errno.
 */
int		 tisock_stream_write_stream_async(tisock_stream *in, tisock_stream *out,
		     size_t max_chunk, tisock_stream_cb cb, void *userdata);
/*
 * Reads in chunks of at most max_chunk bytes and calls handler with each
 * (buffer holds the chunk), then once with bytes_processed -1 at the end
 * (or on an error: success 0, code set).  Synchronous (is_async 0): reads
 * until the end and returns the total, or -errno.  Asynchronous (is_async
 * 1): returns 0 at once and the calls come from tisock_client_dispatch;
 * on a socket the daemon pushes the data (the last call has no buffer);
 * a buffer or fd stream must be bound to a client (tisock_stream_set_client)
 * and gives one chunk per dispatch or per fd readiness.
 */
ssize_t		 tisock_stream_pump(tisock_stream *in, tisock_stream_cb handler, void *userdata,
		     size_t max_chunk, int is_async);
int		 tisock_stream_is_readable(const tisock_stream *st);
int		 tisock_stream_is_writable(const tisock_stream *st);
/* Detaches the stream from its source; further I/O is -EBADF.  0. */
int		 tisock_stream_close(tisock_stream *st);
tisock_stream	*tisock_stream_free(tisock_stream *st);

/* ---- Ti.Buffer ----------------------------------------------------------- */


/* A zero-filled buffer of length bytes (0 is fine).  NULL with errno on failure. */
tisock_buffer	*tisock_buffer_create(size_t length);
/*
 * The bytes of the UTF-8 string s (len bytes, or TISOCK_ALL for strlen)
 * in charset (TISOCK_CHARSET_DEFAULT: UTF-8).  Its type is the charset's
 * name ("utf8").
 */
tisock_buffer	*tisock_buffer_from_string(const char *s, ssize_t len, int charset);
/*
 * A buffer as wide as type holding value, as tisock_codec_encode_number
 * writes it; its byte order is byte_order (TISOCK_NATIVE_ENDIAN: the
 * host's) and its type the type's name ("long").
 */
tisock_buffer	*tisock_buffer_from_number(double value, int type, int byte_order);
tisock_buffer	*tisock_buffer_free(tisock_buffer *b);
void		 tisock_buffer_freep(tisock_buffer **b);

size_t		 tisock_buffer_length(const tisock_buffer *b);
/* Resizes: growth is zero-filled, shrinking truncates, 0 releases.  0 or -ENOMEM. */
int		 tisock_buffer_set_length(tisock_buffer *b, size_t length);
/* The bytes; valid until the length changes.  NULL when the length is 0. */
uint8_t		*tisock_buffer_data(tisock_buffer *b);
const uint8_t	*tisock_buffer_cdata(const tisock_buffer *b);
/* buf[i]: the byte 0..255, or -EINVAL past the end. */
int		 tisock_buffer_get(const tisock_buffer *b, size_t i);
/* buf[i] = value: stores the low 8 bits (300 -> 44, -1 -> 255).  0 or -EINVAL. */
int		 tisock_buffer_set(tisock_buffer *b, size_t i, long value);

/* Appends src[src_offset, +src_length) to b.  Returns the bytes appended. */
ssize_t		 tisock_buffer_append(tisock_buffer *b, const tisock_buffer *src,
		     size_t src_offset, ssize_t src_length);
/* Inserts src[src_offset, +src_length) at offset (<= length).  Returns the bytes inserted. */
ssize_t		 tisock_buffer_insert(tisock_buffer *b, const tisock_buffer *src, size_t offset,
		     size_t src_offset, ssize_t src_length);
/* Overwrites b[offset, +src_length) with src[src_offset, +src_length); never grows b. */
ssize_t		 tisock_buffer_copy(tisock_buffer *b, const tisock_buffer *src, size_t offset,
		     size_t src_offset, ssize_t src_length);
/* A new buffer of b[offset, +length), with b's byte order and type.  NULL with errno. */
tisock_buffer	*tisock_buffer_clone(const tisock_buffer *b, size_t offset, ssize_t length);
/* Sets b[offset, +length) to the low 8 bits of fill_byte.  0 or -EINVAL. */
int		 tisock_buffer_fill(tisock_buffer *b, long fill_byte, size_t offset,
		     ssize_t length);
/* Zeroes every byte, keeping the length. */
void		 tisock_buffer_clear(tisock_buffer *b);
/* Length 0. */
void		 tisock_buffer_release(tisock_buffer *b);
/* The bytes as a NUL-terminated string (a copy to free()); *ret_len gets its length. */
char		*tisock_buffer_to_string(const tisock_buffer *b, size_t *ret_len);
int		 tisock_buffer_byte_order(const tisock_buffer *b);
/* TISOCK_NATIVE_ENDIAN stores the host's order.  0 or -EINVAL. */
int		 tisock_buffer_set_byte_order(tisock_buffer *b, int byte_order);
/*
 * (0.2) Titanium's Buffer.type: the type or charset name the buffer was
 * made with ("long", "utf8", ...), or NULL (tisock_buffer_create).
 * set_type takes any Titanium type or charset name (NULL clears it):
 * 0 or -EINVAL.
 */
const char	*tisock_buffer_type(const tisock_buffer *b);
int		 tisock_buffer_set_type(tisock_buffer *b, const char *name);

/* ---- Ti.Codec ------------------------------------------------------------ */

/*
 * TISOCK_LITTLE_ENDIAN or TISOCK_BIG_ENDIAN: the host's order.  Every
 * function taking a byte order also takes TISOCK_NATIVE_ENDIAN for it,
 * and every one taking a charset TISOCK_CHARSET_DEFAULT (UTF-8), as
 * Titanium's arguments default to them.
 */
int		 tisock_codec_native_byte_order(void);

/*
 * Writes value as type at dest[position] in byte_order.  Integer types
 * take the value truncated toward zero to 64 bits, then its low bytes.
 * Never grows dest.  Returns position + width, or -EINVAL.
 */
ssize_t		 tisock_codec_encode_number(tisock_buffer *dest, size_t position, double value,
		     int type, int byte_order);
/* The same for integers, keeping all 64 bits of a LONG. */
ssize_t		 tisock_codec_encode_integer(tisock_buffer *dest, size_t position, int64_t value,
		     int type, int byte_order);
/*
 * Reads type at src[position].  BYTE, SHORT, INT and LONG are signed.
 * Returns 0 with *ret set, or -EINVAL.
 */
int		 tisock_codec_decode_number(const tisock_buffer *src, size_t position, int type,
		     int byte_order, double *ret);
int		 tisock_codec_decode_integer(const tisock_buffer *src, size_t position, int type,
		     int byte_order, int64_t *ret);
/*
 * Encodes the UTF-8 string s (len bytes, TISOCK_ALL: strlen) in charset
 * at dest[position]; never grows dest.  Returns position + bytes written,
 * -EINVAL when it does not fit, -EILSEQ when s is not valid UTF-8 (RFC
 * 3629: no overlongs, surrogates or code points past U+10FFFF) or cannot
 * be encoded in charset.
 */
ssize_t		 tisock_codec_encode_string(tisock_buffer *dest, size_t position, const char *s,
		     ssize_t len, int charset);
/*
 * Decodes src[position, +length) from charset into a NUL-terminated UTF-8
 * string (free() it); *ret_len, when given, gets its length.  NULL with
 * errno EINVAL or EILSEQ (bytes not valid in charset; UTF-8 as RFC 3629
 * has it, so the string returned is always valid UTF-8).
 */
char		*tisock_codec_decode_string(const tisock_buffer *src, size_t position,
		     ssize_t length, int charset, size_t *ret_len);

/* Titanium's names: "byte".."double", "ascii", "latin1", "utf8", "utf16", ... */
int		 tisock_codec_type_from_name(const char *name);
int		 tisock_codec_charset_from_name(const char *name);
const char	*tisock_codec_type_name(int type);
const char	*tisock_codec_charset_name(int charset);
/* Bytes of type, or -EINVAL. */
int		 tisock_codec_type_width(int type);

#ifdef __cplusplus
}
#endif

#include <tisock/tls.h>

#endif
