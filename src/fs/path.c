/*
 * path.c - lexical path resolution (pure C; host-tested by
 * tests/unit/test_path.c).
 *
 * path_resolve() joins cwd and path and normalises the result: an
 * absolute path with no "." or ".." components, no repeated '/', and no
 * trailing '/' except for "/" itself.  ".." at the root stays at the
 * root.  There are no symbolic links, so this is exact.
 *
 * It works right to left: a ".." cancels the next real component to its
 * left, so every component is either kept or dropped in one pass, and no
 * intermediate result (which could be longer than the final one) is ever
 * built.  A first pass measures, a second writes from the end of `out`.
 */
#include "lib/errno.h"
#include "fs/file.h"
#include "lib/klib.h"

/* The components of up to two strings (cwd, then path), right to left. */
struct rscan {
    const char *s[2];
    size_t pos[2];      /* scan position: characters left in s[i] */
    int i;              /* which string is being scanned */
};

/* The next component to the left: its start and length; false at the end. */
static bool prev_component(struct rscan *r, const char **start, size_t *len)
{
    while (r->i >= 0) {
        const char *s = r->s[r->i];
        size_t p = r->pos[r->i];
        while (p > 0 && s[p - 1] == '/')
            p--;
        if (p == 0) {
            r->pos[r->i] = 0;
            r->i--;
            continue;
        }
        size_t end = p;
        while (p > 0 && s[p - 1] != '/')
            p--;
        r->pos[r->i] = p;
        *start = s + p;
        *len = end - p;
        return true;
    }
    return false;
}

static void rscan_init(struct rscan *r, const char *cwd, const char *path)
{
    if (path[0] == '/' || !cwd)
        cwd = "";
    r->s[0] = cwd;
    r->s[1] = path;
    r->pos[0] = strlen(cwd);
    r->pos[1] = strlen(path);
    r->i = 1;
}

/* Visit the kept components right to left; returns the result length. */
static size_t walk(const char *cwd, const char *path, char *out, size_t outlen)
{
    struct rscan r;
    const char *c;
    size_t n, total = 0, skip = 0;
    rscan_init(&r, cwd, path);
    while (prev_component(&r, &c, &n)) {
        if (n == 1 && c[0] == '.')
            continue;
        if (n == 2 && c[0] == '.' && c[1] == '.') {
            skip++;
            continue;
        }
        if (skip) {
            skip--;
            continue;
        }
        total += n + 1;                 /* "/" + component */
        if (out) {                      /* write it ending at outlen - (total - n - 1) */
            size_t end = outlen - (total - n - 1);
            memcpy(out + end - n, c, n);
            out[end - n - 1] = '/';
        }
    }
    return total ? total : 1;           /* the root is "/" */
}

int path_resolve(const char *cwd, const char *path, char *out, size_t cap)
{
    if (!path || !path[0])
        return -ENOENT;
    size_t len = walk(cwd, path, NULL, 0);
    if (len + 1 > cap)
        return -ENAMETOOLONG;
    out[0] = '/';
    walk(cwd, path, out, len);
    out[len] = 0;
    return 0;
}
