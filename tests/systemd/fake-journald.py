#!/usr/bin/env python3
"""A stand-in for journald's native socket, for tests: binds the datagram
socket at PATH, decodes each entry of the native protocol (KEY=VALUE
lines, and the binary KEY\\n<le64 size><data>\\n form) and appends it to
OUT as one JSON object per line.  Exits after SECONDS (a deadline, so a
test that forgets it cannot hang) or on SIGTERM.

Usage: fake-journald.py PATH OUT SECONDS
"""
import json
import os
import signal
import socket
import struct
import sys
import time


def decode(data):
    fields = {}
    i = 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            break
        line = data[i:nl]
        eq = line.find(b"=")
        if eq >= 0:
            key, value = line[:eq], line[eq + 1:]
            i = nl + 1
        else:
            key = line
            (size,) = struct.unpack_from("<Q", data, nl + 1)
            start = nl + 1 + 8
            value = data[start:start + size]
            i = start + size + 1
        fields[key.decode()] = value.decode("utf-8", "replace")
    return fields


def main():
    path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    end = time.monotonic() + seconds
    with open(out, "a", buffering=1) as f:
        while time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            try:
                data = s.recv(1 << 20)
            except socket.timeout:
                continue
            f.write(json.dumps(decode(data)) + "\n")


if __name__ == "__main__":
    main()
