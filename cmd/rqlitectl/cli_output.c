/*
 * Result rendering for the shell. The column mode is rqlite's boxed table
 * (mkideal textutil layout: "+---+" borders, cells left-aligned with one space
 * before and after); csv follows Go's encoding/csv quoting; json is
 * json.MarshalIndent of one object per row; line is sqlite3's "col = value".
 * NULL prints as NULL in every mode.
 */
#include "cli_output.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

int
cli_output_mode_valid(const char *mode)
{
	return strcmp(mode, "column") == 0 || strcmp(mode, "csv") == 0 ||
	    strcmp(mode, "json") == 0 || strcmp(mode, "line") == 0;
}

/* Terminal columns of UTF-8 text: wide characters take two where the locale knows
 * them (wcwidth), anything undecodable or unknown takes one. */
static size_t
output_width(const char *s)
{
	mbstate_t st;
	size_t w = 0;

	memset(&st, 0, sizeof(st));
	while (*s) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, MB_CUR_MAX, &st);
		int cw;

		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof(st));
			/* Count a code point per UTF-8 lead byte, as in the C locale. */
			if (((unsigned char)*s & 0xc0) != 0x80)
				w++;
			s++;
			continue;
		}
		cw = wcwidth(wc);
		w += cw < 0 ? 1 : (size_t)cw;
		s += n;
	}
	return w;
}

static char *
output_cell(const json_t *values, size_t row, size_t col)
{
	const json_t *r = json_array_get(values, row);
	const json_t *v = r ? json_array_get(r, col) : NULL;
	struct cli_buf b = { 0 };

	if (v == NULL)
		return strdup("NULL");
	cli_value_text(&b, v, "NULL");
	if (b.p == NULL)
		return strdup("");
	return b.p;
}

static void
output_border(struct cli_buf *b, const size_t *w, size_t ncol)
{
	cli_buf_puts(b, "+");
	for (size_t j = 0; j < ncol; j++) {
		for (size_t k = 0; k < w[j] + 2; k++)
			cli_buf_puts(b, "-");
		cli_buf_puts(b, "+");
	}
}

static void
output_column(struct cli_buf *b, const json_t *columns, const json_t *values)
{
	size_t ncol = json_array_size(columns), nrow = json_array_size(values);
	char **cells;
	size_t *w;

	if (ncol == 0)
		return;
	cells = calloc((nrow + 1) * ncol, sizeof(*cells));
	w = calloc(ncol, sizeof(*w));
	if (cells == NULL || w == NULL) {
		b->oom = true;
		free(cells);
		free(w);
		return;
	}
	for (size_t j = 0; j < ncol; j++) {
		const char *name = json_string_value(json_array_get(columns, j));

		cells[j] = strdup(name ? name : "");
	}
	for (size_t i = 0; i < nrow; i++)
		for (size_t j = 0; j < ncol; j++)
			cells[(i + 1) * ncol + j] = output_cell(values, i, j);
	for (size_t i = 0; i <= nrow; i++)
		for (size_t j = 0; j < ncol; j++) {
			const char *s = cells[i * ncol + j];
			size_t cw = output_width(s ? s : "");

			if (cw > w[j])
				w[j] = cw;
		}
	output_border(b, w, ncol);
	for (size_t i = 0; i <= nrow; i++) {
		cli_buf_puts(b, "\n|");
		for (size_t j = 0; j < ncol; j++) {
			const char *s = cells[i * ncol + j] ? cells[i * ncol + j] : "";

			cli_buf_puts(b, " ");
			cli_buf_puts(b, s);
			for (size_t k = output_width(s); k < w[j] + 1; k++)
				cli_buf_puts(b, " ");
			cli_buf_puts(b, "|");
		}
		cli_buf_puts(b, "\n");
		output_border(b, w, ncol);
	}
	cli_buf_puts(b, "\n");
	for (size_t i = 0; i < (nrow + 1) * ncol; i++)
		free(cells[i]);
	free(cells);
	free(w);
}

static void
output_csv_field(struct cli_buf *b, const char *s)
{
	bool quote = false;

	/* Go's csv.Writer.fieldNeedsQuotes. */
	if (s[0] != '\0') {
		if (strcmp(s, "\\.") == 0 || strpbrk(s, ",\"\r\n") != NULL ||
		    s[0] == ' ' || s[0] == '\t' || s[0] == '\v' || s[0] == '\f')
			quote = true;
	}
	if (!quote) {
		cli_buf_puts(b, s);
		return;
	}
	cli_buf_puts(b, "\"");
	for (; *s; s++)
		cli_buf_add(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
	cli_buf_puts(b, "\"");
}

static void
output_csv(struct cli_buf *b, const json_t *columns, const json_t *values)
{
	size_t ncol = json_array_size(columns);

	for (size_t j = 0; j < ncol; j++) {
		const char *name = json_string_value(json_array_get(columns, j));

		if (j > 0)
			cli_buf_puts(b, ",");
		output_csv_field(b, name ? name : "");
	}
	cli_buf_puts(b, "\n");
	for (size_t i = 0; i < json_array_size(values); i++) {
		for (size_t j = 0; j < ncol; j++) {
			char *cell = output_cell(values, i, j);

			if (j > 0)
				cli_buf_puts(b, ",");
			output_csv_field(b, cell ? cell : "");
			free(cell);
		}
		cli_buf_puts(b, "\n");
	}
}

static void
output_json(struct cli_buf *b, const json_t *columns, const json_t *values)
{
	json_t *rows = json_array();

	for (size_t i = 0; rows != NULL && i < json_array_size(values); i++) {
		const json_t *r = json_array_get(values, i);
		json_t *m = json_object();

		for (size_t j = 0; m != NULL && j < json_array_size(columns); j++) {
			const char *name = json_string_value(json_array_get(columns, j));
			json_t *v = json_array_get(r, j);

			json_object_set_new(m, name ? name : "", v ? json_incref(v) : json_null());
		}
		json_array_append_new(rows, m);
	}
	if (rows == NULL) {
		b->oom = true;
		return;
	}
	cli_value_json_indent(b, rows, "  ", 0);
	cli_buf_puts(b, "\n");
	json_decref(rows);
}

static void
output_line(struct cli_buf *b, const json_t *columns, const json_t *values)
{
	size_t ncol = json_array_size(columns), maxw = 0;

	for (size_t j = 0; j < ncol; j++) {
		const char *name = json_string_value(json_array_get(columns, j));
		size_t n = name ? strlen(name) : 0;

		if (n > maxw)
			maxw = n;
	}
	for (size_t i = 0; i < json_array_size(values); i++) {
		if (i > 0)
			cli_buf_puts(b, "\n");
		for (size_t j = 0; j < ncol; j++) {
			const char *name = json_string_value(json_array_get(columns, j));
			char *cell = output_cell(values, i, j);

			cli_buf_printf(b, "%*s = %s\n", (int)maxw, name ? name : "",
			    cell ? cell : "");
			free(cell);
		}
	}
}

void
cli_output_table(struct cli_buf *b, const json_t *columns, const json_t *values,
    const char *mode)
{
	if (strcmp(mode, "csv") == 0)
		output_csv(b, columns, values);
	else if (strcmp(mode, "json") == 0)
		output_json(b, columns, values);
	else if (strcmp(mode, "line") == 0)
		output_line(b, columns, values);
	else
		output_column(b, columns, values);
}

void
cli_output_tree(struct cli_buf *b, const json_t *obj, int depth)
{
	size_t n;
	const char **keys = cli_value_sorted_keys(obj, &n);

	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(obj, keys[i]);

		if (v == NULL || json_is_null(v))
			continue;
		for (int d = 0; d < depth; d++)
			cli_buf_puts(b, "  ");
		if (json_is_object(v)) {
			cli_buf_printf(b, "%s:\n", keys[i]);
			cli_output_tree(b, v, depth + 1);
		} else {
			cli_buf_printf(b, "%s: ", keys[i]);
			cli_value_text(b, v, "<nil>");
			cli_buf_puts(b, "\n");
		}
	}
	free(keys);
}
