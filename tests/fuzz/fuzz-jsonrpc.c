/*
 * fuzz-jsonrpc: one line through the JSON-RPC parser (UTF-8 check, depth
 * limit, request shapes, raw ids) and each request's params through the
 * method table's parameter rules, as the dispatcher does.  Whatever the
 * input, a parse either fails with a reason or yields requests that are
 * either invalid with a reason or name a method.  A line that parses is
 * JSON, and so is every raw id taken from it, as the tests' own checker
 * (tests/common/json-strict.c) sees it; a line refused as "utf8" is not
 * UTF-8.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json-strict.h"
#include "proto-jsonrpc.h"
#include "proto-methods.h"
#include "proto-params.h"
#include "proto-utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg msg;
	int r;

	r = proto_msg_parse((const char *)data, size, &msg);
	if (r == -EBADMSG) {
		if (!msg.reason)
			abort();
		if (strcmp(msg.reason, "utf8") == 0 && proto_utf8_valid(data, size))
			abort();
		return 0;
	}
	if (r < 0)
		return 0;
	if (!json_strict_valid((const char *)data, size))
		abort();	/* not JSON, and taken */
	for (size_t i = 0; i < msg.count; i++) {
		const struct proto_request *q = &msg.reqs[i];
		union proto_args args;
		enum proto_param_error why;
		const char *param = NULL;
		int mid;

		if (q->id && !json_strict_valid(q->id, q->id_len))
			abort();	/* an id that would be echoed as it is */

		if (q->error) {
			if (!q->reason)
				abort();
			continue;
		}
		if (!q->method)
			abort();
		mid = proto_method_lookup(q->method);
		if (mid < 0)
			continue;
		memset(&args, 0, sizeof(args));
		if (proto_params_parse(proto_methods[mid].params, q->params, &args, &param,
				       &why) < 0 && why == PROTO_PARAM_OK)
			abort();
		/* Strings handed out must be valid UTF-8, as the daemon relies on. */
		if (mid == PROTO_M_TCP_WRITE && args.write.text.s &&
		    !proto_utf8_valid(args.write.text.s, args.write.text.len))
			abort();
	}
	proto_msg_free(&msg);
	return 0;
}
