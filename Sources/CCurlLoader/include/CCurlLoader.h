#ifndef PTVIEW_CCURLLOADER_H
#define PTVIEW_CCURLLOADER_H
#include <stddef.h>
#include <stdint.h>

// libcurl and libcrypto, opened with dlopen at the first remote read, so a local run never
// maps them (docs/decisions.md: the remote transport without Foundation). Nothing here
// includes <curl/curl.h>: the few option and info numbers ptview uses are part of libcurl's
// stable ABI (soname 4 since 2006) and are declared below, so the build needs no libcurl
// development package. Tests/Interop/test_curl_constants.py compiles every PTV_ number here
// (and the CURLcodes named in CurlHandle.swift) against the system's curl.h and fails on any
// difference.

/// An easy handle (libcurl's `CURL *`).
typedef void ptv_curl;
/// A header list (libcurl's `struct curl_slist *`).
typedef void ptv_curl_list;
/// The write and header callbacks' type.
typedef size_t (*ptv_curl_data_callback)(char *data, size_t size, size_t count, void *context);

/// The `CURLOPT_*` numbers ptview sets (type base + index, as curl.h computes them).
enum {
  PTV_CURLOPT_WRITEDATA = 10001,
  PTV_CURLOPT_URL = 10002,
  PTV_CURLOPT_ERRORBUFFER = 10010,
  PTV_CURLOPT_WRITEFUNCTION = 20011,
  PTV_CURLOPT_USERAGENT = 10018,
  PTV_CURLOPT_LOW_SPEED_LIMIT = 19,
  PTV_CURLOPT_LOW_SPEED_TIME = 20,
  PTV_CURLOPT_HTTPHEADER = 10023,
  PTV_CURLOPT_HEADERDATA = 10029,
  PTV_CURLOPT_FOLLOWLOCATION = 52,
  PTV_CURLOPT_CAINFO = 10065,
  PTV_CURLOPT_CONNECTTIMEOUT = 78,
  PTV_CURLOPT_HEADERFUNCTION = 20079,
  PTV_CURLOPT_HTTPGET = 80,
  PTV_CURLOPT_BUFFERSIZE = 98,
  PTV_CURLOPT_NOSIGNAL = 99,
  PTV_CURLOPT_CAPATH = 10097,
  PTV_CURLOPT_PROTOCOLS = 181,
};

/// `CURLPROTO_HTTP | CURLPROTO_HTTPS`.
enum { PTV_CURLPROTO_HTTP_S = 3 };
/// The size `CURLOPT_ERRORBUFFER` needs.
enum { PTV_CURL_ERROR_SIZE = 256 };

/// The `CURLINFO_*` numbers ptview reads (type base + index).
enum {
  PTV_CURLINFO_EFFECTIVE_URL = 0x100000 + 1,
  PTV_CURLINFO_RESPONSE_CODE = 0x200000 + 2,
  PTV_CURLINFO_CONTENT_LENGTH_DOWNLOAD_T = 0x600000 + 15,
  PTV_CURLINFO_REDIRECT_URL = 0x100000 + 31,
};

/// Opens libcurl (`library`, else `libcurl.so.4`, else `libcurl-gnutls.so.4`) once per process
/// and initialises it. Returns 0, or -1 with dlerror's text in `error`. Thread-safe; later calls
/// return the first call's answer.
int ptv_curl_load(const char *library, char *error, size_t error_size);

ptv_curl *ptv_curl_easy_init(void);
void ptv_curl_easy_reset(ptv_curl *handle);
void ptv_curl_easy_cleanup(ptv_curl *handle);
/// `curl_easy_perform`: the `CURLcode`.
int ptv_curl_easy_perform(ptv_curl *handle);
/// `curl_easy_strerror`.
const char *ptv_curl_easy_strerror(int code);
/// `curl_easy_setopt` for a `long` option.
int ptv_curl_setopt_long(ptv_curl *handle, int option, long value);
/// `curl_easy_setopt` for a pointer option (strings, lists, callback data, the error buffer).
int ptv_curl_setopt_pointer(ptv_curl *handle, int option, const void *value);
/// `curl_easy_setopt` for the write or header function.
int ptv_curl_setopt_callback(ptv_curl *handle, int option, ptv_curl_data_callback callback);
int ptv_curl_getinfo_long(ptv_curl *handle, int info, long *value);
int ptv_curl_getinfo_string(ptv_curl *handle, int info, const char **value);
int ptv_curl_getinfo_offset(ptv_curl *handle, int info, int64_t *value);
ptv_curl_list *ptv_curl_slist_append(ptv_curl_list *list, const char *text);
void ptv_curl_slist_free_all(ptv_curl_list *list);

/// Opens libcrypto (`libcrypto.so.3`, else `libcrypto.so.1.1`) once per process for SHA-256
/// and HMAC-SHA256. Returns 0, or -1 with dlerror's text in `error`. Thread-safe.
int ptv_crypto_load(char *error, size_t error_size);
/// SHA-256 of `count` bytes into `digest` (32 bytes). The library must be loaded.
void ptv_sha256(const void *data, size_t count, uint8_t *digest);
/// HMAC-SHA256 of `data` under `key` into `mac` (32 bytes). Returns 0, or -1 when the key
/// is longer than an `int` can say (OpenSSL's limit). The library must be loaded.
int ptv_hmac_sha256(const void *key, size_t key_count, const void *data, size_t count,
                    uint8_t *mac);

#endif
