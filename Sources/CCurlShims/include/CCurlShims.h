#ifndef ASYNCTASK_CCURLSHIMS_H
#define ASYNCTASK_CCURLSHIMS_H

// Typed wrappers for libcurl's variadic entry points, which Swift cannot call.
// Each wrapper fixes the type of the third argument, so a Swift caller cannot pass
// a value of the wrong width (libcurl reads it with va_arg and trusts the type).

#include <curl/curl.h>

// MARK: curl_easy_setopt

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

// libcurl copies string options (except CURLOPT_POSTFIELDS, which this project never uses).
static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

// For CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION (same signature).
static inline CURLcode ccurl_easy_setopt_write_callback(CURL *handle, CURLoption option, curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}

// MARK: curl_easy_getinfo

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

// For CURLINFO_PRIVATE: the pointer stored with CURLOPT_PRIVATE.
static inline CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    char *raw = NULL;
    CURLcode code = curl_easy_getinfo(handle, info, &raw);
    *value = raw;
    return code;
}

// MARK: curl_multi_setopt

static inline CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

// MARK: CURLMsg

// The `data.result` member of a CURLMSG_DONE message (a union member, awkward from Swift).
static inline CURLcode ccurl_msg_result(const CURLMsg *message) {
    return message->data.result;
}

// MARK: The engine thread

// Names the calling thread (at most 15 bytes are kept on Linux), as `top -H`, `ps -L`, perf and debuggers
// show it. pthread_setname_np is a GNU extension that Swift's Glibc module does not export; defined in shim.c,
// which asks for it. Returns 0 on success, an errno value otherwise.
int ccurl_name_current_thread(const char *name);

#endif
