/*
 * sys_reboot.c - reboot(2): power off or restart the machine.
 *
 * Linux's checks, in Linux's order: both magic numbers (else -EINVAL),
 * then the command.  Every process runs as root here, so no CAP_SYS_BOOT
 * check.  Every mounted file system is written back and marked clean
 * first (fs_shutdown, sys_fs.c); the console is drained so that the last
 * words of the caller are seen.  HALT powers
 * off too: on QEMU virt a halted machine is of no use to anyone.
 */
#include "arch.h"
#include "dev/console.h"
#include "lib/errno.h"
#include "lib/printk.h"
#include "proc/syscall.h"

#define LINUX_REBOOT_MAGIC1         0xfee1deadU
#define LINUX_REBOOT_MAGIC2         672274793U
#define LINUX_REBOOT_MAGIC2A        85072278U
#define LINUX_REBOOT_MAGIC2B        369367448U
#define LINUX_REBOOT_MAGIC2C        537993216U
#define LINUX_REBOOT_CMD_RESTART    0x01234567U
#define LINUX_REBOOT_CMD_HALT       0xCDEF0123U
#define LINUX_REBOOT_CMD_CAD_ON     0x89ABCDEFU
#define LINUX_REBOOT_CMD_CAD_OFF    0x00000000U
#define LINUX_REBOOT_CMD_POWER_OFF  0x4321FEDCU

SYS(reboot)
{
    uint32_t m1 = (uint32_t)a[0], m2 = (uint32_t)a[1], cmd = (uint32_t)a[2];
    if (m1 != LINUX_REBOOT_MAGIC1 ||
        (m2 != LINUX_REBOOT_MAGIC2 && m2 != LINUX_REBOOT_MAGIC2A &&
         m2 != LINUX_REBOOT_MAGIC2B && m2 != LINUX_REBOOT_MAGIC2C))
        return -EINVAL;
    switch (cmd) {
    case LINUX_REBOOT_CMD_CAD_ON:
    case LINUX_REBOOT_CMD_CAD_OFF:
        return 0;               /* Ctrl-Alt-Del: no such key on a serial console */
    case LINUX_REBOOT_CMD_RESTART:
        printk("reboot: restarting (pid %d)\n", th->proc->pid);
        return fs_shutdown(th, true);       /* the disks written back first */
    case LINUX_REBOOT_CMD_HALT:
    case LINUX_REBOOT_CMD_POWER_OFF:
        printk("reboot: power off (pid %d)\n", th->proc->pid);
        return fs_shutdown(th, false);
    default:
        return -EINVAL;
    }
}
