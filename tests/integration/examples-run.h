/*
 * examples-run: runs the programs of examples/ for test-examples: each
 * as a child with its stdout on a pipe, TISOCKD_SOCKET set to the test
 * daemon; and the loopback peers they talk to.  Every wait is bounded.
 */
#ifndef TISOCK_TEST_EXAMPLES_RUN_H
#define TISOCK_TEST_EXAMPLES_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spawn.h"

#define DEADLINE_MS 15000

struct child {
	pid_t	pid;
	int	out;		/* its stdout */
	char	text[16384];	/* what it printed */
	size_t	len;
};

extern struct spawned sp;	/* the daemon */
extern const char *exdir;	/* where the programs are */

/* Starts prog with args (NULL-terminated).  0 or -1. */
int	run(struct child *ch, const char *prog, const char *const *args);
/* Reads the child's output until it contains want or EOF, within the deadline. */
bool	read_until(struct child *ch, const char *want);
/* Waits for the child's exit.  Returns its status, or -1 (killed) after the deadline. */
int	finish(struct child *ch);
/* A loopback listener (accept bounded by SO_RCVTIMEO); *ret_port gets its port. */
int	listener(int *ret_port);
/* Accepts one connection, its reads bounded. */
int	accept_bounded(int lfd);
/* A connection to 127.0.0.1:port, its reads bounded; -1 if refused. */
int	connect_bounded(int port);
/* Reads to EOF (bounded by SO_RCVTIMEO).  Returns the byte count. */
size_t	read_all(int fd, char *buf, size_t size);

/* test-examples-apps.c: the forwarder, the chat server and the HTTP client. */
void	example_apps(void);

#endif
