/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Structs with bitfields, compiled both for BPF (their BTF) and for the host
 * (their bytes with known values): the two ABIs lay these out alike. */
#ifndef BITFIELDS_H
#define BITFIELDS_H

#include <linux/types.h>

enum sign {
	SIGN_MINUS = -1,
	SIGN_PLUS = 1,
};

struct bits_event {
	__u32 before;
	unsigned int low : 3;
	unsigned int mid : 5;
	int negative : 7;
	unsigned int high : 17;
	_Bool flag : 1;
	enum sign sign : 2;
	__u64 wide : 61;
	__s16 after;
};

/* Packed: fields leave their declared type's aligned storage unit. */
struct __attribute__((packed)) packed_bits {
	__u8 head;
	unsigned int odd : 20;
	unsigned long long long_odd : 40;
	int tail_bits : 4;
};

#endif
