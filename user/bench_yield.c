/*
 * bench_yield - cost of a thread switch through sched_yield().
 *
 * Main and a second thread hand a "turn" back and forth: whoever does not
 * have it calls sched_yield(). On one hart every yield switches to the
 * other thread: both threads are pinned to the hart main starts on
 * (u_pin_here), so this is a two-thread switch at every hart count.
 * Each of 15 rounds passes the turn 500 times and divides
 * the retired instructions (rdinstret) by the number of sched_yield calls
 * both threads made. Prints the median:
 *   bench thread_yield <instructions per switch> instructions
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#include "ulib.h"

#define ROUNDS 15
#define PASSES 500

static volatile int turn, stop;
static unsigned long yields;

static void yield(void)
{
	sched_yield();
	__atomic_fetch_add(&yields, 1, __ATOMIC_RELAXED);
}

static void *partner(void *arg)
{
	(void)arg;
	while (!stop) {
		if (turn == 1)
			turn = 0;
		else
			yield();
	}
	return NULL;
}

int main(void)
{
	uint64_t v[ROUNDS];
	pthread_t t;
	int e = u_pin_here();           /* the partner inherits the pin */

	if (e < 0)
		u_die("bench_yield", "sched_setaffinity", -e);
	e = pthread_create(&t, u_small_stack(), partner, NULL);

	if (e)
		u_die("bench_yield", "pthread_create", e);
	for (int r = 0; r < ROUNDS; r++) {
		unsigned long y0 = __atomic_load_n(&yields, __ATOMIC_RELAXED);
		uint64_t t0 = u_rdinstret();
		for (int i = 0; i < PASSES; i++) {
			turn = 1;
			while (turn != 0)
				yield();
		}
		uint64_t t1 = u_rdinstret();
		unsigned long y = __atomic_load_n(&yields, __ATOMIC_RELAXED) - y0;
		v[r] = y ? (t1 - t0) / y : 0;
	}
	stop = 1;
	pthread_join(t, NULL);
	printf("bench thread_yield %llu instructions\n",
	       (unsigned long long)u_median(v, ROUNDS));
	return 0;
}
