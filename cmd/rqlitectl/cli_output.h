/*
 * Printing of query results (modes column, csv, json, line) and of JSON documents as
 * rqlite's indented "key: value" tree (.status, .nodes, .expvar, .leader). Pure:
 * everything is appended to a struct cli_buf.
 */
#ifndef RQ_CLI_OUTPUT_H
#define RQ_CLI_OUTPUT_H

#include <jansson.h>

#include "cli_value.h"

/* True if mode is one of column, csv, json, line. */
int cli_output_mode_valid(const char *mode);

/* Renders columns (array of strings) and values (array of rows, or NULL) in mode. */
void cli_output_table(struct cli_buf *b, const json_t *columns, const json_t *values,
    const char *mode);

/* rqlite's pprintJSON: keys sorted, two spaces per level, null members skipped,
 * nested objects as sub-trees, everything else as Go's %v. */
void cli_output_tree(struct cli_buf *b, const json_t *obj, int depth);

#endif
