/*
 * test-chanbuf: the kernel buffers of data channels are budgeted, with a
 * real tisockd (uid-channel-buffer-bytes 16 MiB: two granted channels
 * per uid; channel-buffer-bytes 24 MiB: three daemon-wide).
 *
 *  - of 6 channels of one client, the first 2 are granted enlarged
 *    buffers on the daemon's end (daemon.info user.channelBufferBytes
 *    grows by 8 MiB with each), the others not; every client end's send
 *    buffer is enlarged (SO_SNDBUF of the received fd);
 *    limitHitsBy.uidChannelBufferBytes counts the 4 downgrades;
 *  - a peer sending into every channel while the client reads nothing
 *    leaves at most the budget plus the default channels' buffers in
 *    the client's ends (SIOCINQ); then everything is read, SHA-256 equal;
 *  - closing the 2 enlarged channels (one by the client's close and a
 *    reset, one by EOF both ways) gives the grant back;
 *  - as root, a second uid gets an enlarged channel while the first is
 *    at its budget, until the daemon-wide budget is reached;
 *  - the owner vanishing with enlarged channels open gives them back;
 *  - a live upgrade keeps the count (daemon.info before and after; the
 *    new process refuses a third enlarged channel and gives the adopted
 *    ones back when they close);
 *  - a reload lowering uid-channel-buffer-bytes to 8 MiB applies to new
 *    channels: the ones open keep their grant.
 *
 * Every wait has a deadline.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <netinet/in.h>
#include <openssl/evp.h>

#include "spawn.h"

#define MIB		(1LL << 20)
#define GRANT		(8 * MIB)	/* a granted channel: its daemon end's buffer, as the kernel counts it */
#define UID_BUDGET	(2 * GRANT)
#define ALL_BUDGET	(3 * GRANT)
#define NCH		6
#define TOTAL		(12 * MIB)	/* sent into each channel */
#define DEADLINE_MS	120000
#define SLACK		(256 * 1024)	/* AF_UNIX passes sndbuf by the last send: one relay chunk */

static struct spawned sp;
static int listen_fd, listen_port;

/* A number after "key": in the object "section":{ of line, or -1. */
static long long
jnum(const char *line, const char *section, const char *key)
{
	char k[96];
	const char *p = line;

	if (section) {
		snprintf(k, sizeof(k), "\"%s\":{", section);
		if (!(p = strstr(line, k)))
			return -1;
	}
	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(p, k);
	return p ? atoll(p + strlen(k)) : -1;
}

/* The answer to daemon.info on ctl: "section.key". */
static long long
info(int ctl, const char *section, const char *key)
{
	return jnum(spawn_ask(ctl, 9, "daemon.info", NULL), section, key);
}

/* Waits until info(ctl, section, key) == want (deadline); returns the last value. */
static long long
await_info(int ctl, const char *section, const char *key, long long want)
{
	long long v = -1;

	for (long long end = spawn_now_ms() + 30000; spawn_now_ms() < end;) {
		if ((v = info(ctl, section, key)) == want)
			break;
		(void) poll(NULL, 0, 20);
	}
	return v;
}

/* SO_SNDBUF of fd. */
static long
sndbuf(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	(void) getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len);
	return v;
}

/* SO_SNDBUF of a fresh AF_UNIX socketpair's end: the kernel's default here. */
static long
default_sndbuf(void)
{
	int sv[2];
	long v;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	v = sndbuf(sv[0]);
	close(sv[0]);
	close(sv[1]);
	return v;
}

/*
 * A socket of ctl connected to our listener, with its channel: the
 * client's end (or -1) and our peer's end in *peer.
 */
static int
channel_open(int ctl, int *peer)
{
	char params[64], line[1024], cbuf[CMSG_SPACE(sizeof(int))];
	const char *a;
	long long s;
	int fd = -1;
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };

	*peer = -1;
	snprintf(params, sizeof(params), "{\"host\":\"127.0.0.1\",\"port\":%d}", listen_port);
	a = spawn_ask(ctl, 1, "tcp.connect", params);
	s = jnum(a, "result", "socket");
	if (s <= 0 || poll(&p, 1, 30000) != 1)
		return -1;
	*peer = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"tcp.channel\","
		 "\"params\":{\"socket\":%lld}}\n", s);
	spawn_send_all(ctl, line, strlen(line));
	/* Lines (notifications first, perhaps) until the answer; its fd rides on it. */
	for (int lines = 0; lines < 64; lines++) {
		size_t have = 0;

		while (have < sizeof(line) - 1) {
			struct iovec iov = { .iov_base = line + have, .iov_len = 1 };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
					     .msg_controllen = sizeof(cbuf) };
			struct pollfd q = { .fd = ctl, .events = POLLIN };

			if (poll(&q, 1, 30000) != 1 || recvmsg(ctl, &mh, 0) != 1)
				return -1;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
				if (cm->cmsg_type == SCM_RIGHTS)
					memcpy(&fd, CMSG_DATA(cm), sizeof(int));
			if (line[have++] == '\n')
				break;
		}
		line[have] = '\0';
		if (strstr(line, "\"id\":77"))
			return strstr(line, "\"fd\":true") ? fd : -1;
	}
	return -1;
}

/*
 * channel_open, and whether the channel was granted enlarged buffers:
 * ctl's user.channelBufferBytes grew by GRANT.  The client's end (or -1).
 */
static int
channel_open_g(int ctl, int *peer, bool *granted)
{
	long long before = info(ctl, "user", "channelBufferBytes");
	int fd = channel_open(ctl, peer);

	*granted = fd >= 0 && info(ctl, "user", "channelBufferBytes") - before == GRANT;
	return fd;
}

/* The bytes of channel ch from offset off. */
static void
gen(int ch, long long off, unsigned char *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		unsigned long long x = (unsigned long long)(off + (long long)k);

		p[k] = (unsigned char)((x * 2654435761ULL >> 11) ^ (x >> 17) ^ (unsigned)ch * 37u);
	}
}

struct flowst {
	long long	 sent, got;
	EVP_MD_CTX	*tx, *rx;
};

/*
 * Moves bytes: our peers send (up to TOTAL each) and, when reading, the
 * client ends are read.  Returns when everything is read, or (not
 * reading) when no peer could send for quiet_ms, or at the deadline.
 */
static void
pump(const int *pf, const int *cf, struct flowst *st, bool reading, int quiet_ms)
{
	static unsigned char buf[1 << 16];
	struct pollfd p[2 * NCH];

	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		int n = 0, r;
		bool left = false;

		for (int i = 0; i < NCH; i++) {
			p[2 * i] = (struct pollfd){ .fd = st[i].sent < TOTAL ? pf[i] : -1,
						    .events = POLLOUT };
			p[2 * i + 1] = (struct pollfd){ .fd = reading && st[i].got < TOTAL ? cf[i] : -1,
							.events = POLLIN };
			left |= st[i].got < TOTAL;
			n += (st[i].sent < TOTAL) + (reading && st[i].got < TOTAL);
		}
		if (!left || n == 0)
			return;
		r = poll(p, 2 * NCH, reading ? 30000 : quiet_ms);
		if (r <= 0)
			return;
		for (int i = 0; i < NCH; i++) {
			ssize_t k;

			if (p[2 * i].revents & POLLOUT) {
				size_t want = (size_t)(TOTAL - st[i].sent) < sizeof(buf) ?
					      (size_t)(TOTAL - st[i].sent) : sizeof(buf);

				gen(i, st[i].sent, buf, want);
				k = send(pf[i], buf, want, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (k > 0) {
					EVP_DigestUpdate(st[i].tx, buf, (size_t)k);
					st[i].sent += k;
				}
			}
			if (p[2 * i + 1].revents & (POLLIN | POLLHUP)) {
				k = recv(cf[i], buf, sizeof(buf), MSG_DONTWAIT);
				if (k > 0) {
					EVP_DigestUpdate(st[i].rx, buf, (size_t)k);
					st[i].got += k;
				} else if (k == 0) {
					st[i].got = TOTAL + 1;	/* an early EOF: the digests differ */
				}
			}
		}
	}
}

/* A control connection of uid (forked, setuid, fd passed back), or -1. */
static int
ctl_as(uid_t uid)
{
	char cbuf[CMSG_SPACE(sizeof(int))], b = 0;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int sv[2], fd = -1, st;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int c;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(uid) < 0)
			_exit(2);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sp.socket);
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			_exit(3);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &c, sizeof(int));
		_exit(sendmsg(sv[1], &mh, 0) == 1 ? 0 : 4);
	}
	close(sv[1]);
	if (recvmsg(sv[0], &mh, 0) == 1 && CMSG_FIRSTHDR(&mh))
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	close(sv[0]);
	(void) waitpid(child, &st, 0);
	return fd;
}

/* Closes channel i's both ends: the client's first (a reset on the peer's next byte) or EOF both ways. */
static void
channel_end(int *cf, int *pf, bool reset)
{
	if (reset) {
		close(*cf);
		(void) send(*pf, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(*pf);
	} else {
		(void) shutdown(*cf, SHUT_WR);
		close(*pf);
		close(*cf);
	}
	*cf = *pf = -1;
}

/* 6 channels, the budget, the data, the grant given back. */
static void
test_one_uid(int ctl, int *cf, int *pf)
{
	long long deflt = 0, inq = 0, hits;
	struct flowst st[NCH];
	bool same = true;
	int enlarged = 0, client_big = 0;
	bool g[NCH];

	for (int i = 0; i < NCH; i++) {
		cf[i] = channel_open_g(ctl, &pf[i], &g[i]);
		if (cf[i] < 0 || pf[i] < 0) {
			check(0, "channel %d opened", i);
			return;
		}
		enlarged += g[i];
		client_big += sndbuf(cf[i]) > default_sndbuf();
	}
	deflt = (NCH - 2) * default_sndbuf();
	check(g[0] && g[1] && enlarged == 2, "of %d channels the first 2 are granted enlarged "
	      "buffers on the daemon's end, %d in all", NCH, enlarged);
	check(client_big == NCH, "every client end sends into an enlarged buffer (%d of %d; "
	      "SO_SNDBUF %ld against the default %ld)", client_big, NCH, sndbuf(cf[2]),
	      default_sndbuf());
	hits = info(ctl, "limitHitsBy", "uidChannelBufferBytes");
	check(hits == NCH - 2, "limitHitsBy.uidChannelBufferBytes counts the %d downgrades (%lld)",
	      NCH - 2, hits);
	check(info(ctl, "user", "channelBufferBytes") == UID_BUDGET,
	      "daemon.info user.channelBufferBytes is the 16 MiB granted");

	for (int i = 0; i < NCH; i++) {
		st[i] = (struct flowst){ .tx = EVP_MD_CTX_new(), .rx = EVP_MD_CTX_new() };
		EVP_DigestInit_ex(st[i].tx, EVP_sha256(), NULL);
		EVP_DigestInit_ex(st[i].rx, EVP_sha256(), NULL);
	}
	pump(pf, cf, st, false, 2000);	/* until the peers cannot send for 2 s */
	for (int i = 0; i < NCH; i++) {
		int q = 0;

		(void) ioctl(cf[i], SIOCINQ, &q);
		inq += q;
	}
	check(inq > 0 && inq <= UID_BUDGET + deflt + NCH * SLACK,
	      "a client that reads nothing has %lld bytes waiting in its ends (bound %lld: the "
	      "budget, %lld of default buffers, one relay chunk each)", inq,
	      UID_BUDGET + deflt + NCH * SLACK, deflt);
	pump(pf, cf, st, true, 0);
	for (int i = 0; i < NCH; i++) {
		unsigned char a[32], b[32];
		unsigned int la = 0, lb = 0;

		EVP_DigestFinal_ex(st[i].tx, a, &la);
		EVP_DigestFinal_ex(st[i].rx, b, &lb);
		same &= st[i].sent == TOTAL && st[i].got == TOTAL && la == lb && !memcmp(a, b, la);
		EVP_MD_CTX_free(st[i].tx);
		EVP_MD_CTX_free(st[i].rx);
	}
	check(same, "then every byte is read: %d x %lld bytes, SHA-256 equal", NCH, TOTAL);

	channel_end(&cf[0], &pf[0], true);
	channel_end(&cf[1], &pf[1], false);
	check(await_info(ctl, "user", "channelBufferBytes", 0) == 0,
	      "closing the enlarged channels (reset, EOF both ways) gives their grant back");
	cf[0] = channel_open_g(ctl, &pf[0], &g[0]);
	cf[1] = channel_open_g(ctl, &pf[1], &g[1]);
	check(cf[0] >= 0 && g[0] && cf[1] >= 0 && g[1], "the next new channels are granted again");
}

/*
 * A second uid, while the first is at its budget; then the daemon-wide
 * budget.  Returns its control connection (kept: its grant stays), or -1.
 */
static int
test_other_uid(int root, int *bcf, int *bpf)
{
	int b;
	bool g0, g1;

	(void) chmod(sp.dir, 0755);
	(void) chmod(sp.socket, 0666);
	b = ctl_as(60101);
	if (b < 0) {
		check(0, "a control connection as uid 60101");
		return -1;
	}
	bcf[0] = channel_open_g(b, &bpf[0], &g0);
	check(bcf[0] >= 0 && g0, "uid 60101 gets an enlarged channel while uid 0 is at its budget");
	bcf[1] = channel_open_g(b, &bpf[1], &g1);
	check(bcf[1] >= 0 && !g1, "its second is not: the daemon-wide 24 MiB are granted");
	check(info(root, "limitHitsBy", "channelBufferBytes") == 1,
	      "limitHitsBy.channelBufferBytes counts it");
	check(info(b, "user", "channelBufferBytes") == GRANT,
	      "uid 60101 sees its own 8 MiB in daemon.info");
	return b;
}

/*
 * A reload (SIGHUP to pid) lowers uid-channel-buffer-bytes to 8 MiB while
 * ctl's uid holds 16 MiB: what is open keeps its grant.
 */
static void
reload_lower(int ctl, pid_t pid)
{
	char path[128];
	long long reloads = info(ctl, "counters", "reloads");
	FILE *f;

	snprintf(path, sizeof(path), "%s/tisockd.conf", sp.dir);
	f = fopen(path, "w");
	if (!f || pid <= 0) {
		check(0, "the config rewritten");
		return;
	}
	fputs("[limits]\nuid-channel-buffer-bytes = 8388608\nchannel-buffer-bytes = 25165824\n"
	      "[daemon]\nfd-store = no\n", f);
	fclose(f);
	kill(pid, SIGHUP);
	check(await_info(ctl, "counters", "reloads", reloads + 1) == reloads + 1 &&
	      info(ctl, "limits", "uidChannelBufferBytes") == GRANT, "a reload lowers the limit");
	check(info(ctl, "user", "channelBufferBytes") == UID_BUDGET,
	      "the channels open keep their grant (16 MiB)");
}

int
main(int argc, char **argv)
{
	static const char config[] = "[limits]\nuid-channel-buffer-bytes = 16777216\n"
				     "channel-buffer-bytes = 25165824\n";
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int cf[NCH], pf[NCH], bcf[2] = { -1, -1 }, bpf[2] = { -1, -1 }, ncf[3], npf[3];
	int ctl, ctl2, b = -1;
	long long others = 0, before, user_before, newpid, v;
	bool g[3];
	const char *a;

	if (argc < 2)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	(void) prctl(PR_SET_CHILD_SUBREAPER, 1);	/* the upgraded daemon stays ours to reap */
	if (spawn_start(&sp, argv[1], config, 1024) < 0) {
		check(0, "daemon started");
		return check_summary();
	}
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(listen_fd, 64) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sin, &len) < 0)
		return 99;
	listen_port = ntohs(sin.sin_port);
	ctl = spawn_ctl_open(&sp);
	test_one_uid(ctl, cf, pf);

	if (getuid() == 0) {
		b = test_other_uid(ctl, bcf, bpf);
		others = b >= 0 ? GRANT : 0;
	} else {
		printf("# skipped the second uid: not root\n");
	}

	/* The owner vanishes with its channels open (our ends still held). */
	close(ctl);
	ctl2 = spawn_ctl_open(&sp);
	v = await_info(ctl2, "counters", "channelBufferBytes", others);
	check(v == others, "a vanished owner's grants are given back (daemon-wide %lld)", v);
	check(info(ctl2, "user", "channelBufferBytes") == 0, "its uid holds none");
	for (int i = 0; i < NCH; i++) {
		close(cf[i]);
		close(pf[i]);
	}
	ncf[0] = channel_open_g(ctl2, &npf[0], &g[0]);
	ncf[1] = channel_open_g(ctl2, &npf[1], &g[1]);
	check(ncf[0] >= 0 && ncf[1] >= 0 && g[0] && g[1],
	      "a new client of that uid gets enlarged channels again");

	/* A live upgrade carries the channels: the new process counts them again. */
	before = info(ctl2, "counters", "channelBufferBytes");
	user_before = info(ctl2, "user", "channelBufferBytes");
	a = spawn_ask(ctl2, 5, "daemon.upgrade", NULL);
	newpid = jnum(a, "result", "pid");
	check(newpid > 0 && newpid != sp.pid, "daemon.upgrade: a new process (%lld)", newpid);
	v = info(ctl2, "counters", "channelBufferBytes");
	check(v == before && info(ctl2, "user", "channelBufferBytes") == user_before,
	      "daemon.info after the upgrade: the same grants (%lld daemon-wide, before %lld)",
	      v, before);
	ncf[2] = channel_open_g(ctl2, &npf[2], &g[2]);
	check(ncf[2] >= 0 && !g[2],
	      "the new process holds the uid to its budget with the adopted channels");
	{
		char got[8] = "";
		struct pollfd p = { .fd = ncf[0], .events = POLLIN };

		(void) send(npf[0], "hello", 5, MSG_NOSIGNAL);
		if (poll(&p, 1, 30000) == 1)
			(void) recv(ncf[0], got, 5, 0);
		check(memcmp(got, "hello", 5) == 0, "an adopted channel still relays");
	}
	reload_lower(ctl2, (pid_t)newpid);
	for (int i = 0; i < 3; i++)
		channel_end(&ncf[i], &npf[i], i == 0);
	v = await_info(ctl2, "user", "channelBufferBytes", 0);
	check(v == 0, "the adopted channels give their grants back when they end");
	ncf[0] = channel_open_g(ctl2, &npf[0], &g[0]);
	ncf[1] = channel_open_g(ctl2, &npf[1], &g[1]);
	check(ncf[0] >= 0 && g[0] && ncf[1] >= 0 && !g[1],
	      "then one new channel is enlarged under the lowered limit, not two");
	for (int i = 0; i < 2; i++)
		channel_end(&ncf[i], &npf[i], false);
	check(await_info(ctl2, "user", "channelBufferBytes", 0) == 0, "and gives it back");
	for (int i = 0; i < 2; i++)
		if (bcf[i] >= 0)
			channel_end(&bcf[i], &bpf[i], false);
	check(await_info(ctl2, "counters", "channelBufferBytes", 0) == 0,
	      "nothing is granted once every channel is closed");
	if (b >= 0)
		close(b);
	close(ctl2);

	if (newpid > 0) {
		int st = -1;

		kill((pid_t)newpid, SIGTERM);
		for (long long end = spawn_now_ms() + 30000; spawn_now_ms() < end;) {
			if (waitpid((pid_t)newpid, &st, WNOHANG) == (pid_t)newpid)
				break;
			(void) poll(NULL, 0, 20);
		}
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the upgraded daemon exits cleanly");
	}
	(void) spawn_stop(&sp);
	return check_summary();
}
