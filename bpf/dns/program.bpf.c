// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* dns: DNS queries and responses of every process, over UDP and TCP,
 * IPv4 and IPv6.
 *
 * Why cgroup skb programs on the cgroup v2 root, and not socket filters:
 * - One attachment sees every socket on the host, in every network
 *   namespace (containers included), because a socket belongs to a cgroup,
 *   not to a netns. A socket filter (Inspektor Gadget's choice) needs one
 *   AF_PACKET socket per network namespace, opened with setns() and kept in
 *   step with containers as they come and go.
 * - On egress the program runs in the context of the task that sends (its
 *   sendmsg() call), so the process is simply the current task. A socket
 *   filter runs on a copy of the packet with no useful task context, and
 *   Inspektor Gadget attributes it through kprobes on bind/connect/sendmsg,
 *   which these kernels do not have.
 * - The socket itself is at hand (bpf_get_socket_cookie), so a response
 *   arriving on ingress is attributed to the process that last sent DNS on
 *   that socket, and latency is measured on that socket, with no lookup by
 *   (netns, port) that could confuse two containers using the same port.
 * - Loopback traffic is seen once per direction per socket instead of twice
 *   on the lo device; packets that no local socket sends or receives
 *   (forwarded, dropped before delivery) are not seen, which is right for
 *   "which process asked what".
 * The programs always return 1: they observe, never drop. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
/* A query and its response, usually 100 to 600 bytes each (a record holds
 * only the message's own bytes, at most DNS_MAX_DATA), for every lookup of
 * a busy resolver: 4 MiB holds well over the 50 ms between drains of a
 * dnsperf run against a local server, and a thousand of the largest
 * messages. */
#define GADGET_RING_SIZE (4 << 20)
#include <gadget/common.h>
#include "dns.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

GADGET_TRACER(dns, events, dns_event);

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPV6_MAX_EXT_HEADERS 6
/* IPv6 extension headers (not enums in vmlinux.h). */
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

/* Ports that carry DNS, written by the agent before load; 0 ends the list. */
const volatile __u16 dns_ports[DNS_MAX_PORTS] = {53, 5353};

/* 0: queries and responses; 1: queries only; 2: responses only. */
const volatile __u8 dns_filter_qr = 0;

/* The process behind each socket that sent DNS: ingress packets run in
 * softirq context (on loopback, in the sender's task), so the receiving
 * process is found by the socket. LRU: closed sockets age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct gadget_process);
} dns_sockets SEC(".maps");

/* Queries in flight: when each was first sent. A response deletes its
 * entry; the agent reads it to tell an unanswered query from an answered
 * one whose response a filter dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct dns_query_key);
	__type(value, __u64);
} dns_queries SEC(".maps");

/* Scratch space: a dns_event is too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_event);
} dns_scratch SEC(".maps");

static __always_inline bool dns_port(__u16 port)
{
	for (int i = 0; i < DNS_MAX_PORTS; i++) {
		if (!dns_ports[i])
			return false;
		if (dns_ports[i] == port)
			return true;
	}
	return false;
}

/* Where the DNS message starts, or 0 when the packet is not DNS. Fills
 * addresses, ports and protocol, and says whether a message starts in this
 * packet (every UDP datagram, even an empty one; a TCP segment with a length
 * prefix). skb data starts at the network header in both directions of a
 * cgroup skb program. */
static __always_inline __u32 dns_locate(struct __sk_buff *skb, struct dns_event *event, __u8 *tcp_flags, bool *message)
{
	__u32 off = 0;
	__u8 l4;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return 0;
		if (ip.frag_off & bpf_htons(0x1fff)) /* a later fragment: no L4 header */
			return 0;
		off = ip.ihl * 4;
		l4 = ip.protocol;
		event->src.version = event->dst.version = 4;
		__builtin_memset(&event->src.addr_raw, 0, sizeof(event->src.addr_raw));
		__builtin_memset(&event->dst.addr_raw, 0, sizeof(event->dst.addr_raw));
		event->src.addr_raw.v4 = ip.saddr;
		event->dst.addr_raw.v4 = ip.daddr;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return 0;
		off = sizeof(ip6);
		l4 = ip6.nexthdr;
		event->src.version = event->dst.version = 6;
		__builtin_memcpy(event->src.addr_raw.v6, &ip6.saddr, 16);
		__builtin_memcpy(event->dst.addr_raw.v6, &ip6.daddr, 16);
		for (int i = 0; i < IPV6_MAX_EXT_HEADERS; i++) {
			struct ipv6_opt_hdr ext;
			if (l4 != NEXTHDR_HOP && l4 != NEXTHDR_ROUTING && l4 != NEXTHDR_DEST &&
			    l4 != NEXTHDR_FRAGMENT)
				break;
			if (bpf_skb_load_bytes(skb, off, &ext, sizeof(ext)))
				return 0;
			if (l4 == NEXTHDR_FRAGMENT) {
				struct frag_hdr frag;
				if (bpf_skb_load_bytes(skb, off, &frag, sizeof(frag)))
					return 0;
				if (frag.frag_off & bpf_htons(0xfff8))
					return 0;
				off += sizeof(frag);
			} else {
				off += (ext.hdrlen + 1) * 8;
			}
			l4 = ext.nexthdr;
		}
	} else {
		return 0;
	}

	if (l4 == IPPROTO_UDP) {
		struct udphdr udp;
		if (bpf_skb_load_bytes(skb, off, &udp, sizeof(udp)))
			return 0;
		event->src.port = bpf_ntohs(udp.source);
		event->dst.port = bpf_ntohs(udp.dest);
		event->protocol = IPPROTO_UDP;
		*message = true;
		off += sizeof(udp);
		event->__msg_len = skb->len > off ? skb->len - off : 0;
	} else if (l4 == IPPROTO_TCP) {
		struct tcphdr tcp;
		__u16 prefix;
		if (bpf_skb_load_bytes(skb, off, &tcp, sizeof(tcp)))
			return 0;
		event->src.port = bpf_ntohs(tcp.source);
		event->dst.port = bpf_ntohs(tcp.dest);
		event->protocol = IPPROTO_TCP;
		*tcp_flags = ((__u8 *)&tcp)[13];
		off += tcp.doff * 4;
		/* DNS over TCP: a 2-byte length, then the message (RFC 1035
		 * 4.2.2). Only a message that starts in this segment is read. */
		if (skb->len < off + sizeof(prefix) || bpf_skb_load_bytes(skb, off, &prefix, sizeof(prefix))) {
			event->__msg_len = 0;
			return dns_port(event->src.port) || dns_port(event->dst.port) ? off : 0;
		}
		off += sizeof(prefix);
		event->__msg_len = bpf_ntohs(prefix);
		*message = true;
	} else {
		return 0;
	}

	if (!dns_port(event->src.port) && !dns_port(event->dst.port))
		return 0;
	event->src.proto_raw = event->dst.proto_raw = event->protocol;
	return off;
}

static __always_inline bool dns_qr_filtered(bool response)
{
	return (dns_filter_qr == 1 && response) || (dns_filter_qr == 2 && !response);
}

/* Copies the message and sends the record; the traced task never waits.
 * A message shorter than a DNS header (an empty datagram, 5 bytes) is sent
 * too: the agent counts it as malformed, so that every DNS packet lands in
 * exactly one of the trace's counters. */
static __always_inline void dns_submit(struct __sk_buff *skb, struct dns_event *event, __u32 off)
{
	__u64 len = skb->len > off ? skb->len - off : 0;
	if (len > event->__msg_len)
		len = event->__msg_len;
	if (len > DNS_MAX_DATA)
		len = DNS_MAX_DATA;
	/* Restate the bounds where the verifier can see them: clang would
	 * otherwise copy len through a register it last saw unbounded. */
	asm volatile("%[len] &= %[mask]" : [len] "+r"(len) : [mask] "i"(2 * DNS_MAX_DATA - 1));
	if (len > DNS_MAX_DATA)
		return;
	if (len > 0 && bpf_skb_load_bytes(skb, off, event->__data, len))
		return;
	event->__data_len = len;
	gadget_output(event, offsetof(struct dns_event, __data) + len);
}

static __always_inline struct dns_event *dns_begin(struct __sk_buff *skb, __u8 pkt_type, __u32 *off, __u8 *tcp_flags, bool *message)
{
	__u32 zero = 0;
	struct dns_event *event = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!event)
		return NULL;

	*message = false;
	*off = dns_locate(skb, event, tcp_flags, message);
	if (!*off)
		return NULL;
	event->timestamp = bpf_ktime_get_boot_ns();
	event->__socket_cookie = bpf_get_socket_cookie(skb);
	event->pkt_type = pkt_type;
	event->qr = 0;
	event->__flags = 0;
	event->latency = 0;
	event->id = 0;
	event->__data_len = 0;
	event->__pad = 0;
	__builtin_memset(event->src.__pad, 0, sizeof(event->src.__pad));
	__builtin_memset(event->dst.__pad, 0, sizeof(event->dst.__pad));
	return event;
}

/* Reads the id and the QR bit; false when the message is too short. */
static __always_inline bool dns_header(struct __sk_buff *skb, struct dns_event *event, __u32 off)
{
	__u16 header[2];
	if (event->__msg_len < DNS_HEADER_SIZE || bpf_skb_load_bytes(skb, off, header, sizeof(header)))
		return false;
	event->id = bpf_ntohs(header[0]);
	if (bpf_ntohs(header[1]) & 0x8000)
		event->qr = 1;
	return true;
}

SEC("cgroup_skb/egress")
int gadget_dns_egress(struct __sk_buff *skb)
{
	__u32 off;
	__u8 tcp_flags = 0;
	bool message;
	struct dns_event *event = dns_begin(skb, DNS_PACKET_OUTGOING, &off, &tcp_flags, &message);
	if (!event)
		return 1;

	/* A TCP segment without a message: remember who opened the connection
	 * (a SYN leaves from connect(), in the caller's context), because
	 * later segments may leave from softirq context. A message too short
	 * for a header goes up as it is, to be counted malformed. */
	bool has_message = dns_header(skb, event, off);
	bool too_short = message && !has_message;
	bool syn = event->protocol == IPPROTO_TCP && (tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
	if (!message && !syn)
		return 1;

	struct gadget_process *known = NULL;
	if (event->protocol == IPPROTO_TCP && !syn)
		known = bpf_map_lookup_elem(&dns_sockets, &event->__socket_cookie);
	if (known) {
		event->proc = *known;
	} else {
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		__u64 uid_gid = bpf_get_current_uid_gid();
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		gadget_process_fill(&event->proc, task, pid_tgid, uid_gid);
		bpf_map_update_elem(&dns_sockets, &event->__socket_cookie, &event->proc, BPF_ANY);
	}
	event->__flags |= DNS_F_ATTRIBUTED;
	if (!message)
		return 1;

	if (gadget_should_discard(((__u64)event->proc.pid << 32) | event->proc.tid,
				  ((__u64)event->proc.gid << 32) | event->proc.uid, event->proc.mntns_id,
				  event->proc.comm))
		return 1;
	if (too_short) {
		dns_submit(skb, event, off);
		return 1;
	}

	bool response = event->qr;
	if (!response) {
		/* First transmission wins: a retry does not restart the clock. */
		struct dns_query_key key = {.socket_cookie = event->__socket_cookie, .dns_id = event->id};
		bpf_map_update_elem(&dns_queries, &key, &event->timestamp, BPF_NOEXIST);
	}
	if (dns_qr_filtered(response))
		return 1;

	dns_submit(skb, event, off);
	return 1;
}

SEC("cgroup_skb/ingress")
int gadget_dns_ingress(struct __sk_buff *skb)
{
	__u32 off;
	__u8 tcp_flags = 0;
	bool message;
	struct dns_event *event = dns_begin(skb, DNS_PACKET_HOST, &off, &tcp_flags, &message);
	if (!event || !message)
		return 1;
	/* A message too short for a header goes up as it is, to be counted
	 * malformed; it has no id or QR bit to pair or filter by. */
	bool too_short = !dns_header(skb, event, off);

	bool response = event->qr;
	if (response && !too_short) {
		/* Latency is paired before any filter, so a filtered response
		 * still marks its query answered. */
		struct dns_query_key key = {.socket_cookie = event->__socket_cookie, .dns_id = event->id};
		__u64 *sent = bpf_map_lookup_elem(&dns_queries, &key);
		if (sent) {
			if (*sent < event->timestamp)
				event->latency = event->timestamp - *sent;
			bpf_map_delete_elem(&dns_queries, &key);
		}
	}

	struct gadget_process *known = bpf_map_lookup_elem(&dns_sockets, &event->__socket_cookie);
	if (known) {
		event->proc = *known;
		event->__flags |= DNS_F_ATTRIBUTED;
		if (gadget_should_discard(((__u64)event->proc.pid << 32) | event->proc.tid,
					  ((__u64)event->proc.gid << 32) | event->proc.uid, event->proc.mntns_id,
					  event->proc.comm))
			return 1;
	} else {
		/* Nobody known behind the socket (it has not sent DNS since the
		 * trace began): shown only when no process filter is active. */
		if (gadget_filters_process())
			return 1;
		__builtin_memset(&event->proc, 0, sizeof(event->proc));
	}

	if (!too_short && dns_qr_filtered(response))
		return 1;

	dns_submit(skb, event, off);
	return 1;
}
