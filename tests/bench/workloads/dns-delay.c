// SPDX-License-Identifier: MIT
/* dns-delay: a DNS responder that answers every query after a fixed delay, so
 * the DNS benchmark can check measured latency against a known one.
 *
 *   dns-delay ADDRESS PORT DELAY_MICROSECONDS
 *
 * Binds ADDRESS:PORT (UDP), prints "ready <pid>" and then, until it is
 * killed, answers each query DELAY_MICROSECONDS after it arrived: the query
 * sent back as a response (QR and RA set, NOERROR, no answer records).
 * Queries are queued, so answers overlap as they would from a real server
 * behind a slow link; a query that finds the queue full is dropped. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define QUEUE 8192
#define MAX_PACKET 512

struct pending {
	long long due;
	struct sockaddr_in from;
	ssize_t length;
	unsigned char packet[MAX_PACKET];
};

static struct pending queue[QUEUE];

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s ADDRESS PORT DELAY_MICROSECONDS\n", argv[0]);
		return 2;
	}
	long long delay = atoll(argv[3]) * 1000;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	if (fd < 0 || inet_pton(AF_INET, argv[1], &address.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
		perror("dns-delay");
		return 1;
	}
	workload_ready();

	/* Queries arrive in order and all wait the same delay: a ring is a timer queue. */
	unsigned head = 0, tail = 0;
	for (;;) {
		struct timespec wait = { 1, 0 }, *timeout = NULL;
		if (head != tail) {
			long long left = queue[head % QUEUE].due - now_ns();
			if (left < 0)
				left = 0;
			wait.tv_sec = left / 1000000000LL;
			wait.tv_nsec = left % 1000000000LL;
			timeout = &wait;
		}
		struct pollfd readable = { .fd = fd, .events = POLLIN };
		if (ppoll(&readable, 1, timeout, NULL) > 0) {
			for (;;) {
				struct pending *next = &queue[tail % QUEUE];
				socklen_t size = sizeof(next->from);
				if (tail - head == QUEUE) {
					unsigned char discard[MAX_PACKET];
					if (recv(fd, discard, sizeof(discard), MSG_DONTWAIT) < 0)
						break;
					continue;
				}
				next->length = recvfrom(fd, next->packet, MAX_PACKET, MSG_DONTWAIT,
							(struct sockaddr *)&next->from, &size);
				if (next->length < 0)
					break;
				if (next->length < 12)
					continue;
				next->due = now_ns() + delay;
				tail++;
			}
		}
		long long now = now_ns();
		while (head != tail && queue[head % QUEUE].due <= now) {
			struct pending *due = &queue[head % QUEUE];
			due->packet[2] |= 0x80; /* QR: a response */
			due->packet[3] = 0x80;  /* RA, NOERROR */
			sendto(fd, due->packet, due->length, 0, (struct sockaddr *)&due->from, sizeof(due->from));
			head++;
		}
	}
}
