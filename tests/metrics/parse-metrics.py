#!/usr/bin/env python3
"""Reads a Prometheus text exposition on stdin, parses it with the
prometheus_client library's own parser (text_string_to_metric_families),
checks what the format demands beyond parsing (a HELP and a TYPE for every
family, histogram buckets cumulative and ending in +Inf equal to _count,
no family twice) and prints it as JSON for jq:

  {"FAMILY": {"type": "counter", "help": "...",
              "samples": [{"name": "...", "labels": {...}, "value": 1.0}]}}

Exit status 1, with the reason on stderr, when the text is not valid.
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    out = {}
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own complaint
        print("parse error: %s" % e, file=sys.stderr)
        return 1
    for f in families:
        if f.name in out:
            print("family %s appears twice" % f.name, file=sys.stderr)
            return 1
        if not f.documentation or f.type == "unknown":
            print("family %s has no HELP or no TYPE" % f.name, file=sys.stderr)
            return 1
        samples = [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]
        if f.type == "histogram":
            buckets = [s for s in f.samples if s.name.endswith("_bucket")]
            count = [s.value for s in f.samples if s.name.endswith("_count")]
            values = [s.value for s in buckets]
            if values != sorted(values) or not buckets or \
               not math.isinf(float(buckets[-1].labels["le"])) or values[-1] != count[0]:
                print("histogram %s: buckets not cumulative or +Inf != _count" % f.name,
                      file=sys.stderr)
                return 1
        out[f.name] = {"type": f.type, "help": f.documentation, "samples": samples}
    if not out:
        print("no metrics at all", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
