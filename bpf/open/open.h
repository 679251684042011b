/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GADGET_OPEN_H
#define GADGET_OPEN_H

#include <gadget/types.h>

#define OPEN_PATH_SIZE 256 /* bytes of the path as passed */
#define OPEN_DIR_SIZE 1024 /* bytes of the directory a relative path resolves against (GADGET_PATH_SIZE) */

enum open_dir_flags {
	OPEN_DIR_TRUNCATED = 1, /* the directory was deeper or longer than kept */
	OPEN_DIR_RESOLVED = 2,  /* __dir holds the directory of a relative path */
};

/* One open. Records are variable length: __dir travels only when used.
 * The agent joins it with path into the full path, so it is not a field
 * of the event itself (members named __* are not). */
struct open_event {
	gadget_timestamp timestamp; /* at the syscall's return */
	struct gadget_process proc;
	gadget_errno error;
	__s32 fd;                /* -1 on failure */
	gadget_file_flags flags; /* O_* as passed */
	gadget_file_mode mode;
	bool path_truncated;     /* the path as passed was longer than kept */
	__u8 __dir_flags;        /* enum open_dir_flags */
	__u16 __pad;
	__u32 __dir_size;
	char path[OPEN_PATH_SIZE];
	/* Components of the directory, innermost first, NUL-separated. */
	char __dir[OPEN_DIR_SIZE];
};

#endif
