/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The well-known field types. An event struct says what its fields mean
 * through these typedef names, which survive in the object's BTF: the
 * agent reads them to turn a timestamp into wall-clock time, a mount
 * namespace into a pod, an errno into its name. The names are the ones
 * Inspektor Gadget's programs use, so its programs and these are decoded
 * alike. */
#ifndef GADGET_TYPES_H
#define GADGET_TYPES_H

#define GADGET_COMM_LEN 16

typedef __u64 gadget_timestamp; /* bpf_ktime_get_boot_ns() */
typedef __u64 gadget_mntns_id;
typedef __u32 gadget_netns_id;
typedef __u32 gadget_pid;
typedef __u32 gadget_tid;
typedef __u32 gadget_ppid;
typedef __u32 gadget_ptid;
typedef char gadget_comm;  /* element type: gadget_comm comm[GADGET_COMM_LEN] */
typedef char gadget_pcomm;
typedef char gadget_thread_comm; /* a thread's own name, where it is not its process's */
typedef __u32 gadget_uid;
typedef __u32 gadget_gid;
typedef __u32 gadget_errno;  /* positive errno, 0 for success */
typedef __u32 gadget_signal;
typedef __u64 gadget_syscall;
typedef __u32 gadget_file_flags;
typedef __u32 gadget_file_mode;
typedef __u64 gadget_bytes;
typedef __u64 gadget_duration; /* nanoseconds */
typedef __u32 gadget_kernel_stack;
typedef char gadget_argv;  /* element type of NUL-separated strings: argv */

union gadget_ip_addr_t {
	__u8 v6[16];
	__u32 v4;
};

/* An IP address; version 4 keeps it in the first four bytes. */
struct gadget_l3endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u8 version; /* 4 or 6; 0: none */
	__u8 __pad[3];
};

/* An IP address and a port (host byte order) of a transport protocol. */
struct gadget_l4endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u16 port;
	__u16 proto_raw; /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 version;    /* 4 or 6; 0: none */
	__u8 __pad[3];
};

/* Who caused the event: filled by gadget_current_fill(), or by
 * gadget_process_fill() for a task found another way. */
struct gadget_process {
	gadget_mntns_id mntns_id;
	gadget_pid pid; /* thread group id, what user space calls the pid */
	gadget_tid tid;
	gadget_ppid ppid; /* real parent's thread group id */
	gadget_uid uid;
	gadget_gid gid;
	gadget_netns_id netns_id;
	gadget_comm comm[GADGET_COMM_LEN]; /* the process's name: its thread group leader's */
	/* The thread's own name (prctl PR_SET_NAME, pthread_setname_np) when it
	 * differs from comm; all zero when it is the same, as it is for most. */
	gadget_thread_comm thread_comm[GADGET_COMM_LEN];
};

#endif
