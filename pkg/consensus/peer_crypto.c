/*
 * Handshake proofs, session keys and frame sealing for peer links (see peer_crypto.h).
 * Owns no state: the transport keeps keys and counters per connection.
 */
#include "peer_crypto.h"

#include <string.h>

#include <sodium.h>

_Static_assert(PEER_SEAL_ABYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "AEAD tag size");
_Static_assert(PEER_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "AEAD key size");

int
peer_crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void
peer_crypto_random(unsigned char *buf, size_t n)
{
	randombytes_buf(buf, n);
}

static void
hash_lp(crypto_generichash_state *st, const char *s)
{
	size_t n = strlen(s);
	unsigned char len[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	    (unsigned char)(n >> 8), (unsigned char)n };

	crypto_generichash_update(st, len, sizeof(len));
	crypto_generichash_update(st, (const unsigned char *)s, n);
}

void
peer_crypto_proof(const unsigned char key[PEER_KEY_BYTES], enum peer_role who,
    const unsigned char nd[PEER_NONCE_BYTES], const unsigned char nl[PEER_NONCE_BYTES],
    const char *id_d, const char *addr_d, const char *id_l, unsigned char out[PEER_MAC_BYTES])
{
	crypto_generichash_state st;
	const char *label = who == PEER_ROLE_LISTENER ?
	    "rqlite-c peer v1 proof listener" : "rqlite-c peer v1 proof dialer";

	crypto_generichash_init(&st, key, PEER_KEY_BYTES, PEER_MAC_BYTES);
	hash_lp(&st, label);
	crypto_generichash_update(&st, nd, PEER_NONCE_BYTES);
	crypto_generichash_update(&st, nl, PEER_NONCE_BYTES);
	hash_lp(&st, id_d);
	hash_lp(&st, addr_d);
	hash_lp(&st, id_l);
	crypto_generichash_final(&st, out, PEER_MAC_BYTES);
	sodium_memzero(&st, sizeof(st));
}

int
peer_crypto_proof_cmp(const unsigned char a[PEER_MAC_BYTES], const unsigned char b[PEER_MAC_BYTES])
{
	return sodium_memcmp(a, b, PEER_MAC_BYTES) == 0 ? 0 : -1;
}

static void
derive(const unsigned char key[PEER_KEY_BYTES], const char *label,
    const unsigned char nd[PEER_NONCE_BYTES], const unsigned char nl[PEER_NONCE_BYTES],
    unsigned char out[PEER_KEY_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, PEER_KEY_BYTES, PEER_KEY_BYTES);
	hash_lp(&st, label);
	crypto_generichash_update(&st, nd, PEER_NONCE_BYTES);
	crypto_generichash_update(&st, nl, PEER_NONCE_BYTES);
	crypto_generichash_final(&st, out, PEER_KEY_BYTES);
	sodium_memzero(&st, sizeof(st));
}

void
peer_crypto_session_keys(const unsigned char key[PEER_KEY_BYTES],
    const unsigned char nd[PEER_NONCE_BYTES], const unsigned char nl[PEER_NONCE_BYTES],
    unsigned char d2l[PEER_KEY_BYTES], unsigned char l2d[PEER_KEY_BYTES])
{
	derive(key, "rqlite-c peer v1 key d2l", nd, nl, d2l);
	derive(key, "rqlite-c peer v1 key l2d", nd, nl, l2d);
}

static void
counter_nonce(uint64_t ctr, unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	for (int i = 0; i < 8; i++)
		nonce[i] = (unsigned char)(ctr >> (8 * i));
}

void
peer_crypto_seal(const unsigned char key[PEER_KEY_BYTES], uint64_t ctr,
    const void *p, size_t n, unsigned char *out)
{
	unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	size_t clen = n + PEER_SEAL_ABYTES;

	out[0] = (unsigned char)(clen >> 24);
	out[1] = (unsigned char)(clen >> 16);
	out[2] = (unsigned char)(clen >> 8);
	out[3] = (unsigned char)clen;
	counter_nonce(ctr, nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 4, NULL, p, n, out, 4, NULL,
	    nonce, key);
}

int
peer_crypto_open(const unsigned char key[PEER_KEY_BYTES], uint64_t ctr,
    unsigned char *frame, size_t clen)
{
	unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];

	if (clen < PEER_SEAL_ABYTES)
		return -1;
	counter_nonce(ctr, nonce);
	/* libsodium allows m == c: decrypt in place, the tag is checked first. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(frame + 4, NULL, NULL, frame + 4, clen,
	    frame, 4, nonce, key) != 0)
		return -1;
	return 0;
}
