/*
 * printk.c - kernel messages and panic.
 */
#include <stdarg.h>
#include "arch.h"
#include "dev/console.h"
#include "core/hart.h"
#include "lib/klib.h"
#include "lib/printk.h"

static _Atomic int panicking;

int vprintk(const char *fmt, va_list ap)
{
    char buf[512];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n > (int)sizeof buf - 1)
        n = sizeof buf - 1;
    console_write_kernel(buf, n);
    return n;
}

int printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintk(fmt, ap);
    va_end(ap);
    return n;
}

void panic_begin(void)
{
    arch_irq_disable();
    if (atomic_fetch_add(&panicking, 1)) {
        for (;;)                /* another hart is already reporting */
            arch_wait_for_interrupt();
    }
    console_sync_mode();
}

void panic_end(void)
{
    printk("*** end of panic report\n");
    arch_poweroff(3);
}

void panic(const char *fmt, ...)
{
    uint64_t fp = (uint64_t)__builtin_frame_address(0);
    panic_begin();
    printk("\n*** KERNEL PANIC on hart %u: ", this_hart()->index);
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk("\n");
    arch_backtrace(fp);
    panic_end();
}
