#ifndef PTVIEW_CLIBZIP_H
#define PTVIEW_CLIBZIP_H
// libzip, opened with dlopen at the first compressed record, never linked: linking it cost
// every ptview run about 1 ms of startup (libzip maps libcrypto, libbz2 and libz), while
// torch.save writes stored records and most runs inflate nothing (docs/decisions.md).
// <zip.h> still supplies the types and constants at build time (libzip-dev); the functions
// are reached only through the ptv_zip_ names below, each a call through a pointer dlsym
// found. They never take libzip's own names: a definition of zip_open here would interpose
// on libzip's internal calls to itself.
#include <zip.h>

/// Opens libzip (`$PTVIEW_LIBZIP` when set and not empty, else `libzip.so.4`) once per
/// process and resolves every function below. Returns 0, or -1 with the reason (dlerror's
/// text or the missing symbol) in `error`. Thread-safe; later calls return the first answer.
/// Every other function here may be called only after this returned 0.
int ptv_zip_load(char *error, size_t error_size);

zip_t *ptv_zip_open(const char *path, int flags, int *error);
zip_t *ptv_zip_open_from_source(zip_source_t *source, int flags, zip_error_t *error);
void ptv_zip_discard(zip_t *archive);
zip_int64_t ptv_zip_get_num_entries(zip_t *archive, zip_flags_t flags);
void ptv_zip_stat_init(zip_stat_t *stat);
int ptv_zip_stat_index(zip_t *archive, zip_uint64_t index, zip_flags_t flags, zip_stat_t *stat);
zip_file_t *ptv_zip_fopen_index(zip_t *archive, zip_uint64_t index, zip_flags_t flags);
zip_int64_t ptv_zip_fread(zip_file_t *file, void *buffer, zip_uint64_t count);
int ptv_zip_fclose(zip_file_t *file);
const char *ptv_zip_strerror(zip_t *archive);
const char *ptv_zip_file_strerror(zip_file_t *file);

void ptv_zip_error_init(zip_error_t *error);
void ptv_zip_error_init_with_code(zip_error_t *error, int code);
void ptv_zip_error_fini(zip_error_t *error);
const char *ptv_zip_error_strerror(zip_error_t *error);
void ptv_zip_error_set(zip_error_t *error, int code, int system_code);
zip_int64_t ptv_zip_error_to_data(const zip_error_t *error, void *data, zip_uint64_t length);

zip_source_t *ptv_zip_source_buffer_create(const void *data, zip_uint64_t length, int free_data,
                                           zip_error_t *error);
zip_source_t *ptv_zip_source_function_create(zip_source_callback callback, void *user,
                                             zip_error_t *error);
void ptv_zip_source_free(zip_source_t *source);
zip_int64_t ptv_zip_source_seek_compute_offset(zip_uint64_t offset, zip_uint64_t length,
                                               void *data, zip_uint64_t data_length,
                                               zip_error_t *error);

#endif
