/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every gadget program shares: the event ring with its lost-record
 * counter, the process filters set before load, the mount namespace
 * selection map, and the helper that fills struct gadget_process.
 * Include after vmlinux.h and the libbpf headers. */
#ifndef GADGET_COMMON_H
#define GADGET_COMMON_H

#include "types.h"
#include "macros.h"

/* Filters, written by the agent into .rodata before load: the verifier
 * then prunes every branch of a disabled filter. */
const volatile __u32 gadget_filter_pid = 0;          /* 0: any process */
const volatile __u32 gadget_filter_uid = 0xffffffff; /* ~0: any user */
const volatile char gadget_filter_comm[GADGET_COMM_LEN] = {};
const volatile bool gadget_filter_by_mntns = false;
/* Several processes: their thread group ids are the keys of
 * gadget_pid_filter. One process uses gadget_filter_pid (no map lookup). */
const volatile bool gadget_filter_by_pids = false;

#define GADGET_MAX_PIDS 1024
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GADGET_MAX_PIDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u8);
} gadget_pid_filter SEC(".maps");

/* Reader wake-up policy: the record that brings the waiting data to this
 * many bytes wakes the reader, the others do not; the reader also drains
 * on a short timer. One wake-up per batch instead of per record is what
 * keeps the reader ahead of a storm. 0 keeps libbpf's default (wake when
 * idle). */
const volatile __u64 gadget_wakeup_bytes = 0;

/* The container selection, by mount namespace, kept current by the agent:
 * 1 selected, 0 known and not selected. A namespace not in the map yet
 * (a container that has just started) passes to the agent, which holds its
 * events until it knows the container: its first process is neither lost
 * nor mislabelled. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} gadget_mntns_filter SEC(".maps");

/* The ring every built-in tracer writes into, and its per-CPU count of
 * records that did not fit. Its size is the gadget's own: what the reader
 * may fall behind by at the gadget's rate before records are lost. The
 * reader maps the ring twice, so an idle trace costs the agent about twice
 * this much resident memory. A program sets GADGET_RING_SIZE before it
 * includes this header; the agent takes the size the object declares
 * (rounded up to a power of two of pages, at most 8 MiB). */
#ifndef GADGET_RING_SIZE
#define GADGET_RING_SIZE (1 << 20)
#endif
GADGET_TRACER_MAP(events, GADGET_RING_SIZE);

static __always_inline __u64 gadget_task_mntns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

static __always_inline __u64 gadget_task_netns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

/* A task's mount namespace through its BTF pointer (bpf_get_current_task_btf):
 * the verifier turns the chain into fault-safe direct loads, several times
 * cheaper than a bpf_probe_read_kernel call for each link. */
static __always_inline __u64 gadget_btf_task_mntns(struct task_struct *task)
{
	return task->nsproxy->mnt_ns->ns.inum;
}

/* The name of a task's process: its thread group leader's comm. A thread
 * may rename itself (a resolver's worker "isc-net-0000", a JVM's "C2
 * CompilerThre"), but what a user knows, sees in ps and gives to -Comm is
 * the process's name; the kernel's own per-thread name (what
 * bpf_get_current_comm returns) would make -Comm miss every worker thread. */
static __always_inline void gadget_task_process_comm(struct task_struct *task, char *comm)
{
	/* Zero-padded, as bpf_get_current_comm gives it: a name is part of the
	 * key of a top's map, where bytes after its NUL would split one row. */
	__builtin_memset(comm, 0, GADGET_COMM_LEN);
	BPF_CORE_READ_STR_INTO((char(*)[GADGET_COMM_LEN])comm, task, group_leader, comm);
}

/* The same through the current task's BTF pointer: a direct load of the
 * leader, one copy of its name. */
static __always_inline void gadget_btf_task_process_comm(struct task_struct *task, char *comm)
{
	__builtin_memset(comm, 0, GADGET_COMM_LEN);
	bpf_probe_read_kernel_str(comm, GADGET_COMM_LEN, task->group_leader->comm);
}

/* Whether a user or a name filter is set: what the filters read and what
 * gadget_current_fill reads afterwards both follow from these. */
static __always_inline bool gadget_filters_uid(void)
{
	return gadget_filter_uid != 0xffffffff;
}

static __always_inline bool gadget_filters_comm(void)
{
	return gadget_filter_comm[0] != 0;
}

/* Each filter on its own, so a program can apply it as soon as it has read
 * what the filter needs; a disabled filter is pruned by the verifier. */
static __always_inline bool gadget_pid_rejected(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;
	if (gadget_filter_pid)
		return tgid != gadget_filter_pid;
	if (gadget_filter_by_pids)
		return !bpf_map_lookup_elem(&gadget_pid_filter, &tgid);
	return false;
}

/* Whether any process filter is set. */
static __always_inline bool gadget_filters_process(void)
{
	return gadget_filter_pid || gadget_filter_by_pids || gadget_filter_uid != 0xffffffff || gadget_filter_comm[0] ||
	       gadget_filter_by_mntns;
}

static __always_inline bool gadget_uid_rejected(__u64 uid_gid)
{
	return gadget_filters_uid() && (__u32)uid_gid != gadget_filter_uid;
}

static __always_inline bool gadget_mntns_rejected(__u64 mntns_id)
{
	if (!gadget_filter_by_mntns)
		return false;
	__u8 *selected = bpf_map_lookup_elem(&gadget_mntns_filter, &mntns_id);
	return selected && !*selected;
}

static __always_inline bool gadget_comm_rejected(const char *comm)
{
	if (!gadget_filters_comm())
		return false;
	for (int i = 0; i < GADGET_COMM_LEN; i++) {
		if (comm[i] != gadget_filter_comm[i])
			return true;
		if (!comm[i])
			break;
	}
	return false;
}

/* True when a process, as already read, is filtered out. Cheapest checks first. */
static __always_inline bool gadget_should_discard(__u64 pid_tgid, __u64 uid_gid, __u64 mntns_id,
						  const char *comm)
{
	return gadget_pid_rejected(pid_tgid) || gadget_uid_rejected(uid_gid) || gadget_mntns_rejected(mntns_id) ||
	       gadget_comm_rejected(comm);
}

/* The thread's own name in thread_comm when it is not the process's: zero
 * otherwise. Two 8-byte compares; the kernel keeps comm NUL-padded. */
static __always_inline void gadget_thread_comm_keep(struct gadget_process *proc)
{
	__u64 *thread = (__u64 *)proc->thread_comm;
	const __u64 *process = (const __u64 *)proc->comm;

	if (thread[0] == process[0] && thread[1] == process[1]) {
		thread[0] = 0;
		thread[1] = 0;
	}
}

static __always_inline void gadget_process_fill(struct gadget_process *proc, struct task_struct *task,
						__u64 pid_tgid, __u64 uid_gid)
{
	proc->pid = pid_tgid >> 32;
	proc->tid = (__u32)pid_tgid;
	proc->uid = (__u32)uid_gid;
	proc->gid = uid_gid >> 32;
	proc->ppid = BPF_CORE_READ(task, real_parent, tgid);
	proc->mntns_id = gadget_task_mntns(task);
	proc->netns_id = gadget_task_netns(task);
	gadget_task_process_comm(task, proc->comm);
	__builtin_memset(proc->thread_comm, 0, sizeof(proc->thread_comm));
	BPF_CORE_READ_STR_INTO(&proc->thread_comm, task, comm);
	gadget_thread_comm_keep(proc);
}

/* The current task as the filters read it. uid_gid and comm are read here
 * only when a filter needs them (gadget_current_fill reads them otherwise),
 * so a gadget's own filters, applied between the two, reject an event
 * before it pays for them. */
struct gadget_current {
	__u64 pid_tgid;
	__u64 uid_gid;
	struct task_struct *task;
	char comm[GADGET_COMM_LEN];
};

/* Reads the current task into cur; true when the filters select it. Each
 * filter runs as soon as its input is read: in a trace armed with a pid
 * filter, every other process costs one helper call (about half of the
 * program's run time when it read everything first). */
static __always_inline bool gadget_current_selected(struct gadget_current *cur)
{
	cur->pid_tgid = bpf_get_current_pid_tgid();
	if (gadget_pid_rejected(cur->pid_tgid))
		return false;
	if (gadget_filters_uid()) {
		cur->uid_gid = bpf_get_current_uid_gid();
		if (gadget_uid_rejected(cur->uid_gid))
			return false;
	}
	/* The BTF pointer: direct loads for the namespace filter and the record. */
	cur->task = bpf_get_current_task_btf();
	/* Only a container selection needs the mount namespace: behind the
	 * constant, the verifier prunes the reads from every other trace. */
	if (gadget_filter_by_mntns && gadget_mntns_rejected(gadget_btf_task_mntns(cur->task)))
		return false;
	if (gadget_filters_comm()) {
		gadget_btf_task_process_comm(cur->task, cur->comm);
		if (gadget_comm_rejected(cur->comm))
			return false;
	}
	return true;
}

/* A record's process fields for the task gadget_current_selected chose:
 * what the filters did not read is read now, and the parent and namespaces
 * through the task's BTF pointer (direct loads, where gadget_process_fill
 * needs a probe read for each link). */
static __always_inline void gadget_current_fill(struct gadget_process *proc, const struct gadget_current *cur)
{
	struct task_struct *task = cur->task;
	__u64 uid_gid = gadget_filters_uid() ? cur->uid_gid : bpf_get_current_uid_gid();

	proc->pid = cur->pid_tgid >> 32;
	proc->tid = (__u32)cur->pid_tgid;
	proc->uid = (__u32)uid_gid;
	proc->gid = uid_gid >> 32;
	proc->ppid = task->real_parent->tgid;
	proc->mntns_id = task->nsproxy->mnt_ns->ns.inum;
	proc->netns_id = task->nsproxy->net_ns->ns.inum;
	if (gadget_filters_comm())
		__builtin_memcpy(proc->comm, cur->comm, sizeof(proc->comm));
	else
		gadget_btf_task_process_comm(task, proc->comm);
	/* The current thread's comm through the BTF pointer: two direct loads,
	 * no helper call. */
	__builtin_memcpy(proc->thread_comm, task->comm, sizeof(proc->thread_comm));
	gadget_thread_comm_keep(proc);
}

/* The registers the current task entered its syscall with. The kernel
 * keeps them as they were until the syscall returns (a successful execve
 * is the one syscall that replaces them), so a sys_exit program reads its
 * syscall's arguments there and needs no entry program to remember them. */
static __always_inline struct pt_regs *gadget_syscall_regs(struct task_struct *task)
{
	return (struct pt_regs *)bpf_task_pt_regs(task);
}

static __always_inline void gadget_count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&events_lost_samples, &zero);
	if (lost)
		*lost += 1;
}

/* Wakes the reader only when this record crosses the threshold. While the
 * reader is behind the data stays above it, and waking it again for every
 * record would cost the traced task an interrupt per record (an IPI, a VM
 * exit under a hypervisor) without making the reader any faster. */
static __always_inline __u64 gadget_wakeup_flags(__u64 size)
{
	if (!gadget_wakeup_bytes)
		return 0;
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	return waiting < gadget_wakeup_bytes && waiting + size >= gadget_wakeup_bytes
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

/* Copies a record of `size` bytes into the ring, counting it as lost when
 * the ring is full. The traced task never waits for the reader. */
static __always_inline void gadget_output(void *record, __u64 size)
{
	if (bpf_ringbuf_output(&events, record, size, gadget_wakeup_flags(size)))
		gadget_count_lost();
}

#endif
