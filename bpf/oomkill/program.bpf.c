// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* oomkill: every process the out-of-memory killer kills.
 *
 * oom:mark_victim fires when the killer has chosen its victim, in the
 * context of the task whose allocation ran out of memory: that task is the
 * trigger, and the victim comes as the tracepoint's task. The BTF form of
 * the tracepoint (tp_btf) gives the victim's task_struct itself, so the
 * event carries the victim's namespaces (its pod) and its memory as the
 * killer saw it. Not a syscall tracepoint, so nothing else pays for it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
/* Rare events (a bind, a mount, an OOM kill): 512 KiB holds thousands. */
#define GADGET_RING_SIZE (512 << 10)
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The page size of x86-64 and of arm64's usual 4 KiB configuration. */
#define OOMKILL_PAGE_SHIFT 12

struct oomkill_event {
	gadget_timestamp timestamp;
	struct gadget_process proc; /* the victim */
	gadget_bytes total_vm;      /* its virtual memory */
	gadget_bytes anon_rss;      /* resident anonymous memory */
	gadget_bytes file_rss;      /* resident file pages */
	gadget_bytes shmem_rss;     /* resident shared memory */
	gadget_bytes page_tables;
	__s16 oom_score_adj;
	__u16 __pad;
	__u32 trigger_pid;          /* the process whose allocation failed */
	__u32 trigger_tid;
	char trigger_comm[GADGET_COMM_LEN];
};

GADGET_TRACER(oomkill, events, oomkill_event);

static __always_inline __u64 oomkill_pages(struct mm_struct *mm, int member)
{
	/* What get_mm_counter reads: the counter's shared count, never negative. */
	s64 pages = BPF_CORE_READ(mm, rss_stat[member].count);
	return pages > 0 ? (__u64)pages << OOMKILL_PAGE_SHIFT : 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(gadget_oomkill_mark_victim, struct task_struct *victim, uid_t uid)
{
	struct oomkill_event event;
	__u64 pid_tgid = ((__u64)BPF_CORE_READ(victim, tgid) << 32) | (__u32)BPF_CORE_READ(victim, pid);
	__u64 uid_gid = ((__u64)BPF_CORE_READ(victim, cred, gid.val) << 32) | uid;
	__u64 mntns = gadget_task_mntns(victim);

	gadget_task_process_comm(victim, event.proc.comm);
	if (gadget_should_discard(pid_tgid, uid_gid, mntns, event.proc.comm))
		return 0;

	event.timestamp = bpf_ktime_get_boot_ns();
	gadget_process_fill(&event.proc, victim, pid_tgid, uid_gid);

	struct mm_struct *mm = BPF_CORE_READ(victim, mm);
	event.total_vm = mm ? BPF_CORE_READ(mm, total_vm) << OOMKILL_PAGE_SHIFT : 0;
	event.anon_rss = mm ? oomkill_pages(mm, MM_ANONPAGES) : 0;
	event.file_rss = mm ? oomkill_pages(mm, MM_FILEPAGES) : 0;
	event.shmem_rss = mm ? oomkill_pages(mm, MM_SHMEMPAGES) : 0;
	event.page_tables = mm ? BPF_CORE_READ(mm, pgtables_bytes.counter) : 0;
	event.oom_score_adj = BPF_CORE_READ(victim, signal, oom_score_adj);
	event.__pad = 0;

	__u64 trigger = bpf_get_current_pid_tgid();
	event.trigger_pid = trigger >> 32;
	event.trigger_tid = (__u32)trigger;
	gadget_task_process_comm((struct task_struct *)bpf_get_current_task(), event.trigger_comm);

	gadget_output(&event, sizeof(event));
	return 0;
}
