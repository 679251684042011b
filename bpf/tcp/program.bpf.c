// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcp: TCP connections as they are connected, accepted and closed.
 *
 * sock:inet_sock_set_state (not a syscall tracepoint) sees every state
 * change, but the ones that end a connect run where the peer's answer is
 * processed, often not in the connecting process. So the connect's process
 * is remembered when its socket enters SYN_SENT (in the connect call) and
 * reported when the socket becomes ESTABLISHED, or CLOSE for a connect the
 * peer refused or that timed out. A close is the local process ending its
 * side: ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK, or straight to
 * CLOSE (a reset) without an error from the peer.
 *
 * Two things have no state change in the process: an accept, which takes a
 * connection the kernel already established, and a connect that fails
 * before sending a SYN (no route, no free port). Those come from the exits
 * of accept, accept4 and connect. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define EINPROGRESS 115

enum tcp_event_type {
	TCP_EVENT_CONNECT = 0,
	TCP_EVENT_ACCEPT = 1,
	TCP_EVENT_CLOSE = 2,
};

struct tcp_event {
	gadget_timestamp timestamp;
	struct gadget_process proc;
	struct gadget_l4endpoint_t src; /* this host's end */
	struct gadget_l4endpoint_t dst; /* the peer's end */
	enum tcp_event_type type;
	gadget_errno error; /* a connect that failed; 0 otherwise */
	__u16 family;
	__u16 __pad;
};

GADGET_TRACER(tcp, events, tcp_event);

/* Bit (1 << type) selects a type of event; 0: every type. */
const volatile __u32 gadget_tcp_types = 0;
GADGET_PARAM(gadget_tcp_types);

/* Only connections with this port at either end; 0: any port. */
const volatile __u16 gadget_tcp_port = 0;
GADGET_PARAM(gadget_tcp_port);

/* Connects between their SYN and the answer: the process that connects. */
struct tcp_connecting {
	struct gadget_process proc;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* the socket's address */
	__type(value, struct tcp_connecting);
} tcp_connects SEC(".maps");

/* Sockets whose failed connect the state change reported, so that the
 * connect's own exit does not report it again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} tcp_failed_reported SEC(".maps");

static __always_inline bool tcp_type_selected(enum tcp_event_type type)
{
	return !gadget_tcp_types || (gadget_tcp_types & (1u << type));
}

static __always_inline bool tcp_port_rejected(__u16 sport, __u16 dport)
{
	return gadget_tcp_port && sport != gadget_tcp_port && dport != gadget_tcp_port;
}

static __always_inline void tcp_output(struct tcp_event *event, enum tcp_event_type type, __u32 error)
{
	event->timestamp = bpf_ktime_get_boot_ns();
	event->type = type;
	event->error = error;
	event->__pad = 0;
	gadget_output(event, sizeof(*event));
}

/* Both ends from the tracepoint: ports in host order, addresses as sent. */
static __always_inline void tcp_endpoints_of_state(struct tcp_event *event, struct trace_event_raw_inet_sock_set_state *ctx)
{
	__builtin_memset(&event->src, 0, sizeof(event->src));
	__builtin_memset(&event->dst, 0, sizeof(event->dst));
	event->family = ctx->family;
	if (ctx->family == AF_INET) {
		bpf_probe_read_kernel(&event->src.addr_raw.v4, 4, ctx->saddr);
		bpf_probe_read_kernel(&event->dst.addr_raw.v4, 4, ctx->daddr);
		event->src.version = event->dst.version = 4;
	} else {
		bpf_probe_read_kernel(event->src.addr_raw.v6, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(event->dst.addr_raw.v6, 16, ctx->daddr_v6);
		event->src.version = event->dst.version = 6;
	}
	event->src.port = ctx->sport;
	event->dst.port = ctx->dport;
	event->src.proto_raw = event->dst.proto_raw = IPPROTO_TCP;
}

/* Both ends from the socket itself, for the syscall exits. */
static __always_inline void tcp_endpoints_of_sock(struct tcp_event *event, struct sock *sk, __u16 family)
{
	__builtin_memset(&event->src, 0, sizeof(event->src));
	__builtin_memset(&event->dst, 0, sizeof(event->dst));
	event->family = family;
	if (family == AF_INET) {
		event->src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		event->dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		event->src.version = event->dst.version = 4;
	} else {
		BPF_CORE_READ_INTO(&event->src.addr_raw.v6, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&event->dst.addr_raw.v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		event->src.version = event->dst.version = 6;
	}
	event->src.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	event->dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	event->src.proto_raw = event->dst.proto_raw = IPPROTO_TCP;
}

SEC("tracepoint/sock/inet_sock_set_state")
int gadget_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	int oldstate = ctx->oldstate, newstate = ctx->newstate;
	__u64 sk = (__u64)ctx->skaddr;
	struct gadget_current cur;
	struct tcp_event event;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;

	if (newstate == TCP_SYN_SENT) {
		/* In the connect call: its process, filtered now, kept until the answer. */
		if (!tcp_type_selected(TCP_EVENT_CONNECT) || tcp_port_rejected(0, ctx->dport))
			return 0;
		if (!gadget_current_selected(&cur))
			return 0;
		struct tcp_connecting connecting;
		gadget_current_fill(&connecting.proc, &cur);
		bpf_map_update_elem(&tcp_connects, &sk, &connecting, BPF_ANY);
		bpf_map_delete_elem(&tcp_failed_reported, &sk);
		return 0;
	}

	if (oldstate == TCP_SYN_SENT) {
		struct tcp_connecting *connecting = bpf_map_lookup_elem(&tcp_connects, &sk);
		if (!connecting)
			return 0;
		event.proc = connecting->proc;
		bpf_map_delete_elem(&tcp_connects, &sk);
		__u32 error = 0;
		if (newstate != TCP_ESTABLISHED) {
			/* Refused or timed out: the error the connect returns. Without
			 * one, the process gave up (closed the socket) or the connect
			 * failed in the call, whose exit reports it. */
			error = BPF_CORE_READ((struct sock *)sk, sk_err);
			if (!error)
				return 0;
			__u8 reported = 1;
			bpf_map_update_elem(&tcp_failed_reported, &sk, &reported, BPF_ANY);
		}
		tcp_endpoints_of_state(&event, ctx);
		if (tcp_port_rejected(event.src.port, event.dst.port))
			return 0;
		tcp_output(&event, TCP_EVENT_CONNECT, error);
		return 0;
	}

	/* The local process ending its side of a connection. */
	bool closing = (oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
		       (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK) ||
		       ((oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) && newstate == TCP_CLOSE &&
			!BPF_CORE_READ((struct sock *)sk, sk_err));
	if (!closing || !tcp_type_selected(TCP_EVENT_CLOSE) || tcp_port_rejected(ctx->sport, ctx->dport))
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;
	gadget_current_fill(&event.proc, &cur);
	tcp_endpoints_of_state(&event, ctx);
	tcp_output(&event, TCP_EVENT_CLOSE, 0);
	return 0;
}

/* The TCP socket behind a file descriptor of the current task, or NULL. */
static __always_inline struct sock *tcp_sock_of_fd(struct task_struct *task, int fd, __u16 *family)
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
	struct sock *sk = socket ? BPF_CORE_READ(socket, sk) : NULL;
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	*family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return *family == AF_INET || *family == AF_INET6 ? sk : NULL;
}

/* An accept's new connection, from its descriptor. */
static __always_inline int tcp_accept_exit(long ret)
{
	struct gadget_current cur;
	struct tcp_event event;
	__u16 family = 0;

	if (ret < 0 || !tcp_type_selected(TCP_EVENT_ACCEPT))
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;
	struct sock *sk = tcp_sock_of_fd(cur.task, ret, &family);
	if (!sk)
		return 0;
	tcp_endpoints_of_sock(&event, sk, family);
	if (tcp_port_rejected(event.src.port, event.dst.port))
		return 0;
	gadget_current_fill(&event.proc, &cur);
	tcp_output(&event, TCP_EVENT_ACCEPT, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int gadget_tcp_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return tcp_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int gadget_tcp_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return tcp_accept_exit(ctx->ret);
}

/* A connect that failed in the call: the destination as passed. One the
 * state change already reported (refused after the SYN) is not repeated. */
SEC("tracepoint/syscalls/sys_exit_connect")
int gadget_tcp_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	long ret = ctx->ret;
	struct gadget_current cur;
	struct tcp_event event;
	__u16 family = 0;

	if (ret >= 0 || ret == -EINPROGRESS || !tcp_type_selected(TCP_EVENT_CONNECT))
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;
	struct pt_regs *regs = gadget_syscall_regs(cur.task);
	struct sock *sk = tcp_sock_of_fd(cur.task, (int)PT_REGS_PARM1_SYSCALL(regs), &family);
	if (!sk)
		return 0;
	__u64 key = (__u64)sk;
	if (!bpf_map_delete_elem(&tcp_failed_reported, &key))
		return 0;

	tcp_endpoints_of_sock(&event, sk, family);
	/* The socket may hold no destination yet: take the one passed. */
	struct sockaddr_in6 addr = {};
	void *uaddr = (void *)PT_REGS_PARM2_SYSCALL(regs);
	/* The short form first: a sockaddr_in may end where readable memory does. */
	bpf_probe_read_user(&addr, sizeof(struct sockaddr_in), uaddr);
	if (addr.sin6_family == AF_INET6)
		bpf_probe_read_user(&addr, sizeof(addr), uaddr);
	__builtin_memset(&event.dst.addr_raw, 0, sizeof(event.dst.addr_raw));
	if (addr.sin6_family == AF_INET) {
		event.dst.addr_raw.v4 = ((struct sockaddr_in *)&addr)->sin_addr.s_addr;
		event.dst.version = 4;
	} else if (addr.sin6_family == AF_INET6) {
		__builtin_memcpy(event.dst.addr_raw.v6, addr.sin6_addr.in6_u.u6_addr8, 16);
		event.dst.version = 6;
	} else {
		return 0;
	}
	event.dst.port = bpf_ntohs(addr.sin6_port);
	if (tcp_port_rejected(event.src.port, event.dst.port))
		return 0;
	gadget_current_fill(&event.proc, &cur);
	tcp_output(&event, TCP_EVENT_CONNECT, -ret);
	return 0;
}
