/*
 * hartinsn.c - a QEMU TCG plugin that counts the instructions each hart
 * (vCPU) executes, for the scaling experiment (ci/bench_plot.py).
 *
 * Under -icount, QEMU 7.2's rdinstret is one virtual clock for the whole
 * machine, so the guest cannot count its harts' instructions apart; this
 * plugin can.  Debian ships QEMU with plugin support but without
 * qemu-plugin.h, so the few declarations of the plugin API (version 1,
 * QEMU 7.2) it uses are written out below.
 *
 *   -plugin build/hartinsn.so,out=FILE,mark=0xADDR
 *
 * Counting: each translated block adds its instruction count to its
 * vCPU's counter when it starts (like QEMU's contrib libinsn; a block cut
 * short by a trap is counted whole).  Each vCPU writes only its own
 * counter.  Every time a vCPU executes the instruction at guest address
 * ADDR (the kernel's bench_scale_mark(), found with nm), one line goes to
 * FILE:
 *
 *   mark <vcpu that hit it> <count of vcpu 0> <count of vcpu 1> ...
 *
 * and at exit a last line `exit <counts...>`.  Differences between two
 * marks are the instructions each hart executed between them.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the QEMU 7.2 plugin API (include/qemu/qemu-plugin.h, version 1) ---- */
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
    union { struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;
/* ---------------------------------------------------------------------- */

#define MAX_VCPUS 64

static uint64_t count[MAX_VCPUS];
static int nvcpus;
static uint64_t mark_addr;
static FILE *out;

static void on_tb(unsigned int vcpu, void *udata)
{
    if (vcpu < MAX_VCPUS)
        count[vcpu] += (uintptr_t)udata;
}

static void dump(const char *what, int vcpu)
{
    char line[64 + MAX_VCPUS * 22];
    int n = snprintf(line, sizeof line, "%s %d", what, vcpu);
    for (int i = 0; i < nvcpus; i++)
        n += snprintf(line + n, sizeof line - n, " %" PRIu64,
                      __atomic_load_n(&count[i], __ATOMIC_RELAXED));
    fprintf(out, "%s\n", line);
    fflush(out);
}

static void on_mark(unsigned int vcpu, void *udata)
{
    (void)udata;
    dump("mark", (int)vcpu);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)n);
    for (size_t i = 0; mark_addr && i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        if (qemu_plugin_insn_vaddr(insn) == mark_addr)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    dump("exit", -1);
    fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "out=", 4))
            path = argv[i] + 4;
        else if (!strncmp(argv[i], "mark=", 5))
            mark_addr = strtoull(argv[i] + 5, NULL, 0);
    }
    if (!path || !info->system_emulation)
        return -1;
    nvcpus = info->system.smp_vcpus < MAX_VCPUS ? info->system.smp_vcpus : MAX_VCPUS;
    out = fopen(path, "w");
    if (!out)
        return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
