/*
 * stream: Ti.Stream over a buffer, a file descriptor (or a file opened
 * by path) or a socket.  The stream object, shared by stream.c (the
 * kinds, blocking read and write, close), stream-fd.c (file descriptor
 * I/O that never blocks), stream-async.c (the queue of callback
 * operations on buffer and fd streams) and stream-copy.c (read_all,
 * write_stream and pump, blocking and with callbacks).
 */
#ifndef TISOCK_STREAM_H
#define TISOCK_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <tisock/tisock.h>

#include "client.h"

enum stream_kind {
	STREAM_BUFFER,
	STREAM_FD,
	STREAM_TCP,
	STREAM_CLOSED,
};

enum op_kind {
	OP_READ,
	OP_WRITE,
	OP_PUMP,
};

/* Called instead of the callback when an operation is dropped unfinished. */
typedef void (*lib_drop_fn)(void *userdata);

/* One asynchronous operation on a buffer or fd stream. */
struct stream_op {
	TAILQ_ENTRY(stream_op)	 link;
	enum op_kind		 kind;
	tisock_buffer		*buf;		/* OP_PUMP: the chunk, owned */
	size_t			 offset, length, done;
	int64_t			 total;		/* OP_PUMP */
	tisock_stream_cb	 cb;
	lib_drop_fn		 drop;
	void			*userdata;
};

struct stream_job;

struct tisock_stream {
	enum stream_kind	 kind;
	int			 mode;		/* TISOCK_MODE_* */
	tisock_buffer		*buf;		/* STREAM_BUFFER, not owned */
	size_t			 pos;		/* STREAM_BUFFER position */
	int			 fd;		/* STREAM_FD */
	tisock_tcp		*tcp;		/* STREAM_TCP, not owned */

	/* Asynchronous operations (buffer and fd streams). */
	tisock_client		*client;	/* bound with tisock_stream_set_client */
	struct lib_source	 src;
	TAILQ_HEAD(, stream_op)	 ops;		/* in order; the head runs */
	int			 watch_fd;	/* dup of fd for epoll; -1 */
	bool			 always_ready;	/* fd epoll refuses (regular file) */
	int			 arm_error;	/* -errno: the fd cannot be watched */
	bool			 is_socket;	/* fd is a socket: MSG_DONTWAIT */
	bool			 duplex;	/* read and write (a channel) */
	bool			 owns_fd;	/* closed with the stream */
	int			 in_callback;
	bool			 freed;		/* freed inside a callback */
	TAILQ_HEAD(, stream_job) jobs_from;	/* callback read_all / write_stream reading st */
	TAILQ_HEAD(, stream_job) jobs_to;	/* callback write_stream writing st */
};

/* stream.c */
int		 lib_stream_range(const tisock_buffer *buf, size_t offset, ssize_t length,
		    size_t *ret);
tisock_stream	*lib_stream_new(enum stream_kind kind, int mode);

/* stream-fd.c */
ssize_t		 lib_fd_read(tisock_stream *st, void *p, size_t n);
ssize_t		 lib_fd_write(tisock_stream *st, const void *p, size_t n);
ssize_t		 lib_fd_read_step(tisock_stream *st, void *p, size_t n);
ssize_t		 lib_fd_write_step(tisock_stream *st, const char *p, size_t n);

/* stream-async.c */
int		 lib_stream_async(tisock_stream *st, enum op_kind kind, tisock_buffer *buf,
		    size_t offset, ssize_t length, tisock_stream_cb cb, void *userdata,
		    lib_drop_fn drop);
int		 lib_stream_pump_async(tisock_stream *st, tisock_stream_cb handler,
		    void *userdata, size_t max_chunk);
void		 lib_stream_ops_drop(tisock_stream *st);
void		 lib_stream_ops_end(tisock_stream *st);
void		 lib_stream_run(struct lib_source *src);
void		 lib_stream_detach(struct lib_source *src);

/* stream-copy.c */
void		 lib_stream_jobs_cancel(tisock_stream *st);

#endif
