// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* open: every open, openat, openat2 and creat.
 *
 * Opens have no non-syscall tracepoint, so the syscall tracepoints are
 * used. Entry applies the process, access and path filters and keeps only
 * what the exit needs (a few words); the exit applies the result filter,
 * reads the path and resolves the directory of a relative path. An open
 * the entry filters out costs no map work.
 *
 * Entry hands its arguments to exit in task-local storage rather than a
 * hash keyed by thread id: no bucket lock, no allocation after a task's
 * first open, and the storage goes away with the task. Under an open storm
 * (bpf_stats, per call) a hash update and lookup-delete cost about 270 ns
 * each; the task storage get about 70 ns at entry and 45 ns at exit. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "include/gadget/common.h"
#include "include/gadget/path.h"
#include "open.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AT_FDCWD -100
#define O_ACCMODE 3
#define O_WRONLY 1
#define O_CREAT 0100
#define O_TRUNC 01000

/* Filters set before load. */
const volatile bool gadget_open_failed_only = false;
/* Bit (1 << (flags & O_ACCMODE)) must be set; 0 accepts every access mode. */
const volatile __u32 gadget_open_accmode_mask = 0;
/* An absolute path the path as passed must equal (or start with, for a
 * wildcard pattern's literal prefix). Relative paths pass to the agent,
 * which compares them once resolved. */
const volatile char gadget_open_path[OPEN_PATH_SIZE] = {};
const volatile bool gadget_open_path_is_prefix = false;

struct open_args {
	const char *path;
	__u32 open_flags;
	__u32 mode;
	__s32 dirfd;
	__u32 in_flight; /* set by entry, cleared by exit */
};

/* The open a task is inside, if any. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct open_args);
} open_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_event);
} open_scratch SEC(".maps");

/* True when the path as passed fails the path filter. */
static __always_inline bool open_path_mismatch(const char *path)
{
	if (!gadget_open_path[0] || path[0] != '/')
		return false;
	for (int i = 0; i < OPEN_PATH_SIZE; i++) {
		char want = gadget_open_path[i];
		if (!want)
			return gadget_open_path_is_prefix ? false : path[i] != 0;
		if (path[i] != want)
			return true;
	}
	return false;
}

/* The path filter, tried at entry: an open it rejects then costs no map
 * work at all, which is most of a filtered-out open's price. The path is
 * read from user memory that may not be paged in yet; when it cannot be
 * read, the exit decides, once the kernel has copied it. */
static __always_inline bool open_path_rejected_early(const char *path)
{
	__u32 zero = 0;

	if (!gadget_open_path[0])
		return false;
	struct open_event *scratch = bpf_map_lookup_elem(&open_scratch, &zero);
	if (!scratch || bpf_probe_read_user_str(scratch->path, sizeof(scratch->path), path) <= 0)
		return false;
	return open_path_mismatch(scratch->path);
}

static __always_inline int open_enter(int dirfd, const char *path, __u32 open_flags, __u32 mode)
{
	struct gadget_current cur;

	if (gadget_open_accmode_mask && !(gadget_open_accmode_mask & (1u << (open_flags & O_ACCMODE))))
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;

	if (open_path_rejected_early(path))
		return 0;

	struct open_args *args = bpf_task_storage_get(&open_pending, cur.task, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!args) {
		gadget_count_lost(); /* no memory for the task's storage: this open goes unreported */
		return 0;
	}
	args->path = path;
	args->open_flags = open_flags;
	args->mode = mode;
	args->dirfd = dirfd;
	args->in_flight = 1;
	return 0;
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

static __always_inline int open_exit(long ret)
{
	__u32 zero = 0;

	struct task_struct *task = bpf_get_current_task_btf();
	struct open_args *args = bpf_task_storage_get(&open_pending, task, NULL, 0);
	if (!args || !args->in_flight)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (gadget_open_failed_only && ret >= 0)
		goto done;

	struct open_event *event = bpf_map_lookup_elem(&open_scratch, &zero);
	if (!event)
		goto done;

	event->flags = 0;
	long n = bpf_probe_read_user_str(event->path, sizeof(event->path), args->path);
	if (n <= 0)
		event->path[0] = 0;
	else if (n == sizeof(event->path))
		event->flags |= OPEN_PATH_TRUNCATED;
	if (open_path_mismatch(event->path))
		goto done;

	event->timestamp_ns = bpf_ktime_get_boot_ns();
	gadget_process_fill(&event->proc, task, pid_tgid, bpf_get_current_uid_gid());
	bpf_get_current_comm(event->proc.comm, sizeof(event->proc.comm));
	event->error = ret < 0 ? -ret : 0;
	event->fd = ret < 0 ? -1 : ret;
	event->open_flags = args->open_flags;
	event->mode = args->mode;
	event->dir_size = 0;

	struct path dir;
	if (event->path[0] != '/' && open_dir_of(task, args->dirfd, &dir)) {
		bool truncated = false;
		event->dir_size = gadget_read_path(&dir, task, event->dir, &truncated);
		event->flags |= OPEN_DIR_RESOLVED | (truncated ? OPEN_DIR_TRUNCATED : 0);
	}

	__u64 size = event->dir_size;
	if (size > OPEN_DIR_SIZE)
		size = OPEN_DIR_SIZE;
	gadget_output(event, offsetof(struct open_event, dir) + size);
done:
	args->in_flight = 0;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int gadget_open_enter(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(AT_FDCWD, (const char *)ctx->args[0], (__u32)ctx->args[1], (__u32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int gadget_creat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(AT_FDCWD, (const char *)ctx->args[0], O_CREAT | O_WRONLY | O_TRUNC, (__u32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int gadget_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter((int)ctx->args[0], (const char *)ctx->args[1], (__u32)ctx->args[2], (__u32)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int gadget_openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return open_enter((int)ctx->args[0], (const char *)ctx->args[1], (__u32)how.flags, (__u32)how.mode);
}

SEC("tracepoint/syscalls/sys_exit_open")
int gadget_open_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int gadget_creat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int gadget_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int gadget_openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}
