/*
 * Deleting large files off the event loop. Unlinking a file of tens of megabytes costs
 * ext4 tens of milliseconds (it frees every extent); in a loop that answers requests
 * that is a stall for all of them. The caller renames what goes into a trash name
 * (instant, atomic) and asks for the trash to be emptied: a detached thread deletes
 * every entry of the directory whose name starts with `prefix` or ends with `suffix`,
 * emptying directories one level deep first. Trash a crash leaves behind is emptied by
 * the next call, so callers also call it when they open the directory.
 */
#ifndef RQ_COMMON_TRASH_H
#define RQ_COMMON_TRASH_H

/* prefix or suffix may be NULL. Runs inline if no thread can be started. */
void trash_empty_async(const char *dir, const char *prefix, const char *suffix);

/* The same, synchronously (the thread's body, for tests and for fallbacks). */
void trash_empty(const char *dir, const char *prefix, const char *suffix);

/* Removes path now: a file, or a directory emptied one level deep first. */
void trash_remove_now(const char *path);

#endif
