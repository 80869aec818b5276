/*
 * userland.c - what runs after boot: the kernel monitor until user
 * space exists.
 */
#include "machine.h"
#include "monitor.h"

void userland_start(void)
{
    monitor_start();
}
