#ifndef PTVIEW_CLIBZIP_SHIM_H
#define PTVIEW_CLIBZIP_SHIM_H
#include <zip.h>
#endif
