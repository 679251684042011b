// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A program that declares nothing it produces: no tracer, no snapshot. */
#include "schema_test.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct counter {
	__u64 count;
};

const struct counter *unused_counter __attribute__((unused));
