/*
 * A minimal unit-test harness shared by every tests/unit/test_*.c file.
 *
 *   UNIT_TEST(follower_becomes_candidate_when_election_timeout_elapses) {
 *           CHECK(x == 1);
 *           CHECK_INT_EQ(got, 3);
 *   }
 *
 * Tests register themselves at load time; UNIT_MAIN() runs them all (or those whose
 * name contains argv[1]), prints one line per test and a final "N passed, N failed",
 * and exits non-zero if any failed. A failed CHECK ends only its own test.
 */
#ifndef RQ_TESTS_UNIT_H
#define RQ_TESTS_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(int *failed);
	struct unit_test *next;
};

extern struct unit_test *unit_tests_head;
void unit_register(struct unit_test *t);
int unit_main(int argc, char **argv);

#define UNIT_TEST(name)							\
	static void unit_fn_##name(int *unit_failed_);			\
	static struct unit_test unit_t_##name = { #name, unit_fn_##name, NULL }; \
	__attribute__((constructor)) static void unit_reg_##name(void)	\
	{ unit_register(&unit_t_##name); }				\
	static void unit_fn_##name(int *unit_failed_)

#define UNIT_FAIL_(...) do {						\
	fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	*unit_failed_ = 1;						\
	return;								\
} while (0)

#define CHECK(cond) do {						\
	if (!(cond)) UNIT_FAIL_("CHECK(%s) failed", #cond);		\
} while (0)

#define CHECK_INT_EQ(a, b) do {						\
	long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);	\
	if (unit_a_ != unit_b_)						\
		UNIT_FAIL_("%s == %lld, expected %s == %lld", #a, unit_a_, #b, unit_b_); \
} while (0)

#define CHECK_STR_EQ(a, b) do {						\
	const char *unit_a_ = (a), *unit_b_ = (b);			\
	if (unit_a_ == NULL || unit_b_ == NULL || strcmp(unit_a_, unit_b_) != 0) \
		UNIT_FAIL_("%s == \"%s\", expected \"%s\"", #a,		\
		    unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)"); \
} while (0)

#define UNIT_MAIN() int main(int argc, char **argv) { return unit_main(argc, argv); }

#endif
