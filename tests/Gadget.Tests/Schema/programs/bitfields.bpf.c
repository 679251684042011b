// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The BTF side of bitfields_host.c. */
#include "schema_test.h"
#include "bitfields.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

TEST_TRACER(bits, events, bits_event)
TEST_TRACER(packed, events, packed_bits)
