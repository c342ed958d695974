/*
 * Cluster key files (pkg/consensus/peer_key.c): 32 raw bytes or 64 hex digits, and
 * nothing else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/log.h"
#include "consensus/peer_crypto.h"
#include "consensus/peer_raft.h"
#include "consensus/peer_transport.h"
#include "peer_helpers.h"
#include "unit.h"

/* Key files ------------------------------------------------------------------------------- */

static int
write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	if (write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	fchmod(fd, mode);
	return close(fd);
}

UNIT_TEST(key_file_holds_32_raw_bytes_or_64_hex_digits)
{
	char dir[] = "/tmp/peer_key_XXXXXX", path[64], err[256];
	unsigned char key[32], raw[33] = { 0 };
	static const char hex[] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/key", dir);
	for (int i = 0; i < 32; i++)
		raw[i] = (unsigned char)(0xa0 + i);

	CHECK(write_file(path, raw, 32, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), 0);
	CHECK(memcmp(key, raw, 32) == 0);

	CHECK(write_file(path, hex, 64, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), 0);
	for (int i = 0; i < 32; i++)
		CHECK_INT_EQ(key[i], i);

	CHECK(write_file(path, "000102030405060708090A0B0C0D0E0F"
	    "101112131415161718191A1B1C1D1E1F\n", 65, 0644) == 0);	/* warns: mode */
	memset(key, 0, 32);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), 0);
	CHECK_INT_EQ(key[31], 31);

	CHECK(write_file(path, raw, 31, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	CHECK(strstr(err, "32 bytes") != NULL);
	CHECK(write_file(path, raw, 33, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	CHECK(write_file(path, "zz0102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\n", 65, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	CHECK(write_file(path, hex, 63, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	unlink(path);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	CHECK(strstr(err, "No such file") != NULL);
	rmdir(dir);
}

UNIT_MAIN()
