import NIOCore
import NIOEmbedded
import Testing

@testable import FlexCodec

/// NIO's `ByteToMessageDecoderVerifier` reuses one decoder while it shuffles the inputs, which only
/// suits stateless decoders. A server-side `FrameDecoder` is stateful (preface first, increasing
/// stream ids), so this verifier keeps the order and varies only where the bytes are split:
/// all at once, byte by byte through a real `ByteToMessageHandler`, and at random split points.
enum SplitVerifier {
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            // SplitMix64: deterministic, so a failure reproduces.
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func verify(
        _ input: ByteBuffer,
        expected: [FlexFrame],
        rounds: Int = 200,
        makeDecoder: () -> FrameDecoder
    ) throws {
        // All at once.
        #expect(try decodeAll([input], makeDecoder()) == expected, "all at once")

        // Byte by byte, through a channel pipeline.
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(makeDecoder()))
        var frames: [FlexFrame] = []
        for byte in input.readableBytesView {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            while let frame = try channel.readInbound(as: FlexFrame.self) { frames.append(frame) }
        }
        #expect(frames == expected, "byte by byte")
        #expect(try channel.finish().isClean)

        // Random split points.
        var random = SeededGenerator(state: 0x5EED)
        let bytes = Array(input.readableBytesView)
        for round in 0..<rounds {
            var chunks: [ByteBuffer] = []
            var index = 0
            while index < bytes.count {
                let size = Int.random(in: 1...max(1, bytes.count / 4), using: &random)
                let end = min(bytes.count, index + size)
                chunks.append(ByteBuffer(bytes: bytes[index..<end]))
                index = end
            }
            #expect(try decodeAll(chunks, makeDecoder()) == expected, "random split round \(round)")
        }
    }

    static func decodeAll(_ chunks: [ByteBuffer], _ decoder: FrameDecoder) throws -> [FlexFrame] {
        let processor = NIOSingleStepByteToMessageProcessor(decoder, maximumBufferSize: 1 << 24)
        var frames: [FlexFrame] = []
        for chunk in chunks {
            try processor.process(buffer: chunk) { frames.append($0) }
        }
        try processor.finishProcessing(seenEOF: true) { frames.append($0) }
        return frames
    }
}
