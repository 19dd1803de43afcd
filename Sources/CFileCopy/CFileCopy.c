#define _GNU_SOURCE
#include <unistd.h>
#include "CFileCopy.h"

ssize_t ptv_copy_file_range(int in, off_t *in_offset, int out, size_t length) {
  return copy_file_range(in, in_offset, out, NULL, length, 0);
}
