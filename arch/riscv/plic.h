#pragma once
void plic_enable(unsigned irq, unsigned hartid);
unsigned plic_claim(unsigned hartid);
void plic_complete(unsigned hartid, unsigned irq);
