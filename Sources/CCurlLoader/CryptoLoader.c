// SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto through dlopen, for S3's Signature V4:
// the library libcurl's OpenSSL flavour already maps, so signing adds no package
// (docs/decisions.md). OpenSSL's one-shot SHA256() and HMAC() are used: not deprecated in 3.x.
#include "CCurlLoader.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t crypto_lock = PTHREAD_MUTEX_INITIALIZER;
static int crypto_state;  // 0 not tried, 1 loaded, -1 failed
static char crypto_error[512];

static unsigned char *(*sha256)(const unsigned char *, size_t, unsigned char *);
static const void *(*evp_sha256)(void);
static unsigned char *(*hmac)(const void *, const void *, int, const unsigned char *, size_t,
                              unsigned char *, unsigned int *);

int ptv_crypto_load(char *error, size_t error_size) {
  pthread_mutex_lock(&crypto_lock);
  if (crypto_state == 0) {
    void *handle = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!handle) handle = dlopen("libcrypto.so.1.1", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      snprintf(crypto_error, sizeof crypto_error, "%s", dlerror());
      crypto_state = -1;
    } else {
      *(void **)(&sha256) = dlsym(handle, "SHA256");
      *(void **)(&evp_sha256) = dlsym(handle, "EVP_sha256");
      *(void **)(&hmac) = dlsym(handle, "HMAC");
      if (sha256 && evp_sha256 && hmac) {
        crypto_state = 1;
      } else {
        snprintf(crypto_error, sizeof crypto_error, "libcrypto has no SHA256, EVP_sha256 or HMAC");
        dlclose(handle);
        crypto_state = -1;
      }
    }
  }
  int state = crypto_state;
  if (state < 0 && error && error_size) snprintf(error, error_size, "%s", crypto_error);
  pthread_mutex_unlock(&crypto_lock);
  return state == 1 ? 0 : -1;
}

void ptv_sha256(const void *data, size_t count, uint8_t *digest) {
  sha256((const unsigned char *)data, count, digest);
}

int ptv_hmac_sha256(const void *key, size_t key_count, const void *data, size_t count,
                    uint8_t *mac) {
  if (key_count > INT_MAX) return -1;
  unsigned int length = 32;
  return hmac(evp_sha256(), key, (int)key_count, (const unsigned char *)data, count, mac,
              &length)
             ? 0
             : -1;
}
