/*
 * unit.h - a tiny harness for host unit tests.
 *
 * A test is a void function; CHECK() reports the first failed condition
 * and returns from it.  main() runs a table of tests with RUN_TESTS and
 * exits non-zero if any failed.
 */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static int unit_failed;   /* set by CHECK in the running test */

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            unit_failed = 1;                                                 \
            return;                                                          \
        }                                                                    \
    } while (0)

struct unit_test {
    const char *name;
    void (*fn)(void);
};

#define TEST(fn) { #fn, fn }

static inline int unit_run(const struct unit_test *t, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        unit_failed = 0;
        t[i].fn();
        printf("%s %s\n", unit_failed ? "FAIL" : "ok", t[i].name);
        fflush(stdout);
        bad += unit_failed;
    }
    printf("%d/%zu failed\n", bad, n);
    return bad != 0;
}

#define RUN_TESTS(table) unit_run((table), sizeof(table) / sizeof((table)[0]))

/* A small deterministic PRNG (xorshift64*), so failures reproduce. */
static uint64_t unit_rng = 0x9e3779b97f4a7c15ULL;
static inline uint64_t rnd(void)
{
    unit_rng ^= unit_rng >> 12;
    unit_rng ^= unit_rng << 25;
    unit_rng ^= unit_rng >> 27;
    return unit_rng * 0x2545f4914f6cdd1dULL;
}
static inline uint64_t rnd_below(uint64_t n) { return rnd() % n; }
