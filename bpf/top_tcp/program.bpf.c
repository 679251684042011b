// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* top_tcp: bytes sent and received per process and TCP connection,
 * counted in the kernel.
 *
 * sock:sock_send_length and sock:sock_recv_length fire where a socket's
 * sendmsg and recvmsg return, in the context of the calling process, with
 * the bytes moved. The BTF form of both gives the socket itself, so the
 * connection's endpoints are read from it. Only TCP sockets of IPv4 and
 * IPv6 are counted. Not syscall tracepoints, so nothing else pays for
 * them. The host reads and empties the counts every interval. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <gadget/common.h>
#include <gadget/top.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TOPTCP_AF_INET 2
#define TOPTCP_AF_INET6 10
#define TOPTCP_IPPROTO_TCP 6
#define TOPTCP_MSG_PEEK 2

/* What is counted apart: a process on a connection. */
struct toptcp_key {
	gadget_mntns_id mntns_id;
	gadget_pid pid;
	gadget_uid uid;
	gadget_gid gid;
	__u32 __pad;
	struct gadget_l4endpoint_t src; /* this end */
	struct gadget_l4endpoint_t dst; /* the peer */
	gadget_comm comm[GADGET_COMM_LEN];
};

/* What is counted: the bytes of the calls that returned in the interval. */
struct toptcp_value {
	gadget_bytes sent;
	gadget_bytes received;
};

GADGET_TOP_MAP(toptcp_counts, struct toptcp_key, struct toptcp_value, 10240);
GADGET_MAPITER(tcp, toptcp_counts);

/* Only this address family: 4 or 6; 0: both. */
const volatile __u32 gadget_toptcp_family = 0;
GADGET_PARAM(gadget_toptcp_family);

static __always_inline int toptcp_count(struct sock *sk, int bytes, bool sent)
{
	struct gadget_current cur;
	struct toptcp_key key = {};
	struct toptcp_value zero = {};

	if (bytes <= 0 || !sk)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != TOPTCP_IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != TOPTCP_AF_INET && family != TOPTCP_AF_INET6)
		return 0;
	if (gadget_toptcp_family && (family == TOPTCP_AF_INET ? 4 : 6) != gadget_toptcp_family)
		return 0;
	if (!gadget_current_selected(&cur))
		return 0;

	struct gadget_process proc;
	gadget_current_fill(&proc, &cur);
	key.mntns_id = proc.mntns_id;
	key.pid = proc.pid;
	key.uid = proc.uid;
	key.gid = proc.gid;
	__builtin_memcpy(key.comm, proc.comm, sizeof(key.comm));

	/* A socket the peer has reset is in TCP_CLOSE, and closing gave back
	 * its local port (skc_num is 0) while bytes still wait to be read:
	 * the port it had is kept in inet_sport. */
	key.src.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!key.src.port)
		key.src.port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	key.dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	key.src.proto_raw = TOPTCP_IPPROTO_TCP;
	key.dst.proto_raw = TOPTCP_IPPROTO_TCP;
	if (family == TOPTCP_AF_INET) {
		key.src.version = 4;
		key.dst.version = 4;
		key.src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		key.dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		key.src.version = 6;
		key.dst.version = 6;
		BPF_CORE_READ_INTO(&key.src.addr_raw.v6, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&key.dst.addr_raw.v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}

	struct toptcp_value *value = gadget_top_entry(toptcp_counts, &key, &zero);
	if (!value)
		return 0;
	if (sent)
		__sync_fetch_and_add(&value->sent, bytes);
	else
		__sync_fetch_and_add(&value->received, bytes);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(gadget_toptcp_send, struct sock *sk, int ret, int flags)
{
	return toptcp_count(sk, ret, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(gadget_toptcp_recv, struct sock *sk, int ret, int flags)
{
	/* A peek leaves the bytes to be received again. */
	if (flags & TOPTCP_MSG_PEEK)
		return 0;
	return toptcp_count(sk, ret, false);
}
