#!/usr/bin/python3
"""test-fdstore: crash recovery through systemd's fd store, with this test
playing systemd: it owns NOTIFY_SOCKET, keeps the descriptors sent with
FDSTORE=1 under their FDNAME= (a descriptor it holds already is not stored
twice, as systemd does), closes those removed with FDSTOREREMOVE=1, and
restarts the daemon with LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID.

A data channel on the first client is loaded both ways too: its relay is
lost (channelLost), what it held is reported, the socket comes back in
JSON mode.

Three clients each stream to a loopback peer that does not read (writes
queue in the daemon), pump from a peer that sends 4 MiB while the client
does not read its control connection (data queues in the daemon), and
listen; an observer waits until bytes are queued both ways; then the
daemon is killed with SIGKILL and restarted.  Checked: every client keeps
its control connection and socket ids and gets daemon.restarted after an
error (-32800, reason restart) for each request in flight; what each peer
received matches the report (sent minus received == unwrittenBytes, peer
sent minus delivered == undeliveredBytes); bytes flow both ways after; the
listener accepts; a socket closed after the restart leaves the store and
its peer sees EOF; daemon.info says generation 2, lastRestart recovery;
SIGTERM empties the store.  After a live upgrade (the store the same,
nothing stored again, MAINPID= naming the new process) a SIGKILL of the
new process is recovered the same way.  A systemd that reads nothing for a
while holds nothing up: the daemon serves on, its stores wait and go out in
order, those past its backlog are reported lost after a crash.  Under
socket activation (the control socket
first, named tisockd.socket) the same recovery works.  Then a ledger replaced by garbage: the daemon
starts, the client and socket it cannot place are closed and leave the
store (their peers see the end), and it serves new clients.

    test-fdstore.py DAEMON
"""
import base64
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

DAEMON = os.path.abspath(sys.argv[1])
WRAPPER = os.environ.get("TISOCK_DAEMON_WRAPPER", "").split()
SLOW = 3 if WRAPPER or os.environ.get("TISOCK_TEST_WRAPPER") else 1
DEADLINE = 60.0 * SLOW
NCLIENTS = 3
WRITES = 16			# tcp.write per client, pipelined
WRITE_SIZE = 64 * 1024
PUMP_BYTES = 4 << 20		# each pump peer sends this much before the crash
CHANNEL_BYTES = 16 << 20	# each way through a data channel, past its buffers
failures = 0
tests = 0


def ok(cond, what):
    global failures, tests
    tests += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (tests, what), flush=True)
    if not cond:
        failures += 1
    return cond


ERRLOG = None
DAEMON_PID = [0]


def bail(what):
    ok(False, what)
    print("1..%d" % tests)
    if ERRLOG and os.path.exists(ERRLOG):
        with open(ERRLOG) as f:
            sys.stderr.write(f.read()[-4000:])
    if DAEMON_PID[0]:
        try:
            os.kill(DAEMON_PID[0], signal.SIGKILL)
        except OSError:
            pass
    os._exit(1)


class FakeSystemd:
    """NOTIFY_SOCKET and the fd store, as systemd keeps them."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.store = []		# [name, fd], in the order stored
        self.lock = threading.Condition()
        self.ready = 0
        self.mainpid = 0
        self.stored = {}	# FDSTORE=1 datagrams with a descriptor, by name
        self.removed = {}	# FDSTOREREMOVE=1 datagrams, by name
        self.stop = False
        self.paused = False	# reads nothing, as a systemd that is busy
        self.busy = False	# a datagram is being handled
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def held(self, fd):
        st = os.fstat(fd)
        for _, f in self.store:
            s = os.fstat(f)
            if s.st_dev == st.st_dev and s.st_ino == st.st_ino:
                return True
        return False

    def pause(self, on):
        with self.lock:
            self.paused = on
            self.lock.notify_all()

    def run(self):
        while not self.stop:
            with self.lock:
                while self.paused and not self.stop:
                    self.lock.wait(0.5)
            r, _, _ = select.select([self.sock], [], [], 0.2)
            if not r:
                continue
            with self.lock:
                self.busy = True
            # Close-on-exec, as systemd keeps them: a daemon gets only what
            # start() passes.
            msg, fds, _, _ = socket.recv_fds(self.sock, 4096, 16)
            for fd in fds:
                os.set_inheritable(fd, False)
            fields = dict(l.split("=", 1) for l in msg.decode().split("\n") if "=" in l)
            with self.lock:
                if fields.get("FDSTORE") == "1":
                    name = fields.get("FDNAME", "stored")
                    if fds:
                        self.stored[name] = self.stored.get(name, 0) + 1
                    for fd in fds:
                        if self.held(fd):
                            os.close(fd)
                        else:
                            self.store.append([name, fd])
                    fds = []
                if fields.get("FDSTOREREMOVE") == "1":
                    name = fields.get("FDNAME")
                    self.removed[name] = self.removed.get(name, 0) + 1
                    for e in [e for e in self.store if e[0] == name]:
                        os.close(e[1])
                        self.store.remove(e)
                if fields.get("READY") == "1":
                    self.ready += 1
                if "MAINPID" in fields:
                    self.mainpid = int(fields["MAINPID"])
                self.busy = False
                self.lock.notify_all()
            for fd in fds:
                os.close(fd)

    def names(self):
        with self.lock:
            return [n for n, _ in self.store]

    def wait(self, cond, what):
        end = time.monotonic() + DEADLINE
        with self.lock:
            while not cond():
                left = end - time.monotonic()
                if left <= 0:
                    bail(what)
                self.lock.wait(min(left, 0.5))

    def settle(self):
        """Waits until every datagram sent so far is handled: systemd reads
        what a service sent before it acts on the service's end."""
        import fcntl
        import struct
        import termios
        end = time.monotonic() + DEADLINE
        with self.lock:
            while self.busy or struct.unpack("i", fcntl.ioctl(self.sock, termios.FIONREAD,
                                                               b"\0" * 4))[0] > 0:
                if time.monotonic() > end:
                    bail("the fake systemd handles what it was sent")
                self.lock.wait(0.05)

    def start(self, argv, errlog, first=(), env_extra=None):
        """Forks, puts the stored fds at 3.. (after first: a .socket unit's)
        and execs argv as systemd does; env_extra: more environment
        (FDSTORE, as systemd 254 sets it), None: FDSTORE=17409."""
        self.settle()
        with self.lock:
            entries = list(first) + list(self.store)
        pid = os.fork()
        if pid == 0:
            try:
                import fcntl
                high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 1000) for _, fd in entries]
                for i, h in enumerate(high):
                    os.dup2(h, 3 + i, inheritable=True)
                err = os.open(errlog, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                os.dup2(err, 2)
                env = dict(os.environ)
                env["NOTIFY_SOCKET"] = self.path
                for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "FDSTORE"):
                    env.pop(k, None)
                env.update({"FDSTORE": "17409"} if env_extra is None else env_extra)
                if entries:
                    env["LISTEN_PID"] = str(os.getpid())
                    env["LISTEN_FDS"] = str(len(entries))
                    env["LISTEN_FDNAMES"] = ":".join(n for n, _ in entries)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        DAEMON_PID[0] = pid
        return pid


class Client:
    """A raw JSON-RPC control connection."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.next_id = 1
        self.answers = {}
        self.notes = []
        self.bad_lines = 0
        self.data = {}		# socket -> bytes delivered by tcp.data
        self.eof = set()
        self.fds = []

    def send(self, method, params, raw=False):
        i = self.next_id
        self.next_id += 1
        line = json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        if raw:
            return i, (line + "\n").encode()
        self.s.sendall((line + "\n").encode())
        return i

    def pump(self, timeout):
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return False
        b, fds, _, _ = socket.recv_fds(self.s, 1 << 20, 4)
        for fd in fds:
            os.set_inheritable(fd, False)
        self.fds += fds		# a channel's, one per tcp.channel answer
        if not b:
            raise EOFError("control connection closed")
        self.buf += b
        *lines, self.buf = self.buf.split(b"\n")
        for l in lines:
            try:
                m = json.loads(l)
            except ValueError:
                self.bad_lines += 1
                continue
            if "id" in m and "method" not in m:
                self.answers[m["id"]] = m
            elif m.get("method") == "tcp.data":
                p = m["params"]
                if p["bytes"] < 0:
                    self.eof.add(p["socket"])
                else:
                    self.data[p["socket"]] = self.data.get(p["socket"], 0) + p["bytes"]
            else:
                self.notes.append(m)
        return True

    def wait(self, cond, what, others=()):
        end = time.monotonic() + DEADLINE
        while not cond():
            if time.monotonic() > end:
                bail(what)
            self.pump(0.05)
            for o in others:
                o.pump(0)

    def call(self, method, params, what=None):
        i = self.send(method, params)
        self.wait(lambda: i in self.answers, what or method)
        return self.answers[i]

    def note(self, method):
        for m in self.notes:
            if m.get("method") == method:
                return m
        return None


def listener():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Small buffers: the kernel takes little, so writes queue in the daemon.
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.settimeout(DEADLINE)
    return ls


def tls_peers(tmp):
    """A self-signed localhost certificate (the openssl CLI) and a loopback
    listener whose two connections are held in a thread: the first does TLS
    at once, the second after a plaintext "STARTTLS" line."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        bail("openssl req: the test certificate")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = listener()
    held = []

    def serve():
        try:
            c, _ = ls.accept()
            held.append(ctx.wrap_socket(c, server_side=True))
            c, _ = ls.accept()
            c.settimeout(DEADLINE)
            buf = b""
            while not buf.endswith(b"STARTTLS\n"):
                d = c.recv(64)
                if not d:
                    return
                buf += d
            c.sendall(b"GO\n")
            held.append(ctx.wrap_socket(c, server_side=True))
        except OSError:
            pass
    threading.Thread(target=serve, daemon=True).start()
    with open(cert) as f:
        return ls.getsockname()[1], f.read(), held


class Sink(threading.Thread):
    """Reads a peer socket and counts, once started."""

    def __init__(self, s):
        super().__init__(daemon=True)
        self.s = s
        self.n = 0
        self.tail = b""
        self.eof = False

    def run(self):
        while True:
            try:
                b = self.s.recv(1 << 20)
            except OSError:
                return
            if not b:
                self.eof = True
                return
            self.n += len(b)
            self.tail = (self.tail + b)[-16:]


def wait_for(cond, what, clients=()):
    end = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > end:
            bail(what)
        if clients:
            for c in clients:
                c.pump(0.02)
        else:
            time.sleep(0.02)


def restarted(c, reason):
    """c's daemon.restarted notification with that reason, or None."""
    for m in c.notes:
        if m.get("method") == "daemon.restarted" and m["params"]["reason"] == reason:
            return m["params"]
    return None


def wait_gone(pid, what):
    """Waits for a process that is not our child to end."""
    fd = os.pidfd_open(pid)
    try:
        r, _, _ = select.select([fd], [], [], DEADLINE)
        if not r:
            bail(what)
    finally:
        os.close(fd)


def stop_clean(sd, pid, tag):
    """SIGTERM: the daemon exits 0 and leaves nothing of its own in the store."""
    os.kill(pid, signal.SIGTERM)
    _, st = os.waitpid(pid, 0)
    ok(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, tag + "SIGTERM: exit 0")
    sd.wait(lambda: not any(n[0] in "tc" or n == "ledger" for n in sd.names()),
            tag + "a clean stop empties the store")
    ok(True, tag + "a clean stop empties the store")


def upgrade_then_crash(sd, argv, errlog, sockpath, lw, lr):
    """A live upgrade under the fd store, then SIGKILL of the new process:
    the store is the same after the upgrade (nothing stored twice, nothing
    removed), the new process keeps it (a socket made after is stored), and
    the crash is recovered from the ledger the new process took over."""
    sd.wait(lambda: not any(n[0] in "tc" or n == "ledger" for n in sd.names()),
            "upgrade: the store is empty before")
    r0 = sd.ready
    pid = sd.start(argv, errlog)
    sd.wait(lambda: sd.ready >= r0 + 1, "upgrade: READY=1")
    c = Client(sockpath)
    w = c.call("tcp.connect", {"host": "127.0.0.1", "port": lw.getsockname()[1],
                               "sendBufferSize": 4096})["result"]["socket"]
    pw, _ = lw.accept()
    r = c.call("tcp.connect", {"host": "127.0.0.1", "port": lr.getsockname()[1]})["result"]["socket"]
    pr, _ = lr.accept()
    c.call("tcp.pump", {"socket": r})
    ln = c.call("tcp.listen", {"host": "127.0.0.1", "port": 0})["result"]
    # A TLS socket: not carried; the new process closes it (reason upgrade)
    # and gives its ledger slot back, so the crash below does not report it.
    tls_tmp = tempfile.mkdtemp(prefix="tisock-fdstore-tls.")
    tls_port, ca_pem, _ = tls_peers(tls_tmp)
    ts = c.call("tcp.connect", {"host": "127.0.0.1", "port": tls_port,
                                "tls": {"caPem": ca_pem, "serverName": "localhost"}})
    if "result" not in ts:
        bail("upgrade: tcp.connect with tls: %s" % ts)
    ts = ts["result"]["socket"]
    sd.wait(lambda: all("t%d" % x in sd.names() for x in (w, r, ln["socket"])),
            "upgrade: the sockets are in the store before")	# datagrams are handled as they come
    before = sorted(sd.names())
    with sd.lock:
        stored0, removed0 = dict(sd.stored), dict(sd.removed)
    a = c.call("daemon.upgrade", {})
    if "result" not in a:
        bail("upgrade: daemon.upgrade under the fd store: %s" % a)
    newpid = a["result"]["pid"]
    _, st = os.waitpid(pid, 0)
    ok(newpid != pid and os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0,
       "upgrade: answered by the new process (%d), the old one exits 0" % newpid)
    DAEMON_PID[0] = newpid
    sd.wait(lambda: sd.mainpid == newpid, "upgrade: MAINPID= names the new process")
    sd.wait(lambda: sd.ready >= r0 + 2, "upgrade: the new process reports READY=1")
    ok(True, "upgrade: MAINPID=%d, then READY=1 from it" % newpid)
    with sd.lock:
        same = sorted(n for n, _ in sd.store) == before
        quiet = sd.stored == stored0 and sd.removed == removed0
    ok(same and before.count("ledger") == 1,
       "upgrade: the store holds the same entries, the ledger once (%s)" % before)
    ok(quiet, "upgrade: nothing stored again, nothing removed")
    p = restarted(c, "upgrade")
    ok(p is not None and p["generation"] == 2 and "lost" not in p,
       "upgrade: daemon.restarted, generation 2, no loss fields (%s)" % p)
    c.wait(lambda: any(n.get("method") == "tcp.closed" and n["params"]["socket"] == ts
                       for n in c.notes), "upgrade: tcp.closed for the TLS socket")
    closed = [n for n in c.notes if n.get("method") == "tcp.closed" and n["params"]["socket"] == ts]
    ok(closed[0]["params"]["reason"] == "upgrade", "upgrade: the TLS socket is closed, reason upgrade")
    # The new process keeps the store: a socket made now goes in.
    w2 = c.call("tcp.connect", {"host": "127.0.0.1", "port": lw.getsockname()[1]})["result"]["socket"]
    pw2, _ = lw.accept()
    sd.wait(lambda: "t%d" % w2 in sd.names(), "upgrade: a socket made after the upgrade is stored")
    ok(True, "upgrade: a socket made after the upgrade is stored as t%d" % w2)

    # Mid-transfer, then SIGKILL of the new process.
    payload = base64.b64encode(os.urandom(WRITE_SIZE)).decode()
    writes, lines = {}, b""
    for _ in range(WRITES):
        i, line = c.send("tcp.write", {"socket": w, "data": payload}, raw=True)
        writes[i] = WRITE_SIZE
        lines += line
    c.s.sendall(lines)
    sender = threading.Thread(target=lambda: pr.sendall(b"r" * PUMP_BYTES), daemon=True)
    sender.start()
    obs = Client(sockpath)

    def queued_both_ways():
        info = {x["socket"]: x for x in obs.call("tcp.list", {"all": True})["result"]["sockets"]}
        return info[w]["pendingWriteBytes"] > 0 and info[r]["bytesRead"] >= 512 * 1024
    wait_for(queued_both_ways, "upgrade: bytes queued both ways before the crash")
    os.kill(newpid, signal.SIGKILL)
    wait_gone(newpid, "upgrade: the new process dies of SIGKILL")
    names = sd.names()
    ok(all("t%d" % x in names for x in (w, r, ln["socket"], w2)) and names.count("ledger") == 1,
       "upgrade, then SIGKILL: the store holds every socket and one ledger")

    pid = sd.start(argv, errlog)
    sd.wait(lambda: sd.ready >= r0 + 3, "upgrade, then crash: the restarted daemon is ready")
    c.wait(lambda: restarted(c, "recovery") is not None, "upgrade, then crash: daemon.restarted")
    rep = restarted(c, "recovery")
    lost = {x["socket"]: x for x in rep["lost"]}
    ok(rep["generation"] == 3 and all(lost.get(x, {}).get("state") == "connected"
                                      for x in (w, r, w2)) and
       lost.get(ln["socket"], {}).get("state") == "listening",
       "upgrade, then crash: generation 3, every socket back (%s)" % rep)
    ok(ts not in lost, "upgrade, then crash: the TLS socket closed at the upgrade is not reported again")
    shutil.rmtree(tls_tmp, ignore_errors=True)
    unanswered_ok = 1 if rep["lostInputBytes"] > 0 else 0
    c.wait(lambda: sum(1 for i in writes if i not in c.answers) <= unanswered_ok,
           "upgrade, then crash: every write answered")
    restart_err = [i for i in writes if i in c.answers and "error" in c.answers[i]]
    ok(lost[w]["pendingRequests"] == len(restart_err) and
       all(c.answers[i]["error"]["data"]["reason"] == "restart" for i in restart_err),
       "upgrade, then crash: writes in flight answered -32800 restart (%d)" % len(restart_err))
    sent = sum(n for i, n in writes.items() if i in c.answers)
    want = sent - lost[w]["unwrittenBytes"]
    k = Sink(pw)
    k.start()
    wait_for(lambda: k.n >= want, "upgrade, then crash: the peer gets sent - unwrittenBytes", [c])
    c.call("tcp.write", {"socket": w, "text": "MARK"})
    wait_for(lambda: k.n >= want + 4, "upgrade, then crash: the marker arrives", [c])
    ok(k.n == want + 4 and k.tail.endswith(b"MARK"),
       "upgrade, then crash: the peer got sent %d - unwrittenBytes %d, then the marker" %
       (sent, lost[w]["unwrittenBytes"]))
    sender.join(DEADLINE)
    und = lost[r]["undeliveredBytes"]
    pr.sendall(b"PONG")
    c.wait(lambda: c.data.get(r, 0) + und >= PUMP_BYTES + 4, "upgrade, then crash: PONG arrives")
    ok(c.data[r] + und == PUMP_BYTES + 4,
       "upgrade, then crash: delivered %d + undeliveredBytes %d = the peer's %d" %
       (c.data[r], und, PUMP_BYTES + 4))
    c.call("tcp.write", {"socket": w2, "text": "HI"})
    pw2.settimeout(DEADLINE)
    ok(pw2.recv(2) == b"HI", "upgrade, then crash: the socket made after the upgrade is usable")
    i = c.send("tcp.accept", {"socket": ln["socket"]})
    q = socket.create_connection(("127.0.0.1", ln["local"]["port"]), timeout=DEADLINE)
    c.wait(lambda: i in c.answers, "upgrade, then crash: accept answered")
    ok("result" in c.answers[i], "upgrade, then crash: the listener accepts")
    q.close()
    info = c.call("daemon.info", {})["result"]
    ok(info["generation"] == 3 and info["lastRestart"]["reason"] == "recovery",
       "upgrade, then crash: daemon.info generation 3, lastRestart recovery")
    c.s.close()
    obs.s.close()
    stop_clean(sd, pid, "upgrade, then crash: ")


FDSTORE_BACKLOG = 256		# daemon/fdstore.h: stores that may wait for systemd
STALLED_SOCKETS = 600		# more than the kernel's queue and the backlog together


def stalled_systemd(sd, argv, errlog, sockpath, lw):
    """systemd reads nothing for a while: the daemon goes on serving (its
    sends never block), stores wait in its backlog and go out in order once
    systemd reads again, those past the backlog are not stored and a crash
    reports them lost, none silently; a clean stop leaves nothing stored."""
    sd.wait(lambda: not any(n[0] in "tc" or n == "ledger" for n in sd.names()),
            "stalled: the store is empty before")
    r0 = sd.ready
    pid = sd.start(argv, errlog)
    sd.wait(lambda: sd.ready >= r0 + 1, "stalled: READY=1")
    c = Client(sockpath)
    sd.pause(True)
    ids, peers = [], []
    end = time.monotonic() + DEADLINE
    for _ in range(STALLED_SOCKETS):
        a = c.call("tcp.connect", {"host": "127.0.0.1", "port": lw.getsockname()[1]})
        if "result" not in a:
            bail("stalled: tcp.connect: %s" % a)
        ids.append(a["result"]["socket"])
        peers.append(lw.accept()[0])
        if time.monotonic() > end:
            bail("stalled: the daemon is held up by a systemd that reads nothing "
                 "(%d connects answered)" % len(ids))
    ok("result" in c.call("daemon.info", {}),
       "stalled: %d connects and daemon.info answered while systemd reads nothing" % len(ids))
    sd.pause(False)
    # A fence: the remove of the first socket goes out behind every store waiting.
    fence = "t%d" % ids[0]
    with sd.lock:
        n0 = sd.removed.get(fence, 0)
    c.call("tcp.close", {"socket": ids[0]})
    sd.wait(lambda: sd.removed.get(fence, 0) > n0, "stalled: the backlog goes out")
    stored = set(n for n in sd.names() if n[0] == "t")
    ok(FDSTORE_BACKLOG <= len(stored) < STALLED_SOCKETS - 1 and "t%d" % ids[0] not in stored,
       "stalled: once systemd reads again, %d of %d sockets are stored (at least the backlog's "
       "%d), the rest refused" % (len(stored), STALLED_SOCKETS - 1, FDSTORE_BACKLOG))
    with open(errlog) as f:
        ok("not stored; a crash will report it lost" in f.read(),
           "stalled: the refusal is logged")
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pid = sd.start(argv, errlog)
    sd.wait(lambda: sd.ready >= r0 + 2, "stalled: the restarted daemon reports READY=1")
    c.wait(lambda: restarted(c, "recovery") is not None, "stalled: daemon.restarted")
    lost = {x["socket"]: x["state"] for x in restarted(c, "recovery")["lost"]}
    want = {i: "connected" if "t%d" % i in stored else "lost" for i in ids[1:]}
    ok(lost == want, "stalled: after a crash every socket is reported: %d connected, %d lost" %
       (sum(1 for v in lost.values() if v == "connected"),
        sum(1 for v in lost.values() if v == "lost")))
    back = [i for i in ids[1:] if want[i] == "connected"][-1]
    gone = [i for i in ids[1:] if want[i] == "lost"][-1]
    c.call("tcp.write", {"socket": back, "text": "OK"})
    peers[ids.index(back)].settimeout(DEADLINE)
    ok(peers[ids.index(back)].recv(2) == b"OK", "stalled: a stored socket is usable")
    peers[ids.index(gone)].settimeout(DEADLINE)
    ok(peers[ids.index(gone)].recv(1) == b"", "stalled: the peer of a lost socket sees the end")
    c.s.close()
    stop_clean(sd, pid, "stalled: ")
    for p in peers:
        p.close()


def auto_mode(tmp):
    """fd-store = auto: the store only when $FDSTORE says the unit has one
    (systemd's default FileDescriptorStoreMax=0 warns in the journal for
    every descriptor sent); a $FDSTORE smaller than what may be stored is
    logged."""
    conf = os.path.join(tmp, "auto.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nfd-store = auto\nlog-level = info\n")
    lst = listener()
    for name, env, stored in (("no $FDSTORE", {}, False),
                              ("FDSTORE=0", {"FDSTORE": "0"}, False),
                              ("FDSTORE=17409", {"FDSTORE": "17409"}, True),
                              ("FDSTORE=10", {"FDSTORE": "10"}, True)):
        sd = FakeSystemd(os.path.join(tmp, "notify-auto"))
        sockpath = os.path.join(tmp, "auto.sock")
        errlog = os.path.join(tmp, "auto.log")
        if os.path.exists(errlog):
            os.unlink(errlog)
        argv = [DAEMON, "--foreground", "--socket", sockpath, "--config", conf]
        if WRAPPER:
            import shutil
            argv = [shutil.which(WRAPPER[0]) or WRAPPER[0]] + WRAPPER[1:] + argv
        pid = sd.start(argv, errlog, env_extra=env)
        sd.wait(lambda: sd.ready >= 1, "auto, %s: READY=1" % name)
        c = Client(sockpath)
        a = c.call("tcp.connect", {"host": "127.0.0.1", "port": lst.getsockname()[1]})
        peer, _ = lst.accept()
        # A marker the daemon answers after it has sent whatever it stores.
        c.call("daemon.info", {})
        sd.settle()
        names = sd.names()
        t = "t%d" % a["result"]["socket"] if "result" in a else "?"
        if stored:
            ok(t in names and "ledger" in names and any(n.startswith("c") for n in names),
               "auto, %s: the ledger, the client and the socket are in the store" % name)
        else:
            ok(not names, "auto, %s: nothing is sent to the store (%s)" % (name, names))
        c.s.close()
        peer.close()
        os.kill(pid, signal.SIGTERM)
        _, st = os.waitpid(pid, 0)
        ok(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, "auto, %s: SIGTERM: exit 0" % name)
        with open(errlog) as f:
            log = f.read()
        if name == "FDSTORE=10":
            ok("FileDescriptorStoreMax=10 is less than" in log,
               "auto, %s: the too small store is logged" % name)
        if not stored:
            ok("$FDSTORE not set" in log, "auto, %s: the log says why the store is not used"
               % name)
        sd.stop = True
        sd.sock.close()
        os.unlink(sd.path)
    lst.close()


def auto_recovery(tmp, then="auto"):
    """fd-store = auto, restarted after a crash without $FDSTORE (a unit
    whose Environment=FDSTORE= went away, systemd before 254) but with
    descriptors from the store: the store is evidently there, and what the
    daemon takes back from it must leave it again when closed.  Else
    systemd holds a copy of each for ever: its peer never sees the end,
    and every later crash brings it back.  then = "no": the restart has
    fd-store = no (changed before the crash): the same, and the store is
    emptied at once."""
    conf = os.path.join(tmp, "autorec.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nfd-store = auto\nlog-level = info\n")
    tag = "auto, recovery" if then == "auto" else "no after a crash"
    lst = listener()
    sd = FakeSystemd(os.path.join(tmp, "notify-autorec"))
    sockpath = os.path.join(tmp, "autorec.sock")
    errlog = os.path.join(tmp, "autorec.log")
    argv = [DAEMON, "--foreground", "--socket", sockpath, "--config", conf]
    if WRAPPER:
        import shutil
        argv = [shutil.which(WRAPPER[0]) or WRAPPER[0]] + WRAPPER[1:] + argv
    pid = sd.start(argv, errlog, env_extra={"FDSTORE": "17409"})
    sd.wait(lambda: sd.ready >= 1, tag + ": READY=1")
    c = Client(sockpath)
    a = c.call("tcp.connect", {"host": "127.0.0.1", "port": lst.getsockname()[1]})
    if "result" not in a:
        bail(tag + ": tcp.connect: %s" % a)
    sid = a["result"]["socket"]
    peer, _ = lst.accept()
    sd.wait(lambda: "t%d" % sid in sd.names() and "ledger" in sd.names(),
            tag + ": the socket and the ledger are stored")
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if then == "no":
        with open(conf, "w") as f:
            f.write("[daemon]\nfd-store = no\nlog-level = info\n")
    pid = sd.start(argv, errlog, env_extra={} if then == "auto" else None)
    sd.wait(lambda: sd.ready >= 2, tag + ": the restarted daemon reports READY=1")
    c.wait(lambda: restarted(c, "recovery") is not None, tag + ": daemon.restarted")
    if then == "no":
        sd.settle()
        ok(sd.names() == [], tag + ": the store is emptied once taken back (%s)" % sd.names())
    a = c.call("tcp.close", {"socket": sid})
    ok("result" in a, tag + ": the socket taken back closes (%s)" % a)
    peer.settimeout(DEADLINE)
    try:
        end = peer.recv(1)
    except OSError:
        end = b"?"
    ok(end == b"", tag + ": the peer of a socket taken back sees its end")
    sd.settle()
    ok("t%d" % sid not in sd.names(),
       tag + ": a socket taken back leaves the store when closed (%s)" % sd.names())
    c.s.close()
    os.kill(pid, signal.SIGTERM)
    _, st = os.waitpid(pid, 0)
    ok(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, tag + ": SIGTERM: exit 0")
    sd.settle()
    ok(not sd.names(), tag + ": a clean stop empties the store (%s)" % sd.names())
    peer.close()
    sd.stop = True
    sd.sock.close()
    os.unlink(sd.path)
    lst.close()


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 8192:
        # A stalled systemd's scenario holds a few thousand descriptors here and in the daemon.
        want = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    tmp = tempfile.mkdtemp(prefix="tisock-fdstore.")
    sockpath = os.path.join(tmp, "ctl.sock")
    conf = os.path.join(tmp, "tisockd.conf")
    errlog = os.path.join(tmp, "daemon.log")
    global ERRLOG
    ERRLOG = errlog
    with open(conf, "w") as f:
        f.write("[daemon]\nfd-store = yes\nlog-level = info\n")
    sd = FakeSystemd(os.path.join(tmp, "notify"))
    argv = [DAEMON, "--foreground", "--socket", sockpath, "--config", conf]
    if WRAPPER:
        # Valgrind and the like exec in place: LISTEN_PID stays the daemon's.
        import shutil
        argv = [shutil.which(WRAPPER[0]) or WRAPPER[0]] + WRAPPER[1:] + argv
    pid = sd.start(argv, errlog)
    sd.wait(lambda: sd.ready >= 1, "the daemon reports READY=1")
    ok("ledger" in sd.names(), "the ledger is in the fd store")

    lw, lr = listener(), listener()
    clients, socks = [], []
    for k in range(NCLIENTS):
        c = Client(sockpath)
        w = c.call("tcp.connect", {"host": "127.0.0.1", "port": lw.getsockname()[1],
                                   "sendBufferSize": 4096})
        pw, _ = lw.accept()
        r = c.call("tcp.connect", {"host": "127.0.0.1", "port": lr.getsockname()[1]})
        pr, _ = lr.accept()
        l = c.call("tcp.listen", {"host": "127.0.0.1", "port": 0})
        if "result" not in w or "result" not in r or "result" not in l:
            bail("client %d: connect and listen (%s %s %s)" % (k, w, r, l))
        sw, sr, sl = w["result"]["socket"], r["result"]["socket"], l["result"]["socket"]
        c.call("tcp.pump", {"socket": sr})
        clients.append(c)
        socks.append({"w": sw, "r": sr, "l": sl, "lport": l["result"]["local"]["port"],
                      "pw": pw, "pr": pr, "writes": {}})
    # A data channel on the first client: bytes pile up both ways.
    lc = listener()
    c0 = clients[0]
    ch_sock = c0.call("tcp.connect", {"host": "127.0.0.1", "port": lc.getsockname()[1]})
    ch_sock = ch_sock["result"]["socket"]
    pc, _ = lc.accept()
    a = c0.call("tcp.channel", {"socket": ch_sock})
    if "result" not in a or not c0.fds:
        bail("tcp.channel: %s" % a)
    chfd = socket.socket(fileno=c0.fds.pop(0))
    chfd.setblocking(False)
    ch_sender = threading.Thread(target=lambda: pc.sendall(b"d" * CHANNEL_BYTES), daemon=True)
    ch_sender.start()
    ch_up = [0]		# bytes the client's kernel took on its channel end

    def fill_up():
        block = b"u" * 65536
        while ch_up[0] < CHANNEL_BYTES:
            try:
                ch_up[0] += chfd.send(block[:CHANNEL_BYTES - ch_up[0]])
            except BlockingIOError:
                return

    # TLS sockets: a session no later process can go on with.  One made with
    # TLS never goes into the store; one stored as plain TCP leaves it at
    # tcp.startTls.  A crash reports both lost.
    tls_port, ca_pem, tls_held = tls_peers(tmp)
    tls_opts = {"caPem": ca_pem, "serverName": "localhost"}
    a = c0.call("tcp.connect", {"host": "127.0.0.1", "port": tls_port, "tls": tls_opts})
    if "result" not in a:
        bail("tcp.connect with tls: %s" % a)
    tls_sock = a["result"]["socket"]
    a = c0.call("tcp.connect", {"host": "127.0.0.1", "port": tls_port})
    if "result" not in a:
        bail("tcp.connect for STARTTLS: %s" % a)
    stls_sock = a["result"]["socket"]
    sd.wait(lambda: "t%d" % stls_sock in sd.names(), "the plain socket is stored")
    c0.call("tcp.write", {"socket": stls_sock, "text": "STARTTLS\n"})
    a = c0.call("tcp.read", {"socket": stls_sock, "length": 3})
    a = c0.call("tcp.startTls", {"socket": stls_sock, "tls": tls_opts})
    if "result" not in a:
        bail("tcp.startTls: %s" % a)
    sd.wait(lambda: "t%d" % stls_sock not in sd.names(),
            "tcp.startTls takes the socket out of the fd store")
    ok("t%d" % tls_sock not in sd.names(), "a TLS socket is not put in the fd store")

    names = sd.names()
    ok(all("t%d" % s[k] in names for s in socks for k in ("w", "r", "l")),
       "every connected and listening socket is in the fd store as t<id>")
    ok(sum(1 for n in names if n.startswith("c")) == NCLIENTS,
       "every client is in the fd store as c<n>")

    # Mid-transfer: writes queue in the daemon (the peer does not read), and
    # pumped data queues for clients that do not read their connection.
    payload = base64.b64encode(os.urandom(WRITE_SIZE)).decode()
    for c, s in zip(clients, socks):
        lines = b""
        for _ in range(WRITES):
            i, line = c.send("tcp.write", {"socket": s["w"], "data": payload}, raw=True)
            s["writes"][i] = WRITE_SIZE
            lines += line
        c.s.sendall(lines)
    senders = []
    for s in socks:
        t = threading.Thread(target=lambda p=s["pr"]: p.sendall(b"r" * PUMP_BYTES), daemon=True)
        t.start()
        senders.append(t)
    obs = Client(sockpath)

    def queued_both_ways():
        a = obs.call("tcp.list", {"all": True})["result"]["sockets"]
        info = {x["socket"]: x for x in a}
        return all(info[s["w"]]["pendingWriteBytes"] > 0 and
                   info[s["r"]]["bytesRead"] >= 512 * 1024 for s in socks)
    wait_for(queued_both_ways, "bytes queued in the daemon both ways before the crash")
    # The channel's client end: written until it takes no more, then what the
    # daemon has not read of it (SIOCOUTQ): the client's to know.
    import fcntl
    import struct
    import termios
    last = -1
    end = time.monotonic() + DEADLINE
    while ch_up[0] != last and time.monotonic() < end:
        last = ch_up[0]
        fill_up()
        select.select([], [], [], 0.2)	# give the relay a turn; progress is re-checked
    ch_outq = struct.unpack("i", fcntl.ioctl(chfd, termios.TIOCOUTQ, b"\0" * 4))[0]

    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    stored = sd.names()
    ok(all("t%d" % s["w"] in stored for s in socks) and "ledger" in stored,
       "after SIGKILL the store still holds the sockets and the ledger")

    pid = sd.start(argv, errlog)
    sd.wait(lambda: sd.ready >= 2, "the restarted daemon reports READY=1")
    for c in clients + [obs]:
        c.wait(lambda: c.note("daemon.restarted") is not None,
               "every client gets daemon.restarted")
    ok(True, "every client (%d) got daemon.restarted" % (NCLIENTS + 1))
    p0 = obs.note("daemon.restarted")["params"]
    ok(p0["generation"] == 2 and p0["reason"] == "recovery" and p0["lost"] == [],
       "daemon.restarted: generation 2, reason recovery, nothing lost by the observer")

    # Every peer drains now; every write is answered or was lost with input.
    sinks = [Sink(s["pw"]) for s in socks]
    for k in sinks:
        k.start()
    rep0 = c0.note("daemon.restarted")["params"]
    lost0 = {x["socket"]: x for x in rep0["lost"]}
    ok(all(lost0.get(k, {}).get("state") == "lost" for k in (tls_sock, stls_sock)),
       "both TLS sockets are reported lost: %s" % [lost0.get(k) for k in (tls_sock, stls_sock)])
    a = c0.call("tcp.info", {"socket": tls_sock})
    ok(a.get("error", {}).get("code") == -32001, "a lost TLS socket's id is unknown: %s" % a)
    for c, s in zip(clients, socks):
        rep = c.note("daemon.restarted")["params"]
        lost = {x["socket"]: x for x in rep["lost"]}
        s["rep"], s["lost"] = rep, lost
        unanswered_ok = 1 if rep["lostInputBytes"] > 0 else 0
        c.wait(lambda: sum(1 for i in s["writes"] if i not in c.answers) <= unanswered_ok,
               "every write answered (but one lost with the input)")
        ok(c.bad_lines == (1 if rep["outputCut"] else 0),
           "client %d: one unparsable line exactly when outputCut (%d)" % (c.s.fileno(), c.bad_lines))
        restart_err = [i for i in s["writes"] if i in c.answers and "error" in c.answers[i]]
        ok(all(c.answers[i]["error"]["code"] == -32800 and
               c.answers[i]["error"]["data"]["reason"] == "restart" for i in restart_err),
           "writes in flight were answered -32800, reason restart (%d)" % len(restart_err))
        ok(lost[s["w"]]["pendingRequests"] == len(restart_err),
           "pendingRequests (%d) counts them" % lost[s["w"]]["pendingRequests"])
        s["sent"] = sum(n for i, n in s["writes"].items() if i in c.answers)
    for c, s, k in zip(clients, socks, sinks):
        want = s["sent"] - s["lost"][s["w"]]["unwrittenBytes"]
        wait_for(lambda: k.n >= want, "peer gets sent - unwrittenBytes", clients)
        # And nothing more: a marker written now arrives right after.
        c.call("tcp.write", {"socket": s["w"], "text": "MARK"})
        wait_for(lambda: k.n >= want + 4, "the marker arrives", clients)
        ok(k.n == want + 4 and k.tail.endswith(b"MARK"),
           "peer received sent %d - unwrittenBytes %d, then the marker (got %d)" %
           (s["sent"], s["lost"][s["w"]]["unwrittenBytes"], k.n - 4))
        ok(s["lost"][s["w"]]["unwrittenBytes"] > 0, "some written bytes were lost (%d)" %
           s["lost"][s["w"]]["unwrittenBytes"])

    # Read direction: delivered + undeliveredBytes == what the peer sent.
    for t in senders:
        t.join(DEADLINE)
    for c, s in zip(clients, socks):
        und = s["lost"][s["r"]]["undeliveredBytes"]
        c.wait(lambda: c.data.get(s["r"], 0) + und >= PUMP_BYTES,
               "pumped bytes arrive after the restart", clients)
        s["pr"].sendall(b"PONG")
        c.wait(lambda: c.data.get(s["r"], 0) + und >= PUMP_BYTES + 4, "PONG arrives")
        ok(c.data[s["r"]] + und == PUMP_BYTES + 4,
           "client got %d, undeliveredBytes %d: the peer's %d bytes" %
           (c.data[s["r"]], und, PUMP_BYTES + 4))
        ok(und > 0, "some read bytes were lost (%d)" % und)
        a = c.call("tcp.write", {"socket": s["r"], "text": "PING"})
        buf = b""
        s["pr"].settimeout(DEADLINE)
        while len(buf) < 4:
            buf += s["pr"].recv(4)
        ok("result" in a and buf == b"PING", "bytes flow both ways after the restart")

    # The channel: its relay is lost, counted; the socket is back in JSON mode.
    lostc = clients[0].note("daemon.restarted")["params"]
    lostc = {x["socket"]: x for x in lostc["lost"]}[ch_sock]
    ok(lostc.get("channelLost") is True and lostc["state"] == "connected",
       "a channel's socket comes back (JSON mode), channelLost")
    chfd.setblocking(True)
    chfd.settimeout(DEADLINE)
    got = 0
    resets = 0
    while resets < 2:
        try:
            b = chfd.recv(1 << 20)
        except ConnectionResetError:
            # The daemon's end went with unread bytes: reported once, then
            # what is still queued here reads as usual.
            resets += 1
            continue
        if not b:
            break
        got += len(b)
    c0 = clients[0]
    c0.call("tcp.pump", {"socket": ch_sock})
    c0.wait(lambda: got + lostc["undeliveredBytes"] + c0.data.get(ch_sock, 0) >= CHANNEL_BYTES,
            "the channel's peer bytes arrive by pump after the restart")
    ok(got + lostc["undeliveredBytes"] + c0.data.get(ch_sock, 0) == CHANNEL_BYTES,
       "channel down: %d through the channel + %d undelivered + %d pumped after = the peer's %d"
       % (got, lostc["undeliveredBytes"], c0.data.get(ch_sock, 0), CHANNEL_BYTES))
    # Up: what the daemon had not read of the channel is gone with it and
    # cannot be counted by anyone exactly (the client's TIOCOUTQ counts
    # buffer memory, more than the bytes): the peer gets between the two.
    pk = Sink(pc)
    pk.start()
    most = ch_up[0] - lostc["unwrittenBytes"]
    least = most - ch_outq
    wait_for(lambda: pk.n >= least, "the channel's client bytes arrive", clients)
    c0.call("tcp.write", {"socket": ch_sock, "text": "MARK"})
    wait_for(lambda: pk.tail.endswith(b"MARK"), "the marker arrives")
    ok(least <= pk.n - 4 <= most,
       "channel up: the peer got %d: written %d - unwrittenBytes %d - at most %d unread by "
       "the daemon" % (pk.n - 4, ch_up[0], lostc["unwrittenBytes"], ch_outq))

    # The listener still accepts.
    for c, s in zip(clients, socks):
        i = c.send("tcp.accept", {"socket": s["l"]})
        p = socket.create_connection(("127.0.0.1", s["lport"]), timeout=DEADLINE)
        c.wait(lambda: i in c.answers, "accept answered")
        ok("result" in c.answers[i], "the listener accepts after the restart")
        p.close()

    # Closing removes from the store, and the peer sees the end.
    c, s, k = clients[0], socks[0], sinks[0]
    c.call("tcp.close", {"socket": s["w"]})
    sd.wait(lambda: "t%d" % s["w"] not in [n for n, _ in sd.store], "t<id> removed on close")
    wait_for(lambda: k.eof, "the peer of a closed socket sees EOF")
    ok(True, "a closed socket leaves the store and its peer sees EOF")

    info = clients[1].call("daemon.info", {})["result"]
    ok(info["generation"] == 2 and info["lastRestart"]["reason"] == "recovery",
       "daemon.info: generation 2, lastRestart recovery")

    for c in clients + [obs]:
        c.s.close()
    stop_clean(sd, pid, "")

    # A ledger that lies (garbage in its place): nothing is handed to anyone;
    # what it would have described is closed and leaves the store.
    pid = sd.start(argv, errlog)
    sd.wait(lambda: sd.ready >= 3, "a fresh start reports READY=1")
    c = Client(sockpath)
    s = c.call("tcp.connect", {"host": "127.0.0.1", "port": lw.getsockname()[1]})["result"]["socket"]
    p, _ = lw.accept()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    bad = os.memfd_create("garbage", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
    os.write(bad, os.urandom(4096))
    with sd.lock:
        for e in sd.store:
            if e[0] == "ledger":
                os.close(e[1])
                e[1] = bad
    pid = sd.start(argv, errlog)
    sd.wait(lambda: sd.ready >= 4, "with a garbage ledger, the daemon starts")
    sd.wait(lambda: not any(n[0] in "tc" for n, _ in sd.store) and
            sum(1 for n, _ in sd.store if n == "ledger") == 1,
            "the sockets and clients a garbage ledger would describe leave the store")
    ok(True, "a garbage ledger: its sockets and clients leave the store, one ledger is left")
    p.settimeout(DEADLINE)
    ok(p.recv(1) == b"", "a garbage ledger: the peer sees the connection end")
    try:
        c.wait(lambda: False, "a garbage ledger: the client sees its connection end")
    except EOFError:
        ok(True, "a garbage ledger: the client sees its connection end")
    c2 = Client(sockpath)
    info = c2.call("daemon.info", {})["result"]
    ok(info["generation"] == 2 and "lastRestart" in info, "a new client is served (generation %d)"
       % info["generation"])
    c2.s.close()
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)

    # Socket activation alongside: the control socket comes first, named
    # as a .socket unit names it, and keeps working across the crash.
    act = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    actpath = os.path.join(tmp, "activated.sock")
    act.bind(actpath)
    act.listen(64)
    first = [("tisockd.socket", act.fileno())]
    pid = sd.start(argv, errlog, first)
    sd.wait(lambda: sd.ready >= 5, "socket-activated: READY=1")
    c = Client(actpath)
    s = c.call("tcp.connect", {"host": "127.0.0.1", "port": lw.getsockname()[1]})["result"]["socket"]
    p, _ = lw.accept()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pid = sd.start(argv, errlog, first)
    sd.wait(lambda: sd.ready >= 6, "socket-activated, with the store: READY=1")
    c.wait(lambda: c.note("daemon.restarted") is not None, "socket-activated: daemon.restarted")
    c.call("tcp.write", {"socket": s, "text": "HI"})
    p.settimeout(DEADLINE)
    ok(p.recv(2) == b"HI", "socket-activated: the client and its socket came back")
    c2 = Client(actpath)
    ok("result" in c2.call("daemon.info", {}), "socket-activated: the passed control socket serves")
    ok(not os.path.exists(sockpath), "socket-activated: the passed socket is used, no other made")
    c.s.close()
    c2.s.close()
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    if WRAPPER:
        # The upgrade executes the file the daemon was started from: the wrapper's.
        print("# skipped: a live upgrade then a crash (under a wrapper)")
    else:
        upgrade_then_crash(sd, argv, errlog, sockpath, lw, lr)
    stalled_systemd(sd, argv, errlog, sockpath, lw)
    auto_mode(tmp)
    auto_recovery(tmp)
    auto_recovery(tmp, then="no")
    print("1..%d" % tests)
    if failures:
        with open(errlog) as f:
            sys.stderr.write(f.read()[-4000:])
        return 1
    sd.stop = True
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:	# a timeout or a closed connection: fail, leave nothing running
        import traceback
        traceback.print_exc()
        bail("unexpected: %r" % e)
