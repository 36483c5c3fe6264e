import NIOCore
import NIOEmbedded
import Testing

@testable import FlexCodec

@Suite("FrameEncoder")
struct FrameEncoderTests {
    @Test func headerLayoutIsBigEndianLengthTypeFlagsStream() throws {
        var buffer = ByteBuffer()
        try FrameEncoder().encode(.windowUpdate(0x0102_0304, increment: 0x0A0B_0C0D), into: &buffer)
        #expect(
            Array(buffer.readableBytesView) == [0, 0, 0, 4, 0x07, 0x00, 0x01, 0x02, 0x03, 0x04, 0x0A, 0x0B, 0x0C, 0x0D]
        )
        buffer.clear()
        try FrameEncoder().encode(.ping(1, ack: true), into: &buffer)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 8, 0x05, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        buffer.clear()
        FrameEncoder.writePreface(into: &buffer)
        #expect(buffer.readString(length: 8) == "FLEXD/1\n")
    }

    @Test func compressesOnlyAboveTheThresholdAndOnlyWhenItHelps() throws {
        let encoder = FrameEncoder(compression: .lz4, compressionThreshold: 1024)
        let json = ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: 2048))
        let small = ByteBuffer(string: String(SampleJSON.chatCompletion(approximateBytes: 512).prefix(1000)))
        var random = SplitVerifier.SeededGenerator(state: 7)
        let noise = ByteBuffer(bytes: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) })

        func flags(_ payload: ByteBuffer) throws -> (FrameFlags, Int) {
            var out = ByteBuffer()
            try encoder.encode(.message(1, payload, endStream: true), into: &out)
            return (FrameFlags(rawValue: out.getInteger(at: 5)!), out.readableBytes - FrameHeader.size)
        }
        let (jsonFlags, jsonLength) = try flags(json)
        #expect(jsonFlags == [.compressed, .endStream])
        #expect(jsonLength < json.readableBytes / 3)
        let (smallFlags, smallLength) = try flags(small)
        #expect(smallFlags == .endStream)
        #expect(smallLength == small.readableBytes)
        let (noiseFlags, noiseLength) = try flags(noise)
        #expect(noiseFlags == .endStream, "incompressible data is sent as is")
        #expect(noiseLength == noise.readableBytes)
    }

    @Test func encodeMessageMatchesEncodingBytes() throws {
        for compression in [Compression.none, .lz4] {
            var encoder = FrameEncoder(compression: compression)
            var direct = ByteBuffer()
            try encoder.encodeMessage(
                Fixtures.nativeRequest(jsonBytes: 4000),
                streamID: 7,
                endStream: true,
                into: &direct
            )
            var viaBytes = ByteBuffer()
            let payload = try MessageCoder().encode(Fixtures.nativeRequest(jsonBytes: 4000))
            try encoder.encode(.message(7, payload, endStream: true), into: &viaBytes)
            #expect(direct == viaBytes)
            var decoder = FrameDecoder(role: .server)
            decoder.compression = compression
            var input = ByteBuffer(bytes: ConnectionPreface.bytes)
            try encoder.encode(.hello(Hello(versions: [1])), into: &input)
            try encoder.encode(.requestHeaders(7, RequestHeaders(method: "m")), into: &input)
            input.writeImmutableBuffer(direct)
            _ = try decoder.decode(buffer: &input)
            _ = try decoder.decode(buffer: &input)
            guard case .message(7, let bytes, endStream: true) = try decoder.decode(buffer: &input) else {
                Issue.record("expected a MESSAGE frame")
                continue
            }
            #expect(
                try MessageCoder().decode(InferenceRequest.self, from: bytes) == Fixtures.nativeRequest(jsonBytes: 4000)
            )
        }
    }

    @Test func messagesOverThePeersLimitAreRefusedAndNothingIsWritten() throws {
        var encoder = FrameEncoder(maxMessageSize: 16 * 1024)
        var buffer = ByteBuffer(string: "already here")
        let big = Fixtures.nativeRequest(jsonBytes: 20_000)
        let error = try #require(throws: FlexCodecError.self) {
            try encoder.encodeMessage(big, streamID: 1, into: &buffer)
        }
        #expect(error.code == .messageTooLarge)
        #expect(buffer == ByteBuffer(string: "already here"))
        #expect(throws: FlexCodecError.self) {
            try encoder.encode(.message(1, ByteBuffer(repeating: 0x41, count: 20_000), endStream: false), into: &buffer)
        }
        #expect(buffer == ByteBuffer(string: "already here"))
        // A string with NUL fails the same way and leaves the buffer alone.
        var nul = Fixtures.nativeRequest
        nul.requestID = "a\u{0}b"
        #expect(throws: FlexCodecError.self) { try encoder.encodeMessage(nul, streamID: 1, into: &buffer) }
        #expect(throws: FlexCodecError.self) {
            try encoder.encode(.requestHeaders(1, RequestHeaders(method: "m\u{0}")), into: &buffer)
        }
        #expect(buffer == ByteBuffer(string: "already here"))
        #expect(throws: FlexCodecError.self) { try encoder.encode(.windowUpdate(1, increment: 0), into: &buffer) }
    }

    @Test func worksAsAChannelPipeline() throws {
        // Encoder and decoder as NIO handlers: what a server would install.
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(role: .client)))
        let frames: [FlexFrame] = [
            .hello(Hello(versions: [1])),
            .responseHeaders(1, ResponseHeaders()),
            .message(1, ByteBuffer(string: "{}"), endStream: false),
            .trailers(1, Trailers(status: .ok, savings: Fixtures.savings)),
        ]
        for frame in frames {
            try channel.writeOutbound(frame)
            let bytes = try #require(try channel.readOutbound(as: ByteBuffer.self))
            try channel.writeInbound(bytes)
            #expect(try channel.readInbound(as: FlexFrame.self) == frame)
        }
        #expect(try channel.finish().isClean)
    }
}

@Suite("LZ4 block payloads")
struct LZ4BlockTests {
    @Test(arguments: [1100, 2048, 16 * 1024, 256 * 1024])
    func roundTripsRealisticJSON(_ size: Int) throws {
        let json = ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: size))
        var compressed = ByteBuffer()
        let ok = json.withUnsafeReadableBytes { LZ4Block.compress($0, appendingTo: &compressed) }
        #expect(ok)
        #expect(compressed.getInteger(at: 0, as: UInt32.self) == UInt32(json.readableBytes))
        let restored = try LZ4Block.decompress(compressed, limit: 1 << 20, allocator: ByteBufferAllocator())
        #expect(restored == json)
    }

    @Test func reusedStateGivesTheSameBytesWhateverCameBefore() throws {
        // The encoder keeps LZ4 state between payloads; each block must still be independent and
        // its bytes must not depend on what was compressed before.
        let state = LZ4Compressor()
        let a = ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: 3000))
        let b = ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: 9000))
        func compress(_ input: ByteBuffer, _ state: LZ4Compressor?) -> ByteBuffer {
            var out = ByteBuffer()
            _ = input.withUnsafeReadableBytes { LZ4Block.compress($0, appendingTo: &out, state: state) }
            return out
        }
        let first = compress(a, state)
        _ = compress(b, state)
        let again = compress(a, state)
        #expect(first == again)
        #expect(compress(a, LZ4Compressor()) == first)
        #expect(try LZ4Block.decompress(again, limit: 1 << 20, allocator: ByteBufferAllocator()) == a)
    }

    @Test func tooSmallOrIncompressibleInputIsNotCompressed() {
        var out = ByteBuffer(string: "x")
        #expect(!ByteBuffer(string: "abc").withUnsafeReadableBytes { LZ4Block.compress($0, appendingTo: &out) })
        #expect(!ByteBuffer().withUnsafeReadableBytes { LZ4Block.compress($0, appendingTo: &out) })
        #expect(out == ByteBuffer(string: "x"))
    }

    @Test func truncatedBlockIsCorrupt() throws {
        let json = ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: 4096))
        var compressed = ByteBuffer()
        _ = json.withUnsafeReadableBytes { LZ4Block.compress($0, appendingTo: &compressed) }
        for cut in [3, 5, compressed.readableBytes / 2, compressed.readableBytes - 1] {
            let truncated = compressed.getSlice(at: 0, length: cut)!
            #expect(throws: FlexCodecError.self) {
                try LZ4Block.decompress(truncated, limit: 1 << 20, allocator: ByteBufferAllocator())
            }
        }
    }
}
