#!/usr/bin/python3
"""tls-peer: a TLS peer on loopback for the TLS tests (Python's ssl module).

As a server (default) it listens on 127.0.0.1, port 0, prints "port N"
on stdout and serves --conns connections, one after another, in --mode:
  echo      echoes until the client's end, then close_notify
  http      reads one request (to the blank line), answers a fixed
            response whose body names the path, then close_notify
  sink      reads to the end, then prints "sha256 HEX BYTES" on stdout
  source    sends --bytes random bytes, prints "sha256 HEX BYTES", then
            close_notify and waits for the client's end
  truncate  sends "partial" and closes TCP without close_notify
  starttls  plaintext "220 ready", waits for "STARTTLS", answers
            "220 go ahead", then TLS and echo
  smtp      SMTP up to STARTTLS (greeting, EHLO, STARTTLS), then TLS and echo
  imap      IMAP up to STARTTLS (greeting, TAG STARTTLS), then TLS and echo
  info      sends one line: ALPN agreed and the client certificate's
            subject CN ("-" for none), then echo
As a client (--connect PORT) it handshakes, sends --bytes random bytes
(or stdin with --bytes -1), shuts down with close_notify, prints what it
received as "sha256 HEX BYTES" and the bytes themselves with --print.
Every wait is bounded by --deadline seconds.
"""
import argparse
import warnings
import hashlib
import os
import socket
import ssl
import sys

sys.dont_write_bytecode = True     # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tlstest import tls_context  # noqa: E402

warnings.simplefilter("ignore", DeprecationWarning)


def server_context(a):
    v = ssl.TLSVersion
    old = a.max_version == "1.0"
    return tls_context(True, a.cert, a.key, ca=a.ca,
                       verify=(ssl.CERT_REQUIRED if a.require_cert else ssl.CERT_OPTIONAL)
                       if a.ca else None,
                       alpn=a.alpn.split(",") if a.alpn else None,
                       minimum=v.TLSv1 if old else None,
                       maximum=v.TLSv1 if old else
                       v.TLSv1_2 if a.max_version == "1.2" or a.ciphers else None,
                       ciphers="DEFAULT:@SECLEVEL=0" if old else a.ciphers)


def client_context(a):
    return tls_context(False, a.cert, a.key, ca=a.ca,
                       alpn=a.alpn.split(",") if a.alpn else None)


def recv_all(s, h, until=None, echo=False):
    """Reads s to its end (or until bytes), into hash h (echo: to stdout too)."""
    n = 0
    while until is None or n < until:
        try:
            b = s.recv(262144)
        except ssl.SSLEOFError:
            print("truncated", flush=True)
            break
        if not b:
            break
        h.update(b)
        n += len(b)
        if echo:
            sys.stdout.buffer.write(b)
            sys.stdout.flush()
    return n


def send_random(s, count, h):
    left = count
    while left > 0:
        b = os.urandom(min(left, 262144))
        s.sendall(b)
        h.update(b)
        left -= len(b)


def clean_close(s):
    try:
        raw = s.unwrap()
        raw.close()
    except (ssl.SSLError, OSError):
        s.close()


def line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        buf += b
    return buf


def smtp_imap(conn, mode):
    """The plaintext part of SMTP or IMAP up to STARTTLS; False when it went wrong."""
    if mode == "smtp":
        conn.sendall(b"220 mx.test ESMTP\r\n")
        if not line(conn).upper().startswith(b"EHLO "):
            return False
        conn.sendall(b"250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
        if line(conn).strip().upper() != b"STARTTLS":
            return False
        conn.sendall(b"220 2.0.0 go ahead\r\n")
        return True
    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
    tag = line(conn).split(b" ")
    if len(tag) < 2 or tag[1].strip().upper() != b"STARTTLS":
        return False
    conn.sendall(b"* note\r\n" + tag[0] + b" OK begin TLS now\r\n")
    return True


def serve_one(ctx, conn, a):
    if a.mode in ("smtp", "imap") and not smtp_imap(conn, a.mode):
        conn.close()
        return
    if a.mode == "starttls":
        conn.sendall(b"220 ready\r\n")
        if line(conn).strip() != b"STARTTLS":
            conn.close()
            return
        conn.sendall(b"220 go ahead\r\n")
    try:
        s = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print("handshake failed: %s" % e, flush=True)
        conn.close()
        return
    if a.mode in ("echo", "starttls", "info", "smtp", "imap"):
        if a.mode == "info":
            cert = s.getpeercert()
            cn = "-"
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
            s.sendall(("alpn=%s cn=%s\n" % (s.selected_alpn_protocol() or "-", cn)).encode())
        while True:
            try:
                b = s.recv(262144)
            except ssl.SSLEOFError:
                print("truncated", flush=True)
                s.close()
                return
            if not b:
                break
            s.sendall(b)
        clean_close(s)
    elif a.mode == "http":
        req = b""
        while b"\r\n\r\n" not in req:
            b = s.recv(65536)
            if not b:
                break
            req += b
        path = req.split(b" ")[1] if req.count(b" ") >= 2 else b"/"
        body = b"hello over TLS: " + path + b"\n"
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  % len(body) + body)
        clean_close(s)
    elif a.mode == "sink":
        h = hashlib.sha256()
        n = recv_all(s, h)
        print("sha256 %s %d" % (h.hexdigest(), n), flush=True)
        clean_close(s)
    elif a.mode == "source":
        h = hashlib.sha256()
        send_random(s, a.bytes, h)
        print("sha256 %s %d" % (h.hexdigest(), a.bytes), flush=True)
        raw = s.unwrap()
        while raw.recv(65536):
            pass
        raw.close()
    elif a.mode == "truncate":
        s.sendall(b"partial")
        conn = socket.socket(fileno=s.detach())
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()


def server(a):
    ctx = server_context(a)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.settimeout(a.deadline)
    print("port %d" % ls.getsockname()[1], flush=True)
    for _ in range(a.conns):
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            print("no connection", flush=True)
            return 1
        conn.settimeout(a.deadline)
        try:
            serve_one(ctx, conn, a)
        except (OSError, ssl.SSLError) as e:
            print("error: %s" % e, flush=True)
    return 0


def client_echo(a):
    """Sends, half-closes with close_notify, reads the reply to the end."""
    ctx = client_context(a)
    raw = socket.create_connection(("127.0.0.1", a.connect), timeout=a.deadline)
    s = ctx.wrap_socket(raw, server_hostname=a.servername)
    sys.stderr.write("client: %s %s alpn=%s\n" % (s.version(), s.cipher()[0],
                                                   s.selected_alpn_protocol()))
    data = sys.stdin.buffer.read() if a.bytes < 0 else os.urandom(a.bytes)
    sent = hashlib.sha256(data).hexdigest()
    s.sendall(data)
    h = hashlib.sha256()
    # TLS has no half-close: read what the server relays, as much as was sent.
    n = recv_all(s, h, None if a.read_to_end else len(data), a.print)
    if not a.print:
        print("sent sha256 %s %d" % (sent, len(data)))
        print("got sha256 %s %d" % (h.hexdigest(), n), flush=True)
    clean_close(s)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--require-cert", action="store_true")
    p.add_argument("--alpn")
    p.add_argument("--ciphers")
    p.add_argument("--max-version")
    p.add_argument("--mode", default="echo")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--bytes", type=int, default=-1)
    p.add_argument("--connect", type=int)
    p.add_argument("--servername", default="localhost")
    p.add_argument("--print", action="store_true")
    p.add_argument("--read-to-end", action="store_true")
    p.add_argument("--deadline", type=float, default=60.0)
    a = p.parse_args()
    if a.connect:
        return client_echo(a)
    return server(a)


if __name__ == "__main__":
    sys.exit(main())
