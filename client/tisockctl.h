/*
 * tisockctl: the command-line tool.  tisockctl.c runs the request/answer
 * commands; tisockctl-args.c reads the command line (options anywhere,
 * suggestions for slips); tisockctl-errors.c reports errors (as text, or
 * as JSON with --json); tisockctl-relay.c is the netcat part (connect,
 * listen); tisockctl-monitor.c prints daemon.monitor.
 */
#ifndef TISOCK_TISOCKCTL_H
#define TISOCK_TISOCKCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <tisock/tisock.h>

#define CTL_DEFAULT_SOCKET	"/run/tisockd/tisockd.sock"

/* Exit statuses (documented in tisockctl(1)). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* the daemon answered an error, or the operation failed */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,	/* no daemon, or it went away */
	EXIT_TIMEOUT = 4,
};

struct command;

struct opts {
	const char	*socket;	/* NULL: the default resolution */
	bool		 json;
	long		 timeout_ms;	/* 0: none */
	/* Options of one command or two; unset for the others. */
	long		 count;		/* ping -c, 1 by default */
	bool		 keep;		/* listen -k */
	bool		 channel;	/* connect --channel */
	bool		 progress;	/* connect, listen --progress */
	bool		 verbose;	/* connect, listen -v: a summary at the end */
	unsigned	 states;	/* list --state: bit per enum proto_state, 0: any */
	bool		 open;		/* list --open */
	long long	 mon_pid;	/* monitor --pid, 0: any */
	long long	 mon_socket;	/* monitor --socket, 0: any */
	char		*mon_kinds;	/* monitor --event: ",a,b," or NULL: any; owned */
	/* connect, listen --tls (tisockctl-tls.c). */
	bool		 tls;		/* --tls */
	const char	*servername;	/* --servername */
	const char	*cafile;	/* --cafile */
	bool		 insecure;	/* --insecure: no verification */
	const char	*alpn;		/* --alpn P[,P] */
	const char	*cert, *key;	/* listen --cert, --key */
	bool		 require_cert;	/* listen --require-client-cert */
	const char	*starttls;	/* connect --starttls smtp|imap (sets tls) */
	const struct command *cmd;	/* the command, once known */
};

struct command {
	const char	*name;
	const char	*args;		/* synopsis after the name */
	const char	*summary;
	const char	*help;		/* more, for COMMAND --help; may be NULL */
	unsigned	 opts;		/* its own options: bits of enum ctl_opt */
	bool		 data_on_stdout;	/* stdout is data: JSON errors go to stderr */
	int		(*run)(tisock_client *c, const struct opts *o, int argc, char **argv);
};

/* Options, global and per command. */
enum ctl_opt {
	OPT_SOCKET, OPT_JSON, OPT_TIMEOUT, OPT_HELP, OPT_VERSION,
	OPT_COUNT, OPT_KEEP, OPT_CHANNEL, OPT_PROGRESS, OPT_VERBOSE, OPT_STATE, OPT_OPEN,
	OPT_PID, OPT_MSOCKET, OPT_EVENT,
	OPT_TLS, OPT_SERVERNAME, OPT_CAFILE, OPT_INSECURE, OPT_ALPN, OPT_CERT, OPT_KEY,
	OPT_REQUIRE_CERT, OPT_STARTTLS,
	_OPT_MAX,
};
#define OPT_BIT(o)	(1u << (o))
#define OPT_GLOBAL	(OPT_BIT(OPT_SOCKET) | OPT_BIT(OPT_JSON) | OPT_BIT(OPT_TIMEOUT) | \
			 OPT_BIT(OPT_HELP) | OPT_BIT(OPT_VERSION))

extern const struct command ctl_commands[];
extern const size_t ctl_ncommands;

/* tisockctl-args.c */
enum ctl_parsed { CTL_RUN, CTL_HELP, CTL_VERSION, CTL_USAGE };
enum ctl_parsed ctl_parse_args(int argc, char **argv, struct opts *o, int *ret_argc,
	    char ***ret_argv);
void	 ctl_options_help(FILE *f, unsigned opts);
const char *ctl_suggest(const char *word, const char *const *names, size_t n);
bool	 ctl_parse_endpoint(const char *arg, bool port_only_ok, char **ret_host, int *ret_port);
bool	 ctl_parse_ms(const char *s, long *ret_ms);
void	 ctl_duration(double ms, char *buf, size_t len);

/* tisockctl-errors.c */
int	 ctl_usage(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int	 ctl_fail(const struct opts *o, int status, const char *type, const char *extra_json,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void	 ctl_errors_to(const struct opts *o);
void	 ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	 ctl_client_failed(tisock_client *c, int r);
int	 ctl_dispatch_failed(tisock_client *c, int r);
bool	 ctl_daemon_gone(tisock_client *c);
int	 ctl_unreachable(const struct opts *o, int err);
void	 ctl_set_unreachable(const struct opts *o, int err);

/* tisockctl.c: what the request/answer commands share */
void	 ctl_arm_timeout(const struct opts *o);
int	 ctl_call(tisock_client *c, const char *method, const char *params, cJSON **ret);
void	 ctl_print_json(const struct opts *o, const cJSON *v);
int	 ctl_no_args(const struct opts *o, char **argv);
const char *ctl_str_of(const cJSON *o, const char *key);

int	 cmd_methods(tisock_client *c, const struct opts *o, int argc, char **argv);
int	 cmd_describe(tisock_client *c, const struct opts *o, int argc, char **argv);
int	 cmd_connect(tisock_client *c, const struct opts *o, int argc, char **argv);
int	 cmd_listen(tisock_client *c, const struct opts *o, int argc, char **argv);
/* tisockctl-tls.c */
int	 ctl_tls_check(const struct opts *o, bool server);
int	 ctl_tls_client(tisock_client *c, tisock_tcp *s, const struct opts *o, bool start,
	    const char *what);
int	 ctl_starttls(tisock_client *c, tisock_tcp *s, const struct opts *o, const char *what);
int	 ctl_tls_server(tisock_client *c, tisock_tcp *s, const struct opts *o);
void	 ctl_tls_summary(const tisock_tcp *s, const struct opts *o, const char *peer);
bool	 ctl_tls_failed(const tisock_tcp *s, const char *what);

int	 cmd_monitor(tisock_client *c, const struct opts *o, int argc, char **argv);
int	 cmd_daemon(tisock_client *c, const struct opts *o, int argc, char **argv);

#endif
