internal import CFlexProto
internal import CProtobufC
public import NIOCore

/// Encodes and decodes protocol messages to and from protobuf bytes with libprotobuf-c, reusing one
/// arena for all the C memory involved.
///
/// A coder is cheap to keep and expensive to create (it owns an arena), so keep one per connection
/// or per task. It is not thread-safe; give each concurrent user its own.
///
/// ```swift
/// let coder = MessageCoder()
/// var bytes = ByteBuffer()
/// try coder.encode(request, into: &bytes)
/// let decoded = try coder.decode(InferenceRequest.self, from: bytes)
/// ```
public final class MessageCoder {
    let arena: ProtobufArena

    /// Creates a coder.
    /// - Parameter maximumAmplification: An unpacked message may take at most this many times its
    ///   encoded size (plus 64 KiB) of memory; beyond that it is rejected as
    ///   ``FlexCodecError/Code/invalidProtobuf``. Protects against small hostile messages that
    ///   expand into millions of empty sub-messages.
    public init(maximumAmplification: Int = 64) {
        self.arena = ProtobufArena(amplificationLimit: max(1, maximumAmplification))
    }

    /// Decodes a message from protobuf bytes (all readable bytes of `bytes`).
    public func decode<Message: FlexMessage>(
        _ type: Message.Type,
        from bytes: ByteBuffer
    ) throws(FlexCodecError) -> Message {
        try bytes.withUnsafeReadableBytes { raw throws(FlexCodecError) in
            try Message._decode(from: raw, coder: self)
        }
    }

    /// Decodes a message from protobuf bytes.
    public func decode<Message: FlexMessage>(
        _ type: Message.Type,
        from bytes: UnsafeRawBufferPointer
    ) throws(FlexCodecError) -> Message {
        try Message._decode(from: bytes, coder: self)
    }

    /// Appends the protobuf encoding of `message` to `buffer`; returns the number of bytes written.
    @discardableResult
    public func encode<Message: FlexMessage>(
        _ message: Message,
        into buffer: inout ByteBuffer
    ) throws(FlexCodecError) -> Int {
        try message._encode(into: &buffer, coder: self)
    }

    /// The protobuf encoding of `message`.
    public func encode<Message: FlexMessage>(_ message: Message) throws(FlexCodecError) -> ByteBuffer {
        var buffer = CField.allocator.buffer(capacity: 256)
        _ = try message._encode(into: &buffer, coder: self)
        return buffer
    }

    // MARK: Internal generic implementations, called by each FlexMessage conformance.

    func unpack<M: CTopLevelMessage>(_ type: M.Type, _ bytes: UnsafeRawBufferPointer) throws(FlexCodecError) -> M {
        self.arena.limitForUnpacking(encodedSize: bytes.count)
        defer { self.arena.reset() }
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard let c = M.cUnpack(self.arena.allocator, bytes.count, base) else {
            throw FlexCodecError.invalidProtobuf(M.messageName)
        }
        // protobuf-c reads strings as C strings: one holding U+0000 would be cut there, silently.
        let descriptor = UnsafeRawPointer(c).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor
        if let field = CFlexProto_string_with_nul(descriptor, base, bytes.count) {
            throw FlexCodecError.stringWithNUL(M.messageName, field: String(cString: field))
        }
        return try M(c: c)
    }

    func pack<M: CMessageConvertible>(_ message: M, into buffer: inout ByteBuffer) throws(FlexCodecError) -> Int {
        self.arena.unlimited()
        defer { self.arena.reset() }
        let c = try message.makeC(arena: self.arena)
        let size = CFlexProto_packed_size(c)
        return buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
            CFlexProto_pack(c, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// The encoded size of `message` (builds the C message; used by tests and the benchmark).
    func packedSize<M: CMessageConvertible>(_ message: M) throws(FlexCodecError) -> Int {
        self.arena.unlimited()
        defer { self.arena.reset() }
        return CFlexProto_packed_size(try message.makeC(arena: self.arena))
    }
}

@available(*, unavailable)
extension MessageCoder: Sendable {}

/// A message of protocol v1 that travels as a frame payload: ``Hello``, ``GoAway``,
/// ``RequestHeaders``, ``ResponseHeaders``, ``Trailers``, ``Cancel``, `InferenceRequest`,
/// `InferenceResponse` and `StreamEvent`.
///
/// Only FlexCodec's own types conform; the underscored requirements are not API.
public protocol FlexMessage: Sendable, Hashable {
    static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self
    func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int
}

extension FlexMessage {
    /// Decodes a message from protobuf bytes with a one-off ``MessageCoder``.
    public init(protobufBytes bytes: ByteBuffer) throws(FlexCodecError) {
        self = try MessageCoder().decode(Self.self, from: bytes)
    }

    /// The protobuf encoding, made with a one-off ``MessageCoder``.
    public func protobufBytes() throws(FlexCodecError) -> ByteBuffer {
        try MessageCoder().encode(self)
    }
}
