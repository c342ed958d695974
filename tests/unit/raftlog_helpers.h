/*
 * Helpers for the unit tests of pkg/raftlog (test_raftlog*.c, test_snapshot_store.c):
 * a fresh directory per test, listing its files, and entries whose content follows
 * from their index and term so that any read can be checked. Linking them also sets
 * the log level to WARN, so expected refusals stay quiet.
 */
#ifndef RQ_TEST_RAFTLOG_HELPERS_H
#define RQ_TEST_RAFTLOG_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "raftlog/raftlog.h"

/* Segment size that makes a few hundred entries span several segments. */
#define SMALL_SEG 4096

/* A fresh directory in base (at least 64 bytes); logdir gets DIR/raft, which does not
 * exist yet (so raftlog_open must create it). */
void tmpdir(char *base, char *logdir);
/* Removes base, its raft directory and the files in it. */
void rm_tree(const char *base);
/* Segment file names in dir, ascending; returns how many (-1: no dir). */
int list_segments(const char *dir, char names[][32], int max);
int count_segments(const char *dir);
off_t file_size(const char *path);
/* Entries of dir whose name starts with prefix (if given) and ends with suffix (if given). */
int count_named(const char *dir, const char *prefix, const char *suffix);

/* Deterministic content for entry (index, term): length 1..300. */
size_t entry_len(uint64_t index);
void entry_fill(unsigned char *buf, uint64_t index, uint64_t term);
/* Appends [from, to] with the given term, batch entries per call. */
int append_range(struct raftlog *log, uint64_t from, uint64_t to, uint64_t term, size_t batch);
/* Term functions for verify_range: 1 below 6000 and 2 from there; 1 everywhere. */
uint64_t term_split_6000(uint64_t index);
uint64_t term_one(uint64_t index);
/* raftlog_read callback checking each entry against entry_fill and term_of. */
struct verify {
	uint64_t next;
	uint64_t (*term_of)(uint64_t index);
	uint64_t count;
};
int verify_cb(const struct raftlog_entry *e, void *arg);
/* Reads [from, to] and checks every entry's content; returns the read's result. */
int verify_range(struct raftlog *log, uint64_t from, uint64_t to, uint64_t (*term_of)(uint64_t));

#endif
