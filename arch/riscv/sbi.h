/*
 * sbi.h - calls into OpenSBI (the SBI v1.0 binary interface).
 */
#pragma once
#include <stdint.h>

struct sbiret { long error; long value; };

struct sbiret sbi_call(long eid, long fid, long a0, long a1, long a2);

#define SBI_EXT_BASE 0x10
#define SBI_EXT_TIME 0x54494D45
#define SBI_EXT_IPI  0x735049
#define SBI_EXT_HSM  0x48534D
#define SBI_EXT_SRST 0x53525354

static inline long sbi_hart_start(long hartid, long start, long opaque) {
    return sbi_call(SBI_EXT_HSM, 0, hartid, start, opaque).error;
}
static inline long sbi_hart_status(long hartid) {
    struct sbiret r = sbi_call(SBI_EXT_HSM, 2, hartid, 0, 0);
    return r.error ? r.error : r.value;
}
static inline long sbi_send_ipi(unsigned long mask, unsigned long base) {
    return sbi_call(SBI_EXT_IPI, 0, mask, base, 0).error;
}
static inline void sbi_set_timer(uint64_t t) { sbi_call(SBI_EXT_TIME, 0, t, 0, 0); }
static inline void sbi_shutdown(void) { sbi_call(SBI_EXT_SRST, 0, 0, 0, 0); }
/* SRST type 1: cold reboot (OpenSBI resets QEMU virt through its test device). */
static inline void sbi_cold_reboot(void) { sbi_call(SBI_EXT_SRST, 0, 1, 0, 0); }
