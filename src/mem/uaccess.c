/*
 * uaccess.c - copyin, copyout and copyin_str: the kernel touches user
 * memory only here, one page at a time under mm->lock, through a
 * software walk of the page table (a bad pointer is -EFAULT, never a
 * kernel fault).  A page the region allows but that is not there yet is
 * faulted in; one that must first be read from disk is left in the
 * hart's copy_needs slot for the caller to await (see hart.h).
 */
#include "core/hart.h"
#include "lib/errno.h"
#include "lib/klib.h"
#include "mm_internal.h"

/* The kernel address of user byte u, whose page must allow `need`;
 * faults the page in if the region allows it.  NULL: -EFAULT.  Called
 * with mm->lock held; the result is valid until it is dropped. */
static uint8_t *user_byte(struct mm *mm, uint64_t u, uint32_t need)
{
    uint32_t have = 0;
    uint64_t pa = pt_lookup(mm->pt, u, &have);
    if (!pa || (need & ~have)) {
        struct pc_page *io = NULL;
        int r = mm_fault_locked(mm, u, need, &io);
        if (r == MM_FAULT_IO) {
            /* cannot wait here: leave the page to the thread (see hart.h) */
            struct pc_page *old = this_hart()->copy_needs;
            this_hart()->copy_needs = io;
            pc_put(old);
        }
        if (r != 0)
            return NULL;
        pa = pt_lookup(mm->pt, u, &have);
        if (!pa || (need & ~have))
            return NULL;
    }
    return (uint8_t *)pa_to_va(pa) + (u & PAGE_MASK);
}

static bool user_range_ok(uint64_t u, size_t len)
{
    return u < USER_TOP && len <= USER_TOP - u;
}

int copyin(struct mm *mm, void *dst, uint64_t usrc, size_t len)
{
    if (len == 0)
        return 0;
    if (!mm || !user_range_ok(usrc, len))
        return -EFAULT;
    uint8_t *d = dst;
    while (len) {
        size_t n = MIN(len, PAGE_SIZE - (usrc & PAGE_MASK));
        spin_lock(&mm->lock);
        const uint8_t *k = user_byte(mm, usrc, PROT_READ);
        if (k)
            memcpy(d, k, n);
        spin_unlock(&mm->lock);
        if (!k)
            return -EFAULT;
        d += n;
        usrc += n;
        len -= n;
    }
    return 0;
}

int copyout(struct mm *mm, uint64_t udst, const void *src, size_t len)
{
    if (len == 0)
        return 0;
    if (!mm || !user_range_ok(udst, len))
        return -EFAULT;
    const uint8_t *s = src;
    while (len) {
        size_t n = MIN(len, PAGE_SIZE - (udst & PAGE_MASK));
        spin_lock(&mm->lock);
        uint8_t *k = user_byte(mm, udst, PROT_WRITE);
        if (k)
            memcpy(k, s, n);
        spin_unlock(&mm->lock);
        if (!k)
            return -EFAULT;
        s += n;
        udst += n;
        len -= n;
    }
    return 0;
}

long copyin_str(struct mm *mm, char *dst, uint64_t usrc, size_t max)
{
    if (max == 0)
        return -ENAMETOOLONG;
    if (!mm)
        return -EFAULT;
    size_t done = 0;
    while (done < max) {
        if (usrc >= USER_TOP)
            return -EFAULT;
        size_t n = MIN(max - done, PAGE_SIZE - (usrc & PAGE_MASK));
        long found = -1;
        spin_lock(&mm->lock);
        const uint8_t *k = user_byte(mm, usrc, PROT_READ);
        if (k)
            for (size_t i = 0; i < n; i++) {
                dst[done + i] = (char)k[i];
                if (k[i] == 0) {
                    found = (long)(done + i);
                    break;
                }
            }
        spin_unlock(&mm->lock);
        if (!k)
            return -EFAULT;
        if (found >= 0)
            return found;
        done += n;
        usrc += n;
    }
    dst[max - 1] = 0;
    return -ENAMETOOLONG;
}
