/*
 * Tests for pkg/gateway/json_writer.c: the bytes Go's encoding/json writes (numbers,
 * escapes, MarshalIndent's layout) and the writer's rewinding.
 */
#include <math.h>

#include "unit.h"
#include "gateway/json_writer.h"

static const char *
fmt_double(double v)
{
	static char b[64];

	if (json_format_double(v, b) < 0)
		return "ERR";
	return b;
}

UNIT_TEST(floats_format_like_go_encoding_json)
{
	CHECK_STR_EQ(fmt_double(0), "0");
	CHECK_STR_EQ(fmt_double(-0.0), "-0");
	CHECK_STR_EQ(fmt_double(1), "1");
	CHECK_STR_EQ(fmt_double(20.0), "20");
	CHECK_STR_EQ(fmt_double(0.1), "0.1");
	CHECK_STR_EQ(fmt_double(1.5), "1.5");
	CHECK_STR_EQ(fmt_double(0.00886), "0.00886");
	CHECK_STR_EQ(fmt_double(123.456), "123.456");
	CHECK_STR_EQ(fmt_double(3.141592653589793), "3.141592653589793");
	CHECK_STR_EQ(fmt_double(1e20), "100000000000000000000");
	CHECK_STR_EQ(fmt_double(1e21), "1e+21");
	CHECK_STR_EQ(fmt_double(1.5e300), "1.5e+300");
	CHECK_STR_EQ(fmt_double(0.000001), "0.000001");
	CHECK_STR_EQ(fmt_double(1e-7), "1e-7");
	CHECK_STR_EQ(fmt_double(1.234e-8), "1.234e-8");
	CHECK_STR_EQ(fmt_double(1e-10), "1e-10");
	CHECK_STR_EQ(fmt_double(5e-324), "5e-324");
	CHECK_STR_EQ(fmt_double(1.7976931348623157e308), "1.7976931348623157e+308");
	CHECK_STR_EQ(fmt_double(-2.5), "-2.5");
	CHECK_STR_EQ(fmt_double(0.1 + 0.2), "0.30000000000000004");
	CHECK_STR_EQ(fmt_double(9007199254740993.0), "9007199254740992");
	/* next to a power of two the shortest digits lie on the wide side */
	CHECK_STR_EQ(fmt_double(9.5367431640625e-07), "9.5367431640625e-7");
	CHECK_STR_EQ(fmt_double(NAN), "ERR");
	CHECK_STR_EQ(fmt_double(INFINITY), "ERR");
}

static char *
write_string(const char *s, size_t n)
{
	struct json_writer w;

	json_writer_init(&w, false);
	json_writer_string_n(&w, s, n);
	return json_writer_steal(&w, NULL);
}

UNIT_TEST(strings_escape_like_go_with_html_escaping)
{
	char *o;

	o = write_string("<a href=\"x\">&</a>", 17);
	CHECK_STR_EQ(o, "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\"");
	free(o);
	o = write_string("a\nb\rc\td\be\ff\x01g\x1f\x7f\\", 16);
	CHECK_STR_EQ(o, "\"a\\nb\\rc\\td\\be\\ff\\u0001g\\u001f\x7f\\\\\"");
	free(o);
	o = write_string("\xe2\x80\xa8\xe2\x80\xa9 \xc3\xa9 \xf0\x9f\x98\x80", 14);
	CHECK_STR_EQ(o, "\"\\u2028\\u2029 \xc3\xa9 \xf0\x9f\x98\x80\"");
	free(o);
	/* each invalid byte becomes one \ufffd; surrogates and overlongs are invalid */
	o = write_string("a\xff" "b\xc3" "c\xed\xa0\x80" "d\xc0\xaf", 11);
	CHECK_STR_EQ(o, "\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\"");
	free(o);
	o = write_string("nul\0x", 5);
	CHECK_STR_EQ(o, "\"nul\\u0000x\"");
	free(o);
}

UNIT_TEST(pretty_output_matches_marshal_indent_with_four_spaces)
{
	struct json_writer w;
	char *o;

	json_writer_init(&w, true);
	json_writer_object_begin(&w);
	json_writer_key(&w, "a");
	json_writer_array_begin(&w);
	json_writer_int(&w, 1);
	json_writer_object_begin(&w);
	json_writer_object_end(&w);
	json_writer_array_begin(&w);
	json_writer_array_end(&w);
	json_writer_array_end(&w);
	json_writer_key(&w, "b");
	json_writer_null(&w);
	json_writer_object_end(&w);
	o = json_writer_steal(&w, NULL);
	CHECK_STR_EQ(o, "{\n    \"a\": [\n        1,\n        {},\n        []\n    ],\n    \"b\": null\n}");
	free(o);
}

UNIT_TEST(rewinding_to_a_mark_drops_what_followed)
{
	struct json_writer w;
	struct json_writer_mark m;
	char *o;

	json_writer_init(&w, false);
	json_writer_array_begin(&w);
	json_writer_int(&w, 1);
	json_writer_mark(&w, &m);
	json_writer_object_begin(&w);
	json_writer_key(&w, "x");
	json_writer_int(&w, 2);
	json_writer_rewind(&w, &m);
	json_writer_string(&w, "y");
	json_writer_array_end(&w);
	o = json_writer_steal(&w, NULL);
	CHECK_STR_EQ(o, "[1,\"y\"]");
	free(o);
}

UNIT_MAIN()
