// CFlexProto: the protobuf-c code generated from Proto/flexinference/v1 (by tools/gen-proto;
// do not edit the .pb-c files by hand) and a bump-pointer arena allocator for it.
#ifndef CFLEXPROTO_H
#define CFLEXPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "flexinference/v1/types.pb-c.h"
#include "flexinference/v1/status.pb-c.h"
#include "flexinference/v1/connection.pb-c.h"
#include "flexinference/v1/savings.pb-c.h"
#include "flexinference/v1/call.pb-c.h"
#include "flexinference/v1/chat.pb-c.h"
#include "flexinference/v1/inference.pb-c.h"

/// A bump-pointer arena that protobuf-c allocates from while unpacking, and that the Swift side
/// allocates C structs and strings from while packing. Freeing is a no-op; `reset` releases
/// everything at once, so no path can leak a partially unpacked message.
///
/// Not thread-safe: one arena belongs to one codec at a time.
typedef struct CFlexProto_Arena CFlexProto_Arena;

/// Creates an arena whose first chunk holds `initial_capacity` bytes and which refuses to grow past
/// `limit` bytes in total (allocation then fails, and protobuf-c reports the message as invalid).
/// Returns NULL when memory is exhausted.
CFlexProto_Arena *CFlexProto_arena_create(size_t initial_capacity, size_t limit);

void CFlexProto_arena_destroy(CFlexProto_Arena *arena);

/// Releases every allocation. Keeps one chunk, sized to what the last use needed (bounded by the
/// retain limit given at creation), so steady-state use allocates nothing.
void CFlexProto_arena_reset(CFlexProto_Arena *arena);

/// Changes the total-size limit (used per message: a multiple of its encoded size).
void CFlexProto_arena_set_limit(CFlexProto_Arena *arena, size_t limit);

/// The ProtobufCAllocator that allocates from this arena. Valid for the arena's lifetime.
ProtobufCAllocator *CFlexProto_arena_allocator(CFlexProto_Arena *arena);

/// Allocates `size` zeroed bytes aligned for any C type; NULL when over the limit.
void *CFlexProto_arena_alloc_zeroed(CFlexProto_Arena *arena, size_t size);

/// Copies `length` bytes and a terminating NUL into the arena; NULL when over the limit.
char *CFlexProto_arena_copy_string(CFlexProto_Arena *arena, const void *bytes, size_t length);

/// Bytes handed out since the last reset (for tests and statistics).
size_t CFlexProto_arena_bytes_used(const CFlexProto_Arena *arena);

/// Chunks currently held, the retained one included (for tests: proves reset frees the rest).
size_t CFlexProto_arena_chunk_count(const CFlexProto_Arena *arena);

/// Packs `message` into `out`, which must have room for protobuf_c_message_get_packed_size bytes.
/// Returns the number of bytes written. A non-variadic, pointer-typed wrapper so Swift can call it
/// with any generated message struct.
static inline size_t CFlexProto_pack(const void *message, uint8_t *out) {
    return protobuf_c_message_pack((const ProtobufCMessage *)message, out);
}

/// The name of the first string field of the encoded message `data` (of type `descriptor`, nested
/// messages and map entries included) whose value contains a zero byte, or NULL when there is none.
/// protobuf-c unpacks strings as NUL-terminated C strings, so such a value would be cut short
/// silently. Malformed input returns NULL: unpacking rejects it.
const char *CFlexProto_string_with_nul(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data,
                                       size_t length);

static inline size_t CFlexProto_packed_size(const void *message) {
    return protobuf_c_message_get_packed_size((const ProtobufCMessage *)message);
}

#endif
