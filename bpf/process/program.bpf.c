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
	if (gadget_pid_rejected((__u64)task->tgid << 32))
		return 0;

	/* Fields are read with BPF_CORE_READ rather than through the task's BTF
	 * pointer: the verifier checks each pointer loaded that way against
	 * every type of the kernel's BTF, which made loading this program take
	 * most of a snapshot's time. An iterator runs once; reads cost nothing. */
	__u32 uid = BPF_CORE_READ(task, cred, uid.val);
	if (gadget_filters_uid() && uid != gadget_filter_uid)
		return 0;

	__u64 mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	if (gadget_mntns_rejected(mntns))
		return 0;

	BPF_CORE_READ_INTO(&entry.proc.comm, task, comm);
	if (gadget_comm_rejected(entry.proc.comm))
		return 0;

	entry.timestamp = bpf_ktime_get_boot_ns();
	entry.proc.pid = task->tgid;
	entry.proc.tid = task->pid;
	entry.proc.ppid = BPF_CORE_READ(task, real_parent, tgid);
	entry.proc.uid = uid;
	entry.proc.gid = BPF_CORE_READ(task, cred, gid.val);
	entry.proc.mntns_id = mntns;
	entry.proc.netns_id = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	entry.start_time = gadget_process_threads ? task->start_boottime : BPF_CORE_READ(task, group_leader, start_boottime);
	entry.threads = BPF_CORE_READ(task, signal, nr_threads);

	bpf_seq_write(seq, &entry, sizeof(entry));
	return 0;
}
