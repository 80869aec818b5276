#pragma once
#include <stdint.h>
struct trapframe;
void irq_dispatch(uint64_t scause);
const char *trap_cause_name(uint64_t scause);
void trap_dump(const struct trapframe *tf);
