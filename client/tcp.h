/*
 * tcp: Ti.Network.Socket.TCP over the control protocol.  The socket
 * object, shared by tcp.c (lifecycle: create, connect, listen, accept,
 * free), tcp-io.c (reads and writes), tcp-ctl.c (close, shutdown,
 * options, channel) and tcp-notify.c (pump and notifications).
 */
#ifndef TISOCK_TCP_H
#define TISOCK_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <tisock/tisock.h>

#include "client.h"
#include "proto-methods.h"

struct tisock_tcp {
	TAILQ_ENTRY(tisock_tcp)	 link;		/* c->sockets, then c->dead */
	tisock_client		*c;
	int64_t			 id;		/* the daemon's; 0 before it exists */
	int			 state;		/* TISOCK_* */
	bool			 freed;		/* tisock_tcp_free was called */
	bool			 shut_wr;	/* shutdown asked: no more writes */
	char			*host;		/* NULL: 127.0.0.1 */
	int			 port;
	int			 listen_queue_size;
	int			 timeout_ms;	/* connect timeout; 0: the daemon's */
	int			 no_delay;	/* for the daemon's socket; -1: unset */
	int			 keep_alive;
	int			 keep_alive_idle;	/* seconds; -1: unset */
	int			 linger;	/* seconds; -1: unset */
	int			 send_buffer, receive_buffer;	/* bytes; -1: unset */
	tisock_tcp_cb		 connected, accepted, error;
	tisock_tcp_cb		 on_free;	/* after it, no callback of this socket runs */
	void			*userdata;
	struct lib_call_list	 calls;		/* calls in flight for this socket */
	/* Async pump (daemon push mode). */
	tisock_stream_cb	 pump_cb;	/* NULL: not pumping */
	void			*pump_userdata;
	tisock_stream		*pump_stream;
	tisock_buffer		*pump_buf;	/* each chunk, handed to pump_cb */
	size_t			 pump_chunk;
	bool			 pump_paused;	/* paused while the inbox is full */
	/* TLS (tcp-tls.c): what connect and listen send, what came back. */
	cJSON			*tls_connect;	/* {"tls": ...} for tcp.connect */
	cJSON			*tls_listen;	/* {"tls": ...} for tcp.listen */
	struct lib_tls		*tls;		/* the negotiated session, or NULL */
	struct lib_tls_error	*tls_err;	/* the last handshake failure, or NULL */
	/* Streams over this socket (tisock_tcp_stream), told when it goes. */
	tisock_stream		**streams;
	size_t			 nstreams;
};

struct lib_tls;
struct lib_tls_error;

/* tcp.c */
int		 lib_tcp_set_id(tisock_tcp *s, int64_t id);
tisock_tcp	*lib_tcp_find(tisock_client *c, int64_t id);
void		 lib_tcp_fire(tisock_tcp_cb cb, tisock_tcp *s, tisock_tcp *inbound, int code,
		    const char *error);
void		 lib_tcp_reap(tisock_client *c);
void		 lib_tcp_detach_all(tisock_client *c);
int		 lib_tcp_open_args(const tisock_tcp *s, struct proto_tcp_open_args *a);
void		 lib_done_ignore(tisock_client *c, struct lib_call *call, const cJSON *answer);

/* tcp-io.c */
int		 lib_buffer_range(const tisock_buffer *buf, size_t offset, ssize_t length,
		    size_t *ret);
int		 lib_tcp_io_async(tisock_tcp *s, tisock_stream *st, tisock_buffer *buf,
		    size_t offset, ssize_t length, tisock_stream_cb cb, void *userdata,
		    void (*drop)(void *userdata), bool is_read);
void		 lib_tcp_io_unsource(tisock_tcp *s, tisock_stream *st);
void		 lib_tcp_network_error(tisock_tcp *s, int r);

/* tcp-notify.c */
bool		 lib_tcp_notify(tisock_client *c, const char *method, const cJSON *params);
int		 lib_tcp_pump(tisock_tcp *s, tisock_stream *st, tisock_stream_cb cb,
		    void *userdata, size_t max_chunk);
void		 lib_tcp_pump_stop(tisock_tcp *s);
void		 lib_tcp_pause_pumps(tisock_client *c);
void		 lib_tcp_resume_pumps(tisock_client *c);
void		 lib_tcp_broken(tisock_client *c);
int		 lib_tcp_add_stream(tisock_tcp *s, tisock_stream *st);
void		 lib_tcp_remove_stream(tisock_tcp *s, tisock_stream *st);

/* tcp-tls.c */
void		 lib_tls_answer(tisock_tcp *s, const cJSON *answer);
void		 lib_tls_closed(tisock_tcp *s, const cJSON *params);
void		 lib_tls_free(tisock_tcp *s);
void		 lib_tls_release(tisock_tcp *s);
void		 lib_tls_listen_done(tisock_tcp *s);

/* stream.c */
void		 lib_stream_socket_gone(tisock_stream *st);

#endif
