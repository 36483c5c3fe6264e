// System-library shim for libprotobuf-c (Debian: libprotobuf-c-dev).
#ifndef CPROTOBUFC_H
#define CPROTOBUFC_H

#include <protobuf-c/protobuf-c.h>

/// `protobuf_c_empty_string` is declared `extern const char protobuf_c_empty_string[]`, which Swift
/// does not import as a usable pointer; this returns it.
static inline const char *CProtobufC_empty_string(void) {
    return protobuf_c_empty_string;
}

#endif
