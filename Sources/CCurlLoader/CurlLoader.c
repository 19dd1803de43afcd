// libcurl through dlopen: resolved once, at the first remote read (docs/decisions.md).
#include "CCurlLoader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t curl_lock = PTHREAD_MUTEX_INITIALIZER;
static int curl_state;  // 0 not tried, 1 loaded, -1 failed
static char curl_error[512];

static int (*global_init)(long flags);
static void *(*easy_init)(void);
static void (*easy_reset)(void *);
static void (*easy_cleanup)(void *);
static int (*easy_perform)(void *);
static const char *(*easy_strerror)(int);
static int (*easy_setopt)(void *, int, ...);
static int (*easy_getinfo)(void *, int, ...);
static void *(*slist_append)(void *, const char *);
static void (*slist_free_all)(void *);

/// Resolves every function or reports the first missing one.
static int resolve(void *library, const char *name) {
#define RESOLVE(target, symbol)                                                            \
  do {                                                                                     \
    *(void **)(&target) = dlsym(library, symbol);                                          \
    if (!target) {                                                                         \
      snprintf(curl_error, sizeof curl_error, "%s has no %s", name, symbol);               \
      return -1;                                                                           \
    }                                                                                      \
  } while (0)
  RESOLVE(global_init, "curl_global_init");
  RESOLVE(easy_init, "curl_easy_init");
  RESOLVE(easy_reset, "curl_easy_reset");
  RESOLVE(easy_cleanup, "curl_easy_cleanup");
  RESOLVE(easy_perform, "curl_easy_perform");
  RESOLVE(easy_strerror, "curl_easy_strerror");
  RESOLVE(easy_setopt, "curl_easy_setopt");
  RESOLVE(easy_getinfo, "curl_easy_getinfo");
  RESOLVE(slist_append, "curl_slist_append");
  RESOLVE(slist_free_all, "curl_slist_free_all");
#undef RESOLVE
  return 0;
}

int ptv_curl_load(const char *library, char *error, size_t error_size) {
  pthread_mutex_lock(&curl_lock);
  if (curl_state == 0) {
    // The OpenSSL flavour first (Debian's libcurl4), then the GnuTLS one that git installs.
    const char *names[] = {library, "libcurl.so.4", "libcurl-gnutls.so.4"};
    size_t first = library && *library ? 0 : 1, last = library && *library ? 1 : 3;
    void *handle = NULL;
    const char *name = NULL;
    for (size_t i = first; i < last && !handle; i++) {
      name = names[i];
      handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (!handle) snprintf(curl_error, sizeof curl_error, "%s", dlerror());
    }
    if (!handle) {
      curl_state = -1;
    } else if (resolve(handle, name) != 0) {
      dlclose(handle);
      curl_state = -1;
    } else if (global_init(3) != 0) {  // CURL_GLOBAL_DEFAULT
      snprintf(curl_error, sizeof curl_error, "curl_global_init failed");
      curl_state = -1;
    } else {
      curl_state = 1;
    }
  }
  int state = curl_state;
  if (state < 0 && error && error_size) snprintf(error, error_size, "%s", curl_error);
  pthread_mutex_unlock(&curl_lock);
  return state == 1 ? 0 : -1;
}

ptv_curl *ptv_curl_easy_init(void) { return easy_init(); }
void ptv_curl_easy_reset(ptv_curl *handle) { easy_reset(handle); }
void ptv_curl_easy_cleanup(ptv_curl *handle) { easy_cleanup(handle); }

// With CURLOPT_NOSIGNAL (required when several threads use libcurl), a write to a socket the
// server closed may raise SIGPIPE inside the TLS library. It is blocked in this thread for the
// transfer and a SIGPIPE raised meanwhile is taken off the queue before the mask is restored,
// so the process's own handling (a closed stdout ends ptview quietly) is left alone.
int ptv_curl_easy_perform(ptv_curl *handle) {
  sigset_t pipe_only, old, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigpending(&pending);
  int was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  int code = easy_perform(handle);
  if (!was_pending) {
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      struct timespec none = {0, 0};
      sigtimedwait(&pipe_only, NULL, &none);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return code;
}
const char *ptv_curl_easy_strerror(int code) { return easy_strerror(code); }

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
// entry per argument type instead.
int ptv_curl_setopt_long(ptv_curl *handle, int option, long value) {
  return easy_setopt(handle, option, value);
}
int ptv_curl_setopt_pointer(ptv_curl *handle, int option, const void *value) {
  return easy_setopt(handle, option, value);
}
int ptv_curl_setopt_callback(ptv_curl *handle, int option, ptv_curl_data_callback callback) {
  return easy_setopt(handle, option, callback);
}
int ptv_curl_getinfo_long(ptv_curl *handle, int info, long *value) {
  return easy_getinfo(handle, info, value);
}
int ptv_curl_getinfo_string(ptv_curl *handle, int info, const char **value) {
  return easy_getinfo(handle, info, value);
}
int ptv_curl_getinfo_offset(ptv_curl *handle, int info, int64_t *value) {
  return easy_getinfo(handle, info, value);
}
ptv_curl_list *ptv_curl_slist_append(ptv_curl_list *list, const char *text) {
  return slist_append(list, text);
}
void ptv_curl_slist_free_all(ptv_curl_list *list) { slist_free_all(list); }
