/*
 * cpio.c - the newc ("070701"/"070702") cpio reader; see cpio.h.
 *
 * Layout of one entry, from a 4-byte aligned offset:
 *   110-byte header: 6-byte magic, 13 fields of 8 hex digits
 *   c_namesize bytes of name (NUL-terminated inside the field), pad to 4
 *   c_filesize bytes of data, pad to 4
 * The archive ends with an entry named "TRAILER!!!".
 *
 * Every header field is untrusted: hex digits are checked, sizes are
 * checked against what is left of the buffer before any pointer is
 * formed (so nothing can overflow), the name must hold its NUL, and
 * c_namesize is capped at 4096 as Linux does.
 */
#include "fs/cpio.h"
#include "lib/klib.h"

#define HDR_LEN 110
#define NAME_MAX_FIELD 4096
#define F_MODE 1
#define F_FILESIZE 6
#define F_NAMESIZE 11

static bool hex_field(const uint8_t *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        uint8_t c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

void cpio_iter_init(struct cpio_iter *it, const void *base, size_t size)
{
    it->base = base;
    it->size = base ? size : 0;
    it->off = 0;
    it->state = 0;
}

static int fail(struct cpio_iter *it)
{
    it->state = CPIO_ERROR;
    return CPIO_ERROR;
}

/* Drop leading "/" and "./", trailing "/". */
static void normalise(struct cpio_entry *e)
{
    const char *s = e->name;
    size_t n = e->namelen;
    for (;;) {
        if (n >= 1 && s[0] == '/') {
            s++, n--;
        } else if (n >= 2 && s[0] == '.' && s[1] == '/') {
            s += 2, n -= 2;
        } else {
            break;
        }
    }
    if (n == 1 && s[0] == '.')
        n = 0;
    while (n > 0 && s[n - 1] == '/')
        n--;
    e->name = s;
    e->namelen = n;
}

int cpio_next(struct cpio_iter *it, struct cpio_entry *e)
{
    for (;;) {
        if (it->state)
            return it->state;
        size_t off = it->off, left = it->size - off;   /* off <= size always */
        if (left < HDR_LEN)
            return fail(it);
        const uint8_t *h = it->base + off;
        if (memcmp(h, "07070", 5) != 0 || (h[5] != '1' && h[5] != '2'))
            return fail(it);
        uint32_t f[13];
        for (int i = 0; i < 13; i++)
            if (!hex_field(h + 6 + 8 * i, &f[i]))
                return fail(it);
        size_t namesize = f[F_NAMESIZE], filesize = f[F_FILESIZE];
        if (namesize < 1 || namesize > NAME_MAX_FIELD || namesize > left - HDR_LEN)
            return fail(it);
        const char *name = (const char *)h + HDR_LEN;
        size_t namelen = strnlen(name, namesize);
        if (namelen == namesize)                        /* no NUL inside the field */
            return fail(it);
        if (namelen == 10 && memcmp(name, "TRAILER!!!", 10) == 0) {
            it->state = CPIO_END;                       /* its padding may be cut off */
            return CPIO_END;
        }
        size_t data = ALIGN_UP(HDR_LEN + namesize, 4);  /* relative to off; <= 4096 + 113 */
        if (data > left || filesize > left - data)
            return fail(it);
        size_t next = ALIGN_UP(data + filesize, 4);
        it->off = next <= left ? off + next : it->size; /* padding may be cut at the very end */
        e->name = name;
        e->namelen = namelen;
        e->mode = f[F_MODE];
        e->data = h + data;
        e->size = filesize;
        normalise(e);
        if (e->namelen == 0)                            /* ".": the root, already there */
            continue;
        return CPIO_ENTRY;
    }
}

long cpio_check(const void *base, size_t size)
{
    struct cpio_iter it;
    struct cpio_entry e;
    long n = 0;
    int r;
    cpio_iter_init(&it, base, size);
    while ((r = cpio_next(&it, &e)) == CPIO_ENTRY)
        n++;
    return r == CPIO_END ? n : CPIO_ERROR;
}
