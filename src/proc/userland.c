/*
 * userland.c - what runs after boot: /bin/init from the initrd, or the
 * kernel monitor when there is none (or bootargs say `monitor`).
 */
#include "machine.h"
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
        int r = exec_init("/bin/init");
        if (r == 0)
            return;
        printk("init: cannot start /bin/init (error %d); running the kernel monitor\n", r);
    }
    monitor_start();
}
