// libzip through dlopen: resolved once, at the first compressed record (docs/decisions.md).
#include "CLibzip.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t zip_lock = PTHREAD_MUTEX_INITIALIZER;
static int zip_state;  // 0 not tried, 1 loaded, -1 failed
static char zip_failure[512];

// One pointer per function, typed from <zip.h>'s own declarations so a signature change in
// the header is a build error here rather than a bad call at run time.
#define PTV_ZIP_FUNCTIONS(X)                                                               \
  X(zip_open)                                                                              \
  X(zip_open_from_source)                                                                  \
  X(zip_discard)                                                                           \
  X(zip_get_num_entries)                                                                   \
  X(zip_stat_init)                                                                         \
  X(zip_stat_index)                                                                        \
  X(zip_fopen_index)                                                                       \
  X(zip_fread)                                                                             \
  X(zip_fclose)                                                                            \
  X(zip_strerror)                                                                          \
  X(zip_file_strerror)                                                                     \
  X(zip_error_init)                                                                        \
  X(zip_error_init_with_code)                                                              \
  X(zip_error_fini)                                                                        \
  X(zip_error_strerror)                                                                    \
  X(zip_error_set)                                                                         \
  X(zip_error_to_data)                                                                     \
  X(zip_source_buffer_create)                                                              \
  X(zip_source_function_create)                                                            \
  X(zip_source_free)                                                                       \
  X(zip_source_seek_compute_offset)

#define PTV_ZIP_POINTER(name) static __typeof__(name) *p_##name;
PTV_ZIP_FUNCTIONS(PTV_ZIP_POINTER)
#undef PTV_ZIP_POINTER

/// Resolves every function or names the first missing one.
static int resolve(void *library, const char *file) {
#define PTV_ZIP_RESOLVE(name)                                                              \
  *(void **)(&p_##name) = dlsym(library, #name);                                           \
  if (!p_##name) {                                                                         \
    snprintf(zip_failure, sizeof zip_failure, "%s has no %s", file, #name);                \
    return -1;                                                                             \
  }
  PTV_ZIP_FUNCTIONS(PTV_ZIP_RESOLVE)
#undef PTV_ZIP_RESOLVE
  return 0;
}

int ptv_zip_load(char *error, size_t error_size) {
  pthread_mutex_lock(&zip_lock);
  if (zip_state == 0) {
    const char *file = getenv("PTVIEW_LIBZIP");
    if (!file || !*file) file = "libzip.so.4";
    void *handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      snprintf(zip_failure, sizeof zip_failure, "%s", dlerror());
      zip_state = -1;
    } else if (resolve(handle, file) != 0) {
      dlclose(handle);
      zip_state = -1;
    } else {
      zip_state = 1;
    }
  }
  int state = zip_state;
  if (state < 0 && error && error_size) snprintf(error, error_size, "%s", zip_failure);
  pthread_mutex_unlock(&zip_lock);
  return state == 1 ? 0 : -1;
}

zip_t *ptv_zip_open(const char *path, int flags, int *error) {
  return p_zip_open(path, flags, error);
}
zip_t *ptv_zip_open_from_source(zip_source_t *source, int flags, zip_error_t *error) {
  return p_zip_open_from_source(source, flags, error);
}
void ptv_zip_discard(zip_t *archive) { p_zip_discard(archive); }
zip_int64_t ptv_zip_get_num_entries(zip_t *archive, zip_flags_t flags) {
  return p_zip_get_num_entries(archive, flags);
}
void ptv_zip_stat_init(zip_stat_t *stat) { p_zip_stat_init(stat); }
int ptv_zip_stat_index(zip_t *archive, zip_uint64_t index, zip_flags_t flags, zip_stat_t *stat) {
  return p_zip_stat_index(archive, index, flags, stat);
}
zip_file_t *ptv_zip_fopen_index(zip_t *archive, zip_uint64_t index, zip_flags_t flags) {
  return p_zip_fopen_index(archive, index, flags);
}
zip_int64_t ptv_zip_fread(zip_file_t *file, void *buffer, zip_uint64_t count) {
  return p_zip_fread(file, buffer, count);
}
int ptv_zip_fclose(zip_file_t *file) { return p_zip_fclose(file); }
const char *ptv_zip_strerror(zip_t *archive) { return p_zip_strerror(archive); }
const char *ptv_zip_file_strerror(zip_file_t *file) { return p_zip_file_strerror(file); }

void ptv_zip_error_init(zip_error_t *error) { p_zip_error_init(error); }
void ptv_zip_error_init_with_code(zip_error_t *error, int code) {
  p_zip_error_init_with_code(error, code);
}
void ptv_zip_error_fini(zip_error_t *error) { p_zip_error_fini(error); }
const char *ptv_zip_error_strerror(zip_error_t *error) { return p_zip_error_strerror(error); }
void ptv_zip_error_set(zip_error_t *error, int code, int system_code) {
  p_zip_error_set(error, code, system_code);
}
zip_int64_t ptv_zip_error_to_data(const zip_error_t *error, void *data, zip_uint64_t length) {
  return p_zip_error_to_data(error, data, length);
}

zip_source_t *ptv_zip_source_buffer_create(const void *data, zip_uint64_t length, int free_data,
                                           zip_error_t *error) {
  return p_zip_source_buffer_create(data, length, free_data, error);
}
zip_source_t *ptv_zip_source_function_create(zip_source_callback callback, void *user,
                                             zip_error_t *error) {
  return p_zip_source_function_create(callback, user, error);
}
void ptv_zip_source_free(zip_source_t *source) { p_zip_source_free(source); }
zip_int64_t ptv_zip_source_seek_compute_offset(zip_uint64_t offset, zip_uint64_t length,
                                               void *data, zip_uint64_t data_length,
                                               zip_error_t *error) {
  return p_zip_source_seek_compute_offset(offset, length, data, data_length, error);
}
