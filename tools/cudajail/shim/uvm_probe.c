/* Test program for the uvm shim: prints what a CUDA driver would see. Written for cudajail. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct params { uint64_t flags; uint32_t status; };

/* What the UVM initialize request answers on `fd`: "0x56" when the shim answered for it. */
static void init_on(const char *what, int fd) {
    struct params p = {0, 0xffffffffu};
    int r = ioctl(fd, 0x30000001UL, &p);
    printf("%s rc %d status 0x%x\n", what, r, p.status);
}

int main(void) {
    int fd = open("/dev/nvidia-uvm", O_RDWR | O_CLOEXEC);
    printf("open_uvm %d errno %d\n", fd >= 0 ? 0 : -1, fd >= 0 ? 0 : errno);
    if (fd >= 0) {
        struct stat st;
        fstat(fd, &st);
        printf("uvm_is_devnull %d\n", S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3);
        struct params p = {0, 0xffffffffu};
        int r = ioctl(fd, 0x30000001UL, &p);
        printf("uvm_init rc %d status 0x%x\n", r, p.status);
        printf("uvm_deinit rc %d\n", ioctl(fd, 0x30000002UL, NULL));
        int avail = -1;
        r = ioctl(fd, FIONREAD, &avail);
        printf("uvm_other_ioctl rc %d errno %d\n", r, r == 0 ? 0 : errno);
        /* Copies of the descriptor, as libcuda makes them. */
        int d = dup(fd);
        init_on("dup_init", d);
        int d2 = dup2(fd, 300);
        init_on("dup2_init", d2);
        int d3 = dup3(fd, 301, O_CLOEXEC);
        init_on("dup3_init", d3);
        int f = fcntl(fd, F_DUPFD_CLOEXEC, 400);
        init_on("fcntl_dupfd_init", f);
        /* A descriptor number past 65536, where the limit allows it. */
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_max < 70001) rl.rlim_max = 70001; /* root may raise it */
        rl.rlim_cur = 70001;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
            init_on("high_fd_init", dup2(fd, 70000));
            close(70000);
        } else {
            printf("high_fd_skipped errno %d\n", errno);
        }
        /* Closed copies are forgotten: the same numbers reused for /dev/null get /dev/null's answer. */
        close(d);
        close_range(300, 301, 0);
        int n = open("/dev/null", O_RDWR);
        dup2(n, 300);
        dup2(n, 301);
        init_on("after_close_range_init", 300);
        close_range(300, 301, 0);
        close(n);
        /* dup2 over a copy replaces it. */
        int m = open("/dev/null", O_RDWR);
        dup2(m, f);
        init_on("dup2_over_copy_init", f);
        close(m);
        close(f);
        close(fd);
        /* A uvm descriptor closed by close_range: its number, reused, is not uvm any more. */
        int u = open("/dev/nvidia-uvm", O_RDWR);
        close_range((unsigned int)u, (unsigned int)u, 0);
        int reuse = open("/dev/null", O_RDWR);
        init_on(reuse == u ? "stale_after_close_range_init" : "stale_after_close_range_other_number", reuse);
        close(reuse);
    }
    int nfd = open("/dev/null", O_RDWR);
    struct params q = {0, 0xffffffffu};
    int r = ioctl(nfd, 0x30000001UL, &q);
    printf("devnull_init rc %d errno %d status 0x%x\n", r, r == 0 ? 0 : errno, q.status);
    close(nfd);
    int efd = open("/etc/hostname-does-not-exist", O_RDONLY);
    printf("passthrough_open %d errno %d\n", efd, efd >= 0 ? 0 : errno);
    FILE *c = fopen("/proc/self/task/1/comm", "w");
    printf("comm_fopen %d\n", c != NULL);
    if (c) fclose(c);
    return 0;
}
