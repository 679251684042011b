/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The marker macros and well-known typedefs of the gadget conventions, written
 * out here so that the schema tests do not depend on the gadgets' headers. */
#ifndef SCHEMA_TEST_H
#define SCHEMA_TEST_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TEST_TRACER(name, map, type) \
	const void *gadget_tracer_##name##___##map##___##type __attribute__((unused)); \
	const struct type *__gadget_tracer_type_##name __attribute__((unused));
#define TEST_TRACER_MAP(map) const void *gadget_map_tracer_##map __attribute__((unused));
#define TEST_PARAM(var) const void *gadget_param_##var __attribute__((unused));
#define TEST_SNAPSHOTTER(name, type, prog1, prog2) \
	const void *gadget_iter_##name##___##type##___##prog1##___##prog2 __attribute__((unused)); \
	const struct type *unusedevent_##name##___##type __attribute__((unused));
#define TEST_OLD_SNAPSHOTTER(name, type) \
	const void *gadget_snapshotter_##name##___##type __attribute__((unused)); \
	const struct type *unusedevent_##name##___##type __attribute__((unused));
#define TEST_MAPITER(name, map) const void *gadget_mapiter_##name##___##map __attribute__((unused));

typedef __u64 gadget_timestamp;
typedef __u64 gadget_mntns_id;
typedef __u32 gadget_netns_id;
typedef __u32 gadget_pid;
typedef __u32 gadget_tid;
typedef __u32 gadget_ppid;
typedef __u32 gadget_uid;
typedef __u32 gadget_gid;
typedef __s32 gadget_errno;
typedef __u32 gadget_signal;
typedef __u64 gadget_syscall;
typedef __u32 gadget_file_flags;
typedef __u32 gadget_file_mode;
typedef __u64 gadget_bytes;
typedef __u64 gadget_duration;
typedef __u32 gadget_kernel_stack;
/* Both forms: an element typedef (gadget_comm comm[16]) and a whole-array one. */
typedef char gadget_comm;
typedef char gadget_pcomm[16];
typedef char gadget_argv[256];

#ifndef SCHEMA_TEST_OLD_ENDPOINTS
union gadget_ip_addr_t {
	__u8 v6[16];
	__u32 v4;
};

struct gadget_l3endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u8 version;
};

struct gadget_l4endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u16 port;
	__u16 proto_raw;
	__u8 version;
};
#endif

#endif
