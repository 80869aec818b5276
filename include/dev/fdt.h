/*
 * fdt.h - the flattened device tree parser: what the kernel needs to
 * know about the machine, read from the blob OpenSBI passes in a1.
 * Pure C, bounds-checked against the header's totalsize: a malformed
 * blob gives an error, never a fault.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define FDT_MAX_HARTS 32
#define FDT_MAX_VIRTIO 8
#define FDT_BOOTARGS_MAX 256

struct fdt_info {
    uint64_t mem_base, mem_size;          /* first /memory reg */
    int nharts;                           /* cpus with status okay (or no status) */
    uint32_t hart_ids[FDT_MAX_HARTS];     /* their reg values, in tree order */
    uint64_t timebase_freq;               /* /cpus timebase-frequency */
    uint64_t uart_base; uint32_t uart_irq;/* first ns16550a */
    uint64_t plic_base, plic_size;        /* riscv,plic0 / sifive,plic-1.0.0 */
    int nvirtio;
    uint64_t virtio_base[FDT_MAX_VIRTIO]; uint32_t virtio_irq[FDT_MAX_VIRTIO];
    uint64_t initrd_start, initrd_end;    /* /chosen linux,initrd-*, 0 if none */
    uint64_t test_base;                   /* sifive,test0 (QEMU exit device), 0 if none */
    char bootargs[FDT_BOOTARGS_MAX];      /* /chosen bootargs, "" if none */
};

/* 0 on success; -1 bad magic/version, -2 truncated or malformed. */
int fdt_parse(const void *blob, struct fdt_info *out);
/* Total size from the header, or 0 if the magic is wrong. */
size_t fdt_total_size(const void *blob);
