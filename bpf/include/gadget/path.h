/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reads where a struct path points, for gadgets that report file names.
 * bpf_d_path() is not allowed on tracepoints, so the dentry chain is
 * walked by hand, one bpf_loop() step per component (the verifier checks
 * the step once instead of every unrolled iteration). Components are
 * written innermost first, NUL-separated, and user space joins them in
 * reverse. The walk stops at the task's root, so a container's paths read
 * as the container sees them. */
#ifndef GADGET_PATH_H
#define GADGET_PATH_H

#define GADGET_PATH_SIZE 1024 /* bytes of components kept */
#define GADGET_PATH_NAME_MAX 256
#define GADGET_PATH_MAX_DEPTH 64

struct gadget_path_buffer {
	char data[GADGET_PATH_SIZE + GADGET_PATH_NAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gadget_path_buffer);
} gadget_path_scratch SEC(".maps");

struct gadget_path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 used;
	bool truncated;
	bool complete;
};

static long gadget_path_step(__u32 index, struct gadget_path_walk *walk)
{
	__u32 zero = 0;
	struct gadget_path_buffer *buffer = bpf_map_lookup_elem(&gadget_path_scratch, &zero);
	if (!buffer)
		return 1;

	/* Work on locals: CO-RE relocates reads of kernel types, not of this struct. */
	struct dentry *dentry = walk->dentry;
	struct vfsmount *vfsmnt = walk->vfsmnt;

	if (dentry == walk->root_dentry && vfsmnt == walk->root_mnt) {
		walk->complete = true;
		return 1;
	}

	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
		if (parent == mnt) {
			walk->complete = true; /* the root of the mount tree */
			return 1;
		}
		walk->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		walk->vfsmnt = &parent->mnt;
		return 0;
	}

	struct dentry *parent_dentry = BPF_CORE_READ(dentry, d_parent);
	if (dentry == parent_dentry) {
		walk->complete = true;
		return 1;
	}

	__u32 used = walk->used;
	if (used >= GADGET_PATH_SIZE) {
		walk->truncated = true;
		return 1;
	}
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	long n = bpf_probe_read_kernel_str(&buffer->data[used], GADGET_PATH_NAME_MAX, name);
	if (n <= 0)
		return 1;
	if (used + n > GADGET_PATH_SIZE) {
		walk->truncated = true; /* this component did not fit */
		return 1;
	}
	walk->used = used + n;
	walk->dentry = parent_dentry;
	return 0;
}

/* Writes the components of `path` into out (GADGET_PATH_SIZE bytes).
 * Returns the bytes used; *truncated says whether the path was cut. */
static __always_inline __u32 gadget_read_path(struct path *path, struct task_struct *task, char *out,
					      bool *truncated)
{
	struct gadget_path_walk walk = {
		.dentry = BPF_CORE_READ(path, dentry),
		.vfsmnt = BPF_CORE_READ(path, mnt),
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
	};
	__u32 zero = 0;

	bpf_loop(GADGET_PATH_MAX_DEPTH, gadget_path_step, &walk, 0);
	*truncated = walk.truncated || !walk.complete;

	struct gadget_path_buffer *buffer = bpf_map_lookup_elem(&gadget_path_scratch, &zero);
	__u32 used = walk.used;
	if (!buffer || used > GADGET_PATH_SIZE)
		return 0;
	if (used && bpf_probe_read_kernel(out, used, buffer->data))
		return 0;
	return used;
}

#endif
