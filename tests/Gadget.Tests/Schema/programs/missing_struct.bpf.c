// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A tracer marker naming a struct the object does not define. */
#include "schema_test.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const void *gadget_tracer_ghost___events___no_such_event __attribute__((unused));
