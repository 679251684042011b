// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* top_blockio: block I/O per process and device, counted in the kernel.
 *
 * block:block_io_start fires when a request is accounted as started, in
 * the context of the task that submitted it (a process's direct I/O and
 * fsync, a kworker's writeback); block_io_done when it completes, in any
 * context. The BTF form of both gives the request itself: the start keeps
 * who submitted it, when and how much under the request's address, the
 * completion adds it to that process's and device's counts. Not a
 * syscall tracepoint, so nothing else pays for it. The host reads and
 * empties the counts every interval. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <gadget/common.h>
#include <gadget/top.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BLOCKIO_REQ_OP_MASK 0xff
#define BLOCKIO_REQ_OP_READ 0
#define BLOCKIO_MINOR_BITS 20
#define BLOCKIO_DISK_NAME_LEN 32

/* What is counted apart: a process on a device. */
struct blockio_key {
	gadget_mntns_id mntns_id;
	gadget_pid pid;
	gadget_uid uid;
	gadget_gid gid;
	__u32 major;
	__u32 minor;
	__u32 __pad;
	gadget_comm comm[GADGET_COMM_LEN];
};

/* What is counted: requests, their bytes and the time they took. */
struct blockio_value {
	__u64 reads;
	__u64 writes;
	gadget_bytes bytes;
	gadget_duration time; /* from start to completion, summed over the requests */
	char disk[BLOCKIO_DISK_NAME_LEN];
};

/* A request between its start and its completion. */
struct blockio_start {
	struct blockio_key key;
	__u64 start_ns;
	__u32 bytes;
	__u8 write; /* 1: anything but a read (a write, a flush, a discard), 0: a read */
};

GADGET_TOP_MAP(blockio_counts, struct blockio_key, struct blockio_value, 10240);
GADGET_MAPITER(blockio, blockio_counts);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); /* the request's address */
	__type(value, struct blockio_start);
} blockio_started SEC(".maps");

/* Scratch for the entry a new key starts from (too big for the stack beside the rest). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct blockio_value);
} blockio_zero SEC(".maps");

SEC("tp_btf/block_io_start")
int BPF_PROG(gadget_blockio_start, struct request *rq)
{
	struct gadget_current cur;
	struct blockio_start start = {};
	__u64 address = (__u64)rq;

	if (!gadget_current_selected(&cur))
		return 0;

	struct gadget_process proc;
	gadget_current_fill(&proc, &cur);
	start.key.mntns_id = proc.mntns_id;
	start.key.pid = proc.pid;
	start.key.uid = proc.uid;
	start.key.gid = proc.gid;
	__builtin_memcpy(start.key.comm, proc.comm, sizeof(start.key.comm));

	struct block_device *part = BPF_CORE_READ(rq, part);
	__u32 dev = part ? BPF_CORE_READ(part, bd_dev) : 0;
	if (!part) {
		struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
		dev = ((__u32)BPF_CORE_READ(disk, major) << BLOCKIO_MINOR_BITS) | (__u32)BPF_CORE_READ(disk, first_minor);
	}
	start.key.major = dev >> BLOCKIO_MINOR_BITS;
	start.key.minor = dev & ((1U << BLOCKIO_MINOR_BITS) - 1);
	start.bytes = BPF_CORE_READ(rq, __data_len);
	start.write = (BPF_CORE_READ(rq, cmd_flags) & BLOCKIO_REQ_OP_MASK) != BLOCKIO_REQ_OP_READ;
	start.start_ns = bpf_ktime_get_ns();

	bpf_map_update_elem(&blockio_started, &address, &start, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_io_done")
int BPF_PROG(gadget_blockio_done, struct request *rq)
{
	__u64 address = (__u64)rq;
	__u32 zero = 0;

	struct blockio_start *start = bpf_map_lookup_elem(&blockio_started, &address);
	if (!start)
		return 0; /* started before the trace, or not selected */

	__u64 elapsed = bpf_ktime_get_ns() - start->start_ns;
	struct blockio_value *initial = bpf_map_lookup_elem(&blockio_zero, &zero);
	if (!initial)
		goto done;
	/* The scratch entry is the new key's first value: the device's name with zero counts. */
	__builtin_memset(initial, 0, sizeof(*initial));
	struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
	if (disk)
		BPF_CORE_READ_STR_INTO(&initial->disk, disk, disk_name);

	struct blockio_value *value = gadget_top_entry(blockio_counts, &start->key, initial);
	if (value) {
		/* & 1 tells the verifier the flag is 0 or 1 when clang turns the branch into an offset. */
		if (start->write & 1)
			__sync_fetch_and_add(&value->writes, 1);
		else
			__sync_fetch_and_add(&value->reads, 1);
		__sync_fetch_and_add(&value->bytes, start->bytes);
		__sync_fetch_and_add(&value->time, elapsed);
	}

done:
	bpf_map_delete_elem(&blockio_started, &address);
	return 0;
}
