// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* exec: every process execution.
 *
 * Successful execs come from the sched_process_exec tracepoint, which
 * costs nothing outside execve and sees the new image's argv in its mm.
 * Failed execs exist only at the syscall boundary: the sys_exit execve(at)
 * programs are loaded only when the caller asks for them, because enabling
 * any syscall tracepoint slows every syscall on the host. A failed execve
 * returns to the image that made it with its registers and memory intact,
 * so the exit reads the file name and arguments from there; the execs that
 * succeed (nearly all) cost the exit one comparison: 0.1 us per exec
 * (bpf_stats, exec storm), where an entry that kept the two pointers in an
 * LRU hash and the exit's lookup and delete cost 2.2-2.4 us together. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
/* Hosts exec hundreds of processes a second at most; 1 MiB holds over 200
 * records of a full 4 KiB argv, many times what arrives between drains. */
#define GADGET_RING_SIZE (1 << 20)
#include <gadget/common.h>
#include "exec.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

GADGET_TRACER(exec, events, exec_event);

/* Scratch space: an exec_event is too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} exec_scratch SEC(".maps");

static __always_inline __u64 exec_record_size(const struct exec_event *event)
{
	__u64 size = event->__args_size;
	if (size > EXEC_ARGS_SIZE)
		size = EXEC_ARGS_SIZE;
	return offsetof(struct exec_event, args) + size;
}

SEC("tracepoint/sched/sched_process_exec")
int gadget_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct gadget_current cur;
	__u32 zero = 0;

	if (!gadget_current_selected(&cur))
		return 0;

	struct exec_event *event = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!event)
		return 0;

	event->timestamp = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event->proc, &cur);
	event->error = 0;
	event->args_truncated = false;

	unsigned int filename_loc = ctx->__data_loc_filename & 0xFFFF;
	bpf_probe_read_kernel_str(event->exe_path, sizeof(event->exe_path), (void *)ctx + filename_loc);

	/* The new image's argv sits between arg_start and arg_end. */
	struct task_struct *task = cur.task; /* a plain local: CO-RE relocates the whole expression */
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
	__u64 size = arg_end - arg_start;
	if (size > EXEC_ARGS_SIZE) {
		size = EXEC_ARGS_SIZE;
		event->args_truncated = true;
	}
	if (bpf_probe_read_user(event->args, size, (void *)arg_start))
		size = 0;
	event->__args_size = size;

	gadget_output(event, exec_record_size(event));
	return 0;
}

/* A failed execve or execveat, reported from its exit. */
static __always_inline int exec_failed(long ret, const char *filename, const char *const *argv)
{
	struct gadget_current cur;
	__u32 zero = 0;

	if (!gadget_current_selected(&cur))
		return 0;

	struct exec_event *event = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!event)
		return 0;

	event->timestamp = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event->proc, &cur);
	event->error = -ret;
	event->args_truncated = false;
	event->__args_size = 0;
	bpf_probe_read_user_str(event->exe_path, sizeof(event->exe_path), filename);

	for (int i = 0; i < EXEC_MAX_ARGS; i++) {
		const char *arg = NULL;
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		__u32 offset = event->__args_size;
		if (offset > EXEC_ARGS_SIZE - EXEC_ARG_CHUNK) {
			event->args_truncated = true;
			break;
		}
		long n = bpf_probe_read_user_str(&event->args[offset], EXEC_ARG_CHUNK, arg);
		if (n <= 0)
			break;
		if (n == EXEC_ARG_CHUNK && event->args[(offset + n - 1) & (EXEC_ARGS_SIZE - 1)] == 0)
			event->args_truncated = true; /* this argument was cut */
		event->__args_size = offset + n;
	}

	gadget_output(event, exec_record_size(event));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int gadget_execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret >= 0)
		return 0; /* sched_process_exec has reported it */
	struct pt_regs *regs = gadget_syscall_regs(bpf_get_current_task_btf());
	return exec_failed(ctx->ret, (const char *)PT_REGS_PARM1_SYSCALL(regs),
			   (const char *const *)PT_REGS_PARM2_SYSCALL(regs));
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int gadget_execveat_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret >= 0)
		return 0; /* sched_process_exec has reported it */
	struct pt_regs *regs = gadget_syscall_regs(bpf_get_current_task_btf());
	return exec_failed(ctx->ret, (const char *)PT_REGS_PARM2_SYSCALL(regs),
			   (const char *const *)PT_REGS_PARM3_SYSCALL(regs));
}
