/*
 * cudajail uvm shim — lets Linux CUDA programs start on FreeBSD, which has no nvidia-uvm.
 *
 * Loaded into Linux processes only (from the jail's /etc/ld.so.preload, or LD_PRELOAD on a
 * Linux binary), it does three things and nothing else:
 *   - open("/dev/nvidia-uvm") and open("/dev/nvidia-uvm-tools") open /dev/null instead, and the
 *     descriptor is remembered;
 *   - on such a descriptor, the UVM initialize request (0x30000001) returns 0 with status
 *     NV_ERR_NOT_SUPPORTED (0x56) in its parameter block, and UVM deinitialize (0x30000002)
 *     returns 0, so the CUDA driver carries on without UVM;
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
#define CJ_MAX_FD 65536

struct cj_uvm_initialize_params {
    uint64_t flags;
    uint32_t rm_status;
};

static unsigned char cj_uvm_fds[CJ_MAX_FD / 8];

static void cj_mark(int fd, int on) {
    if (fd < 0 || fd >= CJ_MAX_FD) return;
    unsigned char bit = (unsigned char)(1u << (fd & 7));
    if (on) __atomic_fetch_or(&cj_uvm_fds[fd >> 3], bit, __ATOMIC_SEQ_CST);
    else __atomic_fetch_and(&cj_uvm_fds[fd >> 3], (unsigned char)~bit, __ATOMIC_SEQ_CST);
}

static int cj_is_uvm_fd(int fd) {
    if (fd < 0 || fd >= CJ_MAX_FD) return 0;
    return (__atomic_load_n(&cj_uvm_fds[fd >> 3], __ATOMIC_SEQ_CST) >> (fd & 7)) & 1;
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
