// SOURCES: src/fs/path.c
/*
 * test_path.c - host tests for path_resolve(): joining with the cwd,
 * ".", "..", repeated and trailing slashes, the root's "..", the empty
 * path, and results that do not fit (exactly at and around the limit).
 */
#include <string.h>
#include "lib/errno.h"
#include "fs/file.h"
#include "unit.h"

static int resolve(const char *cwd, const char *path, char *out, size_t cap)
{
    memset(out, 'X', cap);
    return path_resolve(cwd, path, out, cap);
}

#define EXPECT(cwd, path, want)                                              \
    do {                                                                     \
        char out_[128];                                                      \
        int r_ = resolve((cwd), (path), out_, sizeof out_);                  \
        if (r_ != 0 || strcmp(out_, (want)) != 0)                            \
            fprintf(stderr, "resolve(%s, %s) = %d \"%s\", want \"%s\"\n",    \
                    (cwd), (path), r_, r_ ? "" : out_, (want));              \
        CHECK(r_ == 0 && strcmp(out_, (want)) == 0);                         \
    } while (0)

static void test_absolute(void)
{
    EXPECT("/", "/", "/");
    EXPECT("/", "/bin/sh", "/bin/sh");
    EXPECT("/etc", "/bin/sh", "/bin/sh");
    EXPECT("/", "//bin///sh//", "/bin/sh");
    EXPECT("/", "/bin/", "/bin");
    EXPECT("/", "///", "/");
    EXPECT(NULL, "/a", "/a");
}

static void test_relative(void)
{
    EXPECT("/", "bin", "/bin");
    EXPECT("/bin", "sh", "/bin/sh");
    EXPECT("/bin/", "sh", "/bin/sh");
    EXPECT("/a/b", "c/d", "/a/b/c/d");
    EXPECT("/a/b", ".", "/a/b");
    EXPECT("/a/b", "./", "/a/b");
}

static void test_dots(void)
{
    EXPECT("/a/b", "..", "/a");
    EXPECT("/a/b", "../..", "/");
    EXPECT("/a/b", "../../..", "/");
    EXPECT("/", "..", "/");
    EXPECT("/", "/..", "/");
    EXPECT("/", "/../../bin", "/bin");
    EXPECT("/a", "b/../c", "/a/c");
    EXPECT("/a", "b/./c/.", "/a/b/c");
    EXPECT("/a/b/c", "../../x/../y", "/a/y");
    EXPECT("/", "...", "/...");
    EXPECT("/", "..a/.b/a..", "/..a/.b/a..");
    EXPECT("/a/./b/../c", "d", "/a/c/d");   /* an unnormalised cwd is fine too */
    EXPECT("/x", "/a/b/../../..", "/");
}

static void test_empty(void)
{
    char out[16];
    CHECK(resolve("/", "", out, sizeof out) == -ENOENT);
    CHECK(resolve("/a", "", out, sizeof out) == -ENOENT);
    CHECK(path_resolve("/", NULL, out, sizeof out) == -ENOENT);
}

static void test_too_long(void)
{
    char out[8];
    /* "/abcdef" is 7 characters + NUL: fits exactly. */
    CHECK(resolve("/", "abcdef", out, 8) == 0 && !strcmp(out, "/abcdef"));
    CHECK(resolve("/", "abcdefg", out, 8) == -ENAMETOOLONG);
    CHECK(resolve("/ab", "cd/ef", out, 8) == -ENAMETOOLONG);   /* "/ab/cd/ef" */
    CHECK(resolve("/ab", "c/e", out, 8) == 0 && !strcmp(out, "/ab/c/e"));
    /* A long intermediate that collapses to something short is fine. */
    char longp[600];
    memset(longp, 'a', 500);
    strcpy(longp + 500, "/..");
    CHECK(resolve("/", longp, out, 8) == 0 && !strcmp(out, "/"));
    CHECK(resolve("/", "/", out, 2) == 0 && !strcmp(out, "/"));
    CHECK(resolve("/", "/", out, 1) == -ENAMETOOLONG);
    CHECK(resolve("/", "x", out, 2) == -ENAMETOOLONG);
    CHECK(path_resolve("/", "x", out, 0) == -ENAMETOOLONG);
}

/* Random paths against a straightforward reference implementation. */
static int reference(const char *cwd, const char *path, char *out)
{
    char comps[64][16];
    int n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", path[0] == '/' ? "" : cwd, path);
    for (char *tok = strtok(buf, "/"); tok; tok = strtok(NULL, "/")) {
        if (!strcmp(tok, "."))
            continue;
        if (!strcmp(tok, "..")) {
            if (n)
                n--;
            continue;
        }
        strcpy(comps[n++], tok);
    }
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        strcat(out, "/");
        strcat(out, comps[i]);
    }
    if (!n)
        strcpy(out, "/");
    return 0;
}

static void random_path(char *p, int maxparts, bool absolute)
{
    static const char *parts[] = { "a", "bc", ".", "..", "", "def", "..." };
    int n = 1 + rnd_below(maxparts);
    p[0] = 0;
    if (absolute)
        strcat(p, "/");
    for (int i = 0; i < n; i++) {
        strcat(p, parts[rnd_below(sizeof parts / sizeof parts[0])]);
        if (i + 1 < n || rnd_below(2))
            strcat(p, "/");
    }
}

static void test_random(void)
{
    for (int i = 0; i < 20000; i++) {
        char cwd[256], path[256], want[512], got[512];
        random_path(cwd, 8, true);
        reference("/", cwd, want);      /* a normalised cwd */
        strcpy(cwd, want);
        random_path(path, 12, rnd_below(3) == 0);
        if (!path[0])
            continue;
        reference(cwd, path, want);
        CHECK(resolve(cwd, path, got, sizeof got) == 0);
        if (strcmp(got, want))
            fprintf(stderr, "cwd %s path %s: got %s want %s\n", cwd, path, got, want);
        CHECK(!strcmp(got, want));
        size_t len = strlen(want);
        CHECK(resolve(cwd, path, got, len + 1) == 0 && !strcmp(got, want));
        CHECK(resolve(cwd, path, got, len) == -ENAMETOOLONG);
    }
}

static const struct unit_test tests[] = {
    TEST(test_absolute), TEST(test_relative), TEST(test_dots),
    TEST(test_empty), TEST(test_too_long), TEST(test_random),
};

int main(void) { return RUN_TESTS(tests); }
