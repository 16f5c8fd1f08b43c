#!/bin/sh
# Runs test-limits against the freshly built daemon.
exec "${top_builddir:-.}/tests/integration/test-limits" "${top_builddir:-.}/daemon/tisockd"
