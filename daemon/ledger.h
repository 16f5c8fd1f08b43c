/*
 * ledger: the daemon's state as systemd's fd store keeps it across a
 * crash.  A memfd, mapped shared, holds a table of fixed-size slots: a
 * header, then one slot per control connection, per TCP socket whose fd
 * is in the store, and per deferred request.  Updating it is a few memory
 * stores, never a system call.
 *
 * A process killed between two stores leaves a slot half written, so
 * each client and socket slot holds two copies of its record: an update
 * writes the copy not in force and then bumps seq, whose low bit names
 * the copy in force; that one is always whole.  A request slot is written
 * once, then published by setting its kind (and freed by clearing it).
 */
#ifndef TISOCK_LEDGER_H
#define TISOCK_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_MAGIC		0x3172676c6b736974ull	/* "tisklgr1" */
#define LEDGER_VERSION		1
#define LEDGER_SLOT_SIZE	256
#define LEDGER_ID_MAX		96	/* bytes of a request id kept */
#define LEDGER_REQUESTS		65536	/* request slots beyond clients and sockets */

enum ledger_kind {
	LEDGER_FREE,
	LEDGER_CLIENT,
	LEDGER_SOCKET,
	LEDGER_REQUEST,
};

/* Socket flags (struct ledger_socket.flags). */
enum {
	LEDGER_PUMPING	= 1 << 0,	/* tcp.pump on */
	LEDGER_EOF	= 1 << 1,	/* the peer sent FIN */
	LEDGER_SHUT_WR	= 1 << 2,	/* FIN sent or queued */
	LEDGER_CHANNEL	= 1 << 3,	/* a data channel relays its bytes */
	LEDGER_EOF_TOLD	= 1 << 4,	/* pump's -1 sent */
	LEDGER_UNCARRIED = 1 << 5,	/* TLS: no process but this one can go on with it */
};

struct ledger_client {
	uint32_t	 uid, gid, pid;
	uint32_t	 unrecorded;	/* deferred requests with no slot (ledger full) */
	uint64_t	 out_sent;	/* bytes written to the client */
	uint64_t	 in_held;	/* bytes read from it, not yet dispatched */
	uint8_t		 out_partial;	/* the last byte written did not end a line */
	uint8_t		 in_partial;	/* the last byte read did not end a line */
	uint8_t		 monitor;	/* daemon.monitor on */
};

struct ledger_socket {
	uint64_t	 owner;		/* client number */
	uint32_t	 state;		/* enum tcp_state */
	uint32_t	 flags;		/* LEDGER_* */
	uint64_t	 accepted;	/* bytes accepted from the client for writing */
	uint64_t	 written;	/* of those, handed to the kernel */
	uint64_t	 read;		/* bytes read from the kernel */
	uint64_t	 queued;	/* of those, queued for the client */
	uint64_t	 delivered;	/* of those, written to the client */
	uint64_t	 pump_total;	/* bytes sent as tcp.data */
	uint32_t	 chunk_size;	/* pump bytes per tcp.data */
};

struct ledger_request {
	uint64_t	 socket;	/* 0: none */
	int32_t		 method;	/* enum proto_method_id */
	uint16_t	 id_len;	/* 0: the id did not fit */
	char		 id[LEDGER_ID_MAX];	/* raw JSON id token */
};

union ledger_rec {
	struct ledger_client	c;
	struct ledger_socket	s;
	struct ledger_request	r;
};

struct ledger_slot {
	uint32_t	 seq;		/* rec[seq & 1] is in force */
	uint16_t	 kind;		/* enum ledger_kind, set last */
	uint16_t	 pad;
	uint64_t	 id;		/* client number; socket id; a request's client */
	union ledger_rec rec[2];
};

_Static_assert(sizeof(struct ledger_slot) <= LEDGER_SLOT_SIZE, "ledger slot too large");

/* Slot 0. */
struct ledger_head {
	uint64_t	 magic;
	uint32_t	 version, slot_size;
	uint32_t	 nslots;
	uint32_t	 pid;		/* of the daemon writing it */
	uint64_t	 next_socket;	/* last socket id handed out */
	uint64_t	 next_client;	/* last client number handed out */
	uint64_t	 generation;	/* the writer's generation */
	char		 version_str[32];	/* the writer's PACKAGE_VERSION */
};

struct ledger {
	int		 fd;		/* the memfd, -1: none */
	uint8_t		*base;		/* mapped nslots * LEDGER_SLOT_SIZE bytes */
	uint32_t	 nslots;
	uint32_t	*free;		/* free slot numbers, a stack */
	uint32_t	 nfree;
};

int	 ledger_create(struct ledger *l, uint32_t nslots);
int	 ledger_map(struct ledger *l, int fd);
void	 ledger_reset(struct ledger *l);
int	 ledger_keep(struct ledger *l, const uint8_t *claimed);
void	 ledger_close(struct ledger *l);
struct ledger_head *ledger_head(const struct ledger *l);
struct ledger_slot *ledger_slot(const struct ledger *l, uint32_t n);
uint32_t ledger_alloc(struct ledger *l, enum ledger_kind kind, uint64_t id,
	     const union ledger_rec *rec);
void	 ledger_release(struct ledger *l, uint32_t n);
union ledger_rec *ledger_begin(struct ledger *l, uint32_t n);
void	 ledger_commit(struct ledger *l, uint32_t n);
bool	 ledger_id_ok(const char *id, size_t n);
void	 ledger_extent(const struct ledger *l, uint32_t n, uint32_t *first, uint32_t *end);
bool	 ledger_read(const struct ledger *l, uint32_t n, uint16_t *kind, uint64_t *id,
	     union ledger_rec *rec);

#endif
