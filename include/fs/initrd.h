/*
 * initrd.h - the initial archive (cpio newc) the kernel boots with.
 */
#pragma once
#include <stddef.h>
void initrd_set(void *base, size_t len);
const void *initrd_base(void);
size_t initrd_size(void);
