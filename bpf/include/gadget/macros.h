/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Markers: globals that are never used, whose names declare what a
 * program produces. They end up in the object's BTF, where the agent finds
 * them; nothing reads their values. The forms are Inspektor Gadget's, so
 * its programs and these are loaded alike. */
#ifndef GADGET_MACROS_H
#define GADGET_MACROS_H

/* A ring buffer of `size` bytes that a tracer writes into, and beside it
 * the per-CPU count of records that did not fit. */
#define GADGET_TRACER_MAP(name, size)                                                                                  \
	struct {                                                                                                       \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                                    \
		__uint(max_entries, size);                                                                             \
	} name SEC(".maps");                                                                                           \
	struct {                                                                                                       \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                                               \
		__uint(max_entries, 1);                                                                                \
		__type(key, __u32);                                                                                    \
		__type(value, __u64);                                                                                  \
	} name##_lost_samples SEC(".maps");                                                                            \
	const void *gadget_map_tracer_##name __attribute__((unused))

/* A tracer called `name`: records of struct `event` arrive in ring `map`.
 * The typed pointer keeps the struct in BTF even if no code names it. */
#define GADGET_TRACER(name, map, event)                                                                                \
	const void *gadget_tracer_##name##___##map##___##event __attribute__((unused));                                \
	const struct event *__gadget_tracer_type_##name __attribute__((unused))

/* A snapshot called `name`: running the iterator program `prog` (SEC("iter/…"))
 * gives records of struct `event`, each written whole with bpf_seq_write. */
#define GADGET_SNAPSHOT(name, event, prog)                                                                             \
	const void *gadget_iter_##name##___##event##___##prog __attribute__((unused));                                 \
	const struct event *unusedevent_##name##___##event __attribute__((unused))

/* The const volatile global `name` is a parameter a user may set. */
#define GADGET_PARAM(name) const void *gadget_param_##name __attribute__((unused))

/* A top called `name`: the hash map `map` holds one entry per what is
 * counted (its key struct followed by its value struct make a row), and
 * the host reads and empties it every interval. */
#define GADGET_MAPITER(name, map) const void *gadget_mapiter_##name##___##map __attribute__((unused))

/* The hash map a top counts into, `entries` keys at most, and beside it the
 * per-CPU count of keys that found it full (see gadget_top_entry). */
#define GADGET_TOP_MAP(name, key_type, value_type, entries)                                                            \
	struct {                                                                                                       \
		__uint(type, BPF_MAP_TYPE_HASH);                                                                       \
		__uint(max_entries, entries);                                                                          \
		__type(key, key_type);                                                                                 \
		__type(value, value_type);                                                                             \
	} name SEC(".maps");                                                                                           \
	struct {                                                                                                       \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                                               \
		__uint(max_entries, 1);                                                                                \
		__type(key, __u32);                                                                                    \
		__type(value, __u64);                                                                                  \
	} name##_lost_samples SEC(".maps")

#endif
