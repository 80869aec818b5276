/*
 * uring_abi.h - Pollux's one extension of the io_uring ABI, shared by the
 * kernel and user programs (user/uring_raw.h, user/rt.c).
 *
 * IORING_FEAT_POLLUX_PRIO in io_uring_params.features says that
 * sq_off.resv1 is the offset, in the ring mapping (IORING_OFF_SQ_RING), of
 * a 32-bit word where the user runtime publishes the highest priority of its
 * ready coroutines (0..7); the kernel reads it as a hint, clamped by the
 * process's ceiling.  Bit 31: Linux 6.1 defines bits 0..12
 * (IORING_FEAT_SINGLE_MMAP .. IORING_FEAT_LINKED_FILE) and grows them from
 * the bottom, so Linux never sets it and a program run on Linux sees no
 * control word (and must not read sq_off.resv1, which Linux leaves 0).
 *
 * The ring mapping's length is what the Linux-defined fields imply, the end
 * of the SQ index array or of the CQEs, whichever is further; Pollux keeps
 * its control word inside that length.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <linux/io_uring.h>

#define IORING_FEAT_POLLUX_PRIO (1U << 31)

/* The length to map at IORING_OFF_SQ_RING, from the fields Linux defines. */
static inline size_t uring_ring_bytes(const struct io_uring_params *p)
{
    size_t sq_end = p->sq_off.array + (size_t)p->sq_entries * sizeof(uint32_t);
    size_t cq_end = p->cq_off.cqes + (size_t)p->cq_entries * sizeof(struct io_uring_cqe);
    return sq_end > cq_end ? sq_end : cq_end;
}

/* The offset of the priority word in the ring mapping, or 0 if there is none. */
static inline uint32_t uring_prio_word_offset(const struct io_uring_params *p)
{
    return (p->features & IORING_FEAT_POLLUX_PRIO) ? p->sq_off.resv1 : 0;
}
