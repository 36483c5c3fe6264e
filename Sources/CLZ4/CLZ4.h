// System-library shim for liblz4 (Debian: liblz4-dev).
#ifndef CLZ4_H
#define CLZ4_H

#include <lz4.h>

/// `LZ4_MAX_INPUT_SIZE` is a macro; Swift imports it, but exposing it as a function keeps the
/// call sites uniform with `LZ4_compressBound` (the macro `LZ4_COMPRESSBOUND` does not import).
static inline int CLZ4_max_input_size(void) {
    return LZ4_MAX_INPUT_SIZE;
}

#endif
