/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GADGET_DNS_H
#define GADGET_DNS_H

#include <gadget/types.h>

/* Bytes of a DNS message kept; a power of two. 4 KiB holds a whole message
 * of the EDNS buffer sizes in use (1232 is the recommended default, 4096
 * the largest commonly advertised); a longer one is kept cut, and the agent
 * marks it so (CaptureTruncated). Only the bytes a message has travel
 * through the ring. */
#define DNS_MAX_DATA 4096
#define DNS_HEADER_SIZE 12
#define DNS_MAX_PORTS 16

/* Linux PACKET_* values, as AF_PACKET reports them. */
enum dns_packet_type {
	DNS_PACKET_HOST = 0,     /* received by this host (ingress) */
	DNS_PACKET_OUTGOING = 4, /* sent by this host (egress) */
};

enum dns_event_flags {
	DNS_F_ATTRIBUTED = 1, /* proc is valid (always on egress; on ingress when the socket was seen sending) */
};

/* One DNS message seen on a socket. Records are variable length: only
 * __data_len bytes of __data travel through the ring. The agent parses the
 * message and adds what it says (name, type, rcode, answers) to the event. */
struct dns_event {
	gadget_timestamp timestamp;
	struct gadget_process proc;
	__u64 __socket_cookie;    /* the local socket: the sender on egress, the receiver on ingress */
	gadget_duration latency;  /* a response's time since its query left the same socket; 0: none */
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	__u16 id;       /* the message id, host byte order */
	__u8 pkt_type;  /* enum dns_packet_type */
	__u8 qr;        /* the header's QR bit: 1 for a response */
	__u8 protocol;  /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 __flags;   /* enum dns_event_flags */
	__u16 __pad;
	__u32 __msg_len;  /* length of the DNS message in the packet */
	__u32 __data_len; /* bytes of it in __data (at most DNS_MAX_DATA) */
	__u8 __data[DNS_MAX_DATA];
};

/* A query in flight: the local socket and the DNS id pair a response with it. */
struct dns_query_key {
	__u64 socket_cookie;
	__u16 dns_id;
	__u16 __pad[3];
};

#endif
