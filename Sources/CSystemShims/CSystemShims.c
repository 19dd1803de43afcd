#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <malloc.h>
#include <unistd.h>
#include "CSystemShims.h"

ssize_t ptv_copy_file_range(int in, off_t *in_offset, int out, size_t length) {
  return copy_file_range(in, in_offset, out, NULL, length, 0);
}

void ptv_tune_malloc(void) {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 16 << 20);
}

int ptv_start_writeback(int fd, off_t offset, off_t length) {
  return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

/* One getdents64 record, as the kernel lays it out. */
struct ptv_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* Removes what the folder open at `dirfd` holds, subfolders `depth` levels down.
   Only system calls: safe inside a signal handler. */
static void ptv_remove_entries(int dirfd, int depth) {
  char buffer[4096] __attribute__((aligned(8)));
  for (;;) {
    long n = syscall(SYS_getdents64, dirfd, buffer, sizeof buffer);
    if (n <= 0) return;
    for (long at = 0; at < n;) {
      struct ptv_dirent64 *entry = (struct ptv_dirent64 *)(buffer + at);
      at += entry->d_reclen;
      const char *name = entry->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      if (unlinkat(dirfd, name, 0) == 0) continue;
      if (depth > 0 && (errno == EISDIR || errno == EPERM)) {
        int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
          ptv_remove_entries(sub, depth - 1);
          close(sub);
        }
        unlinkat(dirfd, name, AT_REMOVEDIR);
      }
    }
  }
}

int ptv_remove_tree(const char *path) {
  /* Other threads may still be creating files in it: list and remove until it is gone. */
  for (int attempt = 0; attempt < 64; attempt++) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    ptv_remove_entries(fd, 2);
    close(fd);
    if (rmdir(path) == 0 || errno == ENOENT) return 0;
  }
  return -1;
}
