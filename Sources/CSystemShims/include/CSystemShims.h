#ifndef PTVIEW_CSYSTEMSHIMS_H
#define PTVIEW_CSYSTEMSHIMS_H
#include <stddef.h>
#include <sys/types.h>

/// copy_file_range(2): Glibc's Swift module does not export it (it needs _GNU_SOURCE).
/// Copies `length` bytes from `in` at `*in_offset` to the current position of `out`.
/// Returns the bytes copied, or -1 with errno set.
ssize_t ptv_copy_file_range(int in, off_t *in_offset, int out, size_t length);

/// mallopt(3) settings for a short-lived process that builds one big graph: freed memory stays
/// in the process (no trimming, no per-array mmap), so growing arrays reuse pages already
/// faulted in. Glibc's Swift module does not export mallopt either.
void ptv_tune_malloc(void);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writing back a range of dirty pages
/// without waiting, so a long copy overlaps with the disk instead of leaving everything to
/// the final fsync. A hint only: callers ignore failures (some filesystems lack it).
int ptv_start_writeback(int fd, off_t offset, off_t length);

/// Removes the folder `path` and what it holds (two levels of subfolders; symbolic links are
/// removed, never followed), with system calls only, so a signal handler may call it.
/// Retries while other threads still create files in it. Returns 0, or -1 when it stays.
int ptv_remove_tree(const char *path);

#endif
