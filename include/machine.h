/*
 * machine.h - what the device tree told us at boot (src/main.c).
 */
#pragma once
#include <stdbool.h>
#include "dev/fdt.h"
extern struct fdt_info machine;
/* bootargs word test: "ktest", "bench", "trace", "sched=..." */
bool bootarg_has(const char *word);
const char *bootarg_value(const char *key);   /* "key=value" -> value (static copy) */
