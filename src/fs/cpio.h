/*
 * cpio.h - a reader of "newc" cpio archives that trusts nothing in them
 * (src/fs/cpio.c; pure C, host-tested by tests/unit/test_cpio.c).
 *
 *     struct cpio_iter it;
 *     struct cpio_entry e;
 *     cpio_iter_init(&it, base, size);
 *     while (cpio_next(&it, &e) == CPIO_ENTRY) ...
 *
 * Every entry returned lies wholly inside [base, base + size).  Names are
 * normalised: leading "/" and "./" and trailing "/" are dropped, so the
 * root's own entry ("." or "/") has an empty name and is skipped.  The
 * name is NOT NUL-terminated in general: use e.name[0 .. e.namelen).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_S_IFMT  0170000
#define CPIO_S_IFDIR 0040000
#define CPIO_S_IFREG 0100000

struct cpio_entry {
    const char *name;
    size_t namelen;
    uint32_t mode;              /* c_mode: type and permission bits */
    const uint8_t *data;
    size_t size;
};

struct cpio_iter {
    const uint8_t *base;
    size_t size, off;
    int state;                  /* 0 running, CPIO_END, CPIO_ERROR */
};

enum { CPIO_ERROR = -1, CPIO_END = 0, CPIO_ENTRY = 1 };

void cpio_iter_init(struct cpio_iter *it, const void *base, size_t size);
/* The next entry: CPIO_ENTRY; CPIO_END after "TRAILER!!!"; CPIO_ERROR on
 * a malformed archive (and for every later call). */
int cpio_next(struct cpio_iter *it, struct cpio_entry *e);
/* Number of entries (as cpio_next returns them), or CPIO_ERROR. */
long cpio_check(const void *base, size_t size);
