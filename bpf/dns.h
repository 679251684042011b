/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GADGET_DNS_H
#define GADGET_DNS_H

#include "include/gadget/types.h"

#define DNS_MAX_DATA 512   /* bytes of a DNS message kept; a power of two */
#define DNS_HEADER_SIZE 12
#define DNS_MAX_PORTS 16

/* Linux PACKET_* values, as AF_PACKET reports them. */
enum dns_packet_type {
	DNS_PACKET_HOST = 0,     /* received by this host (ingress) */
	DNS_PACKET_OUTGOING = 4, /* sent by this host (egress) */
};

enum dns_event_flags {
	DNS_F_ATTRIBUTED = 1, /* proc is valid (always on egress; on ingress when the socket was seen sending) */
	DNS_F_LATENCY = 2,    /* latency_ns is valid: a response matched to its query */
	DNS_F_QR = 4,         /* the header's QR bit: a response */
};

/* One DNS message seen on a socket. Records are variable length: only
 * data_len bytes of data travel through the ring. */
struct dns_event {
	__u64 timestamp_ns; /* CLOCK_BOOTTIME */
	struct gadget_process proc;
	__u64 socket_cookie; /* the local socket: the sender on egress, the receiver on ingress */
	__u64 latency_ns;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport; /* host byte order */
	__u16 dport;
	__u16 dns_id; /* host byte order */
	__u8 family;   /* 4 or 6 */
	__u8 protocol; /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pkt_type; /* enum dns_packet_type */
	__u8 flags;    /* enum dns_event_flags */
	__u16 __pad;
	__u32 msg_len;  /* length of the DNS message in the packet */
	__u32 data_len; /* bytes of it in data (at most DNS_MAX_DATA) */
	__u32 __pad2;   /* data starts 8-byte aligned, where the C# mirror's size ends */
	__u8 data[DNS_MAX_DATA];
};

/* A query in flight: the local socket and the DNS id pair a response with it. */
struct dns_query_key {
	__u64 socket_cookie;
	__u16 dns_id;
	__u16 __pad[3];
};

#endif
