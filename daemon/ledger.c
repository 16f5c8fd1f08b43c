/*
 * ledger: see ledger.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"

/* Fills the free stack with every slot but the header, lowest on top. */
static int
fill_free(struct ledger *l)
{
	free(l->free);
	l->free = malloc((size_t)l->nslots * sizeof(*l->free));
	if (!l->free)
		return -ENOMEM;
	l->nfree = 0;
	for (uint32_t n = l->nslots - 1; n >= 1; n--)
		l->free[l->nfree++] = n;
	return 0;
}

/*
 * Creates a ledger of nslots slots in a new memfd (sparse: only the slots
 * used take memory).  Returns 0 or -errno.
 */
int
ledger_create(struct ledger *l, uint32_t nslots)
{
	size_t size = (size_t)nslots * LEDGER_SLOT_SIZE;
	struct ledger_head *h;
	int fd;

	*l = (struct ledger){ .fd = -1 };
	fd = memfd_create("tisockd-ledger", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		int r = -errno;

		(void) close(fd);
		return r;
	}
	l->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (l->base == MAP_FAILED) {
		int r = -errno;

		l->base = NULL;
		(void) close(fd);
		return r;
	}
	l->fd = fd;
	l->nslots = nslots;
	h = ledger_head(l);
	h->magic = LEDGER_MAGIC;
	h->version = LEDGER_VERSION;
	h->slot_size = LEDGER_SLOT_SIZE;
	h->nslots = nslots;
	h->pid = (uint32_t)getpid();
	snprintf(h->version_str, sizeof(h->version_str), "%s", PACKAGE_VERSION);
	return fill_free(l);
}

/*
 * Maps the ledger a previous daemon left in fd (taken over).  Returns 0,
 * or -EINVAL when fd is not a ledger this daemon can read.
 */
int
ledger_map(struct ledger *l, int fd)
{
	struct ledger_head h;
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	*l = (struct ledger){ .fd = -1 };
	/* A memfd sealed against shrinking (-1: not a memfd), or a mapping could fault. */
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EINVAL;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < LEDGER_SLOT_SIZE ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EINVAL;
	if (h.magic != LEDGER_MAGIC || h.version != LEDGER_VERSION ||
	    h.slot_size != LEDGER_SLOT_SIZE || h.nslots < 2 ||
	    (uint64_t)h.nslots * LEDGER_SLOT_SIZE > (uint64_t)st.st_size)
		return -EINVAL;
	l->base = mmap(NULL, (size_t)h.nslots * LEDGER_SLOT_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	if (l->base == MAP_FAILED) {
		l->base = NULL;
		return -errno;
	}
	l->fd = fd;
	l->nslots = h.nslots;
	return fill_free(l);
}

/*
 * Empties every slot: the ledger describes this daemon from now on.  The
 * memory goes back (a hole punched), so an empty ledger takes none.
 */
void
ledger_reset(struct ledger *l)
{
	struct ledger_head *h = ledger_head(l);
	size_t len = ((size_t)l->nslots - 1) * LEDGER_SLOT_SIZE;

	if (fallocate(l->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, LEDGER_SLOT_SIZE,
		      (off_t)len) < 0)
		memset(l->base + LEDGER_SLOT_SIZE, 0, len);
	h->pid = (uint32_t)getpid();
	snprintf(h->version_str, sizeof(h->version_str), "%s", PACKAGE_VERSION);
	(void) fill_free(l);
}

/*
 * Goes on with a ledger a previous process of this daemon was writing (a
 * live upgrade): the slots marked in claimed[] (nslots bytes) stay as they
 * are, any other slot in use is freed, and the header names this
 * process.  Returns 0 or -ENOMEM.
 */
int
ledger_keep(struct ledger *l, const uint8_t *claimed)
{
	struct ledger_head *h = ledger_head(l);
	uint32_t n = 1, end;

	for (ledger_extent(l, n, &n, &end); n < l->nslots; ledger_extent(l, end, &n, &end))
		for (; n < end; n++)
			if (!claimed[n] && ledger_slot(l, n)->kind != LEDGER_FREE)
				atomic_store_explicit((_Atomic uint16_t *)&ledger_slot(l, n)->kind,
						      LEDGER_FREE, memory_order_release);
	free(l->free);
	l->free = malloc((size_t)l->nslots * sizeof(*l->free));
	if (!l->free)
		return -ENOMEM;
	l->nfree = 0;
	for (n = l->nslots - 1; n >= 1; n--)
		if (!claimed[n])
			l->free[l->nfree++] = n;
	h->pid = (uint32_t)getpid();
	snprintf(h->version_str, sizeof(h->version_str), "%s", PACKAGE_VERSION);
	return 0;
}

/* Unmaps and closes the ledger. */
void
ledger_close(struct ledger *l)
{
	if (l->base)
		(void) munmap(l->base, (size_t)l->nslots * LEDGER_SLOT_SIZE);
	if (l->fd >= 0)
		(void) close(l->fd);
	free(l->free);
	*l = (struct ledger){ .fd = -1 };
}

/* The header (slot 0). */
struct ledger_head *
ledger_head(const struct ledger *l)
{
	return (struct ledger_head *)l->base;
}

/* Slot n. */
struct ledger_slot *
ledger_slot(const struct ledger *l, uint32_t n)
{
	return (struct ledger_slot *)(l->base + (size_t)n * LEDGER_SLOT_SIZE);
}

/*
 * Takes a free slot for an object of kind with id, rec its first record.
 * Returns its number, or 0 when the ledger is full.
 */
uint32_t
ledger_alloc(struct ledger *l, enum ledger_kind kind, uint64_t id, const union ledger_rec *rec)
{
	struct ledger_slot *s;
	uint32_t n;

	if (!l->base || l->nfree == 0)
		return 0;
	n = l->free[--l->nfree];
	s = ledger_slot(l, n);
	s->id = id;
	s->rec[s->seq & 1] = *rec;
	/* Whole before it counts. */
	atomic_store_explicit((_Atomic uint16_t *)&s->kind, (uint16_t)kind, memory_order_release);
	return n;
}

/* Frees slot n. */
void
ledger_release(struct ledger *l, uint32_t n)
{
	struct ledger_slot *s;

	if (n == 0 || !l->base)
		return;
	s = ledger_slot(l, n);
	atomic_store_explicit((_Atomic uint16_t *)&s->kind, LEDGER_FREE, memory_order_release);
	l->free[l->nfree++] = n;
}

/*
 * The copy of slot n's record to change (a copy of the one in force);
 * ledger_commit() puts it in force.
 */
union ledger_rec *
ledger_begin(struct ledger *l, uint32_t n)
{
	struct ledger_slot *s = ledger_slot(l, n);
	union ledger_rec *next = &s->rec[(s->seq + 1) & 1];

	*next = s->rec[s->seq & 1];
	return next;
}

/* Puts the copy ledger_begin() gave in force: one store, so a kill leaves one whole. */
void
ledger_commit(struct ledger *l, uint32_t n)
{
	struct ledger_slot *s = ledger_slot(l, n);

	atomic_store_explicit((_Atomic uint32_t *)&s->seq, s->seq + 1, memory_order_release);
}

/*
 * Whether a request id is one the ledger keeps (and a ledger read back
 * may be trusted to hold): a JSON number, or a string of at most
 * LEDGER_ID_MAX bytes without control characters, quotes or backslashes
 * inside.
 */
bool
ledger_id_ok(const char *id, size_t n)
{
	if (n == 0 || n > LEDGER_ID_MAX)
		return false;
	if (id[0] == '"') {
		if (n < 2 || id[n - 1] != '"')
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if ((unsigned char)id[i] < 0x20 || id[i] == '"' || id[i] == '\\')
				return false;
		return true;
	}
	for (size_t i = 0; i < n; i++)
		if (!id[i] || !strchr("0123456789-+.eE", id[i]))
			return false;
	return true;
}

/*
 * The slots at or after n that may be in use, as [*first, *end): those in
 * holes of the memfd were never written (reading them would only take
 * memory).  *first is nslots when none is.
 */
void
ledger_extent(const struct ledger *l, uint32_t n, uint32_t *first, uint32_t *end)
{
	off_t size = (off_t)l->nslots * LEDGER_SLOT_SIZE, data, hole;

	*first = *end = l->nslots;
	if (n >= l->nslots)
		return;
	data = lseek(l->fd, (off_t)n * LEDGER_SLOT_SIZE, SEEK_DATA);
	if (data < 0) {
		if (errno != ENXIO)	/* holes not known: every slot */
			*first = n;
		return;
	}
	hole = lseek(l->fd, data, SEEK_HOLE);
	if (hole < 0 || hole > size)
		hole = size;
	*first = (uint32_t)(data / LEDGER_SLOT_SIZE);
	if (*first < n)
		*first = n;
	*end = (uint32_t)((hole + LEDGER_SLOT_SIZE - 1) / LEDGER_SLOT_SIZE);
	if (*end > l->nslots || *end <= *first)
		*end = l->nslots;
}

/* Reads slot n as a crash left it: false when it is free. */
bool
ledger_read(const struct ledger *l, uint32_t n, uint16_t *kind, uint64_t *id, union ledger_rec *rec)
{
	const struct ledger_slot *s = ledger_slot(l, n);

	*kind = s->kind;
	if (*kind == LEDGER_FREE)
		return false;
	*id = s->id;
	*rec = s->rec[s->seq & 1];
	return true;
}
