// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* verifier_reject: a tracer the verifier refuses. It reads a map value
 * without checking the lookup's result for NULL, which every kernel
 * rejects ("invalid mem access 'map_value_or_null'"). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct event {
	gadget_timestamp timestamp;
	__u64 value;
};

GADGET_TRACER(bad, events, event);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int unchecked_lookup(void *ctx)
{
	__u32 key = 1;
	__u64 *value = bpf_map_lookup_elem(&values, &key);
	struct event event = {
		.timestamp = bpf_ktime_get_boot_ns(),
		.value = *value, /* no NULL check */
	};

	gadget_output(&event, sizeof(event));
	return 0;
}
