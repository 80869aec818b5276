/*
 * tlbstress - threads of one process on several harts map, touch and
 * unmap memory while the others keep running, so every munmap needs a
 * TLB shootdown.  Each thread checks that its fresh mappings read as
 * zero (a stale translation to a reused page would show old bytes).
 *
 *     tlbstress [threads] [rounds]   ->  "tlbstress: N threads x R rounds ok"
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGES 8
static int rounds = 300;
static volatile int failed;

static void *worker(void *arg)
{
    unsigned char tag = (unsigned char)(uintptr_t)arg;
    for (int r = 0; r < rounds && !failed; r++) {
        unsigned char *p = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            perror("tlbstress: mmap");
            failed = 1;
            break;
        }
        for (int i = 0; i < PAGES * 4096; i += 512) {
            if (p[i] != 0) {
                fprintf(stderr, "tlbstress: FAIL fresh page holds %#x at +%d\n", p[i], i);
                failed = 1;
            }
            p[i] = tag;
        }
        munmap(p, PAGES * 4096);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2)
        rounds = atoi(argv[2]);
    if (n < 1 || n > 16)
        n = 4;
    pthread_t t[16];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], &attr, worker, (void *)(uintptr_t)(0xa0 + i));
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    if (failed)
        return 1;
    printf("tlbstress: %d threads x %d rounds ok\n", n, rounds);
    return 0;
}
