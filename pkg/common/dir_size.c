/* Directory sizes for /status (see dir_size.h). */
#include "dir_size.h"

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

/* nftw has no argument for its callback; /status runs in one thread per process. */
static uint64_t dir_size_total;

static int
dir_size_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path; (void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		dir_size_total += (uint64_t)st->st_size;
	return 0;
}

uint64_t
dir_size(const char *path)
{
	dir_size_total = 0;
	(void)nftw(path, dir_size_add, 16, FTW_PHYS);	/* unreadable parts count 0 */
	return dir_size_total;
}

void
dir_size_friendly(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 10) {
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
		return;
	}
	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	/* humanize: rounded to one decimal, shown with it below 10 ("1.2 MB", "41 kB"). */
	v = (double)(long long)(v * 10 + 0.5) / 10;
	if (v < 10)
		snprintf(buf, len, "%.1f %s", v, units[u]);
	else
		snprintf(buf, len, "%.0f %s", v, units[u]);
}
