// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A parameter marker naming a variable that is not in .rodata. */
#include "schema_test.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 targ_somewhere = 1;
TEST_PARAM(targ_nowhere)

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_open(void *ctx)
{
	return targ_somewhere;
}
