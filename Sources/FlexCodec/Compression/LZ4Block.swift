internal import CLZ4
internal import NIOCore

/// LZ4 block compression for MESSAGE payloads (PROTOCOL.md, "Compression").
///
/// A compressed payload is the uncompressed length as a big-endian `UInt32`, then one LZ4 block.
/// The block format does not record its own size, so the length in front is what bounds the
/// receiver's allocation: it is checked against the limit before anything is allocated.
enum LZ4Block {
    /// Bytes in front of the LZ4 block.
    static let lengthPrefixSize = 4

    /// Appends the compressed form of `source` to `out` when that is smaller than `source` itself.
    /// Returns false, with `out` unchanged, when compression would not save anything.
    ///
    /// - Parameter state: Reused LZ4 state; without one, LZ4 sets up 16 KiB of state per call.
    static func compress(
        _ source: UnsafeRawBufferPointer,
        appendingTo out: inout ByteBuffer,
        state: LZ4Compressor? = nil
    ) -> Bool {
        guard source.count > 0, source.count <= Int(Int32.max) else { return false }
        let bound = Int(LZ4_compressBound(Int32(source.count)))
        guard bound > 0 else { return false }
        let start = out.writerIndex
        // Only worth it when prefix + block is smaller than the input.
        let budget = min(bound, source.count - Self.lengthPrefixSize - 1)
        guard budget > 0 else { return false }
        let written = out.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.lengthPrefixSize + budget) { target in
            let src = source.baseAddress!.assumingMemoryBound(to: CChar.self)
            let dst = target.baseAddress!.advanced(by: Self.lengthPrefixSize).assumingMemoryBound(to: CChar.self)
            let compressed: Int32
            if let state {
                // A fast reset starts a new, independent block: no dictionary from earlier payloads.
                LZ4_resetStream_fast(state.stream)
                compressed = LZ4_compress_fast_continue(state.stream, src, dst, Int32(source.count), Int32(budget), 1)
            } else {
                compressed = LZ4_compress_default(src, dst, Int32(source.count), Int32(budget))
            }
            // 0 means "did not fit in budget": not compressible enough.
            return compressed > 0 ? Self.lengthPrefixSize + Int(compressed) : 0
        }
        guard written > 0 else {
            out.moveWriterIndex(to: start)
            return false
        }
        out.setInteger(UInt32(source.count), at: start)
        return true
    }

    /// Decompresses a payload made by ``compress(_:appendingTo:)``.
    ///
    /// - Throws: ``FlexCodecError/Code/decompressedSizeTooLarge`` when the declared size is zero or
    ///   over `limit` (checked before allocating), ``FlexCodecError/Code/corruptCompressedPayload``
    ///   when the block does not decompress to exactly the declared size.
    static func decompress(
        _ payload: ByteBuffer,
        limit: Int,
        allocator: ByteBufferAllocator
    ) throws(FlexCodecError) -> ByteBuffer {
        guard let declared = payload.getInteger(at: payload.readerIndex, as: UInt32.self) else {
            throw FlexCodecError(
                code: .corruptCompressedPayload,
                message: "compressed payload is shorter than its 4-byte length"
            )
        }
        let size = Int(declared)
        guard size > 0, size <= limit else {
            throw FlexCodecError(
                code: .decompressedSizeTooLarge,
                message:
                    "compressed payload declares \(size) bytes uncompressed; the limit is \(limit) and 0 is not allowed"
            )
        }
        let blockLength = payload.readableBytes - Self.lengthPrefixSize
        // LZ4 cannot expand a block by more than 255:1; a larger claim is corrupt, and rejecting it
        // here avoids allocating for it.
        guard blockLength > 0, size / 255 <= blockLength else {
            throw FlexCodecError(
                code: .corruptCompressedPayload,
                message: "\(blockLength)-byte LZ4 block cannot hold \(size) bytes"
            )
        }
        var output = allocator.buffer(capacity: size)
        let result = payload.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { target in
                let decompressed = LZ4_decompress_safe(
                    source.baseAddress!.advanced(by: Self.lengthPrefixSize).assumingMemoryBound(to: CChar.self),
                    target.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(blockLength),
                    Int32(size)
                )
                return decompressed == Int32(size) ? size : 0
            }
        }
        guard result == size else {
            throw FlexCodecError(
                code: .corruptCompressedPayload,
                message: "LZ4 block is corrupt or not \(size) bytes long"
            )
        }
        return output
    }
}

/// LZ4 compression state kept between payloads, so each compression does not set up (and zero)
/// 16 KiB of tables again. Not thread-safe; each ``FrameEncoder`` has its own.
final class LZ4Compressor {
    let stream: UnsafeMutablePointer<LZ4_stream_t>

    init() {
        guard let stream = LZ4_createStream() else { fatalError("LZ4_createStream: out of memory") }
        self.stream = stream
    }

    deinit {
        LZ4_freeStream(self.stream)
    }
}
