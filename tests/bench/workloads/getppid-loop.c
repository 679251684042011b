// SPDX-License-Identifier: MIT
/* getppid-loop: the workload of the flood benchmark. Each getppid() makes
 * the flood gadget emit its records, so this program controls how many
 * events are offered and how fast.
 *
 *   getppid-loop CALLS [CALLS_PER_SECOND]
 *
 * Prints "ready <pid>", waits for a line on stdin (the benchmark arms the
 * trace in between), makes CALLS calls (paced when CALLS_PER_SECOND > 0,
 * as fast as possible otherwise) and prints "calls=<n> ns=<elapsed>". */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "workload.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CALLS [CALLS_PER_SECOND]\n", argv[0]);
		return 2;
	}
	long long calls = atoll(argv[1]);
	double rate = argc > 2 ? atof(argv[2]) : 0;

	if (!workload_ready_wait_for_go())
		return 1;

	long long start = now_ns();
	long long done = 0;
	if (rate <= 0) {
		for (; done < calls; done++)
			syscall(SYS_getppid);
	} else {
		/* Keep the calls made on schedule: catch up in bursts, sleep when ahead. */
		while (done < calls) {
			long long due = (long long)((now_ns() - start) * rate / 1e9) + 1;
			if (due > calls)
				due = calls;
			if (done >= due) {
				struct timespec pause = { 0, 100000 };
				nanosleep(&pause, NULL);
				continue;
			}
			for (; done < due; done++)
				syscall(SYS_getppid);
		}
	}
	long long elapsed = now_ns() - start;
	printf("calls=%lld ns=%lld\n", done, elapsed);
	return 0;
}
