/*
 * Unit tests for the ledger's checks on a descriptor taken back from the
 * fd store (daemon/ledger.c): only a memfd sealed against shrinking is
 * mapped, whatever its bytes say.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "ledger.h"

#define NSLOTS	8

/* A copy of a fresh ledger's bytes in fd (a file of some kind). */
static void
copy_ledger(int fd)
{
	struct ledger l;
	char buf[NSLOTS * LEDGER_SLOT_SIZE];

	assert_int_equal(ledger_create(&l, NSLOTS), 0);
	assert_int_equal(pread(l.fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ledger_close(&l);
}

/* A ledger as the daemon makes it maps (the checks below are not too strict). */
static void
test_sealed_memfd_maps(void **state)
{
	struct ledger l, m;
	int fd;

	(void) state;
	assert_int_equal(ledger_create(&l, NSLOTS), 0);
	fd = dup(l.fd);
	assert_int_equal(ledger_map(&m, fd), 0);
	assert_int_equal(m.nslots, NSLOTS);
	ledger_close(&m);
	ledger_close(&l);
}

/*
 * A regular file with a ledger's bytes (F_GET_SEALS fails on it) is not
 * mapped: it could be truncated under the mapping (SIGBUS).
 */
static void
test_regular_file_refused(void **state)
{
	char path[] = "/tmp/tisock-ledger-XXXXXX";
	struct ledger m;
	int fd = mkstemp(path);

	(void) state;
	assert_true(fd >= 0);
	(void) unlink(path);
	copy_ledger(fd);
	assert_int_equal(ledger_map(&m, fd), -EINVAL);
	(void) close(fd);
}

/* A memfd with a ledger's bytes but no seal against shrinking is not mapped. */
static void
test_unsealed_memfd_refused(void **state)
{
	struct ledger m;
	int fd = memfd_create("test-ledger", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	(void) state;
	assert_true(fd >= 0);
	copy_ledger(fd);
	assert_int_equal(ledger_map(&m, fd), -EINVAL);
	(void) close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealed_memfd_maps),
		cmocka_unit_test(test_regular_file_refused),
		cmocka_unit_test(test_unsealed_memfd_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
