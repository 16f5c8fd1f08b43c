/*
 * tisockctl-daemon: `daemon upgrade`, the daemon replaced by its binary
 * on disk without dropping a connection (daemon.upgrade).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tisockctl.h"

static double
num_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* daemon upgrade: prints who took over, or why the old process serves on (exit 1). */
int
cmd_daemon(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	cJSON *res, *info = NULL;
	double old_pid = -1;
	int r;

	if (argc != 2 || strcmp(argv[1], "upgrade") != 0)
		return ctl_usage(o, "daemon: the only subcommand is \"upgrade\"");
	ctl_arm_timeout(o);
	if (ctl_call(c, "daemon.info", NULL, &info) == 0)
		old_pid = num_of(info, "pid");
	cJSON_Delete(info);
	r = ctl_call(c, "daemon.upgrade", NULL, &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	if (o->json)
		ctl_print_json(o, res);
	else
		printf("upgraded: pid %.0f -> %.0f, version %s -> %s, generation %.0f, "
		       "paused %.0f ms\n", old_pid, num_of(res, "pid"),
		       ctl_str_of(res, "oldVersion"), ctl_str_of(res, "newVersion"),
		       num_of(res, "generation"), num_of(res, "pauseMs"));
	cJSON_Delete(res);
	return EXIT_OK;
}
