// Most wrappers are `static inline` in include/CCurlShims.h; this translation unit holds the rest.
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include "CCurlShims.h"

int ccurl_name_current_thread(const char *name) {
#if defined(__linux__)
    char truncated[16];
    strncpy(truncated, name, sizeof truncated - 1);
    truncated[sizeof truncated - 1] = '\0';
    return pthread_setname_np(pthread_self(), truncated);
#elif defined(__APPLE__)
    return pthread_setname_np(name);
#else
    (void)name;
    return 0;
#endif
}
