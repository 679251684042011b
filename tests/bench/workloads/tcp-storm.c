// SPDX-License-Identifier: MIT
/* tcp-storm: the workload of the TCP connect storm benchmark.
 *
 *   tcp-storm COUNT ADDRESS PORT
 *
 * Listens on ADDRESS:PORT (an IPv4 loopback address), prints "ready <pid>",
 * waits for a line on stdin (the benchmark arms the tracer in between), then
 * COUNT times: connects to it, accepts the connection, closes the connecting
 * end and then the accepted one. Prints "connections=<n> failed=<n>
 * ns=<elapsed>": every connection made is one connect, one accept and two
 * closes for a tracer to see. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s COUNT ADDRESS PORT\n", argv[0]);
		return 2;
	}
	long long count = atoll(argv[1]);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3])) };
	if (inet_pton(AF_INET, argv[2], &address.sin_addr) != 1) {
		fprintf(stderr, "tcp-storm: '%s' is no IPv4 address\n", argv[2]);
		return 2;
	}
	int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) || listen(listener, 128)) {
		perror("tcp-storm: listen");
		return 1;
	}
	long long connections = 0, failed = 0;

	if (!workload_ready_wait_for_go())
		return 1;

	long long start = now_ns();
	for (long long i = 0; i < count; i++) {
		int client = socket(AF_INET, SOCK_STREAM, 0);
		if (client < 0 || connect(client, (struct sockaddr *)&address, sizeof(address))) {
			failed++;
			if (client >= 0)
				close(client);
			continue;
		}
		int accepted = accept(listener, NULL, NULL);
		if (accepted < 0) {
			failed++;
			close(client);
			continue;
		}
		close(client);
		close(accepted);
		connections++;
	}
	long long elapsed = now_ns() - start;
	printf("connections=%lld failed=%lld ns=%lld\n", connections, failed, elapsed);
	return 0;
}
