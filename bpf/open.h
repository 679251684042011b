/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GADGET_OPEN_H
#define GADGET_OPEN_H

#include "include/gadget/types.h"

#define OPEN_PATH_SIZE 256 /* bytes of the path as passed */
#define OPEN_DIR_SIZE 1024 /* bytes of the directory a relative path resolves against (GADGET_PATH_SIZE) */

enum open_event_flags {
	OPEN_PATH_TRUNCATED = 1, /* the path as passed was longer than kept */
	OPEN_DIR_TRUNCATED = 2,  /* the directory was deeper or longer than kept */
	OPEN_DIR_RESOLVED = 4,   /* dir holds the directory of a relative path */
};

/* One open. Records are variable length: dir travels only when used. */
struct open_event {
	__u64 timestamp_ns; /* CLOCK_BOOTTIME, at the syscall's return */
	struct gadget_process proc;
	__s32 error; /* positive errno, 0 on success */
	__s32 fd;    /* -1 on failure */
	__u32 open_flags; /* O_* as passed */
	__u32 mode;
	__u32 flags; /* enum open_event_flags */
	__u32 dir_size;
	char path[OPEN_PATH_SIZE];
	/* Components of the directory, innermost first, NUL-separated. */
	char dir[OPEN_DIR_SIZE];
};

#endif
