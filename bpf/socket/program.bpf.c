// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* socket: every TCP and UDP socket of a network namespace at one moment,
 * from the tcp and udp iterators.
 *
 * An iterator visits the sockets of the network namespace its reader was
 * in when it opened the iterator, so the agent opens one per namespace.
 * Which process holds a socket is not something a socket knows: the agent
 * fills in the owner (proc) from the processes' file tables, as ss -p does;
 * here proc carries only the socket's uid and its network namespace. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <gadget/common.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

/* The kernel's TCP states (include/net/tcp_states.h), and Unconnected for
 * a UDP socket that has no peer (the kernel keeps it in TCP_CLOSE). */
enum socket_state {
	SOCKET_STATE_ESTABLISHED = 1,
	SOCKET_STATE_SYN_SENT = 2,
	SOCKET_STATE_SYN_RECV = 3,
	SOCKET_STATE_FIN_WAIT1 = 4,
	SOCKET_STATE_FIN_WAIT2 = 5,
	SOCKET_STATE_TIME_WAIT = 6,
	SOCKET_STATE_CLOSE = 7,
	SOCKET_STATE_CLOSE_WAIT = 8,
	SOCKET_STATE_LAST_ACK = 9,
	SOCKET_STATE_LISTEN = 10,
	SOCKET_STATE_CLOSING = 11,
	SOCKET_STATE_UNCONNECTED = 13,
};

#define TCP_NEW_SYN_RECV 12

enum socket_protocol {
	SOCKET_PROTOCOL_TCP = IPPROTO_TCP,
	SOCKET_PROTOCOL_UDP = IPPROTO_UDP,
};

struct socket_entry {
	gadget_timestamp timestamp; /* when the iterator read the socket */
	struct gadget_process proc; /* the owner; the agent fills it in */
	struct gadget_l4endpoint_t local;
	struct gadget_l4endpoint_t remote;
	__u64 inode; /* the socket's inode, as ss and /proc/<pid>/fd show it; 0 for none */
	enum socket_state state;
	enum socket_protocol protocol;
};

/* One snapshot, two iterators: TCP's sockets, then UDP's. */
const void *gadget_iter_sockets___socket_entry___snapshot_tcp___snapshot_udp __attribute__((unused));
const struct socket_entry *unusedevent_sockets___socket_entry __attribute__((unused));

/* Only this protocol (6 TCP, 17 UDP); 0: both. */
const volatile __u8 gadget_socket_protocol = 0;
GADGET_PARAM(gadget_socket_protocol);

/* Bit (1 << state) selects a state; 0: every state. */
const volatile __u32 gadget_socket_states = 0;
GADGET_PARAM(gadget_socket_states);

static __always_inline bool socket_selected(enum socket_protocol protocol, enum socket_state state, __u32 uid)
{
	if (gadget_socket_protocol && gadget_socket_protocol != protocol)
		return false;
	if (gadget_socket_states && !(gadget_socket_states & (1u << state)))
		return false;
	return !(gadget_filters_uid() && uid != gadget_filter_uid);
}

/* Both ends and the namespace from the part every kind of socket shares
 * (full sockets, time-wait and request sockets alike). */
static __always_inline void socket_read_common(struct socket_entry *entry, struct sock_common *skc, __u8 protocol)
{
	if (skc->skc_family == AF_INET) {
		entry->local.addr_raw.v4 = skc->skc_rcv_saddr;
		entry->remote.addr_raw.v4 = skc->skc_daddr;
		entry->local.version = entry->remote.version = 4;
	} else {
		BPF_CORE_READ_INTO(&entry->local.addr_raw.v6, skc, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&entry->remote.addr_raw.v6, skc, skc_v6_daddr.in6_u.u6_addr8);
		entry->local.version = entry->remote.version = 6;
	}
	entry->local.port = skc->skc_num;
	entry->remote.port = bpf_ntohs(skc->skc_dport);
	entry->local.proto_raw = entry->remote.proto_raw = protocol;
	entry->protocol = protocol;
	entry->proc.netns_id = BPF_CORE_READ(skc, skc_net.net, ns.inum);
}

static __always_inline __u64 socket_inode(struct sock *sk)
{
	/* A kernel socket has no file, and reads as 0. */
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

SEC("iter/tcp")
int snapshot_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct socket_entry entry = {};

	if (!skc || (skc->skc_family != AF_INET && skc->skc_family != AF_INET6))
		return 0;

	__u8 kernel_state = skc->skc_state;
	/* A request socket (a connection still in its handshake) is shown as
	 * SYN_RECV, as /proc/net/tcp and ss show it. */
	enum socket_state state = kernel_state == TCP_NEW_SYN_RECV ? SOCKET_STATE_SYN_RECV : kernel_state;
	__u32 uid = ctx->uid;
	if (!socket_selected(SOCKET_PROTOCOL_TCP, state, uid))
		return 0;

	socket_read_common(&entry, skc, IPPROTO_TCP);
	if (kernel_state != SOCKET_STATE_TIME_WAIT && kernel_state != TCP_NEW_SYN_RECV) {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
		if (tp)
			entry.inode = socket_inode((struct sock *)tp);
	}

	entry.timestamp = bpf_ktime_get_boot_ns();
	entry.state = state;
	entry.proc.uid = uid;
	bpf_seq_write(ctx->meta->seq, &entry, sizeof(entry));
	return 0;
}

SEC("iter/udp")
int snapshot_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct socket_entry entry = {};

	if (!udp)
		return 0;

	struct sock *sk = (struct sock *)udp;
	struct sock_common *skc = &sk->__sk_common;
	if (skc->skc_family != AF_INET && skc->skc_family != AF_INET6)
		return 0;

	/* A UDP socket without a peer stays in TCP_CLOSE. */
	enum socket_state state = skc->skc_state == SOCKET_STATE_CLOSE ? SOCKET_STATE_UNCONNECTED : skc->skc_state;
	__u32 uid = ctx->uid;
	if (!socket_selected(SOCKET_PROTOCOL_UDP, state, uid))
		return 0;

	socket_read_common(&entry, skc, IPPROTO_UDP);
	entry.inode = socket_inode(sk);
	entry.timestamp = bpf_ktime_get_boot_ns();
	entry.state = state;
	entry.proc.uid = uid;
	bpf_seq_write(ctx->meta->seq, &entry, sizeof(entry));
	return 0;
}
