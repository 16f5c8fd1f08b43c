/*
 * tisockctl: the command-line tool.  tisockctl.c parses the command line
 * and runs the request/answer commands; tisockctl-relay.c is the netcat
 * part (connect, listen); tisockctl-monitor.c prints daemon.monitor.
 */
#ifndef TISOCK_TISOCKCTL_H
#define TISOCK_TISOCKCTL_H

#include <stdbool.h>

#include <tisock/tisock.h>

/* Exit statuses (documented in tisockctl(1)). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* the daemon answered an error, or the operation failed */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,	/* no daemon, or it went away */
	EXIT_TIMEOUT = 4,
};

struct opts {
	const char	*socket;	/* NULL: the default resolution */
	bool		 json;
	long		 timeout_ms;	/* 0: none */
};

void	 ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	 ctl_client_failed(tisock_client *c, int r);
int	 ctl_dispatch_failed(tisock_client *c, int r);
bool	 ctl_parse_endpoint(const char *arg, bool port_only_ok, char **ret_host, int *ret_port);

int	 cmd_connect(tisock_client *c, const struct opts *o, int argc, char **argv);
int	 cmd_listen(tisock_client *c, const struct opts *o, int argc, char **argv);
int	 cmd_monitor(tisock_client *c, const struct opts *o, int argc, char **argv);

#endif
