/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GADGET_EXEC_H
#define GADGET_EXEC_H

#include <gadget/types.h>

#define EXEC_FILENAME_SIZE 256
#define EXEC_ARGS_SIZE 4096 /* bytes of argv kept, NUL-separated */
#define EXEC_ARG_CHUNK 256  /* longest single argument read on a failed exec */
#define EXEC_MAX_ARGS 64    /* arguments read on a failed exec */

/* One exec. Records are variable length: the ring carries the bytes of
 * args in use, and the record ends there. */
struct exec_event {
	gadget_timestamp timestamp;
	struct gadget_process proc;
	gadget_errno error;   /* of a failed exec; 0 on success */
	bool args_truncated;  /* argv was longer than EXEC_ARGS_SIZE */
	__u8 __pad[3];
	__u32 __args_size;    /* bytes of args in use */
	char exe_path[EXEC_FILENAME_SIZE];
	gadget_argv args[EXEC_ARGS_SIZE];
};

#endif
