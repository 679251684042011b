// SPDX-License-Identifier: MIT
/* What every benchmark workload shares: a monotonic clock for its elapsed
 * time, and the handshake with the benchmark, which arms the tracer between
 * the workload saying "ready <pid>" and its go line. */
#ifndef GADGET_BENCH_WORKLOAD_H
#define GADGET_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static inline long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Says "ready <pid>" on stdout, at once. */
static inline void workload_ready(void)
{
	printf("ready %d\n", getpid());
	fflush(stdout);
}

/* Says ready and waits for the benchmark's go line; false when stdin ends first. */
static inline bool workload_ready_wait_for_go(void)
{
	char line[64];
	workload_ready();
	return fgets(line, sizeof(line), stdin) != NULL;
}

#endif
