// Every wrapper is `static inline` in include/CCurlShims.h; a C target needs one translation unit.
#include "CCurlShims.h"
