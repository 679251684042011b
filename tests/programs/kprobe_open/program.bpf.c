// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kprobe_open: a tracer on a kprobe, a hook kernels without CONFIG_KPROBES
 * lack; there it must fail with a clear error and leave nothing loaded. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct event {
	gadget_timestamp timestamp;
	struct gadget_process proc;
};

GADGET_TRACER(kopen, events, event);

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(kprobe_openat2)
{
	struct gadget_current cur;
	struct event event = {};

	if (!gadget_current_selected(&cur))
		return 0;
	event.timestamp = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event.proc, &cur);
	gadget_output(&event, sizeof(event));
	return 0;
}
