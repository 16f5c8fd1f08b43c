#!/usr/bin/python3
"""TLS through tisockd against real TLS peers on loopback (Python's ssl).

    test-tls.py TISOCKD CERTS TMP [CASE...]

CERTS is what tls-certs made.  Prints one ok/FAIL line per case and
"N passed, N failed".
"""
import base64
import hashlib
import os
import select
import signal
import socket
import ssl
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True     # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tlstest import (DEADLINE, Client, Daemon, Failure, Peer, b64, pattern,  # noqa: E402
                     recv_until_eof, server_context, tls_context, tls_server)

TISOCKD, CERTS, TMP = sys.argv[1:4]
ONLY = set(sys.argv[4:])
MIB = 1 << 20


def pem(name):
    with open(os.path.join(CERTS, name)) as f:
        return f.read()


def check(cond, what):
    if not cond:
        raise Failure(what)


def echo_once(s):
    d = s.recv(4096)
    s.sendall(d)
    s.unwrap()


def case_verified_connect(d):
    """A verified connect: the result's tls fields, then bytes both ways."""
    peer = tls_server(server_context(CERTS), echo_once)
    c = Client(d)
    r = c.result("tcp.connect", {"host": "127.0.0.1", "port": peer.port,
                                 "tls": {"caPem": pem("ca.pem"), "serverName": "localhost"}})
    t = r["tls"]
    check(t["version"] in ("TLSv1.2", "TLSv1.3") and t["cipher"] and t["verified"] is True
          and t["resumed"] is False and t["alpn"] is None, f"tls: {t}")
    pc = t["peerCertificate"]
    check("CN=localhost" in pc["subject"] and "CN=tisock test CA" in pc["issuer"], f"{pc}")
    check("DNS:localhost" in pc["subjectAltNames"] and "IP:127.0.0.1" in pc["subjectAltNames"],
          f"{pc}")
    check(len(pc["sha256"]) == 64 and pc["notAfter"].endswith("Z"), f"{pc}")
    s = r["socket"]
    check(c.result("tcp.write", {"socket": s, "text": "ping"})["bytes"] == 4, "write")
    got = c.read_all(s, b"ping")
    check(got == b"ping", f"echo {got!r}")
    c.result("tcp.shutdown", {"socket": s})     # close_notify: the peer answers with its own
    eof = c.result("tcp.read", {"socket": s})
    check(eof["bytes"] == -1 and "truncated" not in eof, f"clean end: {eof}")
    info = c.result("tcp.info", {"socket": s})
    check(info["tls"]["version"] == t["version"] and info["bytesWritten"] == 4
          and info["bytesRead"] == 4, f"info {info}")
    peer.join()
    c.close()


def case_ip_literal(d):
    """An IP host is checked against the certificate's IP addresses (no SNI)."""
    peer = tls_server(server_context(CERTS), echo_once)
    c = Client(d)
    r = c.result("tcp.connect", {"host": "127.0.0.1", "port": peer.port,
                                 "tls": {"caPem": pem("ca.pem")}})
    check(r["tls"]["verified"], f"{r}")
    c.result("tcp.write", {"socket": r["socket"], "text": "x"})
    c.read_all(r["socket"], b"x")
    c.result("tcp.shutdown", {"socket": r["socket"]})
    peer.join()
    c.close()


def case_ipv6(d):
    """TLS over IPv6: ::1 is checked against the certificate's IP:::1."""
    ctx = server_context(CERTS)
    peer = Peer(lambda c: echo_once(ctx.wrap_socket(c, server_side=True)), family=socket.AF_INET6)
    c = Client(d)
    r = c.result("tcp.connect", {"host": "::1", "port": peer.port,
                                 "tls": {"caPem": pem("ca.pem")}})
    check(r["tls"]["verified"] and "IP:::1" in r["tls"]["peerCertificate"]["subjectAltNames"],
          f"{r}")
    c.result("tcp.write", {"socket": r["socket"], "text": "6"})
    check(c.read_all(r["socket"], b"6") == b"6", "echo")
    c.result("tcp.shutdown", {"socket": r["socket"]})
    peer.join()
    c.close()


def handshake_only(ctx):
    """A Peer's function: the server side of a handshake with ctx, whatever its end."""
    def serve(c):
        try:
            ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            pass
    return serve


def handshake_fails(d, ctx_or_fn, tls, reason, host="127.0.0.1"):
    """A connect whose handshake fails: -32012 with reason; returns the error."""
    peer = Peer(ctx_or_fn if callable(ctx_or_fn) else handshake_only(ctx_or_fn))
    c = Client(d)
    a = c.call("tcp.connect", {"host": host, "port": peer.port, "tls": tls})
    peer.join()
    c.close()
    e = a.get("error", {})
    check(e.get("code") == -32012 and e.get("message") == "TLS handshake failed"
          and e["data"].get("reason") == reason and e["data"].get("socket"),
          f"expected -32012 {reason}, got {a}")
    return e["data"]


def case_expired(d):
    data = handshake_fails(d, server_context(CERTS, "expired"),
                           {"caPem": pem("ca.pem"), "serverName": "localhost"},
                           "certificateExpired")
    check(data["verifyError"] == 10 and "expired" in data["verifyErrorText"], f"{data}")


def case_not_yet_valid(d):
    handshake_fails(d, server_context(CERTS, "future"),
                    {"caPem": pem("ca.pem"), "serverName": "localhost"},
                    "certificateNotYetValid")


def case_server_wants_cert(d):
    """A TLS 1.2 server that requires a client certificate refuses with its alert."""
    ctx = server_context(CERTS, ca="ca", require_cert=True, maximum=ssl.TLSVersion.TLSv1_2)
    data = handshake_fails(d, ctx, {"caPem": pem("ca.pem")}, "alert")
    check(data.get("alert") == "handshake failure", f"{data}")


def case_server_wants_cert_tls13(d):
    """TLS 1.3: the server's refusal of a missing client certificate ends the first read."""
    peer = Peer(handshake_only(server_context(CERTS, ca="ca", require_cert=True)))
    c = Client(d)
    r = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})
    a = c.call("tcp.read", {"socket": r["socket"], "timeout": int(DEADLINE * 1000)})
    peer.join()
    c.close()
    check(a.get("error", {}).get("code") == -32011 and a["error"]["data"]["errname"] == "EPROTO",
          f"{a}")


def case_self_signed(d):
    handshake_fails(d, server_context(CERTS, "self"), {"serverName": "localhost"},
                    "selfSigned")


def case_unknown_ca(d):
    handshake_fails(d, server_context(CERTS, "unknown"),
                    {"caPem": pem("ca.pem"), "serverName": "localhost"}, "unknownCa")


def case_system_store(d):
    """Without caPem the system store decides: the test CA is unknown there."""
    handshake_fails(d, server_context(CERTS), True, "unknownCa")


def case_hostname(d):
    data = handshake_fails(d, server_context(CERTS), {"caPem": pem("ca.pem"),
                                                      "serverName": "example.com"},
                           "hostnameMismatch")
    check(data["verifyError"] == 62, f"{data}")


def case_protocol_version(d):
    ctx = server_context(CERTS, ciphers="DEFAULT@SECLEVEL=0",
                         minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1)
    handshake_fails(d, ctx, {"caPem": pem("ca.pem")}, "protocolVersion")


def case_min_version(d):
    """minVersion 1.3 against a TLS 1.2 server."""
    ctx = server_context(CERTS, maximum=ssl.TLSVersion.TLSv1_2)
    handshake_fails(d, ctx, {"caPem": pem("ca.pem"), "minVersion": "1.3"}, "protocolVersion")


def case_peer_closed(d):
    handshake_fails(d, lambda c: c.recv(1), {"caPem": pem("ca.pem")}, "peerClosed")


def case_handshake_timeout(d):
    """A TCP server that never answers: the handshake times out (tls-handshake-timeout-ms)."""
    stop = threading.Event()

    def silent(c):
        stop.wait(DEADLINE)
    peer = Peer(silent)
    c = Client(d)
    t0 = time.monotonic()
    a = c.call("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})
    stop.set()
    peer.join()
    c.close()
    e = a.get("error", {})
    check(e.get("code") == -32012 and e["data"]["reason"] == "handshakeTimeout", f"{a}")
    check(time.monotonic() - t0 < DEADLINE, "took too long")


def case_connect_timeout_bounds(d):
    """The connect timeout bounds the handshake too."""
    stop = threading.Event()
    peer = Peer(lambda c: stop.wait(DEADLINE))
    c = Client(d)
    a = c.call("tcp.connect", {"port": peer.port, "timeout": 1000,
                               "tls": {"caPem": pem("ca.pem")}})
    stop.set()
    peer.join()
    c.close()
    check(a.get("error", {}).get("data", {}).get("reason") == "handshakeTimeout", f"{a}")


def case_alpn(d):
    def serve(s):
        proto = s.selected_alpn_protocol()
        s.sendall(proto.encode())
        s.unwrap()
    peer = tls_server(server_context(CERTS, alpn=["h2", "http/1.1"]), serve)
    c = Client(d)
    r = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem"),
                                                            "alpn": ["http/1.1", "x"]}})
    check(r["tls"]["alpn"] == "http/1.1", f"{r}")
    check(c.read_all(r["socket"], 8) == b"http/1.1", "the server's view")
    c.result("tcp.shutdown", {"socket": r["socket"]})
    peer.join()
    c.close()


def case_truncation(d):
    """A peer that closes without close_notify: the end of stream says truncated."""
    def serve(s):
        s.sendall(b"bye")
        s.recv(1)          # waits for the client to have read
        os.close(s.detach())   # FIN without close_notify
    for mode in ("read", "pump"):
        peer = tls_server(server_context(CERTS), serve)
        c = Client(d)
        r = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})
        s = r["socket"]
        if mode == "read":
            check(c.read_all(s, b"bye") == b"bye", "bye")
            c.result("tcp.write", {"socket": s, "text": "k"})
            peer.join()
            e = c.result("tcp.read", {"socket": s})
            check(e["bytes"] == -1 and e.get("truncated") is True, f"read: {e}")
        else:
            c.result("tcp.pump", {"socket": s})
            c.note(lambda n: n["method"] == "tcp.data" and n["params"]["bytes"] == 3)
            c.result("tcp.write", {"socket": s, "text": "k"})
            peer.join()
            n = c.note(lambda n: n["method"] == "tcp.data" and n["params"]["bytes"] == -1)
            check(n["params"].get("truncated") is True, f"pump: {n}")
        c.close()


def case_close_notify_on_shutdown(d):
    """tcp.shutdown sends close_notify: the peer sees a clean end, then answers."""
    def serve(s):
        data, clean = recv_until_eof(s)
        s.sendall(b"clean" if clean else b"ragged")
        s.unwrap()
        return data
    peer = tls_server(server_context(CERTS), serve)
    c = Client(d)
    s = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})["socket"]
    c.result("tcp.write", {"socket": s, "text": "data"})
    c.result("tcp.shutdown", {"socket": s})
    got = c.read_all(s, 100)
    check(got == b"clean", f"the peer saw {got!r}")
    check(peer.join() == b"data", "the peer's bytes")
    c.close()


def case_close_notify_on_close(d):
    """A graceful tcp.close sends close_notify too."""
    def serve(s):
        return recv_until_eof(s)
    peer = tls_server(server_context(CERTS), serve)
    c = Client(d)
    s = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})["socket"]
    c.result("tcp.write", {"socket": s, "text": "last"})
    c.result("tcp.close", {"socket": s})
    data, clean = peer.join()
    check(data == b"last" and clean, f"{data!r} clean={clean}")
    c.close()


def case_linger_close(d):
    """A graceful close with 8 MiB still queued: flushed, then close_notify."""
    go = threading.Event()

    def serve(s):
        go.wait(DEADLINE)
        data, clean = recv_until_eof(s)
        return hashlib.sha256(data).hexdigest(), len(data), clean
    peer = tls_server(server_context(CERTS), serve)
    c = Client(d, record=False)
    s = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})["socket"]
    data = pattern(8 * MIB, 9)
    wr = c.send("tcp.write", {"socket": s, "data": b64(data)})
    cl = c.send("tcp.close", {"socket": s})
    go.set()
    w = c.wait(wr)
    a = c.wait(cl)
    check("result" in w and a.get("result", {}).get("undeliveredBytes") == 0, f"{w} {a}")
    h, n, clean = peer.join()
    check(n == len(data) and h == hashlib.sha256(data).hexdigest() and clean,
          f"the peer read {n}, clean={clean}")
    c.close()


def bulk_peer(n):
    """A TLS peer that sends n bytes while it reads to the end (one thread: OpenSSL
    objects are not for two), then closes cleanly; returns the hash it read."""
    out = pattern(n, 7)

    def serve(s):
        h = hashlib.sha256()
        got = sent = 0
        eof = False
        s.setblocking(False)
        end = time.monotonic() + 4 * DEADLINE
        while (sent < n or not eof) and time.monotonic() < end:
            r, w, _ = select.select([s], [s] if sent < n else [], [], 1.0)
            if r or s.pending():
                try:
                    b = s.recv(1 << 16)
                    if b:
                        h.update(b)
                        got += len(b)
                    else:
                        eof = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            if w and sent < n:
                try:
                    sent += s.send(out[sent:sent + (1 << 16)])
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
        s.setblocking(True)
        s.unwrap()
        return h.hexdigest(), got
    return tls_server(server_context(CERTS), serve), hashlib.sha256(out).hexdigest()


def case_bulk_json(d):
    """64 MiB each way through tcp.write and tcp.pump, checked by SHA-256."""
    n = 64 * MIB
    peer, want_in = bulk_peer(n)
    c = Client(d, record=False)     # 2 x 64 MiB of base64: not worth validating
    s = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})["socket"]
    c.result("tcp.pump", {"socket": s, "chunkSize": 1 << 18})
    send = pattern(n, 3)
    h_in = hashlib.sha256()
    got = 0
    pending = []
    off = 0
    end = time.monotonic() + 4 * DEADLINE
    eof = False
    while (off < n or pending or not eof) and time.monotonic() < end:
        while off < n and len(pending) < 8:
            pending.append(c.send("tcp.write", {"socket": s, "data": b64(send[off:off + MIB])}))
            off += MIB
        c.pump(1.0)
        for i in list(pending):
            if i in c.answers:
                a = c.answers.pop(i)
                check("result" in a, f"write: {a}")
                pending.remove(i)
        for note in c.notes:
            p = note["params"]
            if note["method"] == "tcp.data":
                if p["bytes"] < 0:
                    eof = True
                else:
                    h_in.update(base64.b64decode(p["data"]))
                    got += p["bytes"]
        c.notes.clear()
        if off >= n and not pending and got >= n:
            c.result("tcp.shutdown", {"socket": s})
    check(got == n and h_in.hexdigest() == want_in, f"read {got} bytes, hash matches "
          f"{h_in.hexdigest() == want_in}")
    peer_hash, peer_got = peer.join()
    check(peer_got == n and peer_hash == hashlib.sha256(send).hexdigest(),
          f"the peer read {peer_got}")
    info = c.result("tcp.info", {"socket": s})
    check(info["bytesRead"] == n and info["bytesWritten"] == n, f"plaintext counters {info}")
    c.close()


def case_bulk_channel(d):
    """64 MiB each way through tcp.channel, checked by SHA-256."""
    n = 64 * MIB
    peer, want_in = bulk_peer(n)
    c = Client(d)
    s = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})["socket"]
    r = c.result("tcp.channel", {"socket": s})
    check(r["fd"] and c.fds, "no fd came")
    ch = socket.socket(fileno=c.fds.pop())
    ch.settimeout(DEADLINE)
    send = pattern(n, 5)

    def writer():
        ch.sendall(send)
        ch.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    h = hashlib.sha256()
    got = 0
    while True:
        b = ch.recv(1 << 18)
        if not b:
            break
        h.update(b)
        got += len(b)
    t.join(DEADLINE)
    ch.close()
    check(got == n and h.hexdigest() == want_in, f"channel read {got}")
    peer_hash, peer_got = peer.join()
    check(peer_got == n and peer_hash == hashlib.sha256(send).hexdigest(),
          f"the peer read {peer_got}")
    note = c.note(lambda m: m["method"] == "tcp.closed")
    check(note["params"]["reason"] == "channel" and "truncated" not in note["params"],
          f"{note}")
    c.close()


def listen_tls(c, tls):
    r = c.result("tcp.listen", {"port": 0, "tls": tls})
    return r["socket"], r["local"]["port"]


def server_tls(**kw):
    t = {"certificatePem": pem("server.pem"), "keyPem": pem("server.key")}
    t.update(kw)
    return t


def client_ctx(cert=None, alpn=None):
    return tls_context(False, os.path.join(CERTS, cert + ".pem") if cert else None,
                       os.path.join(CERTS, cert + ".key") if cert else None,
                       ca=os.path.join(CERTS, "ca.pem"), alpn=alpn)


def py_client(port, ctx, fn):
    """A Python TLS client in a thread: fn(sslsock) after its handshake; returns (thread, box)."""
    box = {}

    def run():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost",
                                     suppress_ragged_eofs=False) as s:
                    box["result"] = fn(s)
        except Exception as e:
            box["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def case_server(d):
    """tisockd as a TLS server accepting a Python ssl client."""
    c = Client(d)
    ls, port = listen_tls(c, server_tls(alpn=["x", "http/1.1"]))

    def talk(s):
        s.sendall(b"hello")
        data, clean = recv_until_eof(s)
        return s.selected_alpn_protocol(), data, clean
    t, box = py_client(port, client_ctx(alpn=["http/1.1"]), talk)
    a = c.result("tcp.accept", {"socket": ls, "timeout": int(DEADLINE * 1000)})
    tl = a["tls"]
    check(tl["alpn"] == "http/1.1" and tl["peerCertificate"] is None
          and tl["verified"] is False, f"{a}")
    s = a["inbound"]
    check(c.read_all(s, b"hello") == b"hello", "hello")
    c.result("tcp.write", {"socket": s, "text": "world"})
    c.result("tcp.close", {"socket": s})
    t.join(DEADLINE)
    check(box.get("result") == ("http/1.1", b"world", True), f"client saw {box}")
    c.close()


def case_mutual(d):
    """requestClientCertificate: a client without one fails alone; one with one is accepted."""
    c = Client(d)
    m = Client(d)
    m.result("daemon.monitor", {})
    ls, port = listen_tls(c, server_tls(caPem=pem("ca.pem"), requestClientCertificate=True))
    acc = c.send("tcp.accept", {"socket": ls, "timeout": int(DEADLINE * 1000)})

    def no_cert(s):
        return s.recv(10)
    t1, box1 = py_client(port, client_ctx(), no_cert)
    t1.join(DEADLINE)
    check("error" in box1, f"a client without certificate got {box1}")
    ev = m.note(lambda n: n["params"].get("event") == "tls" and n["params"].get("reason"))
    check(ev["params"]["reason"] == "clientCertificateRequired", f"{ev}")
    check(acc not in c.answers, "the accept answered the failed one")

    def with_cert(s):
        s.sendall(b"me")
        return recv_until_eof(s)
    t2, box2 = py_client(port, client_ctx(cert="client"), with_cert)
    a = c.wait(acc)
    tl = a["result"]["tls"]
    check(tl["verified"] is True and "CN=tisock test client" in tl["peerCertificate"]["subject"],
          f"{a}")
    s = a["result"]["inbound"]
    check(c.read_all(s, b"me") == b"me", "me")
    c.result("tcp.close", {"socket": s})
    t2.join(DEADLINE)
    check(box2.get("result") == (b"", True), f"{box2}")
    c.result("tcp.list", {"all": True})
    c.result("tcp.info", {"socket": ls})
    for line in m.lines + c.lines:
        check(b"PRIVATE KEY" not in line and b"BEGIN CERT" not in line, "PEM echoed")
    m.close()
    c.close()


def case_mutual_resumption(d):
    """A client that resumes its TLS 1.2 session with a listener that requires client
    certificates is accepted again (resumed, with the certificate of the first time)."""
    c = Client(d)
    ls, port = listen_tls(c, server_tls(caPem=pem("ca.pem"), requestClientCertificate=True))
    ctx = client_ctx(cert="client")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    sessions = []

    def talk(s):
        s.sendall(b"me")
        data, clean = recv_until_eof(s)
        sessions.append(s.session)
        return s.session_reused, data
    results = []
    for k in range(2):
        acc = c.send("tcp.accept", {"socket": ls, "timeout": int(DEADLINE * 1000)})
        box = {}

        def run():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost",
                                         session=sessions[0] if sessions else None) as s:
                        box["result"] = talk(s)
            except Exception as e:
                box["error"] = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        a = c.wait(acc)
        check("result" in a, f"accept {k}: {a}, client {box}")
        tl = a["result"]["tls"]
        check(tl["verified"] is True and tl["peerCertificate"]
              and "CN=tisock test client" in tl["peerCertificate"]["subject"], f"{k}: {tl}")
        s = a["result"]["inbound"]
        check(c.read_all(s, b"me") == b"me", "me")
        c.result("tcp.close", {"socket": s})
        t.join(DEADLINE)
        check("result" in box, f"client {k}: {box}")
        results.append((tl["resumed"], box["result"][0]))
    check(results == [(False, False), (True, True)], f"resumed: {results}")
    c.close()


def memory_holds(pid, needles):
    """Which of needles the process's writable memory holds (regions up to 256 MiB:
    not a sanitizer's shadow); None when it cannot be read."""
    found = set()
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
            for line in maps:
                span, perm = line.split()[:2]
                lo, hi = (int(x, 16) for x in span.split("-"))
                if not perm.startswith("rw") or hi - lo > 256 * MIB:
                    continue
                try:
                    mem.seek(lo)
                    data = mem.read(hi - lo)
                except OSError:
                    continue
                found.update(n for n in needles if n in data)
    except OSError:
        return None
    return found


def case_key_wiped(d):
    """The private key's PEM text does not stay in the daemon's memory once tcp.listen
    has answered (parsed or refused): neither the request line nor its parsed copy."""
    key = pem("server.key")
    needles = [ln.encode() for ln in key.splitlines() if len(ln) >= 40 and "-----" not in ln]
    check(needles, "no base64 lines in the key")
    c = Client(d)
    ls, _ = listen_tls(c, server_tls())
    bad = c.call("tcp.listen", {"port": 70000, "tls": server_tls()})
    check(bad.get("error", {}).get("code") == -32602, f"{bad}")
    c.result("daemon.info")
    held = memory_holds(d.proc.pid, needles)
    if held is None:
        print("(the daemon's memory cannot be read here: not checked)")
    else:
        check(not held, f"the daemon's memory holds {len(held)} of the key's {len(needles)} lines")
    c.result("tcp.close", {"socket": ls})
    c.close()


def case_starttls(d):
    """STARTTLS after a plaintext exchange; bytes stay in order."""
    ctx = server_context(CERTS)

    def serve(c):
        c.sendall(b"220 ready\r\n")
        buf = b""
        while not buf.endswith(b"STARTTLS\r\n"):
            buf += c.recv(100)
        c.sendall(b"220 go ahead\r\n")
        s = ctx.wrap_socket(c, server_side=True)
        d = s.recv(100)
        s.sendall(b"secret:" + d)
        s.unwrap()
    peer = Peer(serve)
    c = Client(d)
    s = c.result("tcp.connect", {"port": peer.port})["socket"]
    check(c.read_all(s, b"220 ready\r\n") == b"220 ready\r\n", "greeting")
    c.result("tcp.write", {"socket": s, "text": "STARTTLS\r\n"})
    check(c.read_all(s, b"220 go ahead\r\n") == b"220 go ahead\r\n", "go ahead")
    # Pipelined: the write and the read asked during the handshake wait for it.
    st = c.send("tcp.startTls", {"socket": s, "tls": {"caPem": pem("ca.pem")}})
    wr = c.send("tcp.write", {"socket": s, "text": "x1"})
    rd = c.send("tcp.read", {"socket": s, "timeout": int(DEADLINE * 1000)})
    busy = c.wait(st)
    check("result" in busy and busy["result"]["tls"]["verified"], f"{busy}")
    check(c.wait(wr)["result"]["bytes"] == 2, "the write")
    got = base64.b64decode(c.wait(rd)["result"]["data"])
    again = c.call("tcp.startTls", {"socket": s})
    check(again.get("error", {}).get("data", {}).get("reason") == "tls", f"{again}")
    got += c.read_all(s, 9 - len(got))
    check(got == b"secret:x1", f"after STARTTLS: {got!r}")
    c.result("tcp.shutdown", {"socket": s})
    peer.join()
    c.close()


def case_starttls_fails(d):
    """A STARTTLS handshake that fails: -32012, and the socket is in error."""
    ctx = server_context(CERTS, "self")

    def serve(c):
        c.sendall(b"go\n")
        try:
            ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            pass
    peer = Peer(serve)
    c = Client(d)
    s = c.result("tcp.connect", {"port": peer.port})["socket"]
    check(c.read_all(s, b"go\n") == b"go\n", "go")
    a = c.call("tcp.startTls", {"socket": s, "tls": {"serverName": "localhost"}})
    check(a.get("error", {}).get("code") == -32012 and a["error"]["data"]["reason"] == "selfSigned",
          f"{a}")
    info = c.result("tcp.info", {"socket": s})
    check(info["state"] == "error" and "tls" not in info, f"{info}")
    peer.join()
    c.close()


def case_starttls_busy(d):
    """tcp.startTls is refused while reading or pumping."""
    stop = threading.Event()
    peer = Peer(lambda c: stop.wait(DEADLINE))
    c = Client(d)
    s = c.result("tcp.connect", {"port": peer.port})["socket"]
    rd = c.send("tcp.read", {"socket": s})
    a = c.call("tcp.startTls", {"socket": s})
    check(a.get("error", {}).get("code") == -32002 and a["error"]["data"]["reason"] == "reading",
          f"{a}")
    c.call("rpc.cancel", {"id": rd})
    c.result("tcp.pump", {"socket": s})
    a = c.call("tcp.startTls", {"socket": s})
    check(a["error"]["data"]["reason"] == "pumping", f"{a}")
    stop.set()
    peer.join()
    c.close()


def case_bad_pem(d):
    """PEM that does not parse, a wrong key, a long chain, a huge field: -32602 naming it."""
    c = Client(d)
    cases = [
        (server_tls(certificatePem="nope"), "tls.certificatePem", "pem"),
        (server_tls(keyPem="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
         "tls.keyPem", "pem"),
        (server_tls(keyPem=pem("client.key")), "tls.keyPem", "mismatch"),
        (server_tls(certificatePem=pem("chain11.pem")), "tls.certificatePem", "chain"),
        (server_tls(caPem="garbage"), "tls.caPem", "pem"),
        (server_tls(keyPem="k" * 70000), "tls.keyPem", "range"),
        ({"keyPem": pem("server.key")}, "tls.certificatePem", "missing"),
        (server_tls(minVersion="1.1"), "tls.minVersion", "range"),
        (server_tls(alpn=[]), "tls.alpn", "range"),
        (server_tls(alpn=["a" * 256]), "tls.alpn", "range"),
    ]
    for tls, param, reason in cases:
        a = c.call("tcp.listen", {"port": 0, "tls": tls})
        e = a.get("error", {})
        check(e.get("code") == -32602 and e["data"].get("param") == param
              and e["data"].get("reason") == reason, f"{param} {reason}: {a}")
    a = c.call("tcp.connect", {"port": 1, "tls": {"caPem": "x"}})
    check(a["error"]["data"]["param"] == "tls.caPem", f"{a}")
    a = c.call("tcp.connect", {"port": 1, "tls": 5})
    check(a["error"]["data"]["param"] == "tls", f"{a}")
    for line in c.lines:
        check(b"PRIVATE" not in line, "key material echoed")
    c.close()


def case_insecure_denied(d):
    """verify false is -32003 naming tls-insecure by default."""
    c = Client(d)
    a = c.call("tcp.connect", {"port": 1, "tls": {"verify": False}})
    e = a.get("error", {})
    check(e.get("code") == -32003 and e["data"]["rule"] == "tls-insecure = deny", f"{a}")
    c.close()


def case_policy(tmp):
    """tls=required and tls=forbidden rules; tls-insecure = allow."""
    peer = tls_server(server_context(CERTS, "self"), echo_once)
    plain = Peer(lambda c: c.recv(1))
    conf = ("[policy]\ntls-insecure = allow\n"
            f"rule = allow connect dest=127.0.0.1 port={peer.port} tls=required\n"
            f"rule = allow connect dest=127.0.0.1 port={plain.port} tls=forbidden\n")
    d = Daemon(TISOCKD, tmp, "policy", conf)
    try:
        c = Client(d)
        a = c.call("tcp.connect", {"port": peer.port})
        check(a.get("error", {}).get("code") == -32003 and "tls=required" in a["error"]["data"]["rule"],
              f"plain to tls=required: {a}")
        a = c.call("tcp.connect", {"port": plain.port, "tls": {"verify": False}})
        check(a.get("error", {}).get("code") == -32003 and "tls=forbidden" in a["error"]["data"]["rule"],
              f"tls to tls=forbidden: {a}")
        r = c.result("tcp.connect", {"port": peer.port, "tls": {"verify": False}})
        check(r["tls"]["verified"] is False, f"{r}")
        c.result("tcp.write", {"socket": r["socket"], "text": "i"})
        c.read_all(r["socket"], b"i")
        c.result("tcp.shutdown", {"socket": r["socket"]})
        s = c.result("tcp.connect", {"port": plain.port})["socket"]
        a = c.call("tcp.startTls", {"socket": s, "tls": {"verify": False}})
        check(a.get("error", {}).get("code") == -32003 and "tls=forbidden" in a["error"]["data"]["rule"],
              f"startTls to tls=forbidden: {a}")
        c.result("tcp.close", {"socket": s})
        peer.join()
        plain.join()
        c.close()
    finally:
        check(d.stop() == 0, "the policy daemon's exit")


def case_inbound_limit(tmp):
    """Inbound handshakes count as their listener owner's sockets: with
    uid-sockets 20, four TLS listeners with an accept each and 32 silent
    connections to each hold at most 20 sockets, and the accepts are
    answered -32005 uidSockets instead of starting more handshakes
    (they took 132 sockets past any limit, and fds with them)."""
    d = Daemon(TISOCKD, tmp, "inbound", "[daemon]\ntls-handshake-timeout-ms = 60000\n"
               "[limits]\nuid-sockets = 20\nsockets = 40\n")
    raws = []
    try:
        c = Client(d)
        tls = {"certificatePem": pem("server.pem"), "keyPem": pem("server.key")}
        listeners = [c.result("tcp.listen", {"port": 0, "tls": tls}) for _ in range(4)]
        accepts = [c.send("tcp.accept", {"socket": r["socket"]}) for r in listeners]
        for r in listeners:
            for _ in range(32):
                raws.append(socket.create_connection(("127.0.0.1", r["local"]["port"])))
        for i in accepts:
            a = c.wait(i)
            check(a.get("error", {}).get("data", {}).get("limit") == "uidSockets", f"{a}")
        held = c.result("daemon.info")["user"]["sockets"]
        check(held == 20, f"the uid holds {held} sockets with handshakes, not 20")
        for s in raws:
            s.close()
        end = time.monotonic() + DEADLINE
        while c.result("daemon.info")["user"]["sockets"] != 4 and time.monotonic() < end:
            time.sleep(0.02)
        held = c.result("daemon.info")["user"]["sockets"]
        check(held == 4, f"once the peers are gone the uid holds {held} sockets, not 4")
        c.close()
    finally:
        for s in raws:
            s.close()
        check(d.stop() == 0, "the inbound daemon's exit")


def gone(pid):
    """True once process pid has exited (its zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def case_upgrade(tmp):
    """A live upgrade cannot carry a TLS session: a refused upgrade leaves TLS
    sockets as they were; a successful one resets them (tcp.closed reason
    upgrade, from the new process), and a plain socket goes on."""
    def tls_peer(s):
        try:
            while True:             # echo until the end (or the reset)
                d = s.recv(4096)
                if not d:
                    return (b"", True)
                s.sendall(d)
        except ssl.SSLEOFError:
            return (b"", False)
        except OSError as e:        # the reset the upgrade sends
            return e
    peer = tls_server(server_context(CERTS), tls_peer)
    hook = os.path.join(tmp, "upgrade-hook")
    with open(hook, "w") as f:
        f.write("exit\n")          # the first upgrade: the new process exits at start

    def plain_serve(c):
        c.sendall(c.recv(5))
    plain = Peer(plain_serve)
    os.environ["TISOCKD_TEST_UPGRADE"] = hook
    try:
        d = Daemon(TISOCKD, tmp, "upgrade")
    finally:
        del os.environ["TISOCKD_TEST_UPGRADE"]
    new_pid = None
    try:
        c = Client(d)
        s1 = c.result("tcp.connect", {"port": peer.port, "tls": {
            "caPem": pem("ca.pem"), "serverName": "localhost"}})["socket"]
        s2 = c.result("tcp.connect", {"port": plain.port})["socket"]
        s3 = c.result("tcp.listen", {"port": 0, "tls": {
            "certificatePem": pem("server.pem"), "keyPem": pem("server.key")}})["socket"]
        old_pid = c.result("daemon.info")["pid"]
        a = c.call("daemon.upgrade")
        check(a.get("error", {}).get("code") == -32013, f"the refused upgrade: {a}")
        check(not [n for n in c.notes if n.get("method") == "tcp.closed"],
              f"a refused upgrade closes nothing: {c.notes}")
        c.result("tcp.write", {"socket": s1, "text": "still"})
        check(c.read_all(s1, b"still") == b"still", "the TLS socket after a refused upgrade")
        with open(hook, "w") as f:
            f.write("none\n")      # the next one succeeds
        rd = c.send("tcp.read", {"socket": s1, "timeout": int(DEADLINE * 1000)})
        # A TLS connect whose handshake is under way (the server says nothing).
        def silent(c):
            try:
                while c.recv(4096):     # the ClientHello, then nothing until the reset
                    pass
            except OSError:
                pass
        mute = Peer(silent)
        hs = c.send("tcp.connect", {"port": mute.port, "tls": True, "timeout": int(DEADLINE * 1000)})
        tls_keys = ("tlsHandshakes", "tlsHandshakeFailures", "tlsTruncated")
        before = {k: c.result("daemon.info")["counters"][k] for k in tls_keys}
        up = c.result("daemon.upgrade")
        new_pid = up["pid"]
        check(new_pid != old_pid and up["generation"] == 2, f"upgrade: {up}")
        for s in (s1, s3):
            n = c.note(lambda n, s=s: n.get("method") == "tcp.closed"
                       and n["params"]["socket"] == s)
            check(n["params"]["reason"] == "upgrade", f"socket {s}: {n}")
        c.note(lambda n: n.get("method") == "daemon.restarted")
        a = c.wait(rd)
        check(a.get("error", {}).get("code") == -32004,
              f"a read pending on the TLS socket over the upgrade: {a}")
        a = c.wait(hs)
        check(a.get("error", {}).get("code") == -32004,
              f"a TLS connect in its handshake over the upgrade: {a}")
        mute.join()
        check(not [n for n in c.notes if n.get("method") == "daemon.restarted"],
              "one daemon.restarted")
        a = c.call("tcp.write", {"socket": s1, "text": "x"})
        check("error" in a, f"a write on the reset TLS socket: {a}")
        c.result("tcp.write", {"socket": s2, "text": "hello"})
        check(c.read_all(s2, b"hello") == b"hello", "the plain socket after the upgrade")
        after = {k: c.result("daemon.info")["counters"][k] for k in tls_keys}
        check(before["tlsHandshakes"] > 0 and all(after[k] >= before[k] for k in tls_keys),
              f"the TLS counters carry on over the upgrade: {before} then {after}")
        got = peer.join()
        check(isinstance(got, OSError) or got == (b"", False),
              f"the TLS peer saw a reset or a cut, not a clean end: {got!r}")
        plain.join()
        c.close()
    finally:
        d.stop()                    # the old process: already gone when it worked
        if new_pid:
            os.kill(new_pid, signal.SIGTERM)
            end = time.monotonic() + DEADLINE
            while not gone(new_pid) and time.monotonic() < end:
                select.select([], [], [], 0.05)
            check(gone(new_pid), "the new daemon stopped on SIGTERM")


def case_resumption(d):
    """A second connect to the same host, port and name resumes the session (the daemon's
    cache); one with other trust anchors does not."""
    ctx = server_context(CERTS)

    def serve(c):
        s = ctx.wrap_socket(c, server_side=True)
        s.sendall(b"t")         # TLS 1.3: the ticket comes before these bytes
        s.recv(1)
    peer = Peer(serve, count=4)
    results = []
    for k in range(4):
        c = Client(d)
        tls = {"caPem": pem("ca.pem"), "serverName": "localhost"}
        if k == 2:
            tls["sessionReuse"] = False
        if k == 3:
            tls["caPem"] += "\n"    # other trust anchors (as far as the daemon knows)
        r = c.result("tcp.connect", {"port": peer.port, "tls": tls})
        c.read_all(r["socket"], b"t")
        c.result("tcp.write", {"socket": r["socket"], "text": "k"})
        results.append(r["tls"]["resumed"])
        c.close()
    peer.join()
    check(results == [False, True, False, False], f"resumed: {results}")


def case_server_no_shared_cipher(d):
    """An inbound handshake with no shared cipher fails alone (monitor: noSharedCipher)."""
    c = Client(d)
    m = Client(d)
    m.result("daemon.monitor", {})
    ls, port = listen_tls(c, server_tls())
    acc = c.send("tcp.accept", {"socket": ls, "timeout": int(DEADLINE * 1000)})
    ctx = client_ctx()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")   # RSA only: our key is EC
    t, box = py_client(port, ctx, lambda s: None)
    t.join(DEADLINE)
    check("error" in box, f"{box}")
    ev = m.note(lambda n: n["params"].get("event") == "tls" and n["params"].get("reason"))
    check(ev["params"]["reason"] == "noSharedCipher" and ev["params"]["socket"] == ls, f"{ev}")
    old = client_ctx()
    old.set_ciphers("DEFAULT@SECLEVEL=0")   # else it sends no ClientHello at all
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    t, box = py_client(port, old, lambda s: None)
    t.join(DEADLINE)
    ev = m.note(lambda n: n["params"].get("event") == "tls" and n["params"].get("reason"))
    check(ev["params"]["reason"] == "protocolVersion", f"{ev}")
    t, box = py_client(port, client_ctx(), lambda s: s.sendall(b"fine"))
    a = c.wait(acc)
    check(a["result"]["tls"]["version"] == "TLSv1.3", f"{a}")
    t.join(DEADLINE)
    m.close()
    c.close()


def case_channel_truncated(d):
    """A channel whose TLS peer ends without close_notify: tcp.closed says truncated."""
    def serve(s):
        s.sendall(b"abc")
        s.recv(1)
        os.close(s.detach())
    peer = tls_server(server_context(CERTS), serve)
    c = Client(d)
    s = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})["socket"]
    c.result("tcp.channel", {"socket": s})
    ch = socket.socket(fileno=c.fds.pop())
    ch.settimeout(DEADLINE)
    got = b""
    while len(got) < 3:
        got += ch.recv(10)
    ch.sendall(b"k")
    peer.join()
    check(ch.recv(10) == b"", "the channel's end")
    ch.close()
    note = c.note(lambda m: m["method"] == "tcp.closed")
    check(note["params"]["reason"] == "channel" and note["params"].get("truncated") is True,
          f"{note}")
    c.close()


def cpu_ticks(pid):
    """The process's user and system time so far, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def bio_server(c, ctx):
    """A server-side TLS object over socket c through memory BIOs, handshake done:
    (obj, out) where out's bytes are what the peer is to send, by hand."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx.wrap_bio(inc, out, server_side=True)
    while True:
        try:
            o.do_handshake()
            break
        except ssl.SSLWantReadError:
            if out.pending:
                c.sendall(out.read())
            data = c.recv(1 << 16)
            if not data:
                raise Failure("the client closed during the handshake")
            inc.write(data)
    if out.pending:
        c.sendall(out.read())
    return o, out


def case_partial_record(d, mode):
    """Bytes, then a record that comes in two parts: the bytes are passed on at once
    and the daemon waits on the fd for the rest of the record (OpenSSL's buffered
    part of a record is nothing to read yet): it neither spins on it nor holds
    back what came before; then the whole record arrives."""
    ctx = server_context(CERTS)
    go = threading.Event()
    first = threading.Event()
    want = pattern(4000, 3)

    def fn(c):
        o, out = bio_server(c, ctx)
        o.write(b"first")
        c.sendall(out.read())
        o.write(want)
        rec = out.read()
        c.sendall(rec[:100])     # the header and some of the record
        first.set()
        go.wait(DEADLINE)
        c.sendall(rec[100:])
        c.recv(1)
    peer = Peer(fn)
    c = Client(d)
    s = c.result("tcp.connect", {"port": peer.port, "tls": {"caPem": pem("ca.pem")}})["socket"]
    ch = None
    try:
        first.wait(DEADLINE)
        if mode == "pump":
            c.result("tcp.pump", {"socket": s})
        elif mode == "read":
            r = c.send("tcp.read", {"socket": s, "length": 65536})
            r2 = c.send("tcp.read", {"socket": s, "length": 65536})   # waits for the record
        else:
            c.result("tcp.channel", {"socket": s})
            ch = socket.socket(fileno=c.fds.pop())
            ch.settimeout(DEADLINE / 4)
        pid = d.proc.pid
        t0, c0 = time.monotonic(), cpu_ticks(pid)
        select.select([], [], [], 1.0)   # a window to measure the daemon's CPU time in
        used = (cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK")
        wall = time.monotonic() - t0
        if mode == "pump":
            n = c.note(lambda n: n["method"] == "tcp.data", DEADLINE / 4)
            got = base64.b64decode(n["params"]["data"])
        elif mode == "read":
            got = base64.b64decode(c.wait(r, DEADLINE / 4)["result"]["data"])
        else:
            got = ch.recv(10)
        check(got == b"first", f"{mode}: {got!r} before the rest of the record came")
        check(used < 0.3 * wall, f"{mode}: the daemon used {used:.2f} s of CPU in {wall:.2f} s "
              "waiting for the rest of a record")
    finally:
        go.set()
    if mode == "pump":
        got = b""
        while len(got) < len(want):
            n = c.note(lambda n: n["method"] == "tcp.data")
            got += base64.b64decode(n["params"]["data"])
        c.result("tcp.write", {"socket": s, "text": "k"})
    elif mode == "read":
        got = base64.b64decode(c.wait(r2)["result"]["data"])
        got += c.read_all(s, len(want) - len(got)) if len(got) < len(want) else b""
        c.result("tcp.write", {"socket": s, "text": "k"})
    else:
        ch.settimeout(DEADLINE)
        got = b""
        while len(got) < len(want):
            got += ch.recv(1 << 16)
        ch.sendall(b"k")
    peer.join()
    check(got == want, f"{mode}: {len(got)} bytes, not the record's")
    if ch:
        ch.close()
    c.close()

def case_counters(d):
    """daemon.info counts the handshakes done and failed so far, and truncated ends."""
    k = Client(d).result("daemon.info")["counters"]
    check(k["tlsHandshakes"] >= 10 and k["tlsHandshakeFailures"] >= 10
          and k["tlsTruncated"] >= 2, f"{k}")


CASES = [
    ("verified-connect", case_verified_connect),
    ("ip-literal", case_ip_literal),
    ("ipv6", case_ipv6),
    ("expired", case_expired),
    ("not-yet-valid", case_not_yet_valid),
    ("self-signed", case_self_signed),
    ("server-wants-client-cert", case_server_wants_cert),
    ("server-wants-client-cert-tls1.3", case_server_wants_cert_tls13),
    ("unknown-ca", case_unknown_ca),
    ("system-store", case_system_store),
    ("hostname-mismatch", case_hostname),
    ("protocol-version-tls1.0", case_protocol_version),
    ("min-version", case_min_version),
    ("peer-closed", case_peer_closed),
    ("handshake-timeout", case_handshake_timeout),
    ("connect-timeout-bounds-handshake", case_connect_timeout_bounds),
    ("alpn", case_alpn),
    ("truncation", case_truncation),
    ("close-notify-on-shutdown", case_close_notify_on_shutdown),
    ("close-notify-on-close", case_close_notify_on_close),
    ("linger-close", case_linger_close),
    ("bulk-json-64MiB", case_bulk_json),
    ("bulk-channel-64MiB", case_bulk_channel),
    ("server", case_server),
    ("mutual-tls", case_mutual),
    ("mutual-tls-resumption", case_mutual_resumption),
    ("key-wiped", case_key_wiped),
    ("starttls", case_starttls),
    ("starttls-fails", case_starttls_fails),
    ("starttls-busy", case_starttls_busy),
    ("bad-pem", case_bad_pem),
    ("insecure-denied", case_insecure_denied),
    ("resumption", case_resumption),
    ("server-no-shared-cipher", case_server_no_shared_cipher),
    ("channel-truncated", case_channel_truncated),
    ("partial-record-pump", lambda d: case_partial_record(d, "pump")),
    ("partial-record-read", lambda d: case_partial_record(d, "read")),
    ("partial-record-channel", lambda d: case_partial_record(d, "channel")),
    ("counters", case_counters),
]


def main():
    passed = failed = 0
    Client.record = open(os.path.join(TMP, "record.txt"), "w")
    # Under a wrapper (valgrind) a handshake's crypto alone can take seconds.
    hs_ms = 20000 if os.environ.get("TISOCK_DAEMON_WRAPPER") else 3000
    d = Daemon(TISOCKD, TMP, "tls", f"[daemon]\ntls-handshake-timeout-ms = {hs_ms}\n")
    try:
        c = Client(d)
        c.result("rpc.discover")     # first: validate-openrpc.py checks the rest against it
        c.close()
        extra = [("policy", case_policy), ("inbound-limit", case_inbound_limit)]
        if not os.environ.get("TISOCK_DAEMON_WRAPPER"):
            extra.append(("upgrade", case_upgrade))   # it executes the wrapper's binary
        for name, fn in CASES + extra:
            if ONLY and name not in ONLY:
                continue
            t0 = time.monotonic()
            try:
                if fn in (case_policy, case_upgrade, case_inbound_limit):
                    fn(TMP)
                else:
                    fn(d)
                print(f"ok {name} ({time.monotonic() - t0:.1f} s)", flush=True)
                passed += 1
            except Exception as e:
                print(f"FAIL {name}: {e}", flush=True)
                traceback.print_exc()
                failed += 1
    finally:
        Client.record.close()
        rc = d.stop()
        if rc != 0:
            print(f"FAIL daemon exit status {rc}")
            failed += 1
        with open(os.path.join(TMP, "tls.log"), errors="replace") as f:
            if "PRIVATE KEY" in f.read():
                print("FAIL the daemon's log (debug) holds key material")
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
