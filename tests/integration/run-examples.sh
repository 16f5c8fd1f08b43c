#!/bin/sh
# Runs the programs in examples/ against the freshly built daemon.
b=${top_builddir:-.}
exec "$b/tests/integration/test-examples" "$b/daemon/tisockd" "$b/examples"
