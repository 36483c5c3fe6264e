// Shim for glibc's <malloc.h> (libc6-dev), which Swift's Glibc module does not include.
#ifndef CGLIBC_MALLOC_H
#define CGLIBC_MALLOC_H

#include <malloc.h>

/// mallopt(M_ARENA_MAX, arenas): the most malloc arenas glibc creates. Returns 1 on success.
static inline int CGlibcMalloc_limitArenas(int arenas) {
    return mallopt(M_ARENA_MAX, arenas);
}

/// malloc_trim(0): gives the free memory at the top of every arena, and whole free pages inside
/// them, back to the system. Returns 1 when some memory was released.
static inline int CGlibcMalloc_trim(void) {
    return malloc_trim(0);
}

#endif
