/*
 * uring_raw.h - a bare io_uring for test and benchmark programs that must
 * see the ABI itself (no runtime): set up, map, fill SQEs, enter, reap.
 * Only the Linux header <linux/io_uring.h> and raw system calls.
 *
 *     struct uring r;
 *     uring_open(&r, 8, NULL);                 // 8 SQ entries
 *     struct io_uring_sqe *s = uring_sqe(&r);  // zeroed, slot published
 *     s->opcode = IORING_OP_NOP; s->user_data = 1;
 *     uring_enter(&r, 1, 1, IORING_ENTER_GETEVENTS);
 *     struct io_uring_cqe c; uring_pop(&r, &c);
 */
#pragma once
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include "ulib.h"
#include "../include/uring/uring_abi.h"

struct uring {
    int fd;
    struct io_uring_params p;
    char *ring;                         /* SQ ring + CQ ring (single mmap) */
    size_t ring_len;
    struct io_uring_sqe *sqes;
    _Atomic uint32_t *sq_head, *sq_tail, *sq_flags, *sq_dropped, *sq_array;
    _Atomic uint32_t *cq_head, *cq_tail, *cq_overflow, *ctl;
    struct io_uring_cqe *cqes;
    uint32_t sq_mask, cq_mask, sq_entries, cq_entries;
    uint32_t tail;                      /* our SQ tail (published at enter) */
};

static inline long uring_setup_raw(uint32_t entries, struct io_uring_params *p)
{
    return u_syscall2(__NR_io_uring_setup, entries, p);
}

/* 0, or -errno.  params may be NULL (all zero). */
static inline long uring_open(struct uring *r, uint32_t entries, const struct io_uring_params *params)
{
    memset(r, 0, sizeof *r);
    if (params)
        r->p = *params;
    long fd = uring_setup_raw(entries, &r->p);
    if (fd < 0)
        return fd;
    r->fd = (int)fd;
    struct io_uring_params *p = &r->p;
    r->ring_len = uring_ring_bytes(p);
    r->ring = mmap(NULL, r->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, IORING_OFF_SQ_RING);
    r->sqes = mmap(NULL, p->sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                   MAP_SHARED, r->fd, IORING_OFF_SQES);
    if (r->ring == MAP_FAILED || r->sqes == MAP_FAILED)
        return -12;
    r->sq_head = (void *)(r->ring + p->sq_off.head);
    r->sq_tail = (void *)(r->ring + p->sq_off.tail);
    r->sq_flags = (void *)(r->ring + p->sq_off.flags);
    r->sq_dropped = (void *)(r->ring + p->sq_off.dropped);
    r->sq_array = (void *)(r->ring + p->sq_off.array);
    r->cq_head = (void *)(r->ring + p->cq_off.head);
    r->cq_tail = (void *)(r->ring + p->cq_off.tail);
    r->cq_overflow = (void *)(r->ring + p->cq_off.overflow);
    r->cqes = (void *)(r->ring + p->cq_off.cqes);
    uint32_t ctl = uring_prio_word_offset(p);   /* none on Linux */
    r->ctl = ctl ? (void *)(r->ring + ctl) : NULL;
    r->sq_mask = *(uint32_t *)(r->ring + p->sq_off.ring_mask);
    r->cq_mask = *(uint32_t *)(r->ring + p->cq_off.ring_mask);
    r->sq_entries = p->sq_entries;
    r->cq_entries = p->cq_entries;
    r->tail = atomic_load(r->sq_tail);
    return 0;
}

static inline void uring_close(struct uring *r)
{
    munmap(r->ring, r->ring_len);
    munmap(r->sqes, r->p.sq_entries * sizeof(struct io_uring_sqe));
    close(r->fd);
}

/* The next free SQE (zeroed, its index in the SQ array), or NULL if full. */
static inline struct io_uring_sqe *uring_sqe(struct uring *r)
{
    uint32_t head = atomic_load_explicit(r->sq_head, memory_order_acquire);
    if (r->tail - head >= r->sq_entries)
        return NULL;
    uint32_t i = r->tail & r->sq_mask;
    r->sq_array[i] = i;
    r->tail++;
    struct io_uring_sqe *s = &r->sqes[i];
    memset(s, 0, sizeof *s);
    return s;
}

/* Publish our tail and enter; returns the kernel's value (-errno on error). */
static inline long uring_enter(struct uring *r, uint32_t submit, uint32_t min, uint32_t flags)
{
    atomic_store_explicit(r->sq_tail, r->tail, memory_order_release);
    return u_syscall6(__NR_io_uring_enter, r->fd, submit, min, flags, 0, 0);
}

/* Completions waiting in the CQ ring. */
static inline uint32_t uring_cq_ready(struct uring *r)
{
    return atomic_load_explicit(r->cq_tail, memory_order_acquire) -
           atomic_load_explicit(r->cq_head, memory_order_relaxed);
}

/* Take one completion if there is one: 1, else 0. */
static inline int uring_pop(struct uring *r, struct io_uring_cqe *out)
{
    uint32_t head = atomic_load_explicit(r->cq_head, memory_order_relaxed);
    if (head == atomic_load_explicit(r->cq_tail, memory_order_acquire))
        return 0;
    *out = r->cqes[head & r->cq_mask];
    atomic_store_explicit(r->cq_head, head + 1, memory_order_release);
    return 1;
}

/* Wait for and take one completion: 0, or the enter's -errno. */
static inline long uring_wait(struct uring *r, struct io_uring_cqe *out)
{
    while (!uring_pop(r, out)) {
        long e = u_syscall6(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, 0, 0);
        if (e < 0 && e != -4 /* EINTR */)
            return e;
    }
    return 0;
}
