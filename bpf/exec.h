/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GADGET_EXEC_H
#define GADGET_EXEC_H

#include "include/gadget/types.h"

#define EXEC_FILENAME_SIZE 256
#define EXEC_ARGS_SIZE 4096 /* bytes of argv kept, NUL-separated */
#define EXEC_ARG_CHUNK 256  /* longest single argument read on a failed exec */
#define EXEC_MAX_ARGS 64    /* arguments read on a failed exec */

enum exec_flags {
	EXEC_ARGS_TRUNCATED = 1, /* argv was longer than EXEC_ARGS_SIZE */
};

/* One exec. Records are variable length: only args_size bytes of args
 * travel through the ring. */
struct exec_event {
	__u64 timestamp_ns; /* CLOCK_BOOTTIME */
	struct gadget_process proc;
	__s32 error; /* positive errno of a failed exec, 0 on success */
	__u32 flags; /* enum exec_flags */
	__u32 args_size;
	__u32 __pad;
	char filename[EXEC_FILENAME_SIZE];
	char args[EXEC_ARGS_SIZE];
};

#endif
