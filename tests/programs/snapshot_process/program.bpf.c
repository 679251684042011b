// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* snapshot_process: every process at one moment, from a task iterator, as
 * Inspektor Gadget's snapshot_process lists them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct process_entry {
	struct gadget_process proc;
	gadget_timestamp start_time;
	__u32 threads;
	__u32 __pad;
};

/* A snapshot called processes: records of struct process_entry written by
 * the iterator program snapshot_tasks. */
GADGET_SNAPSHOT(processes, process_entry, snapshot_tasks);

SEC("iter/task")
int snapshot_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct process_entry entry = {};

	if (!task || task->tgid != task->pid)
		return 0; /* one record per process: its leader */

	__u64 mntns = task->nsproxy ? task->nsproxy->mnt_ns->ns.inum : 0;
	if (gadget_mntns_rejected(mntns))
		return 0;
	if (gadget_filter_pid && task->tgid != gadget_filter_pid)
		return 0;

	entry.proc.pid = task->tgid;
	entry.proc.tid = task->pid;
	entry.proc.ppid = task->real_parent ? task->real_parent->tgid : 0;
	entry.proc.uid = task->cred->uid.val;
	entry.proc.gid = task->cred->gid.val;
	entry.proc.mntns_id = mntns;
	entry.proc.netns_id = task->nsproxy ? task->nsproxy->net_ns->ns.inum : 0;
	__builtin_memcpy(entry.proc.comm, task->comm, sizeof(entry.proc.comm));
	entry.start_time = task->start_boottime;
	entry.threads = task->signal->nr_threads;

	bpf_seq_write(seq, &entry, sizeof(entry));
	return 0;
}
