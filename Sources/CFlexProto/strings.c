#include "CFlexProto.h"

#include <string.h>

// Protobuf strings may carry U+0000, but protobuf-c hands them over as NUL-terminated C strings, so
// "default\0junk" would silently read as "default". This walks the encoded message with its
// descriptor, before unpacking, and finds string fields (in nested messages and map entries too)
// that contain a zero byte. Anything malformed is left for protobuf_c_message_unpack to reject.

#define MAX_DEPTH 32

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *value) {
    uint64_t result = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return 0;
        uint8_t byte = *(*p)++;
        result |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            *value = result;
            return 1;
        }
    }
    return 0;
}

static const char *scan(const ProtobufCMessageDescriptor *descriptor, const uint8_t *p, const uint8_t *end,
                        unsigned depth) {
    if (depth > MAX_DEPTH) return NULL;
    while (p < end) {
        uint64_t key;
        if (!read_varint(&p, end, &key)) return NULL;
        uint32_t number = (uint32_t)(key >> 3);
        uint64_t length;
        switch (key & 7) {
        case 0:  // varint
            if (!read_varint(&p, end, &length)) return NULL;
            break;
        case 1:  // 64-bit
            if (end - p < 8) return NULL;
            p += 8;
            break;
        case 5:  // 32-bit
            if (end - p < 4) return NULL;
            p += 4;
            break;
        case 2: {  // length-delimited
            if (!read_varint(&p, end, &length) || length > (uint64_t)(end - p)) return NULL;
            const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field(descriptor, number);
            if (field != NULL) {
                if (field->type == PROTOBUF_C_TYPE_STRING) {
                    if (memchr(p, 0, (size_t)length) != NULL) return field->name;
                } else if (field->type == PROTOBUF_C_TYPE_MESSAGE && field->descriptor != NULL) {
                    const char *found = scan(field->descriptor, p, p + length, depth + 1);
                    if (found != NULL) return found;
                }
            }
            p += length;
            break;
        }
        default:  // groups and invalid wire types: protobuf-c rejects them
            return NULL;
        }
    }
    return NULL;
}

const char *CFlexProto_string_with_nul(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data,
                                       size_t length) {
    if (descriptor == NULL || data == NULL) return NULL;
    return scan(descriptor, data, data + length, 0);
}
