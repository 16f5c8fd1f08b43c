"""Helpers of the TLS tests: a tisockd of their own, a JSON-RPC client
of it, and TLS peers on loopback made with Python's ssl module.

Every wait has a deadline; nothing sleeps to synchronise.
"""
import array
import base64
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import threading
import time

DEADLINE = float(os.environ.get("TISOCK_TLS_DEADLINE", "60"))


class Failure(Exception):
    pass


class Daemon:
    """tisockd on a socket in tmp, with conf as its config file."""

    def __init__(self, binary, tmp, name, conf=""):
        self.path = os.path.join(tmp, name + ".sock")
        cpath = os.path.join(tmp, name + ".conf")
        with open(cpath, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(tmp, name + ".log"), "w")
        wrapper = os.environ.get("TISOCK_DAEMON_WRAPPER", "").split()
        self.proc = subprocess.Popen(wrapper + [binary, "--foreground", "--config", cpath,
                                                "--socket", self.path, "--log-level", "debug"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + DEADLINE
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                s.close()
                return
            except OSError:
                s.close()
            if self.proc.poll() is not None or time.monotonic() > end:
                raise Failure(f"tisockd {name} did not start")
            select.select([], [], [], 0.02)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -1
        self.log.close()
        return rc


class Client:
    """One control connection: calls, notifications, passed fds.  With
    Client.record (a file), its traffic is recorded as tisock-conform
    records it, for validate-openrpc.py."""

    record = None
    conns = 0

    def __init__(self, daemon, record=True):
        """record False: this connection's traffic is not recorded (bulk bytes)."""
        self.rec = Client.record if record else None
        Client.conns += 1
        self.conn = Client.conns
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(daemon.path)
        self.buf = b""
        self.next_id = 1
        self.notes = []
        self.answers = {}
        self.fds = []
        self.lines = []          # every line received, for key-material checks

    def close(self):
        self.s.close()
        for fd in self.fds:
            os.close(fd)

    def send(self, method, params=None):
        i = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        line = json.dumps(msg).encode() + b"\n"
        if self.rec:
            self.rec.write(f"{self.conn} o {line.hex()}\n")
        self.s.sendall(line)
        return i

    def _read(self, timeout):
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return
        fds = array.array("i")
        data, anc, _, _ = self.s.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
        self.fds.extend(fds)
        if not data:
            raise Failure("the daemon closed the connection")
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.lines.append(line)
            if self.rec:
                self.rec.write(f"{self.conn} i {line.hex()}\n")
            m = json.loads(line)
            if "id" in m and "method" not in m:
                self.answers[m["id"]] = m
            else:
                self.notes.append(m)

    def pump(self, timeout=0.0):
        self._read(timeout)

    def wait(self, i, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while i not in self.answers:
            left = end - time.monotonic()
            if left <= 0:
                raise Failure(f"no answer to request {i}")
            self._read(left)
        return self.answers.pop(i)

    def call(self, method, params=None, deadline=DEADLINE):
        return self.wait(self.send(method, params), deadline)

    def note(self, pred, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while True:
            for k, n in enumerate(self.notes):
                if pred(n):
                    return self.notes.pop(k)
            left = end - time.monotonic()
            if left <= 0:
                raise Failure("no such notification")
            self._read(left)

    def result(self, method, params=None):
        a = self.call(method, params)
        if "result" not in a:
            raise Failure(f"{method}: {a}")
        return a["result"]

    def read_all(self, sock, want):
        """Reads until want bytes came (or -1) with tcp.read; returns them."""
        out = b""
        while len(out) < len(want) if isinstance(want, bytes) else len(out) < want:
            r = self.result("tcp.read", {"socket": sock, "timeout": int(DEADLINE * 1000)})
            if r["bytes"] < 0:
                break
            out += base64.b64decode(r["data"])
        return out


def b64(data):
    return base64.b64encode(data).decode()


def tls_context(server, cert=None, key=None, ca=None, verify=None, alpn=None,
                minimum=None, maximum=None, ciphers=None):
    """An ssl context of every TLS peer of the tests (these and tls-peer.py's):
    server or client side; cert, key and ca are file paths; verify an
    ssl.CERT_* for the peer's certificate (a client without ca checks none);
    alpn a list of protocols; minimum and maximum ssl.TLSVersion."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if ciphers:
        ctx.set_ciphers(ciphers)
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    if cert:
        ctx.load_cert_chain(cert, key)
    if ca:
        ctx.load_verify_locations(ca)
    elif not server:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if verify is not None:
        ctx.verify_mode = verify
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def server_context(certs, cert="server", alpn=None, ca=None, require_cert=False,
                   maximum=None, minimum=None, ciphers=None):
    """A server context with certs' cert (and ca: NAME.pem there)."""
    return tls_context(True, os.path.join(certs, cert + ".pem"),
                       os.path.join(certs, cert + ".key"),
                       ca=os.path.join(certs, ca + ".pem") if ca else None,
                       verify=ssl.CERT_REQUIRED if require_cert else None, alpn=alpn,
                       minimum=minimum, maximum=maximum, ciphers=ciphers)


class Peer:
    """A loopback listener whose one connection is served by fn(sock) in a thread."""

    def __init__(self, fn, family=socket.AF_INET, count=1):
        self.count = count
        self.ls = socket.socket(family, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
        self.ls.listen(8)
        self.ls.settimeout(DEADLINE)
        self.port = self.ls.getsockname()[1]
        self.error = None
        self.result = None
        self.fn = fn
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for _ in range(self.count):
                c, _ = self.ls.accept()
                c.settimeout(DEADLINE)
                try:
                    self.result = self.fn(c)
                finally:
                    c.close()
        except Exception as e:  # reported by join()
            self.error = e
        finally:
            self.ls.close()

    def join(self):
        self.t.join(DEADLINE)
        if self.t.is_alive():
            raise Failure("the peer did not finish")
        if self.error:
            raise self.error
        return self.result


def tls_server(ctx, serve, ragged_ok=True):
    """A Peer that does the TLS handshake and then serve(sslsock)."""
    def fn(c):
        s = ctx.wrap_socket(c, server_side=True, suppress_ragged_eofs=False)
        return serve(s)
    return Peer(fn)


def recv_until_eof(s):
    """Reads a TLS socket to its end: (bytes, clean) clean when close_notify came."""
    out = b""
    while True:
        try:
            d = s.recv(1 << 16)
        except ssl.SSLEOFError:
            return out, False
        if not d:
            return out, True
        out += d


def pattern(n, seed):
    """n deterministic bytes."""
    block = bytes((i * 131 + seed) & 0xff for i in range(65536))
    return (block * (n // len(block) + 1))[:n]
