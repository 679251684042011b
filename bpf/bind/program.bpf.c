// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bind: every bind of an IPv4 or IPv6 socket, as the call returns.
 *
 * bind has no tracepoint of its own, so its syscall exit is used, reading
 * the arguments from the registers the call entered with (see
 * gadget_syscall_regs): one program run per bind and no state between entry
 * and exit. The socket gives the protocol, the options set on it before the
 * bind, and, after a bind to port 0, the port the kernel chose. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
/* Rare events (a bind, a mount, an OOM kill): 512 KiB holds thousands. */
#define GADGET_RING_SIZE (512 << 10)
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

/* Socket options that change what a bind may take. */
enum bind_options {
	BIND_OPTION_NONE = 0,
	BIND_OPTION_REUSE_ADDRESS = 1,   /* SO_REUSEADDR */
	BIND_OPTION_REUSE_PORT = 2,      /* SO_REUSEPORT */
	BIND_OPTION_FREE_BIND = 4,       /* IP_FREEBIND */
	BIND_OPTION_TRANSPARENT = 8,     /* IP_TRANSPARENT */
	BIND_OPTION_ADDRESS_NO_PORT = 16, /* IP_BIND_ADDRESS_NO_PORT */
};

struct bind_event {
	gadget_timestamp timestamp;
	struct gadget_process proc;
	struct gadget_l4endpoint_t addr; /* the address and port bound */
	gadget_errno error;
	__s32 fd;
	enum bind_options options;
	__u16 protocol;  /* IPPROTO_TCP, IPPROTO_UDP … */
	__u16 __pad;
	__u32 bound_dev_if; /* SO_BINDTODEVICE's interface index; 0: none */
};

GADGET_TRACER(bind, events, bind_event);

/* Only binds to this port; 0: any port. */
const volatile __u16 gadget_bind_port = 0;
GADGET_PARAM(gadget_bind_port);

/* Only binds that failed. */
const volatile bool gadget_bind_failed_only = false;
GADGET_PARAM(gadget_bind_failed_only);

static __always_inline struct sock *bind_sock_of_fd(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
	if (fd < 0 || (unsigned int)fd >= max_fds)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	struct socket *socket = BPF_CORE_READ(file, private_data);
	return socket ? BPF_CORE_READ(socket, sk) : NULL;
}

static __always_inline enum bind_options bind_options_of(struct sock *sk)
{
	enum bind_options options = 0;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse))
		options |= BIND_OPTION_REUSE_ADDRESS;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
		options |= BIND_OPTION_REUSE_PORT;
	/* The bits as this build's kernel numbers them (an anonymous enum CO-RE cannot relocate). */
	/* Bit numbers as the build's kernel has them: the enum is anonymous, so CO-RE cannot relocate them. */
	unsigned long flags = BPF_CORE_READ((struct inet_sock *)sk, inet_flags);
	if (flags & (1ul << INET_FLAGS_FREEBIND))
		options |= BIND_OPTION_FREE_BIND;
	if (flags & (1ul << INET_FLAGS_TRANSPARENT))
		options |= BIND_OPTION_TRANSPARENT;
	if (flags & (1ul << INET_FLAGS_BIND_ADDRESS_NO_PORT))
		options |= BIND_OPTION_ADDRESS_NO_PORT;
	return options;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int gadget_bind_exit(struct trace_event_raw_sys_exit *ctx)
{
	long ret = ctx->ret;
	struct gadget_current cur;
	struct bind_event event;
	struct sockaddr_in6 addr = {};

	if (gadget_bind_failed_only && ret >= 0)
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;

	struct pt_regs *regs = gadget_syscall_regs(cur.task);
	int fd = (int)PT_REGS_PARM1_SYSCALL(regs);
	void *uaddr = (void *)PT_REGS_PARM2_SYSCALL(regs);
	/* The short form first: a sockaddr_in may end where readable memory does. */
	bpf_probe_read_user(&addr, sizeof(struct sockaddr_in), uaddr);
	if (addr.sin6_family == AF_INET6)
		bpf_probe_read_user(&addr, sizeof(addr), uaddr);
	if (addr.sin6_family != AF_INET && addr.sin6_family != AF_INET6)
		return 0;

	__builtin_memset(&event.addr, 0, sizeof(event.addr));
	event.addr.port = bpf_ntohs(addr.sin6_port);
	if (addr.sin6_family == AF_INET) {
		event.addr.addr_raw.v4 = ((struct sockaddr_in *)&addr)->sin_addr.s_addr;
		event.addr.version = 4;
	} else {
		__builtin_memcpy(event.addr.addr_raw.v6, addr.sin6_addr.in6_u.u6_addr8, 16);
		event.addr.version = 6;
	}

	struct sock *sk = bind_sock_of_fd(cur.task, fd);
	event.options = 0;
	event.protocol = 0;
	event.bound_dev_if = 0;
	if (sk) {
		event.protocol = BPF_CORE_READ(sk, sk_protocol);
		event.options = bind_options_of(sk);
		event.bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
		/* Port 0 asks the kernel for one: the one it chose. */
		if (ret == 0 && event.addr.port == 0)
			event.addr.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	}
	event.addr.proto_raw = event.protocol;
	if (gadget_bind_port && event.addr.port != gadget_bind_port)
		return 0;

	event.timestamp = bpf_ktime_get_boot_ns();
	gadget_current_fill(&event.proc, &cur);
	event.error = ret < 0 ? -ret : 0;
	event.fd = fd;
	event.__pad = 0;
	gadget_output(&event, sizeof(event));
	return 0;
}
