// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* signal: every signal a process sends or the kernel raises for it.
 *
 * signal:signal_generate fires where a signal is queued (kill, tgkill,
 * a fault, a child's exit), in the context of the task that caused it:
 * the sender is the current task, the target comes with the tracepoint.
 * Not a syscall tracepoint, so nothing else on the host pays for it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
/* Small records (about 100 bytes): 512 KiB holds thousands. */
#define GADGET_RING_SIZE (512 << 10)
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* What became of a signal, as the tracepoint's result reports it. */
enum signal_result {
	DELIVERED = 0,
	IGNORED = 1,
	ALREADY_PENDING = 2,
	OVERFLOW_FAIL = 3,
	LOSE_INFO = 4,
};

struct signal_event {
	gadget_timestamp timestamp;
	struct gadget_process proc; /* the sender */
	gadget_signal signal;
	__s32 code;          /* si_code: SI_USER 0, SI_KERNEL 0x80, SI_TKILL -6 ... */
	__u32 target_pid;    /* the target's thread group */
	enum signal_result result;
	bool group;          /* sent to the whole thread group */
	__u8 __pad[3];
	char target_comm[GADGET_COMM_LEN];
};

GADGET_TRACER(signal, events, signal_event);

/* Only this signal number; 0: every signal. */
const volatile __u32 gadget_signal_filter = 0;
GADGET_PARAM(gadget_signal_filter);

/* Only signals that were not delivered (ignored, already pending, lost). */
const volatile bool gadget_signal_failed_only = false;
GADGET_PARAM(gadget_signal_failed_only);

/* Small enough for the stack: no scratch map. */
SEC("tracepoint/signal/signal_generate")
int gadget_signal_generate(struct trace_event_raw_signal_generate *ctx)
{
	struct gadget_current cur;
	struct signal_event event;

	if (gadget_signal_filter && ctx->sig != gadget_signal_filter)
		return 0;
	if (gadget_signal_failed_only && ctx->result == DELIVERED)
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;

	event.timestamp = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event.proc, &cur);
	event.signal = ctx->sig;
	event.code = ctx->code;
	event.target_pid = ctx->pid;
	event.result = ctx->result;
	event.group = ctx->group;
	__builtin_memset(event.__pad, 0, sizeof(event.__pad));
	/* A copy straight from ctx would load through a moved ctx pointer, which the verifier refuses. */
	bpf_probe_read_kernel(event.target_comm, sizeof(event.target_comm), ctx->comm);

	gadget_output(&event, sizeof(event));
	return 0;
}
