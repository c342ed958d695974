/* Go time.ParseDuration / Duration.String() compatibility, using the cases of Go's own tests. */
#include "unit.h"

#include "common/duration.h"

struct parse_case {
	const char *in;
	int64_t want;
};

static const struct parse_case parse_ok[] = {
	{ "0", 0 },
	{ "5s", 5 * DURATION_S },
	{ "30s", 30 * DURATION_S },
	{ "1478s", 1478 * DURATION_S },
	{ "-5s", -5 * DURATION_S },
	{ "+5s", 5 * DURATION_S },
	{ "-0", 0 },
	{ "+0", 0 },
	{ "5.0s", 5 * DURATION_S },
	{ "5.6s", 5 * DURATION_S + 600 * DURATION_MS },
	{ "5.s", 5 * DURATION_S },
	{ ".5s", 500 * DURATION_MS },
	{ "1.0s", DURATION_S },
	{ "1.00s", DURATION_S },
	{ "1.004s", DURATION_S + 4 * DURATION_MS },
	{ "1.0040s", DURATION_S + 4 * DURATION_MS },
	{ "100.00100s", 100 * DURATION_S + DURATION_MS },
	{ "10ns", 10 },
	{ "11us", 11 * DURATION_US },
	{ "12\xc2\xb5s", 12 * DURATION_US },
	{ "12\xce\xbcs", 12 * DURATION_US },
	{ "13ms", 13 * DURATION_MS },
	{ "14s", 14 * DURATION_S },
	{ "15m", 15 * DURATION_M },
	{ "16h", 16 * DURATION_H },
	{ "300ms", 300 * DURATION_MS },
	{ "-1.5h", -(DURATION_H + 30 * DURATION_M) },
	{ "2h45m", 2 * DURATION_H + 45 * DURATION_M },
	{ "3h30m", 3 * DURATION_H + 30 * DURATION_M },
	{ "10.5s4m", 4 * DURATION_M + 10 * DURATION_S + 500 * DURATION_MS },
	{ "-2m3.4s", -(2 * DURATION_M + 3 * DURATION_S + 400 * DURATION_MS) },
	{ "1h2m3s4ms5us6ns", DURATION_H + 2 * DURATION_M + 3 * DURATION_S + 4 * DURATION_MS +
	    5 * DURATION_US + 6 },
	{ "39h9m14.425s", 39 * DURATION_H + 9 * DURATION_M + 14 * DURATION_S + 425 * DURATION_MS },
	{ "52763797000ns", INT64_C(52763797000) },
	{ "0.3333333333333333333h", 20 * DURATION_M },
	{ "9007199254740993ns", (INT64_C(1) << 53) + 1 },
	{ "9223372036854775807ns", INT64_MAX },
	{ "9223372036854775.807us", INT64_MAX },
	{ "9223372036s854ms775us807ns", INT64_MAX },
	{ "-9223372036854775808ns", INT64_MIN },
	{ "-9223372036854775.808us", INT64_MIN },
	{ "-9223372036s854ms775us808ns", INT64_MIN },
	{ "-2562047h47m16.854775808s", INT64_MIN },
	{ "0.100000000000000000000h", 6 * DURATION_M },
	{ "0.830103483285477580700h", 49 * DURATION_M + 48 * DURATION_S + 372539827 },
};

static const char *parse_bad[] = {
	"", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "\x85\x85", "\xff" "ff",
	"hello \xff" "ff world", "\xef\xbf\xbd", "\xef\xbf\xbd hello \xef\xbf\xbd world",
	"00", "10", "-3", "1h30", "1 s", " 1s", "1s ", "1S", "1.5", "1e3s", "--1s", "+-1s",
	"9223372036854775810ns", "9223372036854775808ns", "-9223372036854775809ns",
	"9223372036854776us", "3000000h", "9223372036854775.808us", "9223372036854ms775us808ns",
	"99999999999999999999999s",
};

UNIT_TEST(parse_accepts_every_form_go_accepts_with_go_values)
{
	for (size_t i = 0; i < sizeof(parse_ok) / sizeof(parse_ok[0]); i++) {
		int64_t got = 12345;
		if (duration_parse(parse_ok[i].in, &got) != 0)
			UNIT_FAIL_("duration_parse(\"%s\") failed", parse_ok[i].in);
		if (got != parse_ok[i].want)
			UNIT_FAIL_("duration_parse(\"%s\") == %" PRId64 ", want %" PRId64,
			    parse_ok[i].in, got, parse_ok[i].want);
	}
}

UNIT_TEST(parse_rejects_bare_numbers_unknown_units_and_overflow)
{
	for (size_t i = 0; i < sizeof(parse_bad) / sizeof(parse_bad[0]); i++) {
		int64_t got = 777;
		if (duration_parse(parse_bad[i], &got) != -1)
			UNIT_FAIL_("duration_parse(\"%s\") accepted (%" PRId64 ")", parse_bad[i], got);
		CHECK_INT_EQ(got, 777);
	}
	int64_t got;
	CHECK_INT_EQ(duration_parse(NULL, &got), -1);
}

struct format_case {
	const char *want;
	int64_t in;
};

static const struct format_case format_cases[] = {
	{ "0s", 0 },
	{ "1ns", 1 },
	{ "1.1\xc2\xb5s", 1100 },
	{ "226\xc2\xb5s", 226 * DURATION_US },
	{ "2.2ms", 2200 * DURATION_US },
	{ "100ms", 100 * DURATION_MS },
	{ "3.3s", 3300 * DURATION_MS },
	{ "1.5s", 1500 * DURATION_MS },
	{ "4m5s", 4 * DURATION_M + 5 * DURATION_S },
	{ "4m5.001s", 4 * DURATION_M + 5001 * DURATION_MS },
	{ "5h6m7.001s", 5 * DURATION_H + 6 * DURATION_M + 7001 * DURATION_MS },
	{ "8m0.000000001s", 8 * DURATION_M + 1 },
	{ "1h30m0s", 90 * DURATION_M },
	{ "1h0m0s", DURATION_H },
	{ "-1.5s", -1500 * DURATION_MS },
	{ "-999ns", -999 },
	{ "2562047h47m16.854775807s", INT64_MAX },
	{ "-2562047h47m16.854775808s", INT64_MIN },
};

UNIT_TEST(format_matches_go_duration_string)
{
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		char buf[DURATION_FMT_MAX];
		duration_format(format_cases[i].in, buf, sizeof(buf));
		CHECK_STR_EQ(buf, format_cases[i].want);
	}
}

UNIT_TEST(format_then_parse_round_trips)
{
	static const int64_t values[] = { 0, 1, 999, 1000, 1001, 123456789, DURATION_S,
	    -DURATION_S, 61 * DURATION_S + 5, 25 * DURATION_H + 1, INT64_MAX, INT64_MIN };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char buf[DURATION_FMT_MAX];
		int64_t back = 0;
		duration_format(values[i], buf, sizeof(buf));
		CHECK_INT_EQ(duration_parse(buf, &back), 0);
		CHECK_INT_EQ(back, values[i]);
	}
}

UNIT_TEST(format_truncates_to_the_buffer_and_terminates)
{
	char buf[4];
	duration_format(90 * DURATION_M, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "1h3");
	buf[0] = 'x';
	duration_format(DURATION_S, buf, 0);
	CHECK(buf[0] == 'x');
}

UNIT_MAIN()
