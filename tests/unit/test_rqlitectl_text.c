/*
 * rqlitectl's pure text parts: statement splitting (cli_sql), Go-style value and
 * JSON rendering (cli_value), result modes and the key: value tree (cli_output),
 * and the history file format (cli_history).
 */
#include "unit.h"

#include "cli_history.h"
#include "cli_output.h"
#include "cli_sql.h"
#include "cli_value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct collected {
	char out[1024];
	int n;
};

static int
collect_cb(void *arg, const char *stmt)
{
	struct collected *c = arg;
	size_t len = strlen(c->out);

	snprintf(c->out + len, sizeof(c->out) - len, "[%s]", stmt);
	c->n++;
	return 0;
}

static json_t *
j(const char *text)
{
	return json_loads(text, JSON_DECODE_ANY, NULL);
}

static char *
table(const char *columns, const char *values, const char *mode)
{
	json_t *c = j(columns), *v = values ? j(values) : NULL;
	struct cli_buf b = { 0 };

	cli_output_table(&b, c, v, mode);
	json_decref(c);
	json_decref(v);
	return b.p ? b.p : strdup("");
}

UNIT_TEST(statement_ends_at_semicolon_outside_quotes_and_comments) {
	struct cli_sql s;
	struct collected c = { .n = 0 };

	cli_sql_init(&s);
	cli_sql_feed(&s, "INSERT INTO t VALUES('a;b', \"c;d\", [e;f], `g;h`) -- x;y", collect_cb, &c);
	CHECK_INT_EQ(c.n, 0);
	CHECK(cli_sql_pending(&s));
	cli_sql_feed(&s, "/* ; */ ;", collect_cb, &c);
	CHECK_INT_EQ(c.n, 1);
	CHECK_STR_EQ(c.out, "[INSERT INTO t VALUES('a;b', \"c;d\", [e;f], `g;h`) -- x;y\n/* ; */ ;]");
	CHECK(!cli_sql_pending(&s));
	cli_sql_free(&s);
}

UNIT_TEST(two_statements_on_one_line_run_separately) {
	struct cli_sql s;
	struct collected c = { .n = 0 };

	cli_sql_init(&s);
	cli_sql_feed(&s, "SELECT 1; SELECT 2;  ", collect_cb, &c);
	CHECK_STR_EQ(c.out, "[SELECT 1;][SELECT 2;]");
	CHECK(!cli_sql_pending(&s));
	cli_sql_free(&s);
}

UNIT_TEST(quote_left_open_continues_on_the_next_line) {
	struct cli_sql s;
	struct collected c = { .n = 0 };

	cli_sql_init(&s);
	cli_sql_feed(&s, "SELECT 'it''s", collect_cb, &c);
	CHECK(cli_sql_pending(&s));
	cli_sql_feed(&s, "; still text';", collect_cb, &c);
	CHECK_STR_EQ(c.out, "[SELECT 'it''s\n; still text';]");
	cli_sql_free(&s);
}

UNIT_TEST(trigger_body_semicolons_do_not_end_the_statement) {
	struct cli_sql s;
	struct collected c = { .n = 0 };

	cli_sql_init(&s);
	cli_sql_feed(&s, "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN", collect_cb, &c);
	cli_sql_feed(&s, "  UPDATE t SET a = 1; DELETE FROM u;", collect_cb, &c);
	CHECK_INT_EQ(c.n, 0);
	cli_sql_feed(&s, "END; SELECT 3;", collect_cb, &c);
	CHECK_INT_EQ(c.n, 2);
	CHECK_STR_EQ(c.out, "[CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN\n"
	    "  UPDATE t SET a = 1; DELETE FROM u;\nEND;][SELECT 3;]");
	cli_sql_free(&s);
}

UNIT_TEST(create_table_named_trigger_is_not_a_trigger) {
	struct cli_sql s;
	struct collected c = { .n = 0 };

	cli_sql_init(&s);
	cli_sql_feed(&s, "CREATE TABLE triggers(a); SELECT 1;", collect_cb, &c);
	CHECK_STR_EQ(c.out, "[CREATE TABLE triggers(a);][SELECT 1;]");
	cli_sql_free(&s);
}

UNIT_TEST(comment_only_input_is_not_pending_and_take_returns_the_rest) {
	struct cli_sql s;
	struct collected c = { .n = 0 };
	char *rest;

	cli_sql_init(&s);
	cli_sql_feed(&s, "-- just a comment", collect_cb, &c);
	CHECK(!cli_sql_pending(&s));
	CHECK(cli_sql_take(&s) == NULL);
	cli_sql_feed(&s, "SELECT 9", collect_cb, &c);
	CHECK(cli_sql_pending(&s));
	rest = cli_sql_take(&s);
	CHECK_STR_EQ(rest, "SELECT 9");
	free(rest);
	CHECK(!cli_sql_pending(&s));
	cli_sql_feed(&s, "SELECT 10", collect_cb, &c);
	cli_sql_reset(&s);
	CHECK(!cli_sql_pending(&s));
	CHECK_INT_EQ(c.n, 0);
	cli_sql_free(&s);
}

UNIT_TEST(reals_format_like_go_encoding_json) {
	char b[40];

	cli_value_format_real(1.5, b, sizeof(b));
	CHECK_STR_EQ(b, "1.5");
	cli_value_format_real(0.1, b, sizeof(b));
	CHECK_STR_EQ(b, "0.1");
	cli_value_format_real(1e-7, b, sizeof(b));
	CHECK_STR_EQ(b, "1e-7");
	cli_value_format_real(0.000001, b, sizeof(b));
	CHECK_STR_EQ(b, "0.000001");
	cli_value_format_real(1e21, b, sizeof(b));
	CHECK_STR_EQ(b, "1e+21");
	cli_value_format_real(1e20, b, sizeof(b));
	CHECK_STR_EQ(b, "100000000000000000000");
	cli_value_format_real(-123.25, b, sizeof(b));
	CHECK_STR_EQ(b, "-123.25");
	cli_value_format_real(3.0, b, sizeof(b));
	CHECK_STR_EQ(b, "3");
}

UNIT_TEST(value_text_is_gos_percent_v) {
	json_t *v = j("{\"b\":[1,\"x\",null,true],\"a\":{\"k\":2.5}}");
	struct cli_buf b = { 0 };

	cli_value_text(&b, v, "NULL");
	CHECK_STR_EQ(cli_buf_str(&b), "map[a:map[k:2.5] b:[1 x <nil> true]]");
	cli_buf_free(&b);
	json_decref(v);
}

UNIT_TEST(json_strings_escape_html_characters_like_go) {
	struct cli_buf b = { 0 };

	cli_value_json_string(&b, "<a&b>\"\n\x01", 8);
	CHECK_STR_EQ(cli_buf_str(&b), "\"\\u003ca\\u0026b\\u003e\\\"\\n\\u0001\"");
	cli_buf_free(&b);
}

UNIT_TEST(column_mode_is_a_boxed_table_with_null) {
	char *t = table("[\"id\",\"name\"]", "[[1,\"fiona\"],[22,null]]", "column");

	CHECK_STR_EQ(t,
	    "+----+-------+\n"
	    "| id | name  |\n"
	    "+----+-------+\n"
	    "| 1  | fiona |\n"
	    "+----+-------+\n"
	    "| 22 | NULL  |\n"
	    "+----+-------+\n");
	free(t);
}

UNIT_TEST(column_mode_without_rows_prints_the_header_only) {
	char *t = table("[\"a\"]", NULL, "column");

	CHECK_STR_EQ(t, "+---+\n| a |\n+---+\n");
	free(t);
}

UNIT_TEST(csv_mode_quotes_like_go_encoding_csv) {
	char *t = table("[\"a\",\"b\"]", "[[\"x,y\",\"say \\\"hi\\\"\"],[\" lead\",null],[\"\",1.5]]",
	    "csv");

	CHECK_STR_EQ(t, "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n\" lead\",NULL\n,1.5\n");
	free(t);
}

UNIT_TEST(json_mode_is_marshal_indent_with_sorted_keys) {
	char *t = table("[\"name\",\"id\"]", "[[\"a<b\",1]]", "json");

	CHECK_STR_EQ(t, "[\n  {\n    \"id\": 1,\n    \"name\": \"a\\u003cb\"\n  }\n]\n");
	free(t);
	t = table("[\"x\"]", NULL, "json");
	CHECK_STR_EQ(t, "[]\n");
	free(t);
}

UNIT_TEST(line_mode_right_aligns_names_and_separates_rows) {
	char *t = table("[\"id\",\"name\"]", "[[1,\"a\"],[2,null]]", "line");

	CHECK_STR_EQ(t, "  id = 1\nname = a\n\n  id = 2\nname = NULL\n");
	free(t);
}

UNIT_TEST(tree_sorts_keys_skips_nulls_and_nests_objects) {
	json_t *v = j("{\"z\":1,\"a\":{\"y\":\"s\",\"x\":[1,2]},\"n\":null,\"b\":true}");
	struct cli_buf b = { 0 };

	cli_output_tree(&b, v, 0);
	CHECK_STR_EQ(cli_buf_str(&b), "a:\n  x: [1 2]\n  y: s\nb: true\nz: 1\n");
	cli_buf_free(&b);
	json_decref(v);
}

UNIT_TEST(history_keeps_newest_entries_folds_repeats_and_has_no_trailing_newline) {
	char path[] = "/tmp/rqlitectl-hist-XXXXXX";
	struct cli_history h = { 0 }, back = { 0 };
	int fd = mkstemp(path);
	char buf[256];
	FILE *f;
	size_t n;
	struct stat st;

	CHECK(fd >= 0);
	close(fd);
	cli_history_add(&h, "one");
	cli_history_add(&h, "two");
	cli_history_add(&h, "   ");
	cli_history_add(&h, "two");
	cli_history_add(&h, "three");
	CHECK_INT_EQ(cli_history_save(&h, path, 2), 0);
	f = fopen(path, "r");
	CHECK(f != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	CHECK_STR_EQ(buf, "two\nthree");
	CHECK_INT_EQ(stat(path, &st), 0);
	CHECK_INT_EQ(st.st_mode & 0777, 0600);
	CHECK_INT_EQ(cli_history_load(&back, path), 0);
	CHECK_INT_EQ(back.n, 2);
	CHECK_STR_EQ(back.lines[1], "three");
	CHECK_INT_EQ(cli_history_save(&h, path, 0), 0);
	CHECK(access(path, F_OK) != 0);
	cli_history_free(&h);
	cli_history_free(&back);
}

UNIT_TEST(histfilesize_comes_from_the_environment) {
	setenv("RQLITE_HISTFILESIZE", "7", 1);
	CHECK_INT_EQ(cli_history_size(), 7);
	setenv("RQLITE_HISTFILESIZE", "0", 1);
	CHECK_INT_EQ(cli_history_size(), 0);
	setenv("RQLITE_HISTFILESIZE", "lots", 1);
	CHECK_INT_EQ(cli_history_size(), CLI_HISTORY_DEFAULT_SIZE);
	unsetenv("RQLITE_HISTFILESIZE");
	CHECK_INT_EQ(cli_history_size(), CLI_HISTORY_DEFAULT_SIZE);
}

UNIT_MAIN()
