// SPDX-License-Identifier: MIT
/* open-loop: the workload of the open storm benchmarks.
 *
 *   open-loop SECONDS PATH [OPENS_PER_SECOND]
 *
 * Prints "ready <pid>", waits for a line on stdin (the benchmark arms the
 * tracer in between), then opens and closes PATH read-only for SECONDS (as
 * fast as it can, or paced at OPENS_PER_SECOND when it is given) and prints
 * "opens=<n> failed=<n> ns=<elapsed>". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s SECONDS PATH [OPENS_PER_SECOND]\n", argv[0]);
		return 2;
	}
	long long duration = (long long)(atof(argv[1]) * 1e9);
	double rate = argc > 3 ? atof(argv[3]) : 0;
	long long opens = 0, failed = 0;

	if (!workload_ready_wait_for_go())
		return 1;

	long long start = now_ns(), elapsed = 0;
	while (elapsed < duration) {
		/* Batches of 1024 opens (the clock is cheap next to them), or, when
		 * paced, the opens that are due: catch up in bursts, sleep when ahead. */
		long long batch = 1024;
		if (rate > 0) {
			batch = (long long)(elapsed * rate / 1e9) + 1 - opens;
			if (batch > 1024)
				batch = 1024; /* behind: catch up, but keep to the duration */
			if (batch <= 0) {
				struct timespec pause = { 0, 100000 };
				nanosleep(&pause, NULL);
				elapsed = now_ns() - start;
				continue;
			}
		}
		for (long long i = 0; i < batch; i++, opens++) {
			int fd = open(argv[2], O_RDONLY);
			if (fd < 0)
				failed++;
			else
				close(fd);
		}
		elapsed = now_ns() - start;
	}
	printf("opens=%lld failed=%lld ns=%lld\n", opens, failed, elapsed);
	return 0;
}
