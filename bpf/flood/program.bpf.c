// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* flood: a synthetic event source for benchmarks and diagnostics.
 *
 * Each getppid() of a selected process writes flood_records_per_call
 * records into the ring, so a tiny workload can offer more events per
 * second than any real hook produces and the delivery path (ring, agent,
 * stream, cmdlet) can be measured on its own. Records are exec_events
 * (bpf/exec/exec.h): exe_path "flood", args "flood <sequence>", where the
 * sequence numbers the records of the trace from 0, so a reader can tell
 * exactly which records it missed.
 *
 * It hooks a syscall tracepoint, which slows every syscall on the host a
 * little while it runs: use it with a pid filter, for a short time. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
/* The overload benchmark's source: 8 MiB is about 45 ms of a 500 k
 * events/s flood, what the reader needs to stay lossless below overload. */
#define GADGET_RING_SIZE (8 << 20)
#include <gadget/common.h>
#include "../exec/exec.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

GADGET_TRACER(flood, events, exec_event);

#define FLOOD_MAX_RECORDS_PER_CALL 65536
#define FLOOD_ARGS_SIZE 32

/* Records written per getppid() call. */
const volatile __u32 flood_records_per_call = 1;
GADGET_PARAM(flood_records_per_call);

/* Next sequence number. Calls of one thread are numbered without gaps;
 * concurrent callers on several CPUs would need an atomic fetch-add. */
__u64 flood_next_sequence = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} flood_scratch SEC(".maps");

static const char flood_format[] = "%llu";

struct flood_loop {
	__u64 first_sequence;
};

static long flood_emit(__u32 index, void *data)
{
	struct flood_loop *loop = data;
	__u32 zero = 0;
	struct exec_event *event = bpf_map_lookup_elem(&flood_scratch, &zero);
	if (!event)
		return 1;

	__u64 sequence = loop->first_sequence + index;
	/* args: "flood\0<sequence>\0" */
	long n = bpf_snprintf(&event->args[6], FLOOD_ARGS_SIZE - 6, flood_format, &sequence, sizeof(sequence));
	if (n <= 0)
		return 1;
	if (n > FLOOD_ARGS_SIZE - 6)
		n = FLOOD_ARGS_SIZE - 6;
	event->__args_size = 6 + n;
	event->timestamp = bpf_ktime_get_boot_ns();
	/* The record ends where the arguments do, as an exec's does: its tail is argv, not padding. */
	gadget_output(event, offsetof(struct exec_event, args) + 6 + n);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int gadget_flood(struct trace_event_raw_sys_enter *ctx)
{
	struct gadget_current cur;
	__u32 zero = 0;

	if (!gadget_current_selected(&cur))
		return 0;

	struct exec_event *event = bpf_map_lookup_elem(&flood_scratch, &zero);
	if (!event)
		return 0;

	/* Everything but the sequence and timestamp is the same for all records of a call. */
	gadget_current_fill(&event->proc, &cur);
	event->error = 0;
	event->args_truncated = false;
	__builtin_memset(event->exe_path, 0, 8);
	__builtin_memcpy(event->exe_path, "flood", 6);
	__builtin_memset(event->args, 0, FLOOD_ARGS_SIZE);
	__builtin_memcpy(event->args, "flood", 6);

	__u32 count = flood_records_per_call;
	if (count > FLOOD_MAX_RECORDS_PER_CALL)
		count = FLOOD_MAX_RECORDS_PER_CALL;
	struct flood_loop loop = { .first_sequence = flood_next_sequence };
	flood_next_sequence = loop.first_sequence + count;
	bpf_loop(count, flood_emit, &loop, 0);
	return 0;
}
