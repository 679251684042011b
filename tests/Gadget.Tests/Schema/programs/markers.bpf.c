// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Every marker kind, every well-known typedef, and the struct shapes the
 * flattening must handle. Never loaded: the tests only read its BTF. */
#include "schema_test.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum open_result {
	OPEN_OK = 0,
	OPEN_DENIED = 13,
	OPEN_MISSING = 2,
};

enum direction : __s8 {
	DIR_IN = -1,
	DIR_OUT = 1,
};

struct process_block {
	gadget_comm comm[16];
	gadget_pid pid;
	gadget_tid tid;
	gadget_mntns_id mntns_id;
	struct {
		gadget_uid uid;
		gadget_gid gid;
	} creds;
	struct {
		gadget_pcomm comm;
		gadget_ppid pid;
	} parent;
};

struct trace_event {
	gadget_timestamp timestamp;
	struct process_block proc;
	gadget_netns_id netns;
	gadget_errno error;
	gadget_signal sig;
	gadget_file_flags flags;
	gadget_file_mode mode;
	gadget_kernel_stack stack;
	gadget_syscall syscall;
	gadget_bytes bytes;
	gadget_duration latency;
	enum open_result result;
	enum direction dir;
	_Bool ok;
	__u32 __pad;
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	};
	struct {
		__u16 anon_a;
		__u16 anon_b;
	};
	union {
		__u64 whole;
		__u32 halves[2];
	} named_union;
	unsigned int low : 3;
	unsigned int mid : 5;
	int negative : 7;
	unsigned int high : 17;
	__s16 small;
	__u8 raw[6];
	const volatile __u64 *ptr;
	double ratio;
	struct gadget_l3endpoint_t src;
	struct gadget_l4endpoint_t dst;
	gadget_argv args;
};

struct snap_record {
	gadget_pid pid;
	gadget_comm comm[16];
	char filename[];
};

struct old_snap_record {
	__u64 value;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

TEST_TRACER(opens, events, trace_event)
TEST_TRACER_MAP(events)
TEST_SNAPSHOTTER(procs, snap_record, dump_tasks, dump_files)
TEST_OLD_SNAPSHOTTER(legacy, old_snap_record)
TEST_MAPITER(top_counts, counts)

const volatile __u32 targ_pid = 4242;
const volatile __s64 targ_offset = -7;
const volatile _Bool gadget_filter_by_mntns = 0;
const volatile char targ_comm[16] = "bash";
const volatile __u32 not_a_param = 9;
TEST_PARAM(targ_pid)
TEST_PARAM(targ_offset)
TEST_PARAM(gadget_filter_by_mntns)
TEST_PARAM(targ_comm)

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_open(void *ctx)
{
	struct trace_event *event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event)
		return 0;
	event->timestamp = targ_pid + targ_offset + gadget_filter_by_mntns + targ_comm[0] + not_a_param;
	bpf_ringbuf_submit(event, 0);
	return 0;
}
