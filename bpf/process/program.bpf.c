// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* process: every process (or, with threads set, every thread) on the host
 * at one moment, from a task iterator.
 *
 * iter/task visits every task of the host's pid namespace once; the
 * iterator runs in the agent, which lives there. Each record is written
 * whole with bpf_seq_write: the snapshot's records are the iterator's
 * output, read once. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* true: one record per thread; false: one per process (its leader). */
const volatile bool gadget_process_threads = false;
GADGET_PARAM(gadget_process_threads);

struct process_entry {
	gadget_timestamp timestamp; /* when the iterator read the task */
	struct gadget_process proc;
	gadget_timestamp start_time;
	__u32 threads; /* threads of the process */
	__u32 __pad;
};

GADGET_SNAPSHOT(processes, process_entry, snapshot_processes);

SEC("iter/task")
int snapshot_processes(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct process_entry entry = {};

	if (!task)
		return 0;
	if (!gadget_process_threads && task->tgid != task->pid)
		return 0;
	if (gadget_filter_pid && task->tgid != gadget_filter_pid)
		return 0;

	const struct cred *cred = task->cred;
	__u32 uid = cred ? cred->uid.val : 0;
	if (gadget_filters_uid() && uid != gadget_filter_uid)
		return 0;

	__u64 mntns = task->nsproxy ? task->nsproxy->mnt_ns->ns.inum : 0;
	if (gadget_mntns_rejected(mntns))
		return 0;

	__builtin_memcpy(entry.proc.comm, task->comm, sizeof(entry.proc.comm));
	if (gadget_comm_rejected(entry.proc.comm))
		return 0;

	entry.timestamp = bpf_ktime_get_boot_ns();
	entry.proc.pid = task->tgid;
	entry.proc.tid = task->pid;
	entry.proc.ppid = task->real_parent ? task->real_parent->tgid : 0;
	entry.proc.uid = uid;
	entry.proc.gid = cred ? cred->gid.val : 0;
	entry.proc.mntns_id = mntns;
	entry.proc.netns_id = task->nsproxy ? task->nsproxy->net_ns->ns.inum : 0;
	entry.start_time = gadget_process_threads ? task->start_boottime : task->group_leader->start_boottime;
	entry.threads = task->signal ? task->signal->nr_threads : 0;

	bpf_seq_write(seq, &entry, sizeof(entry));
	return 0;
}
