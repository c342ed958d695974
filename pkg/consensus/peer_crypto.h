/*
 * Cryptography of peer links (libsodium), kept apart from the socket code so it can be
 * tested on its own.
 *
 * Handshake with a 32-byte cluster key K (dialer D, listener L, fresh 32-byte nonces
 * Nd, Nl, ids and advertised addresses as sent in PEER_HELLO / PEER_HELLO_RESULT):
 *	proof_X = BLAKE2b-256 keyed with K over
 *	          "rqlite-c peer v1 proof " X || Nd || Nl || lp(id_D) || lp(addr_D) || lp(id_L)
 *	          where X is "listener" or "dialer" and lp() is a 4-byte BE length + bytes;
 *	key_D→L = BLAKE2b-256 keyed with K over "rqlite-c peer v1 key d2l" || Nd || Nl
 *	key_L→D = BLAKE2b-256 keyed with K over "rqlite-c peer v1 key l2d" || Nd || Nl
 * The label makes a proof useless in the other direction; the nonces make it useless in
 * another session. Session keys are fresh per connection, so a counter nonce is safe.
 *
 * Sealed frame: 4-byte BE length n (clear, = plaintext length + PEER_SEAL_ABYTES), then
 * XChaCha20-Poly1305-IETF ciphertext of the msgpack payload with the 4 length bytes as
 * associated data and the 24-byte nonce = the direction's 64-bit frame counter (LE) then
 * zeros. The counter starts at 0 and goes up by one per frame, so a replayed, reordered,
 * truncated or tampered frame fails authentication.
 */
#ifndef RQ_CONSENSUS_PEER_CRYPTO_H
#define RQ_CONSENSUS_PEER_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define PEER_KEY_BYTES		32
#define PEER_NONCE_BYTES	32
#define PEER_MAC_BYTES		32
#define PEER_SEAL_ABYTES	16	/* crypto_aead_xchacha20poly1305_ietf_ABYTES */

enum peer_role { PEER_ROLE_DIALER, PEER_ROLE_LISTENER };

/* 0, or -1 if libsodium cannot be initialised. Idempotent. */
int peer_crypto_init(void);
void peer_crypto_random(unsigned char *buf, size_t n);

/* The proof that the side `who` knows key, bound to this session (see above). */
void peer_crypto_proof(const unsigned char key[PEER_KEY_BYTES], enum peer_role who,
    const unsigned char nd[PEER_NONCE_BYTES], const unsigned char nl[PEER_NONCE_BYTES],
    const char *id_d, const char *addr_d, const char *id_l, unsigned char out[PEER_MAC_BYTES]);
/* Constant-time comparison of two proofs: 0 when equal. */
int peer_crypto_proof_cmp(const unsigned char a[PEER_MAC_BYTES], const unsigned char b[PEER_MAC_BYTES]);
void peer_crypto_session_keys(const unsigned char key[PEER_KEY_BYTES],
    const unsigned char nd[PEER_NONCE_BYTES], const unsigned char nl[PEER_NONCE_BYTES],
    unsigned char d2l[PEER_KEY_BYTES], unsigned char l2d[PEER_KEY_BYTES]);

/*
 * Seals payload p[0..n) with counter ctr into out[0 .. 4 + n + PEER_SEAL_ABYTES): the
 * length prefix then the ciphertext. out may not overlap p.
 */
void peer_crypto_seal(const unsigned char key[PEER_KEY_BYTES], uint64_t ctr,
    const void *p, size_t n, unsigned char *out);
/*
 * Opens one sealed frame in place: frame[0..4) is its length prefix, frame[4..4+clen)
 * the ciphertext (clen = the prefix's value, >= PEER_SEAL_ABYTES). On success the
 * plaintext is at frame + 4, clen - PEER_SEAL_ABYTES bytes long, and 0 is returned;
 * -1 when authentication fails (contents then undefined).
 */
int peer_crypto_open(const unsigned char key[PEER_KEY_BYTES], uint64_t ctr,
    unsigned char *frame, size_t clen);

#endif
