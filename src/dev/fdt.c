/*
 * fdt.c - the flattened device tree parser.
 *
 * One pass over the structure block.  Each open node has a frame on a
 * fixed stack recording the properties we care about; a node is acted on
 * at its END_NODE, when all its properties (in any order) are known and
 * its parent's #address-cells/#size-cells say how to read its reg.
 * /chosen and timebase-frequency are read as their properties arrive.
 * Addresses are taken as-is: no "ranges" translation (QEMU virt's /soc
 * maps 1:1).
 *
 * Safety: every read goes through a bounds check against the block it
 * lies in (structure or strings), and both blocks are checked to lie
 * inside the header's totalsize, which is the only size we are told.
 * The blob needs no alignment: all fields are read bytewise big-endian.
 */
#include <stdbool.h>
#include "dev/fdt.h"
#include "lib/klib.h"

#define FDT_MAGIC 0xd00dfeedU
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9
#define HDR_SIZE 40
#define MAX_DEPTH 16           /* QEMU virt needs 4; the stack frame is ~1.7 KiB */
#define MAX_CELLS 4

enum node_type { N_OTHER, N_ROOT, N_CPUS, N_CPU, N_CHOSEN, N_MEMORY };

struct span {
    const uint8_t *p;           /* NULL: property absent */
    uint32_t len;
};

struct frame {
    int type;
    const char *name;           /* nul-terminated, inside the struct block */
    uint32_t addr_cells, size_cells;   /* for this node's children */
    struct span reg, irq, compat, status, devtype;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read n cells (<= MAX_CELLS) as one number; only the low 64 bits survive. */
static uint64_t read_cells(const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++)
        v = (v << 32) | be32(p + 4 * i);
    return v;
}

/* A 32- or 64-bit integer property (initrd bounds, frequencies). */
static uint64_t read_int(const uint8_t *p, uint32_t len)
{
    if (len == 4)
        return be32(p);
    if (len == 8)
        return read_cells(p, 2);
    return 0;
}

/* Does the property value (a string) equal s exactly? */
static bool str_eq(const struct span *v, const char *s)
{
    size_t n = strlen(s);
    return v->p && (v->len == n + 1 || v->len == n) && memcmp(v->p, s, n) == 0 &&
           (v->len == n || v->p[n] == '\0');
}

/* Is s one of the strings in a compatible list? */
static bool compat_has(const struct span *v, const char *s)
{
    size_t n = strlen(s);
    uint32_t i = 0;

    if (!v->p)
        return false;
    while (i < v->len) {
        uint32_t j = i;
        while (j < v->len && v->p[j] != '\0')
            j++;
        if (j - i == n && memcmp(v->p + i, s, n) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

/* Node name is `base` or `base@unit`. */
static bool name_is(const char *name, const char *base)
{
    size_t n = strlen(base);
    return strncmp(name, base, n) == 0 && (name[n] == '\0' || name[n] == '@');
}

static bool is_okay(const struct frame *f)
{
    return !f->status.p || str_eq(&f->status, "okay") || str_eq(&f->status, "ok");
}

/* First (address, size) pair of f's reg, read with the parent's cells. */
static bool reg_first(const struct frame *f, const struct frame *parent,
                      uint64_t *addr, uint64_t *size)
{
    uint32_t ac = parent->addr_cells, sc = parent->size_cells;

    if (!f->reg.p || ac == 0 || ac > MAX_CELLS || sc > MAX_CELLS || f->reg.len < 4 * (ac + sc))
        return false;
    *addr = read_cells(f->reg.p, ac);
    *size = read_cells(f->reg.p + 4 * ac, sc);
    return true;
}

static uint32_t irq_first(const struct frame *f)
{
    return f->irq.p && f->irq.len >= 4 ? be32(f->irq.p) : 0;
}

/* Classify a node at BEGIN_NODE time from its name and its parent. */
static int node_type(const char *name, int depth, const struct frame *parent)
{
    if (depth == 0)
        return N_ROOT;
    if (depth == 1 && strcmp(name, "cpus") == 0)
        return N_CPUS;
    if (depth == 1 && strcmp(name, "chosen") == 0)
        return N_CHOSEN;
    if (depth == 1 && name_is(name, "memory"))
        return N_MEMORY;
    if (parent->type == N_CPUS && name_is(name, "cpu"))
        return N_CPU;
    return N_OTHER;
}

/* A node is complete: record what it tells us. */
static void finish_node(struct fdt_info *out, const struct frame *f, const struct frame *parent)
{
    uint64_t addr = 0, size = 0;
    bool reg = reg_first(f, parent, &addr, &size);

    if (f->type == N_MEMORY || (parent->type == N_ROOT && str_eq(&f->devtype, "memory"))) {
        if (reg && out->mem_size == 0) {
            out->mem_base = addr;
            out->mem_size = size;
        }
        return;
    }
    if (f->type == N_CPU || (parent->type == N_CPUS && str_eq(&f->devtype, "cpu"))) {
        if (reg && is_okay(f) && out->nharts < FDT_MAX_HARTS)
            out->hart_ids[out->nharts++] = (uint32_t)addr;
        return;
    }
    if (!reg || !is_okay(f))
        return;
    if (out->uart_base == 0 && compat_has(&f->compat, "ns16550a")) {
        out->uart_base = addr;
        out->uart_irq = irq_first(f);
    } else if (out->plic_base == 0 && (compat_has(&f->compat, "riscv,plic0") ||
                                       compat_has(&f->compat, "sifive,plic-1.0.0"))) {
        out->plic_base = addr;
        out->plic_size = size;
    } else if (compat_has(&f->compat, "virtio,mmio")) {
        if (out->nvirtio < FDT_MAX_VIRTIO) {
            out->virtio_base[out->nvirtio] = addr;
            out->virtio_irq[out->nvirtio] = irq_first(f);
            out->nvirtio++;
        }
    } else if (out->test_base == 0 && compat_has(&f->compat, "sifive,test0")) {
        out->test_base = addr;
    }
}

/* A property of the innermost open node. */
static void take_prop(struct fdt_info *out, struct frame *f, const char *name,
                      const uint8_t *val, uint32_t len)
{
    struct span v = { val, len };

    if (strcmp(name, "#address-cells") == 0 && len == 4)
        f->addr_cells = be32(val);
    else if (strcmp(name, "#size-cells") == 0 && len == 4)
        f->size_cells = be32(val);
    else if (strcmp(name, "reg") == 0)
        f->reg = v;
    else if (strcmp(name, "interrupts") == 0)
        f->irq = v;
    else if (strcmp(name, "compatible") == 0)
        f->compat = v;
    else if (strcmp(name, "status") == 0)
        f->status = v;
    else if (strcmp(name, "device_type") == 0)
        f->devtype = v;
    else if (strcmp(name, "timebase-frequency") == 0) {
        /* /cpus wins over a value on an individual cpu. */
        if (f->type == N_CPUS || (f->type == N_CPU && out->timebase_freq == 0))
            out->timebase_freq = read_int(val, len);
    } else if (f->type == N_CHOSEN) {
        if (strcmp(name, "bootargs") == 0) {
            uint32_t n = MIN(len, (uint32_t)FDT_BOOTARGS_MAX - 1);
            memcpy(out->bootargs, val, n);
            out->bootargs[n] = '\0';
        } else if (strcmp(name, "linux,initrd-start") == 0) {
            out->initrd_start = read_int(val, len);
        } else if (strcmp(name, "linux,initrd-end") == 0) {
            out->initrd_end = read_int(val, len);
        }
    }
}

size_t fdt_total_size(const void *blob)
{
    const uint8_t *b = blob;
    if (!b || be32(b) != FDT_MAGIC)
        return 0;
    return be32(b + 4);
}

int fdt_parse(const void *blob, struct fdt_info *out)
{
    const uint8_t *b = blob;

    memset(out, 0, sizeof(*out));
    if (!b || be32(b) != FDT_MAGIC)
        return -1;
    /* Read no further into the header than totalsize allows. */
    uint64_t total = be32(b + 4);
    if (total < HDR_SIZE)
        return -2;
    if (be32(b + 20) < 16)
        return -1;
    uint64_t soff = be32(b + 8), toff = be32(b + 12);
    uint64_t ssize, tsize = be32(b + 32);
    if (soff < HDR_SIZE || toff < HDR_SIZE || soff % 4 != 0)
        return -2;
    /* size_dt_struct is new in v17; before that the block runs to the end. */
    ssize = be32(b + 20) >= 17 ? be32(b + 36) : total - MIN(soff, total);
    if (soff + ssize > total || toff + tsize > total)
        return -2;

    const uint8_t *st = b + soff;     /* structure block, ssize bytes */
    const char *strs = (const char *)b + toff;   /* strings block, tsize bytes */
    struct frame stack[MAX_DEPTH];
    int depth = 0;                    /* open nodes */
    bool root_done = false;
    uint64_t pos = 0;

    for (;;) {
        if (pos + 4 > ssize)
            return -2;                /* ran off the block without FDT_END */
        uint32_t tok = be32(st + pos);
        pos += 4;

        if (tok == FDT_BEGIN_NODE) {
            uint64_t end = pos;
            while (end < ssize && st[end] != '\0')
                end++;
            if (end >= ssize || depth == MAX_DEPTH || (depth == 0 && root_done))
                return -2;
            struct frame *f = &stack[depth];
            memset(f, 0, sizeof(*f));
            f->name = (const char *)st + pos;
            f->addr_cells = 2;        /* defaults for this node's children */
            f->size_cells = 1;
            f->type = node_type(f->name, depth, depth ? &stack[depth - 1] : NULL);
            depth++;
            pos = ALIGN_UP(end + 1, 4);
        } else if (tok == FDT_END_NODE) {
            if (depth == 0)
                return -2;
            depth--;
            if (depth > 0)
                finish_node(out, &stack[depth], &stack[depth - 1]);
            else
                root_done = true;
        } else if (tok == FDT_PROP) {
            if (depth == 0 || pos + 8 > ssize)
                return -2;
            uint32_t len = be32(st + pos), nameoff = be32(st + pos + 4);
            pos += 8;
            if (len > ssize - pos || nameoff >= tsize)
                return -2;
            /* The name must end inside the strings block. */
            uint64_t e = nameoff;
            while (e < tsize && strs[e] != '\0')
                e++;
            if (e >= tsize)
                return -2;
            take_prop(out, &stack[depth - 1], strs + nameoff, st + pos, len);
            pos = ALIGN_UP(pos + len, 4);
        } else if (tok == FDT_NOP) {
            continue;
        } else if (tok == FDT_END) {
            return depth == 0 && root_done ? 0 : -2;
        } else {
            return -2;
        }
    }
}
