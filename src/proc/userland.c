/*
 * userland.c - what runs after boot: /bin/init from the initrd, or the
 * kernel monitor when there is none (or bootargs say `monitor`).
 */
#include "machine.h"
#include "fs/vfs.h"
#include "instruments/monitor.h"
#include "lib/printk.h"
#include "proc/proc.h"
#include "instruments/trace.h"

void userland_start(void)
{
    const char *tp = bootarg_value("traceprog");
    if (tp) {                   /* make trace: run one program, send the trace */
        trace_run_start(tp);
        return;
    }
    if (!bootarg_has("monitor")) {
        vfs_boot_root();        /* the disk as /, or the initrd; then /bin/init */
        return;
    }
    monitor_start();
}
