#!/usr/bin/python3
"""A JSON-RPC client nobody here wrote talks to tisockd: aiorpcx's
RPCSession through its NewlineFramer, over the control socket.

    aiorpcx-client.py SOCKET ECHO_PORT

daemon.info with positional (empty) params as aiorpcx sends them, then a
connect to a loopback echo peer, 300,000 bytes written through tcp.write
and read back through tcp.read, compared byte for byte, and a close.
Prints one "ok ..." line per step; exits 1 at the first failure.
"""
import asyncio
import base64
import hashlib
import os
import sys
from functools import partial

from aiorpcx import NewlineFramer, RPCSession, SessionKind
from aiorpcx.rawsocket import RSTransport

TOTAL = 300_000
CHUNK = 60_000


class UnixTransport(RSTransport):
    """RSTransport takes its peer for an IP address; a Unix socket's name is a path."""

    def connection_made(self, transport):
        self._proxy = "unix"	# what a proxy would set: peername is not looked at
        self._remote_address = None
        super().connection_made(transport)


async def run(path, port):
    loop = asyncio.get_running_loop()
    factory = partial(UnixTransport, RPCSession, NewlineFramer(max_size=0), SessionKind.CLIENT)
    _, protocol = await loop.create_unix_connection(factory, path)
    session = protocol.session
    info = await session.send_request("daemon.info", [])
    assert info["name"] == "tisockd", info
    print("ok daemon.info with params [] from aiorpcx")
    res = await session.send_request("tcp.connect", {"host": "127.0.0.1", "port": port})
    sock = res["socket"]
    assert res["state"] == "connected", res
    print("ok tcp.connect through aiorpcx")
    body = os.urandom(TOTAL)
    for off in range(0, TOTAL, CHUNK):
        piece = body[off:off + CHUNK]
        res = await session.send_request(
            "tcp.write", {"socket": sock, "data": base64.b64encode(piece).decode()})
        assert res["bytes"] == len(piece), res
    got = b""
    while len(got) < TOTAL:
        res = await asyncio.wait_for(
            session.send_request("tcp.read", {"socket": sock, "length": 65536}), 15)
        assert res["bytes"] > 0, res
        got += base64.b64decode(res["data"])
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    print(f"ok {TOTAL} bytes written and read back byte-exact through aiorpcx")
    res = await session.send_request("tcp.close", {"socket": sock})
    assert res["state"] == "closed", res
    print("ok tcp.close")
    await session.close()


def main():
    try:
        asyncio.run(asyncio.wait_for(run(sys.argv[1], int(sys.argv[2])), 60))
    except Exception as e:  # any failure, with what it was
        print(f"FAIL {type(e).__name__}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
