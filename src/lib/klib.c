/*
 * klib.c - string routines and snprintf for the kernel.
 */
#include "lib/klib.h"

/* The compiler itself emits calls to these (struct copies, zeroing):
 * `used` keeps link-time optimisation from dropping them. */
#define COMPILER_CALLS __attribute__((used))

COMPILER_CALLS void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    if (n >= 16 && !((uintptr_t)p & 7)) {
        uint64_t v = (unsigned char)c * 0x0101010101010101ULL;
        /* eight words a turn: zeroing a page took 3 instructions a word,
         * half the cost of a page-table page or a fresh user page */
        for (; n >= 64; n -= 64, p += 64) {
            uint64_t *w = (uint64_t *)p;
            w[0] = v; w[1] = v; w[2] = v; w[3] = v;
            w[4] = v; w[5] = v; w[6] = v; w[7] = v;
        }
        for (; n >= 8; n -= 8, p += 8)
            *(uint64_t *)p = v;
    }
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

COMPILER_CALLS void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (!(((uintptr_t)dp | (uintptr_t)sp) & 7)) {
        /* eight words a turn (fork copies its pages with this: 5
         * instructions a word one at a time) */
        for (; n >= 64; n -= 64, dp += 64, sp += 64) {
            uint64_t *w = (uint64_t *)dp;
            const uint64_t *r = (const uint64_t *)sp;
            uint64_t a0 = r[0], a1 = r[1], a2 = r[2], a3 = r[3];
            uint64_t a4 = r[4], a5 = r[5], a6 = r[6], a7 = r[7];
            w[0] = a0; w[1] = a1; w[2] = a2; w[3] = a3;
            w[4] = a4; w[5] = a5; w[6] = a6; w[7] = a7;
        }
        for (; n >= 8; n -= 8, dp += 8, sp += 8)
            *(uint64_t *)dp = *(const uint64_t *)sp;
    }
    while (n--)
        *dp++ = *sp++;
    return d;
}

COMPILER_CALLS void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp <= sp || dp >= sp + n)
        return memcpy(d, s, n);
    while (n--)
        dp[n] = sp[n];
    return d;
}

COMPILER_CALLS int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}

size_t strlcpy(char *d, const char *s, size_t n)
{
    size_t len = strlen(s);
    if (n) {
        size_t k = len < n - 1 ? len : n - 1;
        memcpy(d, s, k);
        d[k] = 0;
    }
    return len;
}

struct out { char *buf; size_t cap, len; };

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, uint64_t v, int base, bool neg, int width, char pad, bool left)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    if (neg && pad == '0') {    /* sign before the zeros */
        put(o, '-');
        n--;
        width--;
    }
    int digits = n;
    if (!left)
        for (int i = n; i < width; i++)
            put(o, pad);
    while (n)
        put(o, tmp[--n]);
    if (left)
        for (int i = digits; i < width; i++)
            put(o, ' ');
}

int vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    struct out o = { buf, cap, 0 };
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        bool left = false;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '-') { left = true; fmt++; }
        if (*fmt == '0') { pad = '0'; fmt++; }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') { lng++; fmt++; }
        switch (*fmt) {
        case 'd': case 'i': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad, left);
            break;
        }
        case 'u': case 'x': {
            uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            put_num(&o, v, *fmt == 'x' ? 16 : 10, false, width, pad, left);
            break;
        }
        case 'p':
            put(&o, '0'); put(&o, 'x');
            put_num(&o, (uint64_t)va_arg(ap, void *), 16, false, width, pad, left);
            break;
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int n = strlen(s);
            if (!left)
                for (int i = n; i < width; i++) put(&o, ' ');
            while (*s) put(&o, *s++);
            if (left)
                for (int i = n; i < width; i++) put(&o, ' ');
            break;
        }
        case '%':
            put(&o, '%');
            break;
        default:
            put(&o, '%');
            if (*fmt) put(&o, *fmt); else fmt--;
        }
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = 0;
    return o.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}
