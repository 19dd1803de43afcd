#define _GNU_SOURCE
#include <fcntl.h>
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
