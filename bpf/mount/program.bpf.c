// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mount: every mount and umount, as the call returns.
 *
 * Mounts have no tracepoint of their own, so the syscall exits of mount and
 * umount2 are used, reading the arguments from the registers the call
 * entered with (see gadget_syscall_regs): one program run per call, no state
 * between entry and exit. The newer calls (fsopen, fsmount, move_mount) are
 * not traced. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
/* Rare events (a bind, a mount, an OOM kill): 512 KiB holds thousands. */
#define GADGET_RING_SIZE (512 << 10)
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MOUNT_NAME_SIZE 256
#define MOUNT_TYPE_SIZE 32
#define MOUNT_DATA_SIZE 256

/* Old callers put this magic number in the flags' upper half; the kernel drops it. */
#define MS_MGC_MSK 0xffff0000u
#define MS_MGC_VAL 0xc0ed0000u

enum mount_call {
	MOUNT_CALL_MOUNT = 0,
	MOUNT_CALL_UMOUNT = 1,
};

/* mount(2)'s MS_* flags. */
enum mount_ms_flags {
	MOUNT_NONE = 0,
	MOUNT_READ_ONLY = 1,
	MOUNT_NO_SUID = 2,
	MOUNT_NO_DEV = 4,
	MOUNT_NO_EXEC = 8,
	MOUNT_SYNCHRONOUS = 16,
	MOUNT_REMOUNT = 32,
	MOUNT_MANDATORY_LOCK = 64,
	MOUNT_DIR_SYNC = 128,
	MOUNT_NO_SYMFOLLOW = 256,
	MOUNT_NO_ATIME = 1024,
	MOUNT_NO_DIR_ATIME = 2048,
	MOUNT_BIND = 4096,
	MOUNT_MOVE = 8192,
	MOUNT_RECURSIVE = 16384,
	MOUNT_SILENT = 32768,
	MOUNT_POSIX_ACL = 1 << 16,
	MOUNT_UNBINDABLE = 1 << 17,
	MOUNT_PRIVATE = 1 << 18,
	MOUNT_SLAVE = 1 << 19,
	MOUNT_SHARED = 1 << 20,
	MOUNT_REL_ATIME = 1 << 21,
	MOUNT_KERN_MOUNT = 1 << 22,
	MOUNT_I_VERSION = 1 << 23,
	MOUNT_STRICT_ATIME = 1 << 24,
	MOUNT_LAZY_TIME = 1 << 25,
};

/* umount2(2)'s flags. */
enum mount_umount_flags {
	UMOUNT_NONE = 0,
	UMOUNT_FORCE = 1,    /* MNT_FORCE */
	UMOUNT_DETACH = 2,   /* MNT_DETACH */
	UMOUNT_EXPIRE = 4,   /* MNT_EXPIRE */
	UMOUNT_NO_FOLLOW = 8, /* UMOUNT_NOFOLLOW */
};

struct mount_event {
	gadget_timestamp timestamp;
	struct gadget_process proc;
	gadget_errno error;
	enum mount_call call;
	enum mount_ms_flags flags;         /* a mount's */
	enum mount_umount_flags umount_flags; /* an umount's */
	char source[MOUNT_NAME_SIZE];   /* a mount's device or source directory */
	char target[MOUNT_NAME_SIZE];
	char fs_type[MOUNT_TYPE_SIZE];
	char data[MOUNT_DATA_SIZE];     /* a mount's options, as text */
};

GADGET_TRACER(mount, events, mount_event);

/* Only calls that failed. */
const volatile bool gadget_mount_failed_only = false;
GADGET_PARAM(gadget_mount_failed_only);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mount_event);
} mount_scratch SEC(".maps");

/* A user string into a field, empty when it cannot be read (a NULL source). */
static __always_inline void mount_read_string(char *field, __u32 size, const void *user)
{
	if (!user || bpf_probe_read_user_str(field, size, user) <= 0)
		field[0] = 0;
}

static __always_inline int mount_exit(long ret, enum mount_call call)
{
	__u32 zero = 0;
	struct gadget_current cur;

	if (gadget_mount_failed_only && ret >= 0)
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;
	struct mount_event *event = bpf_map_lookup_elem(&mount_scratch, &zero);
	if (!event)
		return 0;

	struct pt_regs *regs = gadget_syscall_regs(cur.task);
	event->call = call;
	if (call == MOUNT_CALL_MOUNT) {
		__u32 flags = (__u32)PT_REGS_PARM4_SYSCALL(regs);
		if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
			flags &= ~MS_MGC_MSK;
		event->flags = flags;
		event->umount_flags = 0;
		mount_read_string(event->source, sizeof(event->source), (void *)PT_REGS_PARM1_SYSCALL(regs));
		mount_read_string(event->target, sizeof(event->target), (void *)PT_REGS_PARM2_SYSCALL(regs));
		mount_read_string(event->fs_type, sizeof(event->fs_type), (void *)PT_REGS_PARM3_SYSCALL(regs));
		/* Options are text for most file systems; binary ones read as what they are. */
		mount_read_string(event->data, sizeof(event->data), (void *)PT_REGS_PARM5_SYSCALL(regs));
	} else {
		event->flags = 0;
		event->umount_flags = (__u32)PT_REGS_PARM2_SYSCALL(regs);
		event->source[0] = 0;
		event->fs_type[0] = 0;
		event->data[0] = 0;
		mount_read_string(event->target, sizeof(event->target), (void *)PT_REGS_PARM1_SYSCALL(regs));
	}

	event->timestamp = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event->proc, &cur);
	event->error = ret < 0 ? -ret : 0;
	gadget_output(event, sizeof(*event));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mount")
int gadget_mount_exit(struct trace_event_raw_sys_exit *ctx)
{
	return mount_exit(ctx->ret, MOUNT_CALL_MOUNT);
}

/* umount2(2): the kernel's tracepoint is named after umount. */
SEC("tracepoint/syscalls/sys_exit_umount")
int gadget_umount_exit(struct trace_event_raw_sys_exit *ctx)
{
	return mount_exit(ctx->ret, MOUNT_CALL_UMOUNT);
}
