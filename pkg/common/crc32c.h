/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78) as used by iSCSI, ext4 and rqlite's
 * snapshot sidecars. crc32c() picks the SSE4.2 crc32 instruction when the CPU has it and a
 * slicing-by-8 table otherwise; both give identical results.
 *
 * Checksums chain: crc32c(crc32c(0, a, na), b, nb) == crc32c(0, a || b, na + nb).
 * Start with crc = 0. All functions are thread-safe; buf may be NULL when len is 0.
 */
#ifndef RQ_COMMON_CRC32C_H
#define RQ_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, exposed so tests can compare them. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* 1 if crc32c_hw() may be called on this CPU. */
int crc32c_hw_available(void);
/* Only call when crc32c_hw_available(); falls back to software otherwise. */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);

#endif
