// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* open: every open, openat, openat2 and creat.
 *
 * Opens have no non-syscall tracepoint, so the syscall tracepoints are
 * used, and only their exits: the kernel saved the caller's registers when
 * the syscall began and leaves them as they were until it returns, so the
 * exit reads the arguments there (gadget_syscall_regs). An exit alone applies
 * every filter, reads the path and resolves the directory of a relative
 * path. With no entry programs there is no per-open state to hand from
 * entry to exit and one program run per open instead of two; per call
 * (bpf_stats) the entry with its task-local storage cost 94-450 ns,
 * depending on the filter, and the exit's storage lookup 45 ns. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
/* An open storm (hundreds of thousands a second, each record up to 4 KiB
 * of path) must outlast the reader's scheduling delays on a busy host: the
 * benchmark's storm runs lossless with 8 MiB, as large as the flood's. */
#define GADGET_RING_SIZE (8 << 20)
#include <gadget/common.h>
#include <gadget/path.h>
#include "open.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

GADGET_TRACER(open, events, open_event);

#define AT_FDCWD -100
#define O_ACCMODE 3
#define O_WRONLY 1
#define O_CREAT 0100
#define O_TRUNC 01000

/* Filters set before load. */
const volatile bool gadget_open_failed_only = false;
GADGET_PARAM(gadget_open_failed_only);
/* Bit (1 << (flags & O_ACCMODE)) must be set; 0 accepts every access mode. */
const volatile __u32 gadget_open_accmode_mask = 0;
/* An absolute path the path as passed must equal (or start with, for a
 * wildcard pattern's literal prefix). Relative paths pass to the agent,
 * which compares them once resolved. */
const volatile char gadget_open_path[OPEN_PATH_SIZE] = {};
const volatile bool gadget_open_path_is_prefix = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_event);
} open_scratch SEC(".maps");

/* True when the path as passed, of which size bytes are at hand, fails the
 * path filter; false when it passes or those bytes cannot tell. */
static __always_inline bool open_path_mismatch(const char *path, int size)
{
	if (!gadget_open_path[0] || path[0] != '/')
		return false;
	for (int i = 0; i < size; i++) {
		char want = gadget_open_path[i];
		if (!want)
			return gadget_open_path_is_prefix ? false : path[i] != 0;
		if (path[i] != want)
			return true;
	}
	return false;
}

/* The path filter's first test, on the path's first bytes read as one
 * block: the paths a filter rejects mostly differ from it there, and a
 * fixed-size read into the stack is much cheaper than a string read into
 * the record (pinned open+close, a -Path matching nothing, above an empty
 * program: about 30 ns against 110). A read that fails (a short string at
 * the end of a page) decides nothing. */
#define OPEN_PATH_PREFIX_SIZE 16
static __always_inline bool open_path_prefix_mismatch(const char *path)
{
	char prefix[OPEN_PATH_PREFIX_SIZE];
	if (!gadget_open_path[0] || bpf_probe_read_user(prefix, sizeof(prefix), path))
		return false;
	return open_path_mismatch(prefix, sizeof(prefix));
}

/* The directory a relative path resolves against: the cwd, or dirfd's file. */
static __always_inline bool open_dir_of(struct task_struct *task, int dirfd, struct path *dir)
{
	if (dirfd == AT_FDCWD) {
		BPF_CORE_READ_INTO(dir, task, fs, pwd);
		return true;
	}
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
	if (dirfd < 0 || (unsigned int)dirfd >= max_fds)
		return false;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[dirfd]) || !file)
		return false;
	BPF_CORE_READ_INTO(dir, file, f_path);
	return true;
}

enum open_syscall { OPEN_OPEN, OPEN_CREAT, OPEN_OPENAT, OPEN_OPENAT2 };

struct open_args {
	int dirfd;
	const char *path;
	__u32 open_flags;
	__u32 mode;
};

/* The arguments the task passed to its open, from the registers it entered
 * the syscall with; syscall is a constant in each program, so only its case
 * is compiled there. */
static __always_inline void open_args_of(enum open_syscall syscall, struct task_struct *task, struct open_args *args)
{
	struct pt_regs *regs = gadget_syscall_regs(task);
	struct open_how how = {};

	switch (syscall) {
	case OPEN_OPEN:
		*args = (struct open_args){ AT_FDCWD, (const char *)PT_REGS_PARM1_SYSCALL(regs),
					    (__u32)PT_REGS_PARM2_SYSCALL(regs), (__u32)PT_REGS_PARM3_SYSCALL(regs) };
		break;
	case OPEN_CREAT:
		*args = (struct open_args){ AT_FDCWD, (const char *)PT_REGS_PARM1_SYSCALL(regs), O_CREAT | O_WRONLY | O_TRUNC,
					    (__u32)PT_REGS_PARM2_SYSCALL(regs) };
		break;
	case OPEN_OPENAT:
		*args = (struct open_args){ (int)PT_REGS_PARM1_SYSCALL(regs), (const char *)PT_REGS_PARM2_SYSCALL(regs),
					    (__u32)PT_REGS_PARM3_SYSCALL(regs), (__u32)PT_REGS_PARM4_SYSCALL(regs) };
		break;
	case OPEN_OPENAT2:
		bpf_probe_read_user(&how, sizeof(how), (void *)PT_REGS_PARM3_SYSCALL(regs));
		*args = (struct open_args){ (int)PT_REGS_PARM1_SYSCALL(regs), (const char *)PT_REGS_PARM2_SYSCALL(regs),
					    (__u32)how.flags, (__u32)how.mode };
		break;
	}
}

/* One open as it returns: the cheapest filters first, the arguments once
 * the process is selected, the path (a read of user memory, most of a
 * rejected open's price) only when the rest pass: its first bytes, then
 * all of it. */
static __always_inline int open_exit(long ret, enum open_syscall syscall)
{
	__u32 zero = 0;
	struct gadget_current cur;
	struct open_args args;

	if (gadget_open_failed_only && ret >= 0)
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;
	open_args_of(syscall, cur.task, &args);
	if (gadget_open_accmode_mask && !(gadget_open_accmode_mask & (1u << (args.open_flags & O_ACCMODE))))
		return 0;
	if (open_path_prefix_mismatch(args.path))
		return 0;

	struct open_event *event = bpf_map_lookup_elem(&open_scratch, &zero);
	if (!event)
		return 0;

	event->path_truncated = false;
	event->__dir_flags = 0;
	event->__pad = 0;
	long n = bpf_probe_read_user_str(event->path, sizeof(event->path), args.path);
	if (n <= 0)
		event->path[0] = 0;
	else if (n == sizeof(event->path))
		event->path_truncated = true;
	if (open_path_mismatch(event->path, sizeof(event->path)))
		return 0;

	event->timestamp = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event->proc, &cur);
	event->error = ret < 0 ? -ret : 0;
	event->fd = ret < 0 ? -1 : ret;
	event->flags = args.open_flags;
	event->mode = args.mode;
	event->__dir_size = 0;

	struct path dir;
	if (event->path[0] != '/' && open_dir_of(cur.task, args.dirfd, &dir)) {
		bool truncated = false;
		event->__dir_size = gadget_read_path(&dir, cur.task, event->__dir, &truncated);
		event->__dir_flags = OPEN_DIR_RESOLVED | (truncated ? OPEN_DIR_TRUNCATED : 0);
	}

	__u64 size = event->__dir_size;
	if (size > OPEN_DIR_SIZE)
		size = OPEN_DIR_SIZE;
	gadget_output(event, offsetof(struct open_event, __dir) + size);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_open")
int gadget_open_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, OPEN_OPEN);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int gadget_creat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, OPEN_CREAT);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int gadget_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, OPEN_OPENAT);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int gadget_openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, OPEN_OPENAT2);
}
