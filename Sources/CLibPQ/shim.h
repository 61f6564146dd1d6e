#ifndef ASYNCTASK_CLIBPQ_SHIM_H
#define ASYNCTASK_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>
#endif
