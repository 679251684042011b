// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* exec_ig_style: a tracer that declares what Inspektor Gadget's headers
 * declare, by IG's names (gadget_mntns_filter_map, a u32 per selected mount
 * namespace) and without the process filter variables, so the agent must
 * fill IG's map and refuse -Pid, -Comm and -Uid. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <gadget/types.h>
#include <gadget/macros.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile bool gadget_filter_by_mntns = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32);
} gadget_mntns_filter_map SEC(".maps");

struct event {
	gadget_timestamp timestamp_raw;
	gadget_mntns_id mntns_id;
	gadget_pid pid;
	gadget_comm comm[GADGET_COMM_LEN];
};

GADGET_TRACER_MAP(events, 1 << 16);
GADGET_TRACER(exec, events, event);

SEC("tracepoint/sched/sched_process_exec")
int exec_ig_style(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 mntns = task->nsproxy->mnt_ns->ns.inum;
	struct event event = {};

	if (gadget_filter_by_mntns && !bpf_map_lookup_elem(&gadget_mntns_filter_map, &mntns))
		return 0;
	event.timestamp_raw = bpf_ktime_get_boot_ns();
	event.mntns_id = mntns;
	event.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(event.comm, sizeof(event.comm));
	bpf_ringbuf_output(&events, &event, sizeof(event), 0);
	return 0;
}
