#ifndef ASYNCTASK_CCURL_SHIM_H
#define ASYNCTASK_CCURL_SHIM_H
#include <curl/curl.h>
#endif
