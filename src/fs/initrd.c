/*
 * initrd.c - where the initial archive lives after boot moved it.
 */
#include "fs/initrd.h"

static const void *base;
static size_t size;

void initrd_set(void *b, size_t len) { base = b; size = len; }
const void *initrd_base(void) { return base; }
size_t initrd_size(void) { return size; }
