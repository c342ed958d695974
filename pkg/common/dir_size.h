/* Bytes used by the files under a directory (rqlite's dir_size in /status). */
#ifndef RQ_COMMON_DIR_SIZE_H
#define RQ_COMMON_DIR_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* The sum of the sizes of the regular files under path, recursively; 0 if unreadable. */
uint64_t dir_size(const char *path);
/* rqlite's dir_size_friendly: humanize.Bytes, SI units ("41 kB", "1.2 MB"). */
void dir_size_friendly(uint64_t bytes, char *buf, size_t len);

#endif
