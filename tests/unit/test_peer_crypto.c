/*
 * Sealing and key proofs (pkg/consensus/peer_crypto.c): a sealed frame opens only with
 * its key, counter and bytes; a proof is bound to its direction, session and ids.
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

/* Sealing ----------------------------------------------------------------------------------- */

UNIT_TEST(sealed_frame_opens_only_with_its_key_counter_and_bytes)
{
	static const char text[] = "a raft message";
	unsigned char frame[4 + sizeof(text) + PEER_SEAL_ABYTES], copy[sizeof(frame)];
	size_t clen = sizeof(text) + PEER_SEAL_ABYTES;

	CHECK_INT_EQ(peer_crypto_init(), 0);
	peer_crypto_seal(key_a, 5, text, sizeof(text), frame);
	CHECK_INT_EQ(ipc_frame_len(frame), clen);
	CHECK(memmem(frame, sizeof(frame), "raft", 4) == NULL);

	memcpy(copy, frame, sizeof(frame));
	CHECK_INT_EQ(peer_crypto_open(key_a, 5, copy, clen), 0);
	CHECK(memcmp(copy + 4, text, sizeof(text)) == 0);

	memcpy(copy, frame, sizeof(frame));		/* replayed later: counter moved on */
	CHECK_INT_EQ(peer_crypto_open(key_a, 6, copy, clen), -1);
	memcpy(copy, frame, sizeof(frame));		/* reordered: an earlier counter */
	CHECK_INT_EQ(peer_crypto_open(key_a, 4, copy, clen), -1);
	memcpy(copy, frame, sizeof(frame));		/* another session's key */
	CHECK_INT_EQ(peer_crypto_open(key_b, 5, copy, clen), -1);
	memcpy(copy, frame, sizeof(frame));		/* tampered ciphertext */
	copy[10] ^= 1;
	CHECK_INT_EQ(peer_crypto_open(key_a, 5, copy, clen), -1);
	memcpy(copy, frame, sizeof(frame));		/* tampered length prefix (AD) */
	copy[0] ^= 0x80;
	CHECK_INT_EQ(peer_crypto_open(key_a, 5, copy, clen), -1);
	CHECK_INT_EQ(peer_crypto_open(key_a, 5, copy, 3), -1);	/* shorter than a tag */
}

UNIT_TEST(key_proofs_are_bound_to_direction_session_and_ids)
{
	unsigned char nd[32], nl[32], nl2[32], p[32], q[32], d2l[32], l2d[32];

	CHECK_INT_EQ(peer_crypto_init(), 0);
	peer_crypto_random(nd, 32);
	peer_crypto_random(nl, 32);
	peer_crypto_random(nl2, 32);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl, "1", "a:1", "2", p);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl, "1", "a:1", "2", q);
	CHECK_INT_EQ(peer_crypto_proof_cmp(p, q), 0);
	peer_crypto_proof(key_a, PEER_ROLE_DIALER, nd, nl, "1", "a:1", "2", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl2, "1", "a:1", "2", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl, "1", "a:1", "3", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl, "1a", ":1", "2", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);	/* ids are length-prefixed */
	peer_crypto_proof(key_b, PEER_ROLE_LISTENER, nd, nl, "1", "a:1", "2", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);
	peer_crypto_session_keys(key_a, nd, nl, d2l, l2d);
	CHECK(memcmp(d2l, l2d, 32) != 0);
}

UNIT_MAIN()
