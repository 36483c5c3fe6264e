internal import CFlexProto
internal import CProtobufC

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Owns a `CFlexProto_Arena`: the memory protobuf-c unpacks into and that C messages are built in
/// before packing.
///
/// Everything allocated lives until ``reset()``, which releases it all at once; no code path has to
/// free a partially built or partially unpacked message. Not thread-safe: one arena belongs to one
/// ``MessageCoder``.
final class ProtobufArena {
    private let arena: OpaquePointer
    /// Each unpack may allocate at most this many times its encoded size (plus a floor), which
    /// bounds what a small hostile message full of empty sub-messages can make us allocate.
    let amplificationLimit: Int
    static let amplificationFloor = 64 * 1024

    init(initialCapacity: Int = 16 * 1024, amplificationLimit: Int = 64) {
        guard let arena = CFlexProto_arena_create(initialCapacity, Int.max) else {
            fatalError("CFlexProto_arena_create: out of memory")
        }
        self.arena = arena
        self.amplificationLimit = amplificationLimit
    }

    deinit {
        CFlexProto_arena_destroy(self.arena)
    }

    var allocator: UnsafeMutablePointer<ProtobufCAllocator> {
        CFlexProto_arena_allocator(self.arena)
    }

    /// Bounds the allocations of the next unpack by the size of its input.
    func limitForUnpacking(encodedSize: Int) {
        let (product, overflow) = encodedSize.multipliedReportingOverflow(by: self.amplificationLimit)
        CFlexProto_arena_set_limit(self.arena, overflow ? Int.max : product + Self.amplificationFloor)
    }

    /// Removes the unpacking bound (packing builds messages from trusted Swift values).
    func unlimited() {
        CFlexProto_arena_set_limit(self.arena, Int.max)
    }

    func reset() {
        CFlexProto_arena_reset(self.arena)
    }

    var bytesUsed: Int { CFlexProto_arena_bytes_used(self.arena) }
    var chunkCount: Int { CFlexProto_arena_chunk_count(self.arena) }

    /// A zeroed `T`, for a C message struct (call its generated `_init` before use).
    func allocate<T>(_ type: T.Type) throws(FlexCodecError) -> UnsafeMutablePointer<T> {
        guard let raw = CFlexProto_arena_alloc_zeroed(self.arena, MemoryLayout<T>.stride) else {
            throw Self.exhausted
        }
        return raw.bindMemory(to: T.self, capacity: 1)
    }

    /// A zeroed array of `count` elements.
    func allocateArray<T>(of type: T.Type, count: Int) throws(FlexCodecError) -> UnsafeMutablePointer<T> {
        let (size, overflow) = MemoryLayout<T>.stride.multipliedReportingOverflow(by: count)
        guard !overflow, let raw = CFlexProto_arena_alloc_zeroed(self.arena, size) else {
            throw Self.exhausted
        }
        return raw.bindMemory(to: T.self, capacity: count)
    }

    /// A NUL-terminated copy of `string`. Throws when the string contains U+0000, which a C string
    /// cannot carry (the receiver would silently see it truncated).
    func copy(_ string: String, field: StaticString) throws(FlexCodecError) -> UnsafeMutablePointer<CChar> {
        var string = string
        let result = string.withUTF8 { utf8 -> UnsafeMutablePointer<CChar>? in
            guard let base = utf8.baseAddress else {
                return CFlexProto_arena_copy_string(self.arena, nil, 0)
            }
            if memchr(base, 0, utf8.count) != nil { return nil }
            return CFlexProto_arena_copy_string(self.arena, base, utf8.count)
        }
        guard let result else {
            if string.utf8.contains(0) {
                throw FlexCodecError(
                    code: .invalidString,
                    message: "\(field) contains U+0000, which the protocol does not allow"
                )
            }
            throw Self.exhausted
        }
        return result
    }

    /// A copy of `bytes`, as protobuf-c's binary-data value.
    func copy(_ bytes: UnsafeRawBufferPointer) throws(FlexCodecError) -> ProtobufCBinaryData {
        guard bytes.count > 0, let base = bytes.baseAddress else {
            return ProtobufCBinaryData(len: 0, data: nil)
        }
        guard let copy = CFlexProto_arena_copy_string(self.arena, base, bytes.count) else {
            throw Self.exhausted
        }
        return ProtobufCBinaryData(
            len: bytes.count,
            data: UnsafeMutableRawPointer(copy).assumingMemoryBound(to: UInt8.self)
        )
    }

    private static let exhausted = FlexCodecError(
        code: .messageTooLarge,
        message: "out of memory while building a message"
    )
}
