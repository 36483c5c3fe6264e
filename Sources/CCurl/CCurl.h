// System-library shim for libcurl (Debian: libcurl4-openssl-dev).
//
// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot call;
// these typed, non-variadic wrappers are the only way in. Debian keeps curl's headers under a
// multiarch include folder, so the header is included here rather than named in the module map.
#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>

#ifdef __linux__
// FlexHTTP drives libcurl with curl_multi_socket_action over its own epoll set, wakes that loop
// through an eventfd, and moves its next wake-up earlier through a timerfd. Swift's Glibc module
// does not include these headers, so they come in here, next to the libcurl API they serve.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/prctl.h>

// Names the calling thread (prctl is variadic). At most 15 bytes are kept.
static inline int CCurl_name_this_thread(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}
#endif

static inline CURLcode CCurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_easy_setopt_ptr(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_easy_setopt_write_callback(CURL *handle, CURLoption option, curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_easy_setopt_read_callback(CURL *handle, CURLoption option, curl_read_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_easy_setopt_xferinfo_callback(CURL *handle, CURLoption option, curl_xferinfo_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode CCurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode CCurl_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode CCurl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode CCurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

static inline CURLMcode CCurl_multi_setopt_ptr(CURLM *multi, CURLMoption option, void *value) {
    return curl_multi_setopt(multi, option, value);
}

/// `CURLVERSION_NOW` is a macro that Swift does not import.
static inline curl_version_info_data *CCurl_version_info(void) {
    return curl_version_info(CURLVERSION_NOW);
}

// MARK: Callbacks FlexHTTP needs beyond the original set (typed for the same reason: variadic setopt).

/// CURLOPT_PREREQFUNCTION (libcurl 7.80+): called once the connection is ready and before the request
/// is sent. FlexHTTP uses it to tell "connecting" from "awaiting the response head", and to learn the
/// connection's addresses.
static inline CURLcode CCurl_easy_setopt_prereq_callback(CURL *handle, CURLoption option, curl_prereq_callback value) {
    return curl_easy_setopt(handle, option, value);
}

/// CURLOPT_SOCKOPTFUNCTION: libcurl 7.88 opens sockets without close-on-exec; FlexHTTP marks them so a
/// child process never inherits (and keeps open) an upstream connection.
static inline CURLcode CCurl_easy_setopt_sockopt_callback(CURL *handle, CURLoption option, curl_sockopt_callback value) {
    return curl_easy_setopt(handle, option, value);
}

/// CURLMOPT_SOCKETFUNCTION: FlexHTTP drives the multi handle with curl_multi_socket_action and its own
/// epoll set, so libcurl tells it which sockets to watch.
static inline CURLMcode CCurl_multi_setopt_socket_callback(CURLM *multi, CURLMoption option, curl_socket_callback value) {
    return curl_multi_setopt(multi, option, value);
}

// MARK: Macros Swift does not import (expressions of other macros, or casts)

/// CURLPAUSE_CONT is `(CURLPAUSE_RECV_CONT|CURLPAUSE_SEND_CONT)`, which Swift does not import.
static const int CCurl_PAUSE_CONT = CURLPAUSE_CONT;

/// CURL_SOCKET_TIMEOUT is defined as CURL_SOCKET_BAD, a macro of a macro.
static const curl_socket_t CCurl_SOCKET_TIMEOUT = CURL_SOCKET_TIMEOUT;

/// CURL_GLOBAL_DEFAULT is `CURL_GLOBAL_ALL`, itself `(CURL_GLOBAL_SSL|CURL_GLOBAL_WIN32)`.
static const long CCurl_GLOBAL_DEFAULT = CURL_GLOBAL_DEFAULT;

/// The write callback's "pause this transfer" return value, typed as the callback's return type.
static const size_t CCurl_WRITEFUNC_PAUSE = CURL_WRITEFUNC_PAUSE;

#endif
