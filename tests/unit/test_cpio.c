// SOURCES: src/fs/cpio.c
/*
 * test_cpio.c - host tests for the newc cpio reader.
 *
 * A real archive comes from user/mkinitrd.py (page-aligned data, names
 * padded with NULs, "." filler entries); small ones are made here by a
 * tiny writer so that every header field can be damaged on purpose.
 * Each archive under test sits at the very end of a malloc block of
 * exactly its size, so ASan catches any read past it.
 */
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include "fs/cpio.h"
#include "unit.h"

/* ---- a small newc writer ------------------------------------------------ */

struct arc { uint8_t buf[1 << 16]; size_t len; };

static void pad4(struct arc *a)
{
    while (a->len % 4)
        a->buf[a->len++] = 0;
}

/* namesize 0: strlen(name) + 1. */
static size_t add_entry(struct arc *a, const char *name, uint32_t mode, const void *data,
                        uint32_t size, uint32_t namesize)
{
    size_t hdr = a->len;
    size_t nlen = strlen(name) + 1;
    if (!namesize)
        namesize = nlen;
    uint32_t f[13] = { 1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, namesize, 0 };
    a->len += sprintf((char *)a->buf + a->len, "070701");
    for (int i = 0; i < 13; i++)
        a->len += sprintf((char *)a->buf + a->len, "%08X", f[i]);
    memset(a->buf + a->len, 0, namesize);
    memcpy(a->buf + a->len, name, nlen < namesize ? nlen : namesize);
    a->len += namesize;
    pad4(a);
    memcpy(a->buf + a->len, data, size);
    a->len += size;
    pad4(a);
    return hdr;
}

static size_t add_trailer(struct arc *a)
{
    return add_entry(a, "TRAILER!!!", 0, "", 0, 0);
}

/* A copy at the end of an exact-size block (caller frees). */
static uint8_t *exact(const void *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    memcpy(b, p, n);
    return b;
}

/* Iterate; check every entry lies inside; touch every byte (ASan).
 * Returns the entry count, or -1 on CPIO_ERROR. */
static long walk(const uint8_t *base, size_t size)
{
    struct cpio_iter it;
    struct cpio_entry e;
    long n = 0;
    int r;
    unsigned sum = 0;
    cpio_iter_init(&it, base, size);
    while ((r = cpio_next(&it, &e)) == CPIO_ENTRY) {
        if ((const uint8_t *)e.name < base || (const uint8_t *)e.name + e.namelen > base + size ||
            e.data < base || e.data + e.size > base + size || e.namelen == 0) {
            fprintf(stderr, "entry out of bounds\n");
            abort();
        }
        for (size_t i = 0; i < e.namelen; i++)
            sum += (uint8_t)e.name[i];
        for (size_t i = 0; i < e.size; i++)
            sum += e.data[i];
        n++;
    }
    (void)sum;
    if (cpio_next(&it, &e) != r)        /* the end is sticky */
        abort();
    return r == CPIO_END ? n : -1;
}

static struct arc small;
static size_t small_hdr[8];

static void make_small(void)
{
    small.len = 0;
    small_hdr[0] = add_entry(&small, ".", CPIO_S_IFDIR | 0755, "", 0, 0);
    small_hdr[1] = add_entry(&small, "bin", CPIO_S_IFDIR | 0755, "", 0, 0);
    small_hdr[2] = add_entry(&small, "bin/sh", CPIO_S_IFREG | 0755, "#!shell", 7, 40);
    small_hdr[3] = add_entry(&small, "./etc/motd/", CPIO_S_IFREG | 0644, "hi\n", 3, 0);
    small_hdr[4] = add_entry(&small, "/empty", CPIO_S_IFREG | 0644, "", 0, 0);
    small_hdr[5] = add_trailer(&small);
    /* junk after the trailer is never read */
    memcpy(small.buf + small.len, "garbage", 7);
    small.len += 7;
}

static void test_small(void)
{
    make_small();
    uint8_t *b = exact(small.buf, small.len);
    struct cpio_iter it;
    struct cpio_entry e;
    cpio_iter_init(&it, b, small.len);
    CHECK(cpio_next(&it, &e) == CPIO_ENTRY && e.namelen == 3 && !memcmp(e.name, "bin", 3));
    CHECK((e.mode & CPIO_S_IFMT) == CPIO_S_IFDIR && e.size == 0);
    CHECK(cpio_next(&it, &e) == CPIO_ENTRY && e.namelen == 6 && !memcmp(e.name, "bin/sh", 6));
    CHECK((e.mode & CPIO_S_IFMT) == CPIO_S_IFREG && e.size == 7 && !memcmp(e.data, "#!shell", 7));
    CHECK(cpio_next(&it, &e) == CPIO_ENTRY && e.namelen == 8 && !memcmp(e.name, "etc/motd", 8));
    CHECK(e.size == 3 && !memcmp(e.data, "hi\n", 3));
    CHECK(cpio_next(&it, &e) == CPIO_ENTRY && e.namelen == 5 && !memcmp(e.name, "empty", 5));
    CHECK(e.size == 0);
    CHECK(cpio_next(&it, &e) == CPIO_END);
    CHECK(cpio_next(&it, &e) == CPIO_END);
    CHECK(cpio_check(b, small.len) == 4);
    free(b);
}

static void test_empty_and_null(void)
{
    uint8_t *b = exact("", 0);
    CHECK(walk(b, 0) == -1);
    CHECK(walk(NULL, 100) == -1);
    CHECK(cpio_check(NULL, 0) == CPIO_ERROR);
    free(b);
    struct arc *a = calloc(1, sizeof *a);
    add_trailer(a);
    b = exact(a->buf, a->len);
    CHECK(walk(b, a->len) == 0);
    free(b);
    free(a);
}

/* Every truncation: the full list only once the trailer's name is in. */
static void test_truncations(void)
{
    make_small();
    size_t need = small_hdr[5] + 110 + 11;      /* header + "TRAILER!!!\0" */
    for (size_t n = 0; n <= small.len; n++) {
        uint8_t *b = exact(small.buf, n);
        long r = walk(b, n);
        free(b);
        if (n >= need)
            CHECK(r == 4);
        else
            CHECK(r == -1);
    }
}

/* A bad character in any hex digit of any header is an error there. */
static void test_bad_hex(void)
{
    make_small();
    static const char bad[] = { 'g', 'G', ' ', 'x', '\0', '-', 0x7f };
    for (int h = 1; h <= 5; h++) {
        for (int pos = 6; pos < 110; pos++) {
            for (size_t k = 0; k < sizeof bad; k++) {
                uint8_t *b = exact(small.buf, small.len);
                b[small_hdr[h] + pos] = bad[k];
                struct cpio_iter it;
                struct cpio_entry e;
                int got = 0, r;
                cpio_iter_init(&it, b, small.len);
                while ((r = cpio_next(&it, &e)) == CPIO_ENTRY)
                    got++;
                free(b);
                CHECK(r == CPIO_ERROR);
                CHECK(got == h - 1);    /* entries before the damage are fine */
            }
        }
    }
}

static void test_lowercase_hex_and_crc_magic(void)
{
    make_small();
    uint8_t *b = exact(small.buf, small.len);
    for (size_t i = 0; i < small.len; i++)   /* only header digits are upper case letters */
        if (b[i] >= 'A' && b[i] <= 'F' && i < small_hdr[1])
            b[i] += 'a' - 'A';
    b[small_hdr[2] + 5] = '2';                  /* 070702: newc with checksums */
    CHECK(walk(b, small.len) == 4);
    b[small_hdr[2] + 5] = '7';                  /* 070707: old ASCII format: not ours */
    CHECK(walk(b, small.len) == -1);
    free(b);
}

static void set_field(uint8_t *b, size_t hdr, int field, uint32_t v)
{
    char tmp[9];
    snprintf(tmp, sizeof tmp, "%08X", v);
    memcpy(b + hdr + 6 + 8 * field, tmp, 8);
}

static void test_bad_sizes(void)
{
    make_small();
    static const uint32_t filesizes[] = { 0xffffffff, 0x80000000, 0x10000, 1000 };
    for (size_t i = 0; i < sizeof filesizes / sizeof filesizes[0]; i++) {
        uint8_t *b = exact(small.buf, small.len);
        set_field(b, small_hdr[4], 6, filesizes[i]);   /* "/empty" before the trailer */
        CHECK(walk(b, small.len) == -1);
        free(b);
    }
    static const uint32_t namesizes[] = { 0, 0xffffffff, 4097, 0x10000, 2000, 3 };
    for (size_t i = 0; i < sizeof namesizes / sizeof namesizes[0]; i++) {
        uint8_t *b = exact(small.buf, small.len);
        set_field(b, small_hdr[4], 11, namesizes[i]);
        CHECK(walk(b, small.len) == -1);
        free(b);
    }
    /* The name fills its field with no NUL. */
    struct arc *a = calloc(1, sizeof *a);
    size_t h = add_entry(a, "abcd", CPIO_S_IFREG, "x", 1, 0);
    add_trailer(a);
    uint8_t *b = exact(a->buf, a->len);
    b[h + 110 + 4] = 'e';
    CHECK(walk(b, a->len) == -1);
    /* A NUL early in the field: the name is what comes before it. */
    memcpy(a->buf + h + 110, "ab\0d", 4);
    free(b);
    b = exact(a->buf, a->len);
    struct cpio_iter it;
    struct cpio_entry e;
    cpio_iter_init(&it, b, a->len);
    CHECK(cpio_next(&it, &e) == CPIO_ENTRY && e.namelen == 2 && !memcmp(e.name, "ab", 2));
    free(b);
    free(a);
}

static void test_bad_magic(void)
{
    make_small();
    for (int i = 0; i < 6; i++) {
        uint8_t *b = exact(small.buf, small.len);
        b[small_hdr[3] + i] ^= 0x40;
        CHECK(walk(b, small.len) == -1);
        free(b);
    }
}

/* Random damage never makes the reader step outside the buffer. */
static void test_fuzz(void)
{
    make_small();
    for (int i = 0; i < 30000; i++) {
        size_t n = small.len - rnd_below(small.len / 2 + 1);
        uint8_t *b = exact(small.buf, n);
        int flips = 1 + rnd_below(4);
        for (int k = 0; k < flips; k++) {
            size_t at = rnd_below(n);
            if (rnd_below(2))
                b[at] = "0123456789abcdefF!\0"[rnd_below(19)];
            else
                b[at] ^= 1u << rnd_below(8);
        }
        walk(b, n);
        free(b);
    }
}

/* ---- a real archive from user/mkinitrd.py ------------------------------- */

#define DIR_ "build/unit/cpio"

static void write_file(const char *path, size_t size, int seed)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    for (size_t i = 0; i < size; i++)
        fputc((int)((i * 7 + seed) & 0xff), f);
    fclose(f);
}

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*size ? *size : 1);
    if (fread(b, 1, *size, f) != *size)
        abort();
    fclose(f);
    return b;
}

static void test_mkinitrd(void)
{
    /* Sizes chosen so that one entry needs a "." filler: a file of 3984
     * bytes leaves the next header 112 bytes before a page boundary. */
    static const struct { const char *name; size_t size; } files[] = {
        { "bin/a", 3984 }, { "bin/b", 100 }, { "bin/c", 0 }, { "etc/deep/x", 5000 },
        { "etc/motd", 12 }, { "y", 3984 }, { "zz", 1 },
    };
    size_t nf = sizeof files / sizeof files[0];
    char cmd[4096] = "mkdir -p " DIR_ " && /usr/bin/python3 user/mkinitrd.py -o " DIR_ "/t.cpio";
    if (system("mkdir -p " DIR_) != 0)
        abort();
    for (size_t i = 0; i < nf; i++) {
        char host[256];
        snprintf(host, sizeof host, DIR_ "/f%zu", i);
        write_file(host, files[i].size, (int)i);
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s=%s", files[i].name, host);
    }
    CHECK(system(cmd) == 0);
    size_t size;
    uint8_t *b = read_all(DIR_ "/t.cpio", &size);
    CHECK(b);
    CHECK(size % 4096 == 0);

    struct cpio_iter it;
    struct cpio_entry e;
    size_t seen = 0, dirs = 0;
    int r;
    cpio_iter_init(&it, b, size);
    while ((r = cpio_next(&it, &e)) == CPIO_ENTRY) {
        if ((e.mode & CPIO_S_IFMT) == CPIO_S_IFDIR) {
            dirs++;
            continue;
        }
        CHECK((e.mode & CPIO_S_IFMT) == CPIO_S_IFREG);
        size_t i;
        for (i = 0; i < nf; i++)
            if (strlen(files[i].name) == e.namelen && !memcmp(files[i].name, e.name, e.namelen))
                break;
        CHECK(i < nf);
        CHECK(e.size == files[i].size);
        CHECK(e.size == 0 || (e.data - b) % 4096 == 0);
        for (size_t k = 0; k < e.size; k++)
            CHECK(e.data[k] == (uint8_t)((k * 7 + i) & 0xff));
        seen++;
    }
    CHECK(r == CPIO_END);
    CHECK(seen == nf);
    CHECK(dirs == 3);                   /* bin, etc, etc/deep */
    /* The "." fillers were there (and skipped by the reader). */
    size_t fillers = 0;
    for (size_t off = 0; off + 112 <= size; off += 4)
        if (!memcmp(b + off, "070701", 6) && !memcmp(b + off + 110, ".", 2))
            fillers++;
    CHECK(fillers >= 1);

    /* Truncations of the real archive at and around every header. */
    for (size_t n = 0; n < size; n += 1 + rnd_below(97)) {
        uint8_t *t = exact(b, n);
        long got = walk(t, n);
        CHECK(got == -1 || got == (long)(nf + 3));
        free(t);
    }
    free(b);
}

static const struct unit_test tests[] = {
    TEST(test_small), TEST(test_empty_and_null), TEST(test_truncations),
    TEST(test_bad_hex), TEST(test_lowercase_hex_and_crc_magic), TEST(test_bad_sizes),
    TEST(test_bad_magic), TEST(test_fuzz), TEST(test_mkinitrd),
};

int main(void) { return RUN_TESTS(tests); }
