// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* exec: every process execution.
 *
 * Successful execs come from the sched_process_exec tracepoint, which
 * costs nothing outside execve and sees the new image's argv in its mm.
 * Failed execs exist only at the syscall boundary: the sys_enter/exit
 * execve(at) programs are loaded only when the caller asks for them,
 * because enabling any syscall tracepoint slows every syscall on the host. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "include/gadget/common.h"
#include "exec.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Scratch space: an exec_event is too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} exec_scratch SEC(".maps");

/* The execve a thread is inside, by thread id: what exit needs to report
 * it if it fails. Only the pointers are kept: a failed execve returns to
 * the image that passed them, still intact, so exit reads them; the execs
 * that succeed (nearly all) cost no argument reads here, sched_process_exec
 * reports them. LRU, so a thread that dies inside execve leaves nothing
 * behind. Not task storage as in open: nearly every exec runs in a task
 * just forked, and creating its storage costs more than a hash update. */
struct exec_args {
	const char *filename;
	const char *const *argv;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct exec_args);
} exec_pending SEC(".maps");

static __always_inline __u64 exec_record_size(const struct exec_event *event)
{
	__u64 size = event->args_size;
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

	event->timestamp_ns = bpf_ktime_get_boot_ns();
	gadget_process_fill(&event->proc, cur.task, cur.pid_tgid, cur.uid_gid);
	__builtin_memcpy(event->proc.comm, cur.comm, sizeof(cur.comm));
	event->error = 0;
	event->flags = 0;
	event->__pad = 0;

	unsigned int filename_loc = ctx->__data_loc_filename & 0xFFFF;
	bpf_probe_read_kernel_str(event->filename, sizeof(event->filename), (void *)ctx + filename_loc);

	/* The new image's argv sits between arg_start and arg_end. */
	struct task_struct *task = cur.task; /* a plain local: CO-RE relocates the whole expression */
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
	__u64 size = arg_end - arg_start;
	if (size > EXEC_ARGS_SIZE) {
		size = EXEC_ARGS_SIZE;
		event->flags |= EXEC_ARGS_TRUNCATED;
	}
	if (bpf_probe_read_user(event->args, size, (void *)arg_start))
		size = 0;
	event->args_size = size;

	gadget_output(event, exec_record_size(event));
	return 0;
}

/* Failed execs: remember the request at entry, report it at exit. */
static __always_inline int exec_enter(const char *filename, const char *const *argv)
{
	struct gadget_current cur;

	if (!gadget_current_selected(&cur))
		return 0;

	__u32 tid = (__u32)cur.pid_tgid;
	struct exec_args args = { .filename = filename, .argv = argv };
	bpf_map_update_elem(&exec_pending, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline int exec_exit(long ret)
{
	__u32 zero = 0;

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct exec_args *pending = bpf_map_lookup_elem(&exec_pending, &tid);
	if (!pending)
		return 0;
	struct exec_args args = *pending;
	bpf_map_delete_elem(&exec_pending, &tid);
	if (ret >= 0)
		return 0; /* sched_process_exec has reported it */

	struct exec_event *event = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!event)
		return 0;

	event->timestamp_ns = bpf_ktime_get_boot_ns();
	gadget_process_fill(&event->proc, bpf_get_current_task_btf(), pid_tgid, bpf_get_current_uid_gid());
	bpf_get_current_comm(event->proc.comm, sizeof(event->proc.comm));
	event->error = -ret;
	event->flags = 0;
	event->__pad = 0;
	event->args_size = 0;
	bpf_probe_read_user_str(event->filename, sizeof(event->filename), args.filename);

	const char *const *argv = args.argv;
	for (int i = 0; i < EXEC_MAX_ARGS; i++) {
		const char *arg = NULL;
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		__u32 offset = event->args_size;
		if (offset > EXEC_ARGS_SIZE - EXEC_ARG_CHUNK) {
			event->flags |= EXEC_ARGS_TRUNCATED;
			break;
		}
		long n = bpf_probe_read_user_str(&event->args[offset], EXEC_ARG_CHUNK, arg);
		if (n <= 0)
			break;
		if (n == EXEC_ARG_CHUNK && event->args[(offset + n - 1) & (EXEC_ARGS_SIZE - 1)] == 0)
			event->flags |= EXEC_ARGS_TRUNCATED; /* this argument was cut */
		event->args_size = offset + n;
	}

	gadget_output(event, exec_record_size(event));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int gadget_execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int gadget_execveat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int gadget_execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int gadget_execveat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}
