/*
 * tisockctl-errors: every error is reported the same way: "tisockctl:
 * MESSAGE" on stderr (a usage error adds the synopsis and where to read
 * more), or with --json one line {"error": {"type", "message",
 * "exitStatus", ...}} on stdout (on stderr for connect and listen, whose
 * stdout is the data).  The daemon's errors keep its code and data; an
 * unknown method gets the nearest known one; a daemon that cannot be
 * reached gets the path tried and what to do about it.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "proto-errors.h"
#include "proto-methods.h"
#include "tisockctl.h"

static const struct opts *eo;	/* what errors go by: --json, the command */

/* From now on errors follow o (--json, and where the command's output goes). */
void
ctl_errors_to(const struct opts *o)
{
	eo = o;
}

static FILE *
json_target(void)
{
	return eo && eo->cmd && eo->cmd->data_on_stdout ? stderr : stdout;
}

/* Prints the error object; extra_json (an object's text, or NULL) adds members. */
static void
print_json_error(const char *type, int status, const char *message, const char *extra_json)
{
	cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
	cJSON *extra = extra_json ? cJSON_Parse(extra_json) : NULL, *m;
	char *text;

	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddStringToObject(e, "message", message);
	while (extra && (m = extra->child)) {
		cJSON_DetachItemViaPointer(extra, m);
		cJSON_AddItemToObject(e, m->string, m);
	}
	cJSON_AddNumberToObject(e, "exitStatus", status);
	text = cJSON_PrintUnformatted(root);
	fprintf(json_target(), "%s\n", text ? text : "{\"error\":{}}");
	fflush(json_target());
	free(text);
	cJSON_Delete(extra);
	cJSON_Delete(root);
}

static int __attribute__((format(printf, 4, 0)))
vfail(int status, const char *type, const char *extra_json, const char *fmt, va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (eo && eo->json)
		print_json_error(type, status, msg, extra_json);
	else
		fprintf(stderr, "tisockctl: %s\n", msg);
	return status;
}

/*
 * Reports an error of the given type ("usage", "unreachable", "daemon",
 * "timeout", "failed") and returns status.  extra_json: more members of
 * the JSON error object, or NULL.
 */
int
ctl_fail(const struct opts *o, int status, const char *type, const char *extra_json,
	 const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o)
		eo = o;
	va_start(ap, fmt);
	r = vfail(status, type, extra_json, fmt, ap);
	va_end(ap);
	return r;
}

/* A failure of the operation (exit 1 follows): "tisockctl: ..." or JSON. */
void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) vfail(EXIT_FAILED, "failed", NULL, fmt, ap);
	va_end(ap);
}

/* The synopsis of the command (or of tisockctl) for usage errors. */
static void
synopsis(char *buf, size_t len, const struct command *cmd)
{
	if (cmd)
		snprintf(buf, len, "tisockctl [OPTIONS] %s%s%s", cmd->name, *cmd->args ? " " : "",
			 cmd->args);
	else
		snprintf(buf, len, "tisockctl [OPTIONS] COMMAND [ARGS...]");
}

/* A usage error: the message, the synopsis and where to read more.  Returns EXIT_USAGE. */
int
ctl_usage(const struct opts *o, const char *fmt, ...)
{
	const struct command *cmd = o ? o->cmd : NULL;
	char msg[1024], syn[256];
	va_list ap;

	if (o)
		eo = o;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	synopsis(syn, sizeof(syn), cmd);
	if (eo && eo->json) {
		cJSON *x = cJSON_CreateObject();
		char *extra;

		cJSON_AddStringToObject(x, "usage", syn);
		extra = cJSON_PrintUnformatted(x);
		print_json_error("usage", EXIT_USAGE, msg, extra);
		free(extra);
		cJSON_Delete(x);
		return EXIT_USAGE;
	}
	fprintf(stderr, "tisockctl: %s\nUsage: %s\nTry 'tisockctl %s%s--help'.\n", msg, syn,
		cmd ? cmd->name : "", cmd ? " " : "");
	return EXIT_USAGE;
}

/* Set when the command runs on a local client, the daemon unreachable (ctl_set_unreachable). */
static const struct opts *unreachable_o;
static int unreachable_err;

/*
 * The daemon could not be reached (tisock_client_open failed with err):
 * the command runs on a local client all the same, so that its arguments
 * are checked first and a usage error stays one (exit 2).  Its first
 * request then fails with -ENOTCONN, reported as the daemon unreachable.
 */
void
ctl_set_unreachable(const struct opts *o, int err)
{
	unreachable_o = o;
	unreachable_err = err;
}

/*
 * Reports a failed library call on c and returns the exit status it
 * stands for: the daemon's error (1), or the daemon gone (3).  An unknown
 * method gets the nearest known one as a suggestion.
 */
int
ctl_client_failed(tisock_client *c, int r)
{
	const struct tisock_error *e = tisock_client_last_error(c);

	if (unreachable_err && r == -ENOTCONN)
		return ctl_unreachable(unreachable_o, unreachable_err);

	if (e->code != 0) {
		const char *names[_PROTO_M_MAX], *hint = NULL;
		cJSON *data = e->data_json ? cJSON_Parse(e->data_json) : NULL;
		const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data,
								"method"));
		int rc;

		if (e->code == PROTO_E_NO_METHOD && method) {
			for (int i = 0; i < _PROTO_M_MAX; i++)
				names[i] = proto_methods[i].flags & PROTO_M_NOTIFICATION ? NULL
										: proto_methods[i].name;
			hint = ctl_suggest(method, names, _PROTO_M_MAX);
		}
		if (eo && eo->json) {
			cJSON *x = cJSON_CreateObject();
			char *extra;

			cJSON_AddNumberToObject(x, "code", e->code);
			if (data)
				cJSON_AddItemToObject(x, "data", cJSON_Duplicate(data, true));
			if (hint)
				cJSON_AddStringToObject(x, "suggestion", hint);
			extra = cJSON_PrintUnformatted(x);
			print_json_error("daemon", EXIT_FAILED, e->message, extra);
			free(extra);
			cJSON_Delete(x);
			rc = EXIT_FAILED;
		} else {
			rc = ctl_fail(NULL, EXIT_FAILED, "daemon", NULL, "error %d: %s%s%s%s%s%s",
				      e->code, e->message, e->data_json ? " " : "",
				      e->data_json ? e->data_json : "", hint ? "; did you mean " : "",
				      hint ? hint : "", hint ? "?" : "");
		}
		cJSON_Delete(data);
		return rc;
	}
	if (r == -EPIPE || r == -ECONNRESET)
		return ctl_fail(NULL, EXIT_UNREACHABLE, "unreachable", NULL, "the daemon went away");
	return ctl_fail(NULL, EXIT_FAILED, "failed", NULL, "%s",
			*tisock_client_error(c) ? tisock_client_error(c) : strerror(-r));
}

/*
 * Whether the daemon is gone, after an operation failed in a way that
 * does not tell (a pump's -EPIPE is the peer's as well as the daemon's;
 * a data channel ends the same way for both): a blocking call to a
 * client whose daemon went away fails at once with -EPIPE, any other
 * is answered.
 */
bool
ctl_daemon_gone(tisock_client *c)
{
	return tisock_client_call(c, "daemon.info", NULL, NULL) == -EPIPE &&
	       tisock_client_last_error(c)->code == 0;
}

/*
 * Reports a failed tisock_client_dispatch (never a daemon error: the
 * daemon is gone, or the system refused).  Returns the exit status.
 */
int
ctl_dispatch_failed(tisock_client *c, int r)
{
	if (unreachable_err && r == -ENOTCONN)
		return ctl_unreachable(unreachable_o, unreachable_err);
	if (r == -EPIPE || r == -ECONNRESET)
		return ctl_fail(NULL, EXIT_UNREACHABLE, "unreachable", NULL, "the daemon went away");
	return ctl_fail(NULL, EXIT_FAILED, "failed", NULL, "%s", strerror(-r));
}

/* The socket path as libtisock resolves it (o->socket first). */
static void
socket_path(const struct opts *o, char *buf, size_t len, const char **ret_from)
{
	const char *env = getenv("TISOCKD_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");

	if (o->socket) {
		snprintf(buf, len, "%s", o->socket);
		*ret_from = "--socket";
	} else if (env && *env) {
		snprintf(buf, len, "%s", env);
		*ret_from = "$TISOCKD_SOCKET";
	} else if (xdg && *xdg) {
		snprintf(buf, len, "%s/tisockd.sock", xdg);
		*ret_from = "$XDG_RUNTIME_DIR";
	} else {
		snprintf(buf, len, "%s", CTL_DEFAULT_SOCKET);
		*ret_from = "the default";
	}
}

/*
 * The group that would let us in, for EACCES on path: the socket's own,
 * or that of the first directory on the way we may not enter.
 */
static const char *
blocking_group(const char *path, char *what, size_t whatlen)
{
	char copy[4096], *dir;
	struct stat st;
	struct group *gr;

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(what, whatlen, "the socket");
	if (stat(path, &st) < 0) {
		st.st_gid = (gid_t)-1;
		for (dir = dirname(copy); strcmp(dir, "/") && strcmp(dir, "."); dir = dirname(dir)) {
			struct stat ds;

			if (stat(dir, &ds) == 0 && access(dir, X_OK) < 0) {
				st.st_gid = ds.st_gid;
				snprintf(what, whatlen, "its directory %.1024s", dir);
				break;
			}
		}
		if (st.st_gid == (gid_t)-1)
			return NULL;
	}
	gr = getgrgid(st.st_gid);
	return gr ? gr->gr_name : NULL;
}

/*
 * tisock_client_open failed with err: says which path was tried, why
 * that fails, and what to do about it.  Returns EXIT_UNREACHABLE.
 */
int
ctl_unreachable(const struct opts *o, int err)
{
	char path[4096], hint[2048], what[1200], extra[8192];
	const char *from, *name = proto_errno_name(err), *group;
	struct stat st;
	cJSON *x;
	char *xs;

	socket_path(o, path, sizeof(path), &from);
	switch (err) {
	case EACCES:
	case EPERM:
		group = blocking_group(path, what, sizeof(what));
		if (group)
			snprintf(hint, sizeof(hint), "%.1100s belongs to the group \"%.64s\": ask to be added "
				 "(usermod -aG %.64s $USER) and log in again, or run as root", what,
				 group, group);
		else
			snprintf(hint, sizeof(hint), "you may not use it: join the group of the "
				 "socket (tisock for the system service) and log in again");
		break;
	case ENOENT:
	case ECONNREFUSED:
		if (err == ENOENT && strcmp(path, CTL_DEFAULT_SOCKET) != 0 &&
		    stat(CTL_DEFAULT_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
			snprintf(hint, sizeof(hint), "the system's tisockd listens at %s (%s chose "
				 "%.1024s): add --socket %s, or set TISOCKD_SOCKET", CTL_DEFAULT_SOCKET, from,
				 path, CTL_DEFAULT_SOCKET);
		else
			snprintf(hint, sizeof(hint), "%s: is tisockd running? Start it: sudo "
				 "systemctl start tisockd.socket, or tisockd --foreground --socket %.1024s",
				 err == ENOENT ? "no such socket" : "nothing accepts there", path);
		break;
	default:
		snprintf(hint, sizeof(hint), "the path comes from %s; see tisockctl(1)", from);
		break;
	}
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "path", path);
	cJSON_AddNumberToObject(x, "errno", err);
	cJSON_AddStringToObject(x, "errname", name ? name : "EUNKNOWN");
	cJSON_AddStringToObject(x, "hint", hint);
	xs = cJSON_PrintUnformatted(x);
	snprintf(extra, sizeof(extra), "%s", xs ? xs : "{}");
	free(xs);
	cJSON_Delete(x);
	if (o->json)
		return ctl_fail(o, EXIT_UNREACHABLE, "unreachable", extra, "cannot reach tisockd at "
				"%s: %s", path, strerror(err));
	return ctl_fail(o, EXIT_UNREACHABLE, "unreachable", NULL, "cannot reach tisockd at %s: "
			"%s\n  %s", path, strerror(err), hint);
}
