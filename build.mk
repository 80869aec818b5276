# build.mk - the whole build.  `make run`, `make test`, `make bench`,
# `make gdb`, `make trace PROG=...`, `make bench-plot`, `make bench-linux`,
# `make chaos SEEDS=N`.
#
# Every target that boots or tests first runs ci/install.sh, which
# installs missing Debian packages (a no-op when all are present).

BUILD ?= build
SMP ?= 4
MEM ?= 128M
BOOTARGS ?=
# ICOUNT=1: `make run` under -icount shift=0,sleep=off (deterministic: a
# chaos seed gives the same run every time; see README, "Chaos").
ICOUNT ?=
PYTHON ?= /usr/bin/python3

CROSS ?= riscv64-unknown-elf-
CC := $(CROSS)gcc
OBJCOPY := $(CROSS)objcopy

# Link-time optimisation lets the trap path inline across src/ and
# arch/riscv/ (the system-call round trip is mostly small calls).
KLTO ?= -flto=auto
KCFLAGS := -std=gnu11 -O2 $(KLTO) -g -Wall -Wextra -Werror=implicit-function-declaration \
	-ffreestanding -fno-builtin -nostdlib -fno-common -fno-pie -no-pie \
	-march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany \
	-fno-omit-frame-pointer -fno-stack-protector -fno-strict-aliasing \
	-Iinclude -Iarch/riscv -Isrc -I$(BUILD)/gen -MMD -MP \
	-idirafter /usr/riscv64-linux-gnu/include   # Linux UAPI (io_uring.h) from Debian
KASFLAGS := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -Iarch/riscv -Iinclude -MMD -MP

# libgcc of the rv64imac/lp64 multilib (the _zicsr spelling defeats
# gcc's multilib matching).  Asked of the compiler when the kernel is
# linked, never when make reads this file: on a bare machine the compiler
# only exists once `deps` has run.
LIBGCC = $$($(CC) -march=rv64imac -mabi=lp64 -print-libgcc-file-name)

KSRCS := $(wildcard src/*.c src/*/*.c) $(wildcard arch/riscv/*.c)
KASMS := $(wildcard arch/riscv/*.S)
KOBJS := $(KSRCS:%.c=$(BUILD)/k/%.o) $(KASMS:%.S=$(BUILD)/k/%.o)
KERNEL := $(BUILD)/pollux.elf

# The poisoned debug kernel: the same sources built with POLLUX_POISON
# (freed objects and pages are filled with a pattern that is checked when
# they are handed out again: a use-after-free panics naming the object's
# allocation site).  `make all` builds both; the tests boot this one,
# `make run`/`make gdb`/`make trace` boot it with POISON=1, `make bench`
# never does.
KOBJS_POISON := $(KOBJS:$(BUILD)/k/%=$(BUILD)/kp/%)
KERNEL_POISON := $(BUILD)/pollux-poison.elf
POISON ?=
BOOT_KERNEL = $(if $(filter-out 0,$(POISON)),$(KERNEL_POISON),$(KERNEL))

OPENSBI ?= /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin
QEMU := qemu-system-riscv64
QEMU_ARGS = -machine virt -smp $(SMP) -m $(MEM) -nographic -bios $(OPENSBI) \
	-kernel $(BOOT_KERNEL) $(if $(wildcard $(INITRD)),-initrd $(INITRD)) \
	$(if $(filter-out 0,$(ICOUNT)),-icount shift=0$(COMMA)sleep=off)
COMMA := ,

# The root disk (virtio-blk, modern interface): / is ext2 on it.
DISK_ARGS = -global virtio-mmio.force-legacy=false \
	-drive file=$(ROOTFS),if=none,format=raw,id=d0 -device virtio-blk-device,drive=d0 \
	$(if $(DISK2),$(DISK2_ARGS))
# (a separate variable: the commas of -drive would split the $(if ...))
DISK2_ARGS = -drive file=$(DISK2),if=none,format=raw,id=d1 -device virtio-blk-device,drive=d1

.PHONY: all kernel kernel-poison run test bench bench-linux bench-plot profile gdb trace chaos clean deps unit fresh-check rootfs

# Everything goes through `deps` first, then a second make that reads this
# file afresh with the tools installed.
all: deps
	@$(MAKE) --no-print-directory kernel kernel-poison user rootfs

kernel: $(KERNEL)
kernel-poison: $(KERNEL_POISON)

# `make V=1` shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/k/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/k/%.o: %.S
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

$(BUILD)/kp/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [P]  $<")
	$(Q)$(CC) $(KCFLAGS) -DPOLLUX_POISON -c $< -o $@

$(BUILD)/kp/%.o: %.S
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(KASFLAGS) -DPOLLUX_POISON -c $< -o $@

KLD = $(CC) $(KLTO) -O2 -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -nostdlib -no-pie \
	-T arch/riscv/kernel.ld

$(KERNEL): $(KOBJS) arch/riscv/kernel.ld
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(KLD) -o $@ $(KOBJS) $(LIBGCC)
	@size $@ 2>/dev/null | tail -1 | awk '{print "kernel: text " $$1 " data " $$2 " bss " $$3}' || true

$(KERNEL_POISON): $(KOBJS_POISON) arch/riscv/kernel.ld
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(KLD) -o $@ $(KOBJS_POISON) $(LIBGCC)

-include $(KOBJS:.o=.d) $(KOBJS_POISON:.o=.d)
$(KOBJS) $(KOBJS_POISON): build.mk          # flags changed: rebuild

# Names of the Linux system calls, for the one-time "unimplemented" log
# line, generated from Debian's asm-generic/unistd.h.
UNISTD := /usr/riscv64-linux-gnu/include/asm-generic/unistd.h
$(BUILD)/gen/syscall_names.h: $(wildcard $(UNISTD))
	@mkdir -p $(dir $@)
	$(Q)sed -n -e 's/^#define __NR_\([a-z0-9_]*\) \([0-9][0-9]*\)$$/[\2] = "\1",/p' \
		-e 's/^#define __NR3264_\([a-z0-9_]*\) \([0-9][0-9]*\)$$/[\2] = "\1",/p' $< \
		| grep -v '"syscalls"' | awk '!seen[$$1]++' > $@
$(BUILD)/k/src/proc/syscall.o $(BUILD)/kp/src/proc/syscall.o: $(BUILD)/gen/syscall_names.h

# User programs and the initial archive (user/user.mk sets INITRD).
-include user/user.mk
INITRD ?= $(BUILD)/initrd.cpio
user: $(if $(USER_PROGS),$(INITRD))

# The root file system: an ext2 image (Debian's mkfs.ext2 -d) of a staging
# tree: /bin (the stripped programs), /etc/motd, empty /proc /dev /tmp,
# and the tree of EXTRA=dir on top.  Made only when it is missing or a
# program (or EXTRA) changed, so what a user wrote survives `make run`;
# `rm build/rootfs.img` starts from a fresh one.
ROOTFS := $(BUILD)/rootfs.img
ROOTFS_SIZE ?= 128M
ROOTFS_STAGE := $(BUILD)/rootfs.stage
EXTRA ?=
EXTRA_FILES := $(if $(EXTRA),$(shell find $(EXTRA) 2>/dev/null))
$(BUILD)/rootfs.extra: FORCE
	@mkdir -p $(BUILD)
	@echo "$(abspath $(EXTRA))" | cmp -s - $@ || echo "$(abspath $(EXTRA))" > $@
FORCE:
rootfs: $(ROOTFS)
$(ROOTFS): $(USER_STRIPPED) $(USER_SRC)/motd $(BUILD)/rootfs.extra $(EXTRA_FILES)
	@echo "  MKFS    $@"
	$(Q)rm -rf $(ROOTFS_STAGE) && mkdir -p $(ROOTFS_STAGE)/bin $(ROOTFS_STAGE)/etc \
		$(ROOTFS_STAGE)/proc $(ROOTFS_STAGE)/dev $(ROOTFS_STAGE)/tmp
	$(Q)cp $(USER_STRIPPED) $(ROOTFS_STAGE)/bin/ && cp $(USER_SRC)/motd $(ROOTFS_STAGE)/etc/
	$(Q)$(if $(EXTRA),cp -a $(EXTRA)/. $(ROOTFS_STAGE)/)
	$(Q)rm -f $@.tmp && /usr/sbin/mkfs.ext2 -q -F -b 4096 -d $(ROOTFS_STAGE) $@.tmp $(ROOTFS_SIZE) && mv $@.tmp $@

deps:
	@bash ci/install.sh

run: deps all
	$(QEMU) $(QEMU_ARGS) $(DISK_ARGS) -append "$(strip $(BOOTARGS) $(if $(filter-out 0,$(ICOUNT)),icount))"

gdb: deps all
	$(QEMU) $(QEMU_ARGS) -append "$(BOOTARGS)" -S -gdb tcp::1234 & \
	gdb-multiarch -q $(BOOT_KERNEL) -ex 'target remote :1234'; kill %1 2>/dev/null || true

test: deps all
	$(PYTHON) -m pytest -v tests/

# An empty ext2 disk for bench_fs (the file-system figures).
$(BUILD)/bench.img:
	$(Q)rm -f $@.tmp && /usr/sbin/mkfs.ext2 -q -F -b 4096 $@.tmp 64M && mv $@.tmp $@

bench: deps all $(BUILD)/bench.img
	$(PYTHON) ci/bench.py --kernel $(KERNEL) --initrd $(INITRD) --disk $(BUILD)/bench.img --opensbi $(OPENSBI) --out $(BUILD)/bench.json --smp $(or $(BENCH_SMP),$(if $(filter command line environment,$(origin SMP)),$(SMP)),2) --bootargs "$(BOOTARGS)"

# make chaos SEEDS=N [FIRST=S] [FULL=1]: a campaign of N chaos seeds over
# the self-tests and every console workload on the poisoned kernel (FULL=1:
# and the whole console test suite under each seed); prints each failing
# seed with the commands that reproduce it.  See ci/chaos.py.
chaos: deps all
	$(PYTHON) ci/chaos.py --seeds $(or $(SEEDS),20) --first $(or $(FIRST),1) $(if $(filter-out 0,$(FULL)),--full)

# make trace PROG="/bin/prog args" [SMP=4] [BOOTARGS=...]: build/trace.json
# (Chrome trace events; PROG empty: the kernel self-tests).  See ci/trace.py.
trace: deps all
	$(PYTHON) ci/trace.py --kernel $(BOOT_KERNEL) --initrd $(INITRD) --opensbi $(OPENSBI) --smp $(SMP) --mem $(MEM) --prog "$(PROG)" --bootargs "$(BOOTARGS)" --log $(BUILD)/trace.log --out $(BUILD)/trace.json

# make bench-linux: the same benchmark programs on Pollux and on a lean
# Linux 6.1 (built once under build/linux by ci/bench_linux_build.sh, from
# Debian's linux-source-6.1), both at one hart under make bench's QEMU
# flags; prints figure, Pollux, Linux, ratio and writes build/bench-linux.json.
# Not part of make test.  See ci/bench_linux.py.
LINUX_IMAGE := $(BUILD)/linux/obj/arch/riscv/boot/Image
bench-linux: deps all
	ci/bench_linux_build.sh $(BUILD)
	$(PYTHON) ci/bench_linux.py --linux $(LINUX_IMAGE) --kernel $(KERNEL) --initrd $(INITRD) --opensbi $(OPENSBI) --bins $(BUILD)/user/strip --out $(BUILD)/bench-linux.json

# make bench-plot [BOOTARGS=...]: build/bench.png from build/bench.json and the
# scaling experiment on 1, 2, 4, 8 harts.  See ci/bench_plot.py.
bench-plot: deps all
	@$(MAKE) --no-print-directory $(BUILD)/hartinsn.so
	/usr/bin/python3 ci/bench_plot.py --kernel $(KERNEL) --initrd $(INITRD) --opensbi $(OPENSBI) --json $(BUILD)/bench.json --bootargs "$(BOOTARGS)" --plugin $(BUILD)/hartinsn.so --nm $(CROSS)nm --out $(BUILD)/bench.png

# The QEMU plugin that counts each hart's instructions (host code).
$(BUILD)/hartinsn.so: ci/hartinsn.c
	@mkdir -p $(dir $@)
	$(Q)gcc -shared -fPIC -O2 -Wall -Wextra -o $@ $<

# make profile PROG=/bin/bench_pipe PER=7500 [FUNC=thread_poll [LINES=1]]:
# where a benchmark program's instructions go, per function (kernel and
# the program's own), per operation; FUNC: that function's instructions
# (or source lines) counted.  PROG=/bin/bench_uring,switch passes an
# argument.  One hart, -icount; see ci/insnprof.py.  Not part of make test.
profile: deps all
	@$(MAKE) --no-print-directory $(BUILD)/insnprof.so
	$(PYTHON) ci/insnprof.py --prog "$(PROG)" --per $(or $(PER),1) --nm $(CROSS)nm $(if $(FUNC),--annotate $(FUNC)) $(if $(LINES),--lines)

# The QEMU plugin that counts executions of each translated block (host code).
$(BUILD)/insnprof.so: ci/insnprof.c
	@mkdir -p $(dir $@)
	$(Q)gcc -shared -fPIC -O2 -Wall -Wextra -o $@ $<

# make fresh-check: `make test` in a fresh Debian 12 root (debootstrap +
# chroot) from a clean clone of the committed HEAD.  Slow; see ci/fresh_check.sh.
fresh-check:
	@bash ci/install.sh debootstrap
	@bash ci/fresh_check.sh

clean:
	rm -rf $(BUILD)
