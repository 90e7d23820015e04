/* Test program for the uvm shim: prints what a CUDA driver would see. Written for cudajail. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct params { uint64_t flags; uint32_t status; };

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
        close(fd);
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
