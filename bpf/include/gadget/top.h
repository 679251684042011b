/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a top gadget's program shares: finding (or making) the entry of a
 * key in its GADGET_TOP_MAP, counting the keys that found the map full.
 * The host empties the map every interval, so the map holds one
 * interval's keys, not the whole run's. Include after common.h. */
#ifndef GADGET_TOP_H
#define GADGET_TOP_H

static __always_inline void *gadget_top_entry_in(void *map, void *lost_samples, const void *key, const void *zero)
{
	void *value = bpf_map_lookup_elem(map, key);
	if (value)
		return value;

	/* Another CPU may make the same key in between: BPF_NOEXIST then
	 * fails and the lookup finds that CPU's entry. */
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	value = bpf_map_lookup_elem(map, key);
	if (!value) {
		__u32 index = 0;
		__u64 *lost = bpf_map_lookup_elem(lost_samples, &index);
		if (lost)
			*lost += 1;
	}
	return value;
}

/* The value of `key` in the top map `map`, made from `zero` when new; NULL
 * (and counted in map_lost_samples) when the map is full. */
#define gadget_top_entry(map, key, zero) gadget_top_entry_in(&map, &map##_lost_samples, key, zero)

#endif
