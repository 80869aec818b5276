/*
 * spin NAME SECONDS - burn CPU for SECONDS (fractions allowed).
 *
 * Counts loop iterations; every 0.5 s (CLOCK_MONOTONIC) prints
 * "spin NAME: N" with the count so far, and at the end
 * "spin NAME done count=N". Two spins started together show how fairly
 * the scheduler shares the CPU. The clock is read every 4096 iterations.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ulib.h"

int main(int argc, char **argv)
{
	char *end;
	double secs;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3 || (secs = strtod(argv[2], &end), end == argv[2] || *end) ||
	    !(secs >= 0)) {
		u_errf("spin", "usage: spin NAME SECONDS");
		return 2;
	}
	const char *name = argv[1];
	uint64_t start = u_now_ns();
	uint64_t stop = start + (uint64_t)(secs * 1e9);
	uint64_t next = start + 500000000u;
	unsigned long count = 0;
	volatile unsigned long sink = 0;

	for (;;) {
		for (int i = 0; i < 4096; i++)
			sink = sink * 6364136223846793005UL + 1442695040888963407UL;
		count += 4096;
		uint64_t now = u_now_ns();
		if (now >= stop)
			break;
		if (now >= next) {
			printf("spin %s: %lu\n", name, count);
			next += 500000000u;
			if (next < now)
				next = now + 500000000u;
		}
	}
	printf("spin %s done count=%lu\n", name, count);
	return 0;
}
