// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* trace_open: a user's tracer, written the way Inspektor Gadget's programs
 * are: one struct per event, GADGET_TRACER, a parameter, well-known field
 * types, the common filters. It traces openat(2) on its return, reading the
 * arguments from the registers the syscall entered with. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NAME_MAX 255

enum open_outcome {
	OPEN_OK = 0,
	OPEN_FAILED = 1,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_errno error_raw;
	gadget_file_flags flags_raw;
	gadget_file_mode mode_raw;
	gadget_uid owner;
	enum open_outcome outcome;
	__s32 fd;
	char fname[NAME_MAX];
};

GADGET_TRACER(open, events, event);

/* Only opens that failed. */
const volatile bool failed = false;
GADGET_PARAM(failed);

/* Only files whose name starts with this prefix; empty: every file. */
const volatile char prefix[32] = {};
GADGET_PARAM(prefix);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

static __always_inline bool prefix_matches(const char *name)
{
	for (int i = 0; i < sizeof(prefix); i++) {
		if (!prefix[i])
			return true;
		if (name[i] != prefix[i])
			return false;
	}
	return true;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int trace_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct gadget_current cur;
	__u32 zero = 0;
	long ret = ctx->ret;

	if (failed && ret >= 0)
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;

	struct event *event = bpf_map_lookup_elem(&scratch, &zero);
	if (!event)
		return 0;

	struct pt_regs *regs = gadget_syscall_regs(cur.task);
	const char *pathname = (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs);
	bpf_probe_read_user_str(event->fname, sizeof(event->fname), pathname);
	if (!prefix_matches(event->fname))
		return 0;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event->proc, &cur);
	event->flags_raw = (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs);
	event->mode_raw = (__u32)PT_REGS_PARM4_CORE_SYSCALL(regs);
	event->owner = event->proc.uid;
	event->error_raw = ret < 0 ? -ret : 0;
	event->fd = ret < 0 ? -1 : ret;
	event->outcome = ret < 0 ? OPEN_FAILED : OPEN_OK;

	gadget_output(event, sizeof(*event));
	return 0;
}
