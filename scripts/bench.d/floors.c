/*
 * Floors for scripts/bench: the cheapest possible version of the two costs every
 * replicated write pays, measured on this machine in the same run as the workloads.
 *
 *   floors fsync DIR N   N appends of 4 KiB to a fresh file in DIR, fdatasync after each
 *   floors tcp N         N 64-byte ping-pongs over a loopback TCP connection (NODELAY)
 *
 * Prints "p50_us p90_us p99_us max_us" on one line. Compiled on the fly into a temp
 * directory by scripts/bench; not part of the build.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double floors_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int floors_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void floors_report(double *v, int n)
{
	qsort(v, n, sizeof(*v), floors_cmp);
	printf("%.1f %.1f %.1f %.1f\n", v[n / 2], v[n * 9 / 10], v[n * 99 / 100], v[n - 1]);
}

static int floors_fsync(const char *dir, int n)
{
	char path[4096], buf[4096];
	double *v = calloc(n, sizeof(*v));
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-floor.tmp", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd < 0 || !v) {
		perror(path);
		return 1;
	}
	memset(buf, 'x', sizeof(buf));
	/* Appends grow the file like a log segment does, so each fdatasync also
	 * commits the size change in the journal, as the node's log appends must. */
	for (int i = 0; i < n; i++) {
		double t0 = floors_now_us();

		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fdatasync(fd) != 0) {
			perror("append");
			return 1;
		}
		v[i] = floors_now_us() - t0;
	}
	close(fd);
	unlink(path);
	floors_report(v, n);
	free(v);
	return 0;
}

static int floors_full(int fd, char *buf, size_t len, int rd)
{
	size_t off = 0;

	while (off < len) {
		ssize_t r = rd ? read(fd, buf + off, len - off) : write(fd, buf + off, len - off);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		off += r;
	}
	return 0;
}

static int floors_tcp(int n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), c;
	double *v = calloc(n, sizeof(*v));
	char buf[64];
	pid_t pid;

	if (ls < 0 || !v || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl)) {
		perror("listen");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		int s = accept(ls, NULL, NULL);

		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (floors_full(s, buf, sizeof(buf), 1) == 0 && floors_full(s, buf, sizeof(buf), 0) == 0)
			;
		_exit(0);
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return 1;
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(buf, 'p', sizeof(buf));
	for (int i = 0; i < n; i++) {
		double t0 = floors_now_us();

		if (floors_full(c, buf, sizeof(buf), 0) || floors_full(c, buf, sizeof(buf), 1)) {
			perror("ping");
			return 1;
		}
		v[i] = floors_now_us() - t0;
	}
	close(c);
	waitpid(pid, NULL, 0);
	floors_report(v, n);
	free(v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fsync") == 0)
		return floors_fsync(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
	if (argc == 3 && strcmp(argv[1], "tcp") == 0)
		return floors_tcp(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	fprintf(stderr, "usage: floors fsync DIR N | floors tcp N\n");
	return 2;
}
