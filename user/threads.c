/*
 * threads N - N pthreads share a counter.
 *
 * The threads first wait on a condition variable until main broadcasts
 * "go" (futex WAIT/WAKE), then each adds 1 to a shared counter 100000
 * times under a mutex, then signals main through a second condition.
 * Prints each thread's tid (all must differ) and finally
 * "threads: counter=C ok" with C = N * 100000.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ulib.h"

#define ITERS 100000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int go, finished;
static long counter;

struct worker {
	pthread_t thread;
	pid_t tid;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	w->tid = gettid();
	pthread_mutex_lock(&lock);
	while (!go)
		pthread_cond_wait(&go_cond, &lock);
	pthread_mutex_unlock(&lock);

	for (int i = 0; i < ITERS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}

	pthread_mutex_lock(&lock);
	finished++;
	pthread_cond_signal(&done_cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc == 2 ? u_parse_ulong(argv[1]) : -1;
	int ok = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (n < 1 || n > 1000) {
		u_errf("threads", "usage: threads N (1..1000)");
		return 2;
	}
	struct worker *w = calloc((size_t)n, sizeof *w);
	if (!w)
		u_die("threads", "calloc", ENOMEM);
	for (long i = 0; i < n; i++) {
		int e = pthread_create(&w[i].thread, u_small_stack(), work, &w[i]);
		if (e)
			u_die("threads", "pthread_create", e);
	}

	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&go_cond);
	while (finished < n)
		pthread_cond_wait(&done_cond, &lock);
	pthread_mutex_unlock(&lock);

	for (long i = 0; i < n; i++) {
		int e = pthread_join(w[i].thread, NULL);
		if (e)
			u_die("threads", "pthread_join", e);
	}

	pid_t self = gettid();
	printf("threads: main tid %d\n", (int)self);
	for (long i = 0; i < n; i++) {
		printf("threads: thread %ld tid %d\n", i, (int)w[i].tid);
		if (w[i].tid == self || w[i].tid <= 0)
			ok = 0;
		for (long k = 0; k < i; k++)
			if (w[k].tid == w[i].tid)
				ok = 0;
	}
	if (!ok)
		printf("threads: FAIL tids are not distinct\n");
	if (counter != n * ITERS) {
		printf("threads: FAIL counter=%ld expected %ld\n", counter, n * ITERS);
		ok = 0;
	}
	if (ok)
		printf("threads: counter=%ld ok\n", counter);
	free(w);
	return ok ? 0 : 1;
}
