// SPDX-License-Identifier: MIT
/* exec-loop: the workload of the exec storm benchmark.
 *
 *   exec-loop COUNT PROGRAM
 *
 * Prints "ready <pid>", waits for a line on stdin (the benchmark arms the
 * tracer in between), then runs PROGRAM COUNT times, one after the other,
 * as fast as possible, and prints "execs=<n> failed=<n> ns=<elapsed>". */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "workload.h"

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s COUNT PROGRAM\n", argv[0]);
		return 2;
	}
	long long count = atoll(argv[1]);
	char *child_argv[] = { argv[2], NULL };
	long long done = 0, failed = 0;

	if (!workload_ready_wait_for_go())
		return 1;

	long long start = now_ns();
	for (; done < count; done++) {
		pid_t child;
		int status;
		if (posix_spawn(&child, argv[2], NULL, NULL, child_argv, environ) != 0 ||
		    waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	long long elapsed = now_ns() - start;
	printf("execs=%lld failed=%lld ns=%lld\n", done, failed, elapsed);
	return 0;
}
