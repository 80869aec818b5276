// SOURCES: src/dev/fdt.c
/*
 * test_fdt.c - host tests for the device tree parser.
 *
 * argv[1] is a QEMU virt dtb (made by tests/test_unit_host.py with
 * -smp 4 -m 128M -append "hello world" -initrd ...).  Besides parsing
 * it, the tests feed the parser damaged copies.  Each copy lives in a
 * malloc block of exactly its totalsize, with the block under test
 * placed at the very end, so ASan catches any read past the bounds the
 * header declares.  Small hand-built blobs cover the cases QEMU's tree
 * does not (other cell sizes, disabled cpus, 32-bit initrd, v16).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "dev/fdt.h"
#include "unit.h"

static uint8_t *dtb;        /* the QEMU blob, exactly totalsize bytes */
static size_t dtb_size;

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

enum { H_MAGIC = 0, H_TOTAL = 4, H_OFF_STRUCT = 8, H_OFF_STRINGS = 12, H_OFF_RSV = 16,
       H_VERSION = 20, H_SIZE_STRINGS = 32, H_SIZE_STRUCT = 36 };

static uint8_t *dup_blob(const uint8_t *b, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, b, n);
    return c;
}

/* ---- a minimal blob builder for the synthetic trees ---- */

struct fb {
    uint8_t st[16384]; size_t sl;
    char strs[2048]; size_t tl;
};

static void fb_u32(struct fb *f, uint32_t v) { put32(f->st + f->sl, v); f->sl += 4; }

static void fb_bytes(struct fb *f, const void *p, size_t n)
{
    memcpy(f->st + f->sl, p, n);
    f->sl += n;
    while (f->sl % 4)
        f->st[f->sl++] = 0;
}

static uint32_t fb_str(struct fb *f, const char *s)
{
    for (size_t i = 0; i < f->tl; i += strlen(f->strs + i) + 1)
        if (strcmp(f->strs + i, s) == 0)
            return i;
    uint32_t off = f->tl;
    memcpy(f->strs + off, s, strlen(s) + 1);
    f->tl += strlen(s) + 1;
    return off;
}

static void fb_begin(struct fb *f, const char *name) { fb_u32(f, 1); fb_bytes(f, name, strlen(name) + 1); }
static void fb_end(struct fb *f) { fb_u32(f, 2); }

static void fb_prop(struct fb *f, const char *name, const void *v, size_t len)
{
    fb_u32(f, 3);
    fb_u32(f, len);
    fb_u32(f, fb_str(f, name));
    fb_bytes(f, v, len);
}

static void fb_cells(struct fb *f, const char *name, int n, const uint32_t *c)
{
    uint8_t buf[64];
    for (int i = 0; i < n; i++)
        put32(buf + 4 * i, c[i]);
    fb_prop(f, name, buf, 4 * n);
}

static void fb_u32prop(struct fb *f, const char *name, uint32_t v) { fb_cells(f, name, 1, &v); }
static void fb_strprop(struct fb *f, const char *name, const char *s) { fb_prop(f, name, s, strlen(s) + 1); }

/* header | empty reserve map | strings | struct, exactly sized. */
static uint8_t *fb_finish(struct fb *f, uint32_t version, size_t *size)
{
    fb_u32(f, 9);
    size_t strings_off = 40 + 16, struct_off = (strings_off + f->tl + 3) & ~3UL;
    size_t total = struct_off + f->sl;
    uint8_t *b = calloc(1, total);
    put32(b + H_MAGIC, 0xd00dfeed);
    put32(b + H_TOTAL, total);
    put32(b + H_OFF_STRUCT, struct_off);
    put32(b + H_OFF_STRINGS, strings_off);
    put32(b + H_OFF_RSV, 40);
    put32(b + H_VERSION, version);
    put32(b + 24, 16);
    put32(b + H_SIZE_STRINGS, f->tl);
    put32(b + H_SIZE_STRUCT, version >= 17 ? f->sl : 0);
    memcpy(b + strings_off, f->strs, f->tl);
    memcpy(b + struct_off, f->st, f->sl);
    *size = total;
    return b;
}

/* ---- the QEMU virt tree ---- */

static void test_qemu_virt(void)
{
    struct fdt_info fi;
    CHECK(dtb != NULL);
    CHECK(fdt_total_size(dtb) == dtb_size);
    CHECK(fdt_parse(dtb, &fi) == 0);
    CHECK(fi.nharts == 4);
    for (int i = 0; i < 4; i++)
        CHECK(fi.hart_ids[i] == (uint32_t)i);
    CHECK(fi.mem_base == 0x80000000UL);
    CHECK(fi.mem_size == 128UL << 20);
    CHECK(fi.timebase_freq == 10000000);
    CHECK(fi.uart_base == 0x10000000 && fi.uart_irq == 10);
    CHECK(fi.plic_base == 0xc000000 && fi.plic_size >= 0x400000);
    CHECK(fi.nvirtio == 8);
    unsigned seen = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t slot = (fi.virtio_base[i] - 0x10001000) / 0x1000;
        CHECK(fi.virtio_base[i] >= 0x10001000 && slot < 8 && (fi.virtio_base[i] & 0xfff) == 0);
        CHECK(fi.virtio_irq[i] == slot + 1);
        CHECK(!(seen & (1u << slot)));
        seen |= 1u << slot;
    }
    CHECK(fi.test_base == 0x100000);
    CHECK(strcmp(fi.bootargs, "hello world") == 0);
    CHECK(fi.initrd_start != 0 && fi.initrd_end > fi.initrd_start);
}

static void test_bad_header(void)
{
    struct fdt_info fi;
    uint8_t *b = dup_blob(dtb, dtb_size);
    b[0] ^= 1;
    CHECK(fdt_parse(b, &fi) == -1);
    CHECK(fdt_total_size(b) == 0);
    b[0] ^= 1;
    put32(b + H_VERSION, 15);
    CHECK(fdt_parse(b, &fi) == -1);
    put32(b + H_VERSION, 17);
    CHECK(fdt_parse(b, &fi) == 0);

    /* Offsets and sizes pointing outside totalsize. */
    static const int fields[] = { H_OFF_STRUCT, H_OFF_STRINGS, H_SIZE_STRINGS, H_SIZE_STRUCT };
    static const uint32_t bad[] = { 0, 4, 39, 0xffffffff, 0x80000000, 0x7ffffffc };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        uint32_t keep = get32(b + fields[i]);
        for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
            put32(b + fields[i], bad[j]);
            CHECK(fdt_parse(b, &fi) != 0);
        }
        put32(b + fields[i], keep);
    }
    CHECK(fdt_parse(b, &fi) == 0);
    free(b);
}

/* Copies truncated to every length: a block of exactly `len` bytes with
 * totalsize saying so (the header itself needs 8 bytes to be read). */
static void test_truncated_totalsize(void)
{
    struct fdt_info fi;
    for (size_t len = 8; len < dtb_size; len++) {
        uint8_t *b = dup_blob(dtb, len);
        put32(b + H_TOTAL, len);
        CHECK(fdt_parse(b, &fi) == -2);
        free(b);
    }
}

/* Move the structure block to the end of an exactly sized copy and cut
 * it short at every 4-byte step; the walker must stop at the edge. */
static void test_truncated_struct(void)
{
    struct fdt_info fi;
    uint32_t soff = get32(dtb + H_OFF_STRUCT), ssize = get32(dtb + H_SIZE_STRUCT);
    uint32_t toff = get32(dtb + H_OFF_STRINGS), tsize = get32(dtb + H_SIZE_STRINGS);
    size_t head = (40 + 16 + tsize + 3) & ~3UL;

    for (uint32_t cut = 0; cut <= ssize; cut += (cut < ssize - 4 ? 4 : 1)) {
        size_t total = head + cut;
        uint8_t *b = calloc(1, total);
        memcpy(b, dtb, 40);
        memcpy(b + 56, dtb + toff, tsize);
        memcpy(b + head, dtb + soff, cut);
        put32(b + H_TOTAL, total);
        put32(b + H_OFF_RSV, 40);
        put32(b + H_OFF_STRINGS, 56);
        put32(b + H_OFF_STRUCT, head);
        put32(b + H_SIZE_STRUCT, cut);
        int rc = fdt_parse(b, &fi);
        CHECK(cut == ssize ? rc == 0 : rc == -2);
        /* The same cut under v16, where the block runs to totalsize. */
        put32(b + H_VERSION, 16);
        rc = fdt_parse(b, &fi);
        CHECK(cut == ssize ? rc == 0 : rc == -2);
        free(b);
    }
}

/* The strings block last and cut short: never a read past its end. */
static void test_truncated_strings(void)
{
    struct fdt_info fi;
    uint32_t soff = get32(dtb + H_OFF_STRUCT), ssize = get32(dtb + H_SIZE_STRUCT);
    uint32_t toff = get32(dtb + H_OFF_STRINGS), tsize = get32(dtb + H_SIZE_STRINGS);

    for (uint32_t cut = 0; cut <= tsize; cut++) {
        size_t total = 56 + ssize + cut;
        uint8_t *b = calloc(1, total);
        memcpy(b, dtb, 40);
        memcpy(b + 56, dtb + soff, ssize);
        memcpy(b + 56 + ssize, dtb + toff, cut);
        put32(b + H_TOTAL, total);
        put32(b + H_OFF_RSV, 40);
        put32(b + H_OFF_STRUCT, 56);
        put32(b + H_OFF_STRINGS, 56 + ssize);
        put32(b + H_SIZE_STRINGS, cut);
        int rc = fdt_parse(b, &fi);
        CHECK(cut == tsize ? rc == 0 : rc == -2 || rc == 0);
        free(b);
    }
}

/* Random byte flips anywhere except totalsize (the one field we must
 * trust): any result is fine as long as nothing faults. */
static void test_random_flips(void)
{
    struct fdt_info fi;
    int errors = 0;
    for (int it = 0; it < 20000; it++) {
        uint8_t *b = dup_blob(dtb, dtb_size);
        int nflips = 1 + rnd_below(4);
        for (int k = 0; k < nflips; k++) {
            size_t pos = rnd_below(dtb_size);
            if (pos >= H_TOTAL && pos < H_TOTAL + 4)
                continue;
            b[pos] ^= (uint8_t)(1u << rnd_below(8));
            if (rnd_below(4) == 0)
                b[pos] = (uint8_t)rnd();
        }
        int rc = fdt_parse(b, &fi);
        CHECK(rc == 0 || rc == -1 || rc == -2);
        if (rc == 0) {
            CHECK(fi.nharts >= 0 && fi.nharts <= FDT_MAX_HARTS);
            CHECK(fi.nvirtio >= 0 && fi.nvirtio <= FDT_MAX_VIRTIO);
            CHECK(memchr(fi.bootargs, '\0', FDT_BOOTARGS_MAX) != NULL);
        } else {
            errors++;
        }
        free(b);
    }
    CHECK(errors > 0);   /* the walker does notice damage */
}

/* Flipped token words in the structure block are always caught. */
static void test_bad_tokens(void)
{
    struct fdt_info fi;
    uint8_t *b = dup_blob(dtb, dtb_size);
    uint32_t soff = get32(dtb + H_OFF_STRUCT);
    put32(b + soff, 7);                         /* unknown token */
    CHECK(fdt_parse(b, &fi) == -2);
    put32(b + soff, 3);                         /* a property outside any node */
    CHECK(fdt_parse(b, &fi) == -2);
    put32(b + soff, 2);                         /* END_NODE with nothing open */
    CHECK(fdt_parse(b, &fi) == -2);
    put32(b + soff, 9);                         /* FDT_END before the root */
    CHECK(fdt_parse(b, &fi) == -2);
    free(b);
}

/* ---- synthetic trees ---- */

static void test_synthetic_cells_and_status(void)
{
    static struct fb f;
    memset(&f, 0, sizeof(f));
    struct fdt_info fi;
    size_t size;

    fb_begin(&f, "");
    fb_u32prop(&f, "#address-cells", 1);
    fb_u32prop(&f, "#size-cells", 1);
    fb_u32(&f, 4);                              /* NOP */
    fb_begin(&f, "chosen");
    fb_strprop(&f, "bootargs", "console=ttyS0 quiet");
    fb_u32prop(&f, "linux,initrd-start", 0x84000000);
    uint32_t end64[2] = { 0x1, 0x2 };
    fb_cells(&f, "linux,initrd-end", 2, end64);
    fb_end(&f);
    fb_begin(&f, "memory@40000000");
    fb_strprop(&f, "device_type", "memory");
    uint32_t mem[2] = { 0x40000000, 0x20000000 };
    fb_cells(&f, "reg", 2, mem);
    fb_end(&f);
    fb_begin(&f, "cpus");
    fb_u32prop(&f, "#address-cells", 1);
    fb_u32prop(&f, "#size-cells", 0);
    static const char *status[] = { NULL, "disabled", "okay", "fail" , NULL };
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "cpu@%d", i + 3);
        fb_begin(&f, name);
        fb_strprop(&f, "device_type", "cpu");
        fb_u32prop(&f, "reg", i + 3);
        if (status[i])
            fb_strprop(&f, "status", status[i]);
        fb_end(&f);
    }
    fb_begin(&f, "cpu-map");
    fb_end(&f);
    fb_u32prop(&f, "timebase-frequency", 1000000);   /* after the cpus */
    fb_end(&f);
    fb_begin(&f, "soc");
    fb_u32prop(&f, "#address-cells", 2);
    fb_u32prop(&f, "#size-cells", 2);
    for (int i = 0; i < 10; i++) {              /* more than FDT_MAX_VIRTIO */
        fb_begin(&f, "virtio_mmio");
        uint32_t reg[4] = { 0, 0x20000000 + i * 0x1000, 0, 0x1000 };
        fb_cells(&f, "reg", 4, reg);
        fb_u32prop(&f, "interrupts", 40 + i);
        fb_strprop(&f, "compatible", "virtio,mmio");
        fb_end(&f);
    }
    fb_begin(&f, "serial@1");                   /* disabled: skipped */
    fb_strprop(&f, "status", "disabled");
    fb_strprop(&f, "compatible", "ns16550a");
    uint32_t ureg0[4] = { 0, 0x1000, 0, 0x100 };
    fb_cells(&f, "reg", 4, ureg0);
    fb_end(&f);
    fb_begin(&f, "serial@2");
    uint32_t ureg[4] = { 0x1, 0x2000, 0, 0x100 };
    fb_cells(&f, "reg", 4, ureg);
    fb_u32prop(&f, "interrupts", 33);
    fb_prop(&f, "compatible", "snps,dw-apb-uart\0ns16550a", sizeof("snps,dw-apb-uart\0ns16550a"));
    fb_end(&f);
    fb_begin(&f, "test@100000");
    fb_prop(&f, "compatible", "sifive,test1\0sifive,test0\0syscon", sizeof("sifive,test1\0sifive,test0\0syscon"));
    uint32_t treg[4] = { 0, 0x100000, 0, 0x1000 };
    fb_cells(&f, "reg", 4, treg);
    fb_end(&f);
    fb_begin(&f, "interrupt-controller@c000000");
    uint32_t preg[4] = { 0, 0xc000000, 0, 0x4000000 };
    fb_cells(&f, "reg", 4, preg);
    fb_prop(&f, "compatible", "sifive,plic-1.0.0\0riscv,plic0", sizeof("sifive,plic-1.0.0\0riscv,plic0"));
    fb_end(&f);
    fb_end(&f);
    fb_end(&f);

    uint8_t *b = fb_finish(&f, 17, &size);
    CHECK(fdt_parse(b, &fi) == 0);
    CHECK(fi.mem_base == 0x40000000 && fi.mem_size == 0x20000000);
    CHECK(fi.nharts == 3 && fi.hart_ids[0] == 3 && fi.hart_ids[1] == 5 && fi.hart_ids[2] == 7);
    CHECK(fi.timebase_freq == 1000000);
    CHECK(strcmp(fi.bootargs, "console=ttyS0 quiet") == 0);
    CHECK(fi.initrd_start == 0x84000000 && fi.initrd_end == 0x100000002ULL);
    CHECK(fi.nvirtio == FDT_MAX_VIRTIO);
    for (int i = 0; i < FDT_MAX_VIRTIO; i++)
        CHECK(fi.virtio_base[i] == 0x20000000UL + i * 0x1000 && fi.virtio_irq[i] == 40u + i);
    CHECK(fi.uart_base == 0x100002000ULL && fi.uart_irq == 33);
    CHECK(fi.test_base == 0x100000);
    CHECK(fi.plic_base == 0xc000000 && fi.plic_size == 0x4000000);
    free(b);

    /* The same tree as a version 16 blob (no size_dt_struct). */
    f.sl -= 4;                                  /* drop FDT_END; finish re-adds */
    b = fb_finish(&f, 16, &size);
    CHECK(fdt_parse(b, &fi) == 0 && fi.nharts == 3 && fi.nvirtio == FDT_MAX_VIRTIO);
    free(b);
}

static void test_synthetic_malformed(void)
{
    static struct fb f;
    struct fdt_info fi;
    size_t size;
    uint8_t *b;

    /* Nodes nested deeper than the parser tracks. */
    memset(&f, 0, sizeof(f));
    for (int i = 0; i < 100; i++)
        fb_begin(&f, i ? "n" : "");
    for (int i = 0; i < 100; i++)
        fb_end(&f);
    b = fb_finish(&f, 17, &size);
    CHECK(fdt_parse(b, &fi) == -2);
    free(b);

    /* Unclosed root. */
    memset(&f, 0, sizeof(f));
    fb_begin(&f, "");
    b = fb_finish(&f, 17, &size);
    CHECK(fdt_parse(b, &fi) == -2);
    free(b);

    /* A second root after the first. */
    memset(&f, 0, sizeof(f));
    fb_begin(&f, ""); fb_end(&f);
    fb_begin(&f, ""); fb_end(&f);
    b = fb_finish(&f, 17, &size);
    CHECK(fdt_parse(b, &fi) == -2);
    free(b);

    /* Huge #address-cells and a short reg: ignored, not misread. */
    memset(&f, 0, sizeof(f));
    fb_begin(&f, "");
    fb_u32prop(&f, "#address-cells", 0x40000000);
    fb_begin(&f, "memory");
    fb_u32prop(&f, "reg", 0x1234);
    fb_end(&f);
    fb_begin(&f, "uart");
    fb_strprop(&f, "compatible", "ns16550a");
    fb_u32prop(&f, "reg", 0x1234);
    fb_end(&f);
    fb_end(&f);
    b = fb_finish(&f, 17, &size);
    CHECK(fdt_parse(b, &fi) == 0);
    CHECK(fi.mem_size == 0 && fi.uart_base == 0 && fi.nharts == 0);
    CHECK(fi.bootargs[0] == '\0' && fi.initrd_start == 0 && fi.test_base == 0);
    free(b);

    /* Unterminated bootargs longer than the buffer: cut, terminated. */
    memset(&f, 0, sizeof(f));
    fb_begin(&f, "");
    fb_begin(&f, "chosen");
    char longargs[400];
    memset(longargs, 'x', sizeof(longargs));
    fb_prop(&f, "bootargs", longargs, sizeof(longargs));
    fb_end(&f);
    fb_end(&f);
    b = fb_finish(&f, 17, &size);
    CHECK(fdt_parse(b, &fi) == 0);
    CHECK(strlen(fi.bootargs) == FDT_BOOTARGS_MAX - 1);
    free(b);
}

static uint8_t *load(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    uint8_t hdr[8];
    uint8_t *b = NULL;
    if (fread(hdr, 1, 8, fp) == 8 && get32(hdr) == 0xd00dfeed) {
        /* dumpdtb writes QEMU's whole buffer; keep only totalsize. */
        *size = get32(hdr + 4);
        b = malloc(*size);
        memcpy(b, hdr, 8);
        if (fread(b + 8, 1, *size - 8, fp) != *size - 8) {
            free(b);
            b = NULL;
        }
    }
    fclose(fp);
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !(dtb = load(argv[1], &dtb_size))) {
        fprintf(stderr, "usage: %s virt.dtb (a readable QEMU dtb)\n", argv[0]);
        return 2;
    }
    static const struct unit_test tests[] = {
        TEST(test_qemu_virt),
        TEST(test_bad_header),
        TEST(test_truncated_totalsize),
        TEST(test_truncated_struct),
        TEST(test_truncated_strings),
        TEST(test_random_flips),
        TEST(test_bad_tokens),
        TEST(test_synthetic_cells_and_status),
        TEST(test_synthetic_malformed),
    };
    int rc = RUN_TESTS(tests);
    free(dtb);
    return rc;
}
