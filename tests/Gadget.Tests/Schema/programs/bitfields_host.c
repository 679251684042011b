// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prints the bytes of the bitfield structs filled with known values, as hex:
 * one line per struct. */
#include <stdio.h>
#include <string.h>
#include "bitfields.h"

static void print(const void *data, size_t size)
{
	const unsigned char *bytes = data;
	for (size_t i = 0; i < size; i++)
		printf("%02x", bytes[i]);
	printf("\n");
}

int main(void)
{
	struct bits_event event;
	memset(&event, 0xA5, sizeof(event)); /* padding bits set, so a mask that is too wide shows */
	event.before = 0xDEADBEEF;
	event.low = 5;
	event.mid = 17;
	event.negative = -3;
	event.high = 99999;
	event.flag = 1;
	event.sign = SIGN_MINUS;
	event.wide = 0x1234567890ABCDEULL;
	event.after = -2;
	print(&event, sizeof(event));

	struct packed_bits packed;
	memset(&packed, 0xA5, sizeof(packed));
	packed.head = 7;
	packed.odd = 0xABCDE;
	packed.long_odd = 0x123456789AULL;
	packed.tail_bits = -5;
	print(&packed, sizeof(packed));
	return 0;
}
