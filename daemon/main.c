/*
 * tisockd: the tisock daemon.  Parses the command line and the config
 * file, opens the control socket and runs the loop.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "upgrade.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: tisockd [OPTION]...\n"
		"Own TCP sockets on behalf of local programs, which use them through\n"
		"JSON-RPC 2.0 over a Unix-domain socket.\n"
		"\n"
		"  -s, --socket PATH     control socket (default: $TISOCKD_SOCKET,\n"
		"                        $XDG_RUNTIME_DIR/tisockd.sock, /run/tisockd/tisockd.sock)\n"
		"  -f, --foreground      run in the foreground, logging to stderr; tisockd\n"
		"                        never forks, so this is how it runs (the systemd\n"
		"                        unit and the README pass it to say so)\n"
		"  -c, --config FILE     config file (default %s;\n"
		"                        a missing default file means the defaults)\n"
		"  -t, --check-config    read the config file, say what is wrong, and exit:\n"
		"                        0 when it is good, %d when not\n"
		"  -l, --log-level L     error, warning, notice, info or debug\n"
		"  -h, --help            this help\n"
		"  -V, --version         version\n"
		"\n"
		"Exit status: 0 stopped by SIGTERM or SIGINT, 1 start-up failed, 2 usage,\n"
		"%d a bad config file (the message names the file, the line and the key).\n"
		"See tisockd(8) and tisockd.conf(5).\n", CONF_DEFAULT_PATH, CONF_EXIT_CONFIG,
		CONF_EXIT_CONFIG);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *socket_path = NULL, *level = NULL;
	struct daemon d = { 0 };
	char *err = NULL;
	bool check = false, upgrading;
	char *why = NULL;
	int o, r;

	while ((o = getopt_long(argc, argv, "s:fc:tl:hV", opts, NULL)) != -1) {
		switch (o) {
		case 's': socket_path = optarg; break;
		case 'f': break;
		case 'c': config = optarg; break;
		case 't': check = true; break;
		case 'l': level = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tisockd %s (protocol 1)\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tisockd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("tisockd");
	upgrading = !check && upgrade_child_env();
	conf_defaults(&d.conf);
	r = conf_load(&d.conf, config ? config : CONF_DEFAULT_PATH, config != NULL, &err);
	if (r < 0) {
		if (upgrading)
			upgrade_child_fail(&d, CONF_EXIT_CONFIG, "config: %s", err ? err : strerror(-r));
		if (check)
			fprintf(stderr, "tisockd: config: %s\n", err ? err : strerror(-r));
		else
			log_event(LOG_ERR, &(struct log_fields){ .message_id = LOG_MID_CONFIG_ERROR },
				  "config: %s", err ? err : strerror(-r));
		free(err);
		conf_done(&d.conf);
		return CONF_EXIT_CONFIG;
	}
	if (check) {
		printf("%s: ok\n", config ? config : CONF_DEFAULT_PATH);
		conf_done(&d.conf);
		return 0;
	}
	if (socket_path) {
		free(d.conf.socket_path);
		d.conf.socket_path = strdup(socket_path);
	}
	if (level) {
		r = log_parse_level(level);
		if (r < 0) {
			fprintf(stderr, "tisockd: unknown log level: %s\n", level);
			return 2;
		}
		d.conf.log_level = r;
	}
	log_set_level(d.conf.log_level);
	d.conf_path = config ? config : CONF_DEFAULT_PATH;
	d.conf_must_exist = config != NULL;
	d.log_level_fixed = level != NULL;
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Signals through a signalfd: one not yet read stays pending in the
	 * kernel (visible to sigpending()), never half-caught by a handler
	 * whose watcher would run only in a later iteration (upgrade.c hands
	 * such signals on to its successor).
	 */
	r = daemon_init(&d, ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD));
	if (r < 0) {
		if (upgrading)
			upgrade_child_fail(&d, 1, "start-up failed: %s", strerror(-r));
		log_error("start-up failed: %s", strerror(-r));
		daemon_done(&d);
		return 1;
	}
	upgrade_init(&d, argc, argv);
	if (upgrading) {
		/* Sockets and control socket come with the image, once the policy is in force. */
		if (upgrade_child_begin(&d, &why) < 0)
			upgrade_child_fail(&d, 1, "%s", why);
		r = daemon_run(&d);
		daemon_done(&d);
		ev_loop_destroy(ev_default_loop(0));
		log_event(LOG_INFO, &(struct log_fields){ .message_id = LOG_MID_STOPPED }, "stopped");
		return r;
	}
	r = daemon_listen(&d);
	if (r >= 0)
		r = metrics_http_start(&d);
	if (r < 0) {
		daemon_done(&d);
		return 1;
	}
	log_event(LOG_NOTICE, &(struct log_fields){ .message_id = LOG_MID_STARTED },
		  "listening on %s", d.socket_path);
	if (d.socket_owned) {
		log_notice("try: client/tisockctl --socket %s info   (installed: tisockctl)",
			   d.socket_path);
		log_notice("or:  echo '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.info\"}' | "
			   "socat - UNIX-CONNECT:%s", d.socket_path);
	}
	r = daemon_run(&d);
	daemon_done(&d);
	ev_loop_destroy(ev_default_loop(0));
	log_event(LOG_INFO, &(struct log_fields){ .message_id = LOG_MID_STOPPED }, "stopped");
	return r;
}
