/*
 * rpc-metrics: the handler of daemon.metrics, the Prometheus exposition
 * as a string (the same text GET /metrics serves).
 */
#include "config.h"

#include <errno.h>

#include "ctl.h"
#include "daemon.h"
#include "metrics.h"
#include "proto-buf.h"
#include "rpc.h"
#include "rpc-handlers.h"

int
rpc_daemon_metrics(struct rpc_call *call, const union proto_args *args)
{
	struct proto_buf text = PROTO_BUF_INIT;
	struct proto_jw w;

	if (metrics_write(call->ctl->d, &text) < 0) {
		proto_buf_free(&text);
		return -ENOMEM;
	}
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kstr(&w, "contentType", METRICS_CONTENT_TYPE);
		proto_jw_key(&w, "text");
		proto_jw_strn(&w, proto_buf_head(&text), proto_buf_used(&text));
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	proto_buf_free(&text);
	return 0;
}
