// SPDX-License-Identifier: MIT
/* rw-loop: the workload of the top benchmarks.
 *
 *   rw-loop MODE SECONDS CALLS_PER_SECOND [PATH]
 *
 * Prints "ready <pid>", waits for a line on stdin (the benchmark arms the top
 * in between), then for SECONDS makes CALLS_PER_SECOND calls (as fast as it
 * can when 0), half writes and half reads, and prints "calls=<n> failed=<n>
 * ns=<elapsed>". MODE says on what:
 *   file   pwrite and pread of 64 bytes at the start of PATH (a regular file)
 *   tcp    write on one end of a loopback TCP connection, read on the other
 *   block  4 KiB pwrite and pread with O_DIRECT on PATH (a block device):
 *          every call is one I/O of the block layer */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

static int tcp_pair(int *writer, int *reader)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t length = sizeof(address);
	int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) || listen(listener, 1) ||
	    getsockname(listener, (struct sockaddr *)&address, &length))
		return -1;
	*writer = socket(AF_INET, SOCK_STREAM, 0);
	if (*writer < 0 || connect(*writer, (struct sockaddr *)&address, sizeof(address)))
		return -1;
	*reader = accept(listener, NULL, NULL);
	close(listener);
	setsockopt(*writer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return *reader < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "tcp") && argc < 5)) {
		fprintf(stderr, "usage: %s file|tcp|block SECONDS CALLS_PER_SECOND [PATH]\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	long long duration = (long long)(atof(argv[2]) * 1e9);
	double rate = atof(argv[3]);
	int writer = -1, reader = -1;
	size_t size = 64;
	static char buffer[4096] __attribute__((aligned(4096)));

	if (!strcmp(mode, "tcp")) {
		if (tcp_pair(&writer, &reader)) {
			perror("rw-loop: loopback connection");
			return 1;
		}
	} else {
		int direct = !strcmp(mode, "block");
		size = direct ? 4096 : 64;
		writer = reader = open(argv[4], O_RDWR | O_CREAT | (direct ? O_DIRECT : 0), 0644);
		if (writer < 0) {
			perror("rw-loop: open");
			return 1;
		}
	}
	memset(buffer, 'w', sizeof(buffer));
	long long calls = 0, failed = 0;

	if (!workload_ready_wait_for_go())
		return 1;

	long long start = now_ns(), elapsed = 0;
	while (elapsed < duration) {
		/* Batches of 256 pairs, or, when paced, the pairs that are due: catch
		 * up in bursts, sleep when ahead (as open-loop does). */
		long long batch = 256;
		if (rate > 0) {
			batch = ((long long)(elapsed * rate / 1e9) + 2 - calls) / 2;
			if (batch > 256)
				batch = 256;
			if (batch <= 0) {
				struct timespec pause = { 0, 100000 };
				nanosleep(&pause, NULL);
				elapsed = now_ns() - start;
				continue;
			}
		}
		for (long long i = 0; i < batch; i++, calls += 2) {
			ssize_t wrote, got;
			if (writer == reader) {
				wrote = pwrite(writer, buffer, size, 0);
				got = pread(reader, buffer, size, 0);
			} else {
				wrote = write(writer, buffer, size);
				got = wrote > 0 ? read(reader, buffer, (size_t)wrote) : -1;
			}
			failed += (wrote != (ssize_t)size) + (got != (ssize_t)size);
		}
		elapsed = now_ns() - start;
	}
	printf("calls=%lld failed=%lld ns=%lld\n", calls, failed, elapsed);
	return 0;
}
