// SPDX-License-Identifier: GPL-2.0
/*
 * hello: the smallest useful XDP program. It passes every packet and counts them in a map.
 * Self-contained on purpose (no libbpf headers needed); with libbpf installed, include
 * <linux/bpf.h> and <bpf/bpf_helpers.h> instead of the definitions below.
 */

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

typedef unsigned int __u32;
typedef unsigned long long __u64;

struct xdp_md;

enum { BPF_MAP_TYPE_ARRAY = 2 };
enum { XDP_PASS = 2 };

/* bpf_map_lookup_elem is helper 1. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("xdp")
int hello(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&packets, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
