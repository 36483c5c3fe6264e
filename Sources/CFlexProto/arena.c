#include "CFlexProto.h"

#include <stdlib.h>
#include <string.h>

// Every allocation is rounded up to this alignment (max_align_t on x86_64 and arm64).
#define ARENA_ALIGN 16u
// A reset keeps at most this much memory for reuse, so one huge message does not pin memory.
#define ARENA_RETAIN_MAX (1u << 20)

typedef struct Chunk {
    struct Chunk *next;
    size_t capacity;
    size_t used;
    // followed by `capacity` bytes, aligned to ARENA_ALIGN
} Chunk;

struct CFlexProto_Arena {
    ProtobufCAllocator allocator;
    Chunk *head;       // the chunk being filled; older chunks follow through `next`
    size_t total;      // bytes handed out since the last reset
    size_t limit;      // refuse allocations that would take `total` past this
    size_t initial;    // first chunk's size
};

static size_t round_up(size_t n) {
    return (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

static const size_t header_size = (sizeof(Chunk) + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);

static unsigned char *chunk_data(Chunk *chunk) {
    return (unsigned char *)chunk + header_size;
}

static Chunk *chunk_new(size_t capacity, Chunk *next) {
    Chunk *chunk = malloc(header_size + capacity);
    if (chunk == NULL) return NULL;
    chunk->next = next;
    chunk->capacity = capacity;
    chunk->used = 0;
    return chunk;
}

static void *arena_alloc(CFlexProto_Arena *arena, size_t size) {
    size_t rounded = round_up(size == 0 ? 1 : size);
    if (rounded < size || arena->total + rounded > arena->limit || arena->total + rounded < arena->total) {
        return NULL;
    }
    Chunk *head = arena->head;
    if (head == NULL || head->capacity - head->used < rounded) {
        size_t capacity = head == NULL ? arena->initial : head->capacity * 2;
        if (capacity < rounded) capacity = rounded;
        Chunk *chunk = chunk_new(capacity, head);
        if (chunk == NULL) return NULL;
        arena->head = chunk;
        head = chunk;
    }
    void *result = chunk_data(head) + head->used;
    head->used += rounded;
    arena->total += rounded;
    return result;
}

static void *allocator_alloc(void *data, size_t size) {
    return arena_alloc((CFlexProto_Arena *)data, size);
}

static void allocator_free(void *data, void *pointer) {
    (void)data;
    (void)pointer;
}

CFlexProto_Arena *CFlexProto_arena_create(size_t initial_capacity, size_t limit) {
    CFlexProto_Arena *arena = calloc(1, sizeof(CFlexProto_Arena));
    if (arena == NULL) return NULL;
    arena->allocator.alloc = allocator_alloc;
    arena->allocator.free = allocator_free;
    arena->allocator.allocator_data = arena;
    arena->initial = round_up(initial_capacity == 0 ? 4096 : initial_capacity);
    arena->limit = limit;
    arena->head = NULL;
    return arena;
}

void CFlexProto_arena_destroy(CFlexProto_Arena *arena) {
    if (arena == NULL) return;
    Chunk *chunk = arena->head;
    while (chunk != NULL) {
        Chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    free(arena);
}

void CFlexProto_arena_reset(CFlexProto_Arena *arena) {
    Chunk *head = arena->head;
    if (head != NULL && head->next != NULL) {
        // Several chunks were needed: free them all and keep one big enough for next time.
        size_t wanted = arena->total;
        Chunk *chunk = head;
        while (chunk != NULL) {
            Chunk *next = chunk->next;
            free(chunk);
            chunk = next;
        }
        arena->head = NULL;
        if (wanted <= ARENA_RETAIN_MAX) {
            if (wanted < arena->initial) wanted = arena->initial;
            arena->head = chunk_new(round_up(wanted), NULL);
        }
    } else if (head != NULL && head->capacity > ARENA_RETAIN_MAX) {
        free(head);
        arena->head = NULL;
    } else if (head != NULL) {
        head->used = 0;
    }
    arena->total = 0;
}

void CFlexProto_arena_set_limit(CFlexProto_Arena *arena, size_t limit) {
    arena->limit = limit;
}

ProtobufCAllocator *CFlexProto_arena_allocator(CFlexProto_Arena *arena) {
    return &arena->allocator;
}

void *CFlexProto_arena_alloc_zeroed(CFlexProto_Arena *arena, size_t size) {
    void *result = arena_alloc(arena, size);
    if (result != NULL) memset(result, 0, size);
    return result;
}

char *CFlexProto_arena_copy_string(CFlexProto_Arena *arena, const void *bytes, size_t length) {
    if (length + 1 < length) return NULL;
    char *result = arena_alloc(arena, length + 1);
    if (result == NULL) return NULL;
    if (length > 0) memcpy(result, bytes, length);
    result[length] = '\0';
    return result;
}

size_t CFlexProto_arena_bytes_used(const CFlexProto_Arena *arena) {
    return arena->total;
}

size_t CFlexProto_arena_chunk_count(const CFlexProto_Arena *arena) {
    size_t count = 0;
    for (const Chunk *chunk = arena->head; chunk != NULL; chunk = chunk->next) count++;
    return count;
}
