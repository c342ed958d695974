/* Fast restart from the database file a clean shutdown left (see storage_clean.c). */
#ifndef RQ_STORAGE_CLEAN_H
#define RQ_STORAGE_CLEAN_H

#include <stdint.h>

/* After the database is closed: record that db_path holds everything up to applied. */
int storage_clean_record(const char *data_dir, const char *db_path, uint64_t applied);
/* At start: 1 and *applied if db_path is exactly what the record describes (the record
 * is removed either way), 0 otherwise. */
int storage_clean_take(const char *data_dir, const char *db_path, uint64_t *applied);

#endif
