/* CRC32C: published vectors, chaining, and agreement of the hardware and software paths. */
#include "unit.h"

#include "common/crc32c.h"

static uint64_t test_rng = 0x9E3779B97F4A7C15ull;

static uint32_t
test_rand(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	test_rng ^= test_rng >> 12;
	test_rng ^= test_rng << 25;
	test_rng ^= test_rng >> 27;
	return (uint32_t)((test_rng * 0x2545F4914F6CDD1Dull) >> 32);
}

UNIT_TEST(crc32c_of_check_string_is_e3069283)
{
	CHECK_INT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_INT_EQ(crc32c_sw(0, "123456789", 9), 0xE3069283u);
	CHECK_INT_EQ(crc32c_hw(0, "123456789", 9), 0xE3069283u);
}

UNIT_TEST(crc32c_matches_rfc3720_vectors)
{
	unsigned char buf[32];

	CHECK_INT_EQ(crc32c(0, NULL, 0), 0);
	memset(buf, 0, sizeof(buf));
	CHECK_INT_EQ(crc32c(0, buf, 32), 0x8A9136AAu);
	CHECK_INT_EQ(crc32c_sw(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	CHECK_INT_EQ(crc32c(0, buf, 32), 0x62A8AB43u);
	CHECK_INT_EQ(crc32c_sw(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	CHECK_INT_EQ(crc32c(0, buf, 32), 0x46DD794Eu);
	CHECK_INT_EQ(crc32c_sw(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)(31 - i);
	CHECK_INT_EQ(crc32c(0, buf, 32), 0x113FDB5Cu);
	CHECK_INT_EQ(crc32c_sw(0, buf, 32), 0x113FDB5Cu);
}

UNIT_TEST(crc32c_chains_across_split_buffers)
{
	const char *s = "The quick brown fox jumps over the lazy dog";
	size_t n = strlen(s);
	uint32_t whole = crc32c(0, s, n);

	CHECK_INT_EQ(whole, 0x22620404u);
	for (size_t cut = 0; cut <= n; cut++) {
		CHECK_INT_EQ(crc32c(crc32c(0, s, cut), s + cut, n - cut), whole);
		CHECK_INT_EQ(crc32c_sw(crc32c_sw(0, s, cut), s + cut, n - cut), whole);
	}
}

UNIT_TEST(crc32c_hardware_and_software_agree_on_random_buffers)
{
	enum { MAX = 4096 };
	unsigned char *buf = malloc(MAX + 16);

	CHECK(buf != NULL);
	printf("    hardware crc32c: %s\n", crc32c_hw_available() ? "yes" : "no");
	for (int round = 0; round < 2000; round++) {
		size_t off = test_rand() % 16, len = test_rand() % (MAX + 1);
		uint32_t seed = (round & 1) ? test_rand() : 0;
		for (size_t i = 0; i < len; i++)
			buf[off + i] = (unsigned char)test_rand();
		uint32_t sw = crc32c_sw(seed, buf + off, len);
		uint32_t hw = crc32c_hw(seed, buf + off, len);
		if (sw != hw)
			free(buf);
		CHECK_INT_EQ(hw, sw);
		CHECK_INT_EQ(crc32c(seed, buf + off, len), sw);
	}
	free(buf);
}

UNIT_TEST(crc32c_detects_a_single_flipped_bit)
{
	unsigned char buf[100];

	for (int i = 0; i < 100; i++)
		buf[i] = (unsigned char)(i * 7);
	uint32_t good = crc32c(0, buf, sizeof(buf));
	for (int bit = 0; bit < 800; bit++) {
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		CHECK(crc32c(0, buf, sizeof(buf)) != good);
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
}

UNIT_MAIN()
