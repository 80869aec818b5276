/*
 * tlbstress - can a thread keep writing into a page after another thread
 * of its process has unmapped it, into a frame that is then handed out
 * again?  (Only through a stale TLB entry: a kernel that frees a frame
 * before every hart has dropped its translations lets it.)
 *
 * Writer threads, on other harts, store a tag into every word of the
 * pages of region P in a loop.  The main thread, round after round, takes
 * P's pages away - `fixed`: mmap(MAP_FIXED) over P; `dontneed`:
 * madvise(MADV_DONTNEED) - and at once maps fresh anonymous pages and
 * reads them, several times: fresh pages must read as zero.  A tag in one
 * of them is a writer's store through a stale translation landing in a
 * frame the kernel had reused.  `vm`: as `fixed`, but the writers are
 * CLONE_VM processes sharing the address space, not threads.
 *
 *     tlbstress [fixed|dontneed|vm] [rounds] [writers]
 *         -> "tlbstress: fixed 300 rounds ok"
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define P_PAGES 4
#define FRESH_PAGES 16
#define PASSES 4
#define TAG 0x7a7a7a7a7a7a7a7aULL

static volatile uint64_t *region;
static volatile int stop;

static void *writer(void *arg)
{
    (void)arg;
    while (!stop)
        for (size_t i = 0; i < P_PAGES * 4096 / 8; i++)
            region[i] = TAG;
    return NULL;
}

static int vm_writer(void *arg) { writer(arg); return 0; }

/* Map fresh pages and read them PASSES times: 0 if all zero. */
static uint64_t fresh_pages_value(void)
{
    uint64_t bad = 0;
    volatile uint64_t *f = mmap(NULL, FRESH_PAGES * 4096, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (f == MAP_FAILED) {
        perror("tlbstress: mmap");
        exit(2);
    }
    for (int pass = 0; pass < PASSES && !bad; pass++)
        for (size_t i = 0; i < FRESH_PAGES * 4096 / 8; i++)
            if (f[i]) {
                bad = f[i];
                break;
            }
    munmap((void *)f, FRESH_PAGES * 4096);
    return bad;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "fixed";
    int rounds = argc > 2 ? atoi(argv[2]) : 300;
    int writers = argc > 3 ? atoi(argv[3]) : 2;
    int vm = strcmp(mode, "vm") == 0;
    int fixed = vm || strcmp(mode, "fixed") == 0;
    if ((!fixed && strcmp(mode, "dontneed")) || rounds < 1 || writers < 1 || writers > 8) {
        fprintf(stderr, "usage: tlbstress [fixed|dontneed|vm] [rounds] [writers 1..8]\n");
        return 2;
    }
    size_t len = P_PAGES * 4096;
    region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
        perror("tlbstress: mmap");
        return 2;
    }
    pthread_t t[8];
    pid_t pid[8];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < writers; i++) {
        if (!vm) {
            pthread_create(&t[i], &attr, writer, NULL);
            continue;
        }
        char *stack = malloc(64 * 1024);
        pid[i] = clone(vm_writer, stack + 64 * 1024, CLONE_VM | SIGCHLD, NULL);
        if (pid[i] < 0) {
            perror("tlbstress: clone");
            return 2;
        }
    }
    int failed_round = -1;
    uint64_t seen = 0;
    for (int r = 0; r < rounds && failed_round < 0; r++) {
        if (fixed) {
            void *p = mmap((void *)region, len, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            if (p != (void *)region) {
                perror("tlbstress: mmap(MAP_FIXED)");
                return 2;
            }
        } else if (madvise((void *)region, len, MADV_DONTNEED)) {
            perror("tlbstress: madvise");
            return 2;
        }
        if ((seen = fresh_pages_value()) != 0)
            failed_round = r;
    }
    stop = 1;
    for (int i = 0; i < writers; i++) {
        if (vm)
            waitpid(pid[i], NULL, 0);
        else
            pthread_join(t[i], NULL);
    }
    if (failed_round >= 0) {
        printf("tlbstress: FAIL %s round %d: a fresh page holds %#llx "
               "(a freed frame written through a stale TLB entry)\n",
               mode, failed_round, (unsigned long long)seen);
        return 1;
    }
    printf("tlbstress: %s %d rounds ok\n", mode, rounds);
    return 0;
}
