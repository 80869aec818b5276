# user/user.mk - build the Pollux userland and the initrd.
#
# Included by the top-level build.mk; also works on its own:
#     make -f user/user.mk BUILD=build
#
# Every program user/<name>.c becomes a static glibc riscv64 Linux binary
# $(BUILD)/user/bin/<name> (unstripped, with -g: use it with addr2line).
# A stripped copy $(BUILD)/user/strip/<name> goes into the archive
# $(BUILD)/initrd.cpio (newc), which holds bin/<name> for every program
# and etc/motd. user/mkinitrd.py aligns every file's data to 4096 bytes
# inside the archive so that the kernel can map program text from it.

BUILD ?= build

# Remember the includer's default goal so that our targets never become it.
USER_SAVED_GOAL := $(.DEFAULT_GOAL)
USER_STANDALONE := $(filter $(lastword $(MAKEFILE_LIST)),$(firstword $(MAKEFILE_LIST)))

# Directory of this fragment ("user" when included from the repo root).
USER_SRC := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
USER_OUT := $(BUILD)/user

USER_CC ?= riscv64-linux-gnu-gcc
USER_STRIP ?= riscv64-linux-gnu-strip
USER_PYTHON ?= /usr/bin/python3
USER_CFLAGS ?= -static -O2 -Wall -Wextra -g
# pipe2, gettid, CLONE_* and friends.
USER_DEFS := -D_GNU_SOURCE
# Let the linker drop unused helpers from ulib.o.
USER_GC := -ffunction-sections -fdata-sections -Wl,--gc-sections

# Shell and core utilities, test programs, benchmarks.
USER_PROGS := init sh echo cat ls ps kill sleep \
	hello spin fault forkloop forkbomb threads badcalls systest memhog nop \
	bench_syscall bench_yield bench_pipe bench_fork bench_exec \
	uring_smoke uring_test uring_fuzz coread aecho coro10k prio migrate bench_uring \
	tlbstress cowtest scale poweroff reboot bench_init sigtest defects mkdir rm mv cp ln touch stat df \
	sync mount umount fstest fswriters uring_blk uring_files bench_fs fsyncer execthreads fsmix \
	bench_procmem fpkeep mmapfile
# how many blocked forked children fit in memory (test_user.py)
USER_PROGS += procfill
# the calls answered from the trap (arch/riscv/syscall_fast.c)
USER_PROGS += fastcall

USER_BINS := $(addprefix $(USER_OUT)/bin/,$(USER_PROGS))
USER_STRIPPED := $(addprefix $(USER_OUT)/strip/,$(USER_PROGS))
USER_INITRD := $(BUILD)/initrd.cpio
INITRD ?= $(USER_INITRD)

.PHONY: user user-clean
user: $(USER_INITRD)

$(USER_OUT)/bin $(USER_OUT)/strip $(USER_OUT)/obj:
	mkdir -p $@

$(USER_OUT)/obj/ulib.o: $(USER_SRC)/ulib.c $(USER_SRC)/ulib.h | $(USER_OUT)/obj
	$(USER_CC) $(USER_CFLAGS) $(USER_DEFS) $(USER_GC) -c -o $@ $<

# The coroutine runtime: user/rt.c plus the kernel's own combinators
# (src/core/combinators.c), built against the shared include/core/future.h.
USER_RT_OBJS := $(USER_OUT)/obj/rt.o $(USER_OUT)/obj/combinators.o
$(USER_OUT)/obj/rt.o: $(USER_SRC)/rt.c $(USER_SRC)/rt.h include/core/future.h include/uring/uring_abi.h | $(USER_OUT)/obj
	$(USER_CC) $(USER_CFLAGS) $(USER_DEFS) -DPOLLUX_USER $(USER_GC) -c -o $@ $<
$(USER_OUT)/obj/combinators.o: src/core/combinators.c include/core/future.h include/core/waitq.h | $(USER_OUT)/obj
	$(USER_CC) $(USER_CFLAGS) $(USER_DEFS) -DPOLLUX_USER -Iinclude $(USER_GC) -c -o $@ $<

# nop is the smallest possible program (exit(0) in three instructions, no
# libc): it measures the kernel's fork+exec cost and is a first bring-up test.
$(USER_OUT)/bin/nop: $(USER_SRC)/nop.c | $(USER_OUT)/bin
	$(USER_CC) $(USER_CFLAGS) -nostdlib -nostartfiles -o $@ $<

$(USER_OUT)/bin/%: $(USER_SRC)/%.c $(USER_SRC)/ulib.h $(USER_SRC)/uring_raw.h include/uring/uring_abi.h $(USER_OUT)/obj/ulib.o $(USER_RT_OBJS) | $(USER_OUT)/bin
	$(USER_CC) $(USER_CFLAGS) $(USER_DEFS) $(USER_GC) -o $@ $< $(USER_OUT)/obj/ulib.o $(USER_RT_OBJS) -lpthread

$(USER_OUT)/strip/%: $(USER_OUT)/bin/% | $(USER_OUT)/strip
	$(USER_STRIP) -o $@ $<

# Malformed programs, for the ELF loader's tests: text that is not ELF,
# and an ELF file cut off inside its program headers.
$(USER_OUT)/strip/notelf: | $(USER_OUT)/strip
	printf 'this is not an ELF file\n' > $@ && chmod 755 $@
$(USER_OUT)/strip/badelf: $(USER_OUT)/strip/hello | $(USER_OUT)/strip
	head -c 100 $< > $@ && chmod 755 $@

# $(USER_BINS) is listed so that make treats the unstripped binaries as
# real targets (kept, and rebuilt if missing), not as intermediates.
$(USER_INITRD): $(USER_STRIPPED) $(USER_BINS) $(USER_SRC)/motd $(USER_SRC)/mkinitrd.py \
		$(USER_OUT)/strip/notelf $(USER_OUT)/strip/badelf
	$(USER_PYTHON) $(USER_SRC)/mkinitrd.py -o $@ \
		$(foreach p,$(USER_PROGS) notelf badelf,bin/$(p)=$(USER_OUT)/strip/$(p)) \
		etc/motd=$(USER_SRC)/motd

user-clean:
	rm -rf $(USER_OUT) $(USER_INITRD)

ifeq ($(USER_STANDALONE),)
.DEFAULT_GOAL := $(USER_SAVED_GOAL)
endif
