/*
 * The snapshot store: complete copies of the SQLite database at a log index, each in a
 * directory of its own under ROOT (DATA_DIR/snapshots):
 *
 *   ROOT/<index, 20 digits>/db.sqlite   the database as of that index
 *   ROOT/<index, 20 digits>/meta        index, term, size and CRC32C of db.sqlite, the
 *                                       Raft configuration; CRC-protected itself
 *   ROOT/tmp-<anything>/                being written; removed at open and by prune
 *
 * A snapshot exists once its directory has its final name: it is written under tmp-,
 * fsynced, then renamed (and ROOT fsynced). A snapshot whose meta or database fails
 * its checksum is skipped for the previous one.
 */
#ifndef RQ_RAFTLOG_SNAPSHOT_STORE_H
#define RQ_RAFTLOG_SNAPSHOT_STORE_H

#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_PATH_MAX 4096

struct snapshot_info {
	uint64_t index, term;
	uint64_t size;
	uint32_t crc;
	void *config;		/* raft_config_encode() bytes; malloc'd, free with snapshot_info_free */
	size_t config_len;
	char dir[SNAPSHOT_PATH_MAX];
	char db_path[SNAPSHOT_PATH_MAX];
};

void snapshot_info_free(struct snapshot_info *si);

/* CRC32C and size of a file (a snapshot's database); 0 or -1 (errno). Thread-safe. */
int snapshot_file_sum(const char *path, uint32_t *crc, uint64_t *size);

/* Creates ROOT if needed and a fresh ROOT/tmp-<tag>/ ; *db_path gets where to write the
 * database. 0 or -1 (errno). */
int snapshot_store_begin(const char *root, const char *tag, char *tmp_dir, size_t dirlen,
    char *db_path, size_t pathlen);
/* Checksums the database in tmp_dir, writes meta, fsyncs and publishes the snapshot.
 * On success si (if not NULL) describes it (config copied). 0 or -1 with err. */
int snapshot_store_commit(const char *root, const char *tmp_dir, uint64_t index, uint64_t term,
    const void *config, size_t config_len, struct snapshot_info *si, char *err, size_t errlen);
/* The same when whoever wrote the database already summed it (known_crc, known_size),
 * sparing a second read of a large file; NULL known_crc computes it. */
int snapshot_store_commit_sum(const char *root, const char *tmp_dir, uint64_t index,
    uint64_t term, const void *config, size_t config_len, const uint32_t *known_crc,
    uint64_t known_size, struct snapshot_info *si, char *err, size_t errlen);
/* The newest snapshot that verifies (database checksum included); 1 found, 0 none, -1 error. */
int snapshot_store_latest(const char *root, struct snapshot_info *si);
/* Removes every snapshot older than the newest valid one, and leftover tmp- dirs. Returns
 * how many snapshots were removed, or -1. */
int snapshot_store_prune(const char *root);
/* How many published snapshots there are (valid or not). */
int snapshot_store_count(const char *root);
/* Their directory names, oldest first (rqlite's snapshot IDs in /status); free with
 * snapshot_store_names_free. Returns how many (0 on error). */
int snapshot_store_names(const char *root, char ***names);
void snapshot_store_names_free(char **names, int n);

#endif
