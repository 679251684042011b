/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by every gadget's event struct. The C# side mirrors them
 * (src/Gadget.Agent/Decoding), and a unit test compares both layouts
 * against the compiled object's BTF. */
#ifndef GADGET_TYPES_H
#define GADGET_TYPES_H

#define GADGET_COMM_LEN 16

/* Who caused the event: filled by gadget_current_fill(), or by
 * gadget_process_fill() for a task found another way. */
struct gadget_process {
	__u64 mntns_id;
	__u64 netns_id;
	__u32 pid;  /* thread group id, what user space calls the pid */
	__u32 tid;
	__u32 ppid; /* real parent's thread group id */
	__u32 uid;
	__u32 gid;
	char comm[GADGET_COMM_LEN];
	__u32 __pad;
};

#endif
