/*
 * tisockctl-discover: `methods` and `describe`, the daemon's own account
 * of its protocol (rpc.discover), with suggestions for mistyped names.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tisockctl.h"

/* The method (or notification) object called name in an rpc.discover result. */
static const cJSON *
discover_find(const cJSON *doc, const char *name)
{
	const char *lists[] = { "methods", "x-notifications" };
	const cJSON *m;

	for (size_t i = 0; i < 2; i++)
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, lists[i])) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "name");

			if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
				return m;
		}
	return NULL;
}

/* The method or notification of doc nearest to name, or NULL. */
static const char *
discover_suggest(const cJSON *doc, const char *name)
{
	const char *lists[] = { "methods", "x-notifications" }, *names[64];
	const cJSON *m;
	size_t n = 0;

	for (size_t i = 0; i < 2; i++)
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, lists[i])) {
			const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m,
									"name"));

			if (s && n < 64)
				names[n++] = s;
		}
	return ctl_suggest(name, names, n);
}

int
cmd_methods(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const char *lists[] = { "methods", "x-notifications" };
	cJSON *doc;
	const cJSON *m;
	int r;

	if (argc > 1)
		return ctl_no_args(o, argv);
	ctl_arm_timeout(o);
	r = ctl_call(c, "rpc.discover", NULL, &doc);
	if (r < 0)
		return ctl_client_failed(c, r);
	for (size_t i = 0; i < 2; i++)
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, lists[i])) {
			const char *kind = i ? "notification" : "method";

			if (o->json) {
				cJSON *line = cJSON_CreateObject();

				cJSON_AddStringToObject(line, "name", ctl_str_of(m, "name"));
				cJSON_AddStringToObject(line, "summary", ctl_str_of(m, "summary"));
				cJSON_AddStringToObject(line, "kind", kind);
				ctl_print_json(o, line);
				cJSON_Delete(line);
			} else {
				printf("%-16s %s%s\n", ctl_str_of(m, "name"), i ? "(notification) " : "",
				       ctl_str_of(m, "summary"));
			}
		}
	cJSON_Delete(doc);
	return EXIT_OK;
}

/* One line of a schema: type, bounds, default. */
static void
print_schema(const cJSON *schema, char *out, size_t len)
{
	const cJSON *v;
	size_t n;

	if (cJSON_GetObjectItemCaseSensitive(schema, "$ref")) {
		const char *ref = ctl_str_of(schema, "$ref"), *slash = strrchr(ref, '/');

		snprintf(out, len, "%s", slash ? slash + 1 : ref);
		return;
	}
	n = (size_t)snprintf(out, len, "%s", ctl_str_of(schema, "type"));
	if ((v = cJSON_GetObjectItemCaseSensitive(schema, "minimum")) && n < len)
		n += (size_t)snprintf(out + n, len - n, ", %.0f", v->valuedouble);
	if ((v = cJSON_GetObjectItemCaseSensitive(schema, "maximum")) && n < len)
		n += (size_t)snprintf(out + n, len - n, "..%.0f", v->valuedouble);
	if ((v = cJSON_GetObjectItemCaseSensitive(schema, "default")) && n < len) {
		char *d = cJSON_PrintUnformatted(v);

		n += (size_t)snprintf(out + n, len - n, ", default %s", d ? d : "?");
		free(d);
	}
	if (cJSON_GetObjectItemCaseSensitive(schema, "contentEncoding") && n < len)
		snprintf(out + n, len - n, " (base64)");
}

int
cmd_describe(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const cJSON *m, *p, *props;
	cJSON *doc;
	char schema[256];
	int r;

	if (argc != 2)
		return ctl_usage(o, argc < 2 ? "describe wants a METHOD (see tisockctl methods)"
					     : "describe takes one METHOD");
	ctl_arm_timeout(o);
	r = ctl_call(c, "rpc.discover", NULL, &doc);
	if (r < 0)
		return ctl_client_failed(c, r);
	m = discover_find(doc, argv[1]);
	if (!m) {
		const char *hint = discover_suggest(doc, argv[1]);
		char extra[160];

		snprintf(extra, sizeof(extra), hint ? "{\"suggestion\":\"%s\"}" : "{}", hint);
		r = ctl_fail(o, EXIT_FAILED, "failed", extra, "no method %s%s%s%s (see tisockctl "
			     "methods)", argv[1], hint ? "; did you mean " : "", hint ? hint : "",
			     hint ? "?" : "");
		cJSON_Delete(doc);
		return r;
	}
	if (o->json) {
		ctl_print_json(o, m);
		cJSON_Delete(doc);
		return EXIT_OK;
	}
	printf("%s: %s\n", ctl_str_of(m, "name"), ctl_str_of(m, "summary"));
	if (*ctl_str_of(m, "description"))
		printf("%s\n", ctl_str_of(m, "description"));
	printf("\nParams:%s\n", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "params"))
				? "" : " none");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(m, "params")) {
		print_schema(cJSON_GetObjectItemCaseSensitive(p, "schema"), schema, sizeof(schema));
		printf("  %-16s %-8s %s\n      %s\n", ctl_str_of(p, "name"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "required")) ? "required"
										 : "optional",
		       schema, ctl_str_of(p, "description"));
	}
	props = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "result"),
						 "schema"), "properties");
	if (props) {
		printf("\nResult:\n");
		cJSON_ArrayForEach(p, props) {
			print_schema(cJSON_GetObjectItemCaseSensitive(p, "schema"), schema,
				     sizeof(schema));
			printf("  %-16s %-18s %s\n", p->string, schema, ctl_str_of(p, "description"));
		}
	}
	cJSON_Delete(doc);
	return EXIT_OK;
}
