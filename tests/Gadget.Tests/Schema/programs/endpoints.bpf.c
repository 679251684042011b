// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Endpoints in the older layout, where an L4 endpoint wraps an L3 one. */
#define SCHEMA_TEST_OLD_ENDPOINTS
#include "schema_test.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

union gadget_ip_addr_t {
	__u8 v6[16];
	__u32 v4;
};

struct gadget_l3endpoint_t {
	union gadget_ip_addr_t addr;
	__u8 version;
	__u8 pad[3];
};

struct gadget_l4endpoint_t {
	struct gadget_l3endpoint_t l3;
	__u16 port;
	__u16 proto;
};

struct conn_event {
	struct gadget_l3endpoint_t local;
	struct gadget_l4endpoint_t remote;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

TEST_TRACER(conns, events, conn_event)

SEC("tracepoint/sock/inet_sock_set_state")
int trace_conn(void *ctx)
{
	struct conn_event *event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (event)
		bpf_ringbuf_submit(event, 0);
	return 0;
}
