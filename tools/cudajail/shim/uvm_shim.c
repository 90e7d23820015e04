/*
 * cudajail uvm shim — lets Linux CUDA programs start on FreeBSD, which has no nvidia-uvm.
 *
 * Loaded into Linux processes only (from the jail's /etc/ld.so.preload, or LD_PRELOAD on a
 * Linux binary), it does three things and nothing else:
 *   - open("/dev/nvidia-uvm") and open("/dev/nvidia-uvm-tools") open /dev/null instead, and the
 *     descriptor is remembered;
 *   - on such a descriptor, the UVM initialize request (0x30000001) returns 0 with status
 *     NV_ERR_NOT_SUPPORTED (0x56) in its parameter block, and UVM deinitialize (0x30000002)
 *     returns 0, so the CUDA driver carries on without UVM; copies of the descriptor (dup,
 *     dup2, dup3, fcntl F_DUPFD/F_DUPFD_CLOEXEC) are such descriptors too, of any number, and
 *     close, close_range and closefrom forget them;
 *   - fopen("/proc/self/task/<tid>/comm", "w…") (CUDA naming its threads) writes to /dev/null.
 * Every other call goes to the real C library untouched.
 *
 * Written for cudajail; SPDX-License-Identifier: BSD-2-Clause
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define CJ_UVM_INITIALIZE 0x30000001UL
#define CJ_UVM_DEINITIALIZE 0x30000002UL
#define CJ_NV_ERR_NOT_SUPPORTED 0x56u
/* The descriptors the shim opened, and their copies: a small lock-free set of fd + 1 (0 is an
 * empty slot), of any descriptor number. CUDA opens the uvm device once or twice; a process
 * with more than CJ_SLOTS of them open at once gets /dev/null's answers for the rest. */
#define CJ_SLOTS 256
#define CJ_CLOSE_RANGE_CLOEXEC (1u << 2)

struct cj_uvm_initialize_params {
    uint64_t flags;
    uint32_t rm_status;
};

static int cj_slots[CJ_SLOTS];
static int cj_count;  /* how many slots are in use: 0 makes every check one load */
static int cj_high;   /* one past the highest slot ever used */

static int cj_is_uvm_fd(int fd) {
    if (fd < 0 || fd == __INT_MAX__ || __atomic_load_n(&cj_count, __ATOMIC_SEQ_CST) == 0) return 0;
    int high = __atomic_load_n(&cj_high, __ATOMIC_SEQ_CST);
    for (int i = 0; i < high; i++)
        if (__atomic_load_n(&cj_slots[i], __ATOMIC_SEQ_CST) == fd + 1) return 1;
    return 0;
}

static void cj_forget_range(unsigned int first, unsigned int last) {
    if (__atomic_load_n(&cj_count, __ATOMIC_SEQ_CST) == 0) return;
    int high = __atomic_load_n(&cj_high, __ATOMIC_SEQ_CST);
    for (int i = 0; i < high; i++) {
        int v = __atomic_load_n(&cj_slots[i], __ATOMIC_SEQ_CST);
        if (v != 0 && (unsigned int)(v - 1) >= first && (unsigned int)(v - 1) <= last &&
            __atomic_compare_exchange_n(&cj_slots[i], &v, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            __atomic_sub_fetch(&cj_count, 1, __ATOMIC_SEQ_CST);
    }
}

static void cj_mark(int fd, int on) {
    if (fd < 0 || fd == __INT_MAX__) return;
    if (!on) {
        cj_forget_range((unsigned int)fd, (unsigned int)fd);
        return;
    }
    if (cj_is_uvm_fd(fd)) return;
    for (int i = 0; i < CJ_SLOTS; i++) {
        int empty = 0;
        if (__atomic_compare_exchange_n(&cj_slots[i], &empty, fd + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            __atomic_add_fetch(&cj_count, 1, __ATOMIC_SEQ_CST);
            int high = __atomic_load_n(&cj_high, __ATOMIC_SEQ_CST);
            while (high < i + 1 &&
                   !__atomic_compare_exchange_n(&cj_high, &high, i + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            }
            return;
        }
    }
}

static int cj_is_uvm_path(const char *p) {
    return p != NULL && (strcmp(p, "/dev/nvidia-uvm") == 0 || strcmp(p, "/dev/nvidia-uvm-tools") == 0);
}

static void *cj_next(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) errno = ENOSYS;
    return f;
}

static int cj_mode_needed(int flags) {
#ifdef O_TMPFILE
    if ((flags & O_TMPFILE) == O_TMPFILE) return 1;
#endif
    return (flags & O_CREAT) != 0;
}

typedef int (*cj_open_fn)(const char *, int, ...);
typedef int (*cj_openat_fn)(int, const char *, int, ...);

static int cj_open_common(const char *sym, int dirfd, int at, const char *path, int flags, mode_t mode) {
    int redirect = cj_is_uvm_path(path);
    const char *target = redirect ? "/dev/null" : path;
    int fd;
    if (at) {
        cj_openat_fn f = (cj_openat_fn)cj_next(sym);
        if (f == NULL) return -1;
        fd = f(dirfd, target, flags, mode);
    } else {
        cj_open_fn f = (cj_open_fn)cj_next(sym);
        if (f == NULL) return -1;
        fd = f(target, flags, mode);
    }
    if (redirect && fd >= 0) cj_mark(fd, 1);
    return fd;
}

#define CJ_MODE_ARG(flags, mode)                  \
    mode_t mode = 0;                              \
    if (cj_mode_needed(flags)) {                  \
        va_list ap;                               \
        va_start(ap, flags);                      \
        mode = (mode_t)va_arg(ap, int);           \
        va_end(ap);                               \
    }

int open(const char *path, int flags, ...) {
    CJ_MODE_ARG(flags, mode)
    return cj_open_common("open", 0, 0, path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    CJ_MODE_ARG(flags, mode)
    return cj_open_common("open64", 0, 0, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
    CJ_MODE_ARG(flags, mode)
    return cj_open_common("openat", dirfd, 1, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
    CJ_MODE_ARG(flags, mode)
    return cj_open_common("openat64", dirfd, 1, path, flags, mode);
}

int __open_2(const char *path, int flags) { return cj_open_common("open", 0, 0, path, flags, 0); }
int __open64_2(const char *path, int flags) { return cj_open_common("open64", 0, 0, path, flags, 0); }

int close(int fd) {
    int (*f)(int) = (int (*)(int))cj_next("close");
    if (f == NULL) return -1;
    int r = f(fd);
    if (r == 0) cj_mark(fd, 0);
    return r;
}

/* A new descriptor `to` that is a copy of `from` (or that replaced whatever `to` was). */
static int cj_copied(int from, int to) {
    if (to >= 0 && to != from) cj_mark(to, cj_is_uvm_fd(from));
    return to;
}

int dup(int fd) {
    int (*f)(int) = (int (*)(int))cj_next("dup");
    if (f == NULL) return -1;
    return cj_copied(fd, f(fd));
}

int dup2(int fd, int to) {
    int (*f)(int, int) = (int (*)(int, int))cj_next("dup2");
    if (f == NULL) return -1;
    return cj_copied(fd, f(fd, to));
}

int dup3(int fd, int to, int flags) {
    int (*f)(int, int, int) = (int (*)(int, int, int))cj_next("dup3");
    if (f == NULL) return -1;
    return cj_copied(fd, f(fd, to, flags));
}

/* fcntl's third argument is an int or a pointer: passed on as a pointer-sized word. */
static int cj_fcntl(const char *sym, int fd, int cmd, unsigned long arg) {
    int (*f)(int, int, unsigned long) = (int (*)(int, int, unsigned long))cj_next(sym);
    if (f == NULL) return -1;
    int r = f(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) cj_copied(fd, r);
    return r;
}

int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return cj_fcntl("fcntl", fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return cj_fcntl("fcntl64", fd, cmd, arg);
}

/* glibc 2.34+; declared here so the shim builds against older headers too. */
int close_range(unsigned int first, unsigned int last, int flags) {
    int (*f)(unsigned int, unsigned int, int) = (int (*)(unsigned int, unsigned int, int))cj_next("close_range");
    if (f == NULL) return -1;
    int r = f(first, last, flags);
    if (r == 0 && !((unsigned int)flags & CJ_CLOSE_RANGE_CLOEXEC)) cj_forget_range(first, last);
    return r;
}

void closefrom(int lowfd) {
    void (*f)(int) = (void (*)(int))cj_next("closefrom");
    if (f == NULL) return;
    f(lowfd);
    if (lowfd >= 0) cj_forget_range((unsigned int)lowfd, (unsigned int)__INT_MAX__);
}

int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (cj_is_uvm_fd(fd)) {
        if (request == CJ_UVM_INITIALIZE) {
            if (arg != NULL) ((struct cj_uvm_initialize_params *)arg)->rm_status = CJ_NV_ERR_NOT_SUPPORTED;
            return 0;
        }
        if (request == CJ_UVM_DEINITIALIZE) return 0;
    }
    int (*f)(int, unsigned long, void *) = (int (*)(int, unsigned long, void *))cj_next("ioctl");
    if (f == NULL) return -1;
    return f(fd, request, arg);
}

static int cj_is_comm(const char *p, const char *mode) {
    const char *pre = "/proc/self/task/";
    size_t n = strlen(pre), len;
    if (p == NULL || mode == NULL || strncmp(p, pre, n) != 0 || strchr(mode, 'w') == NULL) return 0;
    len = strlen(p);
    return len > 5 && strcmp(p + len - 5, "/comm") == 0;
}

FILE *fopen(const char *path, const char *mode) {
    FILE *(*f)(const char *, const char *) = (FILE * (*)(const char *, const char *)) cj_next("fopen");
    if (f == NULL) return NULL;
    return f(cj_is_comm(path, mode) ? "/dev/null" : path, mode);
}

FILE *fopen64(const char *path, const char *mode) {
    FILE *(*f)(const char *, const char *) = (FILE * (*)(const char *, const char *)) cj_next("fopen64");
    if (f == NULL) return NULL;
    return f(cj_is_comm(path, mode) ? "/dev/null" : path, mode);
}
