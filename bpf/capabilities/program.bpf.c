// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* capabilities: every capability check, with its verdict.
 *
 * capability:cap_capable fires where the kernel decides whether the current
 * credentials hold a capability, in the process that asked: not a syscall
 * tracepoint, so nothing else pays for it. The syscall the process was in
 * comes from its saved registers. Checks are frequent (a root process's
 * opens, every setuid), so the unique filter keeps each (process,
 * capability, verdict) once, in the kernel. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
/* Capability checks come in bursts (every privileged syscall, every open
 * under a restrictive mode): 4 MiB, as DNS. */
#define GADGET_RING_SIZE (4 << 20)
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct capabilities_event {
	gadget_timestamp timestamp;
	struct gadget_process proc;
	__u32 cap;               /* CAP_* */
	__s64 syscall;           /* the system call's number; -1 outside any */
	__u32 target_userns;     /* the user namespace the capability was asked in */
	bool granted;
	__u8 __pad[3];
};

GADGET_TRACER(capabilities, events, capabilities_event);

/* Only this capability's checks; -1: every capability. */
const volatile __s32 gadget_capabilities_cap = -1;
GADGET_PARAM(gadget_capabilities_cap);

/* Only checks that were refused. */
const volatile bool gadget_capabilities_denied_only = false;
GADGET_PARAM(gadget_capabilities_denied_only);

/* Each (process, capability, verdict) once. */
const volatile bool gadget_capabilities_unique = false;
GADGET_PARAM(gadget_capabilities_unique);

struct capabilities_key {
	__u32 pid;
	__u32 cap;
	bool granted;
	__u8 __pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct capabilities_key);
	__type(value, __u8);
} capabilities_seen SEC(".maps");

static __always_inline __s64 capabilities_syscall(struct task_struct *task)
{
	struct pt_regs *regs = gadget_syscall_regs(task);
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ((struct user_pt_regs *)regs, syscallno);
#else
	return -1;
#endif
}

SEC("tracepoint/capability/cap_capable")
int gadget_capabilities_cap_capable(struct trace_event_raw_cap_capable *ctx)
{
	struct gadget_current cur;
	struct capabilities_event event;
	int cap = ctx->cap;
	int ret = ctx->ret;
	bool granted = ret == 0;

	if (gadget_capabilities_cap >= 0 && cap != gadget_capabilities_cap)
		return 0;
	if (gadget_capabilities_denied_only && granted)
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;
	if (gadget_capabilities_unique) {
		struct capabilities_key key = { .pid = cur.pid_tgid >> 32, .cap = cap, .granted = granted };
		__u8 seen = 1;
		if (bpf_map_update_elem(&capabilities_seen, &key, &seen, BPF_NOEXIST))
			return 0; /* already reported */
	}

	event.timestamp = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event.proc, &cur);
	event.cap = cap;
	event.granted = granted;
	event.syscall = capabilities_syscall(cur.task);
	event.target_userns = BPF_CORE_READ(ctx, target_ns, ns.inum);
	__builtin_memset(event.__pad, 0, sizeof(event.__pad));
	gadget_output(&event, sizeof(event));
	return 0;
}
