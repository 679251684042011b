// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* top_file: reads and writes per process and file, counted in the kernel.
 *
 * The exits of read, write, pread64, pwrite64, readv and writev give the
 * bytes moved; the file is the one the calling task's fd table holds for
 * the descriptor the call was made with (read from the saved registers).
 * A file is known by its inode and device; its path is read once, when a
 * window first sees it (the agent joins its components). These are
 * syscall tracepoints: while the top runs, every read and write on the
 * host pays for them. The host reads and empties the counts every
 * interval. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <gadget/common.h>
#include <gadget/top.h>
#include <gadget/path.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TOPFILE_S_IFMT 00170000
#define TOPFILE_S_IFREG 0100000
#define TOPFILE_S_IFSOCK 0140000
#define TOPFILE_PATH_TRUNCATED 1

/* What kind of file a row counts. */
enum topfile_type {
	REGULAR = 0,
	SOCKET = 1,
	OTHER = 2,
};

/* What is counted apart: a process on a file. */
struct topfile_key {
	gadget_mntns_id mntns_id;
	gadget_pid pid;
	gadget_uid uid;
	gadget_gid gid;
	__u32 dev;
	__u64 inode;
	gadget_comm comm[GADGET_COMM_LEN];
};

/* What is counted, and the file's path as the first call of the window found it. */
struct topfile_value {
	__u64 reads;
	__u64 writes;
	gadget_bytes read_bytes;
	gadget_bytes write_bytes;
	enum topfile_type type;
	__u16 __path_size;
	__u8 __path_flags;
	__u8 __pad;
	char __path[GADGET_PATH_SIZE]; /* components, innermost first, NUL-separated */
};

GADGET_TOP_MAP(topfile_counts, struct topfile_key, struct topfile_value, 10240);
GADGET_MAPITER(file, topfile_counts);

/* Count every kind of file (sockets, pipes, devices), not only regular files. */
const volatile bool gadget_topfile_all_files = false;
GADGET_PARAM(gadget_topfile_all_files);

/* The first value of a key new in its window: too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct topfile_value);
} topfile_initial SEC(".maps");

/* The file a task's descriptor stands for, or NULL. */
static __always_inline struct file *topfile_file(struct task_struct *task, unsigned int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

static __always_inline int topfile_count(long ret, bool write)
{
	struct gadget_current cur;
	struct topfile_key key = {};
	__u32 zero = 0;

	if (ret < 0)
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;

	struct pt_regs *regs = gadget_syscall_regs(cur.task);
	unsigned int fd = (unsigned int)PT_REGS_PARM1_SYSCALL(regs);
	struct file *file = topfile_file(cur.task, fd);
	if (!file)
		return 0;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	__u32 mode = BPF_CORE_READ(inode, i_mode) & TOPFILE_S_IFMT;
	enum topfile_type type = mode == TOPFILE_S_IFREG ? REGULAR : mode == TOPFILE_S_IFSOCK ? SOCKET : OTHER;
	if (!gadget_topfile_all_files && type != REGULAR)
		return 0;

	struct gadget_process proc;
	gadget_current_fill(&proc, &cur);
	key.mntns_id = proc.mntns_id;
	key.pid = proc.pid;
	key.uid = proc.uid;
	key.gid = proc.gid;
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.inode = BPF_CORE_READ(inode, i_ino);
	__builtin_memcpy(key.comm, proc.comm, sizeof(key.comm));

	struct topfile_value *value = bpf_map_lookup_elem(&topfile_counts, &key);
	if (!value) {
		/* New in this window: read its path once. */
		struct topfile_value *initial = bpf_map_lookup_elem(&topfile_initial, &zero);
		if (!initial)
			return 0;
		initial->reads = 0;
		initial->writes = 0;
		initial->read_bytes = 0;
		initial->write_bytes = 0;
		initial->type = type;
		initial->__pad = 0;
		bool truncated = false;
		initial->__path_size = gadget_read_path((struct path *)&file->f_path, cur.task, initial->__path, &truncated);
		initial->__path_flags = truncated ? TOPFILE_PATH_TRUNCATED : 0;
		value = gadget_top_entry(topfile_counts, &key, initial);
		if (!value)
			return 0;
	}

	if (write) {
		__sync_fetch_and_add(&value->writes, 1);
		__sync_fetch_and_add(&value->write_bytes, ret);
	} else {
		__sync_fetch_and_add(&value->reads, 1);
		__sync_fetch_and_add(&value->read_bytes, ret);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int gadget_topfile_read(struct trace_event_raw_sys_exit *ctx)
{
	return topfile_count(ctx->ret, false);
}

SEC("tracepoint/syscalls/sys_exit_pread64")
int gadget_topfile_pread(struct trace_event_raw_sys_exit *ctx)
{
	return topfile_count(ctx->ret, false);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int gadget_topfile_readv(struct trace_event_raw_sys_exit *ctx)
{
	return topfile_count(ctx->ret, false);
}

SEC("tracepoint/syscalls/sys_exit_write")
int gadget_topfile_write(struct trace_event_raw_sys_exit *ctx)
{
	return topfile_count(ctx->ret, true);
}

SEC("tracepoint/syscalls/sys_exit_pwrite64")
int gadget_topfile_pwrite(struct trace_event_raw_sys_exit *ctx)
{
	return topfile_count(ctx->ret, true);
}

SEC("tracepoint/syscalls/sys_exit_writev")
int gadget_topfile_writev(struct trace_event_raw_sys_exit *ctx)
{
	return topfile_count(ctx->ret, true);
}
