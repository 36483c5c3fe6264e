// libFuzzer entry point for FlexCodec's FrameDecoder and MessageCoder.
//
// The first input byte picks the decoder's role (bit 0) and whether LZ4 was negotiated (bit 1);
// the rest is fed to the decoder in chunks whose sizes come from the second byte, so split
// points are fuzzed too. Every error must be a FlexCodecError; anything else traps. Every decoded
// message must survive an encode/decode round trip unchanged.

import FlexCodec
import NIOCore

@inline(never)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// Decodes `payload` as `type`; when that works, encoding must be stable: encode, decode and
/// encode again gives the same bytes. (Bytes rather than values, because a double may be NaN.)
func roundTrip<M: FlexMessage>(_ type: M.Type, _ payload: ByteBuffer, _ coder: MessageCoder) {
    guard let message = try? coder.decode(M.self, from: payload) else { return }
    do {
        let first = try coder.encode(message)
        let second = try coder.encode(coder.decode(M.self, from: first))
        check(first == second, "\(M.self) encodes differently after a round trip")
    } catch {
        fatalError("re-encoding a decoded \(M.self) failed: \(error)")
    }
}

func inspect(_ frame: FlexFrame, _ coder: MessageCoder) {
    guard case .message(_, let payload, _) = frame else { return }
    check(payload.readableBytes <= 64 * 1024, "a message over the limit was accepted")
    roundTrip(InferenceRequest.self, payload, coder)
    roundTrip(InferenceResponse.self, payload, coder)
    roundTrip(StreamEvent.self, payload, coder)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    guard bytes.count >= 2 else { return 0 }
    let mode = bytes[0]
    let chunk = Int(bytes[1]) + 1
    var decoder = FrameDecoder(role: mode & 1 == 0 ? .server : .client, maxMessageSize: 64 * 1024)
    if mode & 2 != 0 { decoder.compression = .lz4 }
    let coder = MessageCoder()

    var input = ByteBuffer(bytes: bytes.dropFirst(2))
    var buffer = ByteBuffer()
    do {
        while var slice = input.readSlice(length: min(chunk, input.readableBytes)), slice.readableBytes > 0 {
            buffer.writeBuffer(&slice)
            while let frame = try decoder.decode(buffer: &buffer) { inspect(frame, coder) }
        }
        while let frame = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { inspect(frame, coder) }
    } catch {
        // Decoding errors are expected; each must say what the peer is told.
        check(
            ErrorCode(name: error.errorCode.name) != nil && error.errorCode.allows(error.statusCode),
            "error without a code from the table, or with a status the table does not allow"
        )
    }
    return 0
}
