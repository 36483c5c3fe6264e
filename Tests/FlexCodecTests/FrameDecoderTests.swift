import NIOCore
import NIOTestUtils
import Testing

@testable import FlexCodec

@Suite("FrameDecoder: incremental decoding")
struct FrameDecoderTests {
    /// Encodes frames the way a peer would.
    static func wire(
        _ frames: [FlexFrame],
        compression: Compression = .none,
        preface: Bool = false
    ) throws -> ByteBuffer {
        let encoder = FrameEncoder(compression: compression, compressionThreshold: 64)
        var buffer = ByteBuffer()
        if preface { FrameEncoder.writePreface(into: &buffer) }
        for frame in frames { try encoder.encode(frame, into: &buffer) }
        return buffer
    }

    static let clientFrames: [FlexFrame] = [
        .hello(Fixtures.hello),
        .requestHeaders(1, Fixtures.requestHeaders),
        .message(1, ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: 2000)), endStream: true),
        .ping(0x0102_0304_0506_0708, ack: false),
        .requestHeaders(3, RequestHeaders(method: RequestHeaders.Method.stream)),
        .message(3, ByteBuffer(string: "short"), endStream: false),
        .windowUpdate(3, increment: 65_535),
        .cancel(3, Cancel(code: .cancelled, reason: "user navigated away")),
        .ping(42, ack: true),
        .goAway(GoAway(lastStreamID: 0, code: .ok, message: "bye")),
    ]

    static let serverFrames: [FlexFrame] = [
        .hello(Hello(versions: [1], compression: [.lz4], limits: Limits(maxConcurrentStreams: 10))),
        .responseHeaders(1, ResponseHeaders(metadata: ["x": "y"])),
        .message(1, ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: 4000)), endStream: false),
        .message(1, ByteBuffer(), endStream: false),
        .trailers(1, Fixtures.failedTrailers),
        .trailers(2, Trailers(status: .ok, savings: Fixtures.savings)),
        .windowUpdate(2, increment: 1),
        .goAway(GoAway(lastStreamID: 2, code: .ok, errorCode: "server_shutting_down")),
    ]

    @Test(arguments: [Compression.none, .lz4])
    func serverSideDecodesByteByByteAllAtOnceAndRandomlySplit(_ compression: Compression) throws {
        // The server side is stateful (preface, increasing stream ids), so order is kept; only the
        // split points vary.
        let input = try Self.wire(Self.clientFrames, compression: compression, preface: true)
        try SplitVerifier.verify(input, expected: Self.clientFrames) {
            var decoder = FrameDecoder(role: .server)
            decoder.compression = compression
            return decoder
        }
    }

    @Test(arguments: [Compression.none, .lz4])
    func clientSideDecodesByteByByteAllAtOnceAndRandomlySplit(_ compression: Compression) throws {
        let input = try Self.wire(Self.serverFrames, compression: compression)
        try SplitVerifier.verify(input, expected: Self.serverFrames) {
            var decoder = FrameDecoder(role: .client)
            decoder.compression = compression
            return decoder
        }
    }

    @Test func framesWithoutCrossFrameStateThroughNIOsVerifier() throws {
        // NIO's own verifier shuffles inputs through one decoder, so it only fits frames that
        // carry no connection state: MESSAGE, TRAILERS, PING and WINDOW_UPDATE seen by a client
        // after the handshake.
        let frames = Self.serverFrames.filter { frame in
            switch frame {
            case .hello, .goAway, .responseHeaders: false
            default: true
            }
        }
        let pairs = try frames.map { frame in (try Self.wire([frame], compression: .lz4), [frame]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            var decoder = FrameDecoder(role: .client)
            var hello = try! Self.wire([.hello(Hello(versions: [1]))])
            _ = try! decoder.decode(buffer: &hello)
            decoder.compression = .lz4
            return decoder
        }
    }

    @Test func compressedFramesAreSmallerAndCounted() throws {
        let json = ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: 4000))
        let message = try Self.wire([.message(1, json, endStream: false)], compression: .lz4)
        #expect(message.readableBytes < json.readableBytes / 2)
        var buffer = try Self.wire([.hello(Hello(versions: [1]))])
        buffer.writeImmutableBuffer(message)
        var decoder = FrameDecoder(role: .client)
        decoder.compression = .lz4
        _ = try decoder.decode(buffer: &buffer)
        #expect(try decoder.decode(buffer: &buffer) == .message(1, json, endStream: false))
        #expect(decoder.statistics.compressedMessages == 1)
        #expect(decoder.statistics.decompressedBytes == json.readableBytes)
        #expect(decoder.statistics.compressedBytes < json.readableBytes / 2)
    }

    @Test func decodesManyFramesFromOneBuffer() throws {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(role: .server), maximumBufferSize: 1 << 20)
        var decoded: [FlexFrame] = []
        try processor.process(buffer: try Self.wire(Self.clientFrames, preface: true)) { decoded.append($0) }
        #expect(decoded == Self.clientFrames)
    }
}

@Suite("FrameDecoder: bad input gets a specific error")
struct FrameDecoderBadInputTests {
    /// Feeds `bytes` (after a valid preface and HELLO when `role` is server) and returns the error.
    func decodeError(
        _ bytes: [UInt8],
        role: FrameDecoder.Role = .server,
        opened: [StreamID] = [],
        maxMessageSize: Int = 1 << 20,
        compression: Compression = .none,
        atEOF: Bool = false
    ) throws -> FlexCodecError {
        var decoder = FrameDecoder(role: role, maxMessageSize: maxMessageSize)
        decoder.compression = compression
        var prelude: [FlexFrame] = [.hello(Hello(versions: [1]))]
        for stream in opened { prelude.append(.requestHeaders(stream, RequestHeaders(method: "m"))) }
        var buffer = try FrameDecoderTests.wire(prelude, preface: role == .server)
        buffer.writeBytes(bytes)
        do {
            while try decoder.decode(buffer: &buffer) != nil {}
            if atEOF { while try decoder.decodeLast(buffer: &buffer, seenEOF: true) != nil {} }
        } catch {
            return error
        }
        Issue.record("decoding \(bytes) did not fail")
        return FlexCodecError(code: .invalidProtobuf, message: "no error")
    }

    func header(length: UInt32, type: UInt8, flags: UInt8 = 0, stream: UInt32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(length, type, flags, stream)
        return Array(buffer.readableBytesView)
    }

    @Test func wrongPrefaceFailsAtTheFirstWrongByte() throws {
        var decoder = FrameDecoder(role: .server)
        var buffer = ByteBuffer(string: "FLE")
        #expect(try decoder.decode(buffer: &buffer) == nil)
        buffer.writeString("G")  // "FLEG..." is not "FLEX..."
        let error = try #require(throws: FlexCodecError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error.code == .invalidPreface)
        // An HTTP request on the port is rejected at its first byte.
        var http = ByteBuffer(string: "G")
        var fresh = FrameDecoder(role: .server)
        #expect(throws: FlexCodecError.self) { try fresh.decode(buffer: &http) }
    }

    @Test func truncatedFrameAtEndOfInput() throws {
        var frame = header(length: 20, type: FrameType.message.rawValue, stream: 1)
        frame += [UInt8](repeating: 0xAB, count: 7)
        let error = try decodeError(frame, opened: [1], atEOF: true)
        #expect(error.code == .truncatedFrame)
        #expect(error.message.contains("17 bytes"))
        // A partial header is truncation too.
        #expect(try decodeError([0, 0, 0], atEOF: true).code == .truncatedFrame)
    }

    @Test func lengthOverTheLimitIsRejectedFromTheHeaderAlone() throws {
        // Only the 10 header bytes are fed: no body has to arrive for the error.
        let error = try decodeError(header(length: 2_000_000, type: FrameType.message.rawValue, stream: 1), opened: [1])
        #expect(error.code == .frameTooLarge)
        #expect(error.statusCode == .resourceExhausted)
        #expect(error.errorCode.name == "frame_too_large")
        let huge = try decodeError(header(length: .max, type: FrameType.hello.rawValue, stream: 0))
        #expect(huge.code == .frameTooLarge)
    }

    @Test func decompressionBombIsRejectedBeforeAllocating() throws {
        // Declares 1 GiB uncompressed in a 9-byte frame.
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(1 << 30))
        payload.writeBytes([0x1F, 0x00, 0x01, 0x00, 0x00])
        let frame =
            header(
                length: UInt32(payload.readableBytes),
                type: FrameType.message.rawValue,
                flags: FrameFlags.compressed.rawValue,
                stream: 1
            ) + Array(payload.readableBytesView)
        let error = try decodeError(frame, opened: [1], compression: .lz4)
        #expect(error.code == .decompressedSizeTooLarge)
        #expect(error.errorCode.name == "compression_error")
        // Zero declared size is not allowed either.
        var zero = ByteBuffer()
        zero.writeInteger(UInt32(0))
        zero.writeBytes([0x00])
        let zeroFrame =
            header(length: 5, type: FrameType.message.rawValue, flags: FrameFlags.compressed.rawValue, stream: 1)
            + Array(zero.readableBytesView)
        #expect(try decodeError(zeroFrame, opened: [1], compression: .lz4).code == .decompressedSizeTooLarge)
        // A claim LZ4 could not possibly produce from so few bytes (over 255:1) is corrupt.
        var claim = ByteBuffer()
        claim.writeInteger(UInt32(100_000))
        claim.writeBytes([0x1F, 0x00, 0x01])
        let claimFrame =
            header(length: 7, type: FrameType.message.rawValue, flags: FrameFlags.compressed.rawValue, stream: 1)
            + Array(claim.readableBytesView)
        #expect(try decodeError(claimFrame, opened: [1], compression: .lz4).code == .corruptCompressedPayload)
    }

    @Test func corruptLZ4IsRejected() throws {
        // A valid compressed payload with its block damaged, and one with its declared size wrong.
        let json = ByteBuffer(string: SampleJSON.chatCompletion(approximateBytes: 3000))
        let encoder = FrameEncoder(compression: .lz4)
        var good = ByteBuffer()
        try encoder.encode(.message(1, json, endStream: false), into: &good)
        var bytes = Array(good.readableBytesView)
        #expect(bytes[5] & FrameFlags.compressed.rawValue != 0)
        for index in stride(from: 16, to: bytes.count, by: 7) { bytes[index] ^= 0xFF }
        #expect(try decodeError(bytes, opened: [1], compression: .lz4).code == .corruptCompressedPayload)

        var wrongSize = Array(good.readableBytesView)
        wrongSize[13] &+= 1  // declared length one more than the real one
        #expect(try decodeError(wrongSize, opened: [1], compression: .lz4).code == .corruptCompressedPayload)
    }

    @Test func compressedFrameWithoutNegotiationIsRejected() throws {
        let frame =
            header(length: 5, type: FrameType.message.rawValue, flags: FrameFlags.compressed.rawValue, stream: 1)
            + [0, 0, 0, 1, 0]
        #expect(try decodeError(frame, opened: [1]).code == .compressionNotNegotiated)
    }

    @Test func invalidProtobufInAControlFrame() throws {
        let frame = header(length: 3, type: FrameType.goAway.rawValue, stream: 0) + [0x1A, 0x05, 0x61]
        let error = try decodeError(frame)
        #expect(error.code == .invalidProtobuf)
        #expect(error.errorCode.name == "invalid_message")
        // A broken HELLO as the very first frame, too.
        var decoder = FrameDecoder(role: .server)
        var buffer = ByteBuffer(
            bytes: ConnectionPreface.bytes + header(length: 3, type: FrameType.hello.rawValue, stream: 0) + [
                0x0A, 0x05, 0x61,
            ]
        )
        let hello = try #require(throws: FlexCodecError.self) { try decoder.decode(buffer: &buffer) }
        #expect(hello.code == .invalidProtobuf)
    }

    @Test func unknownFrameTypeAndFlags() throws {
        #expect(try decodeError(header(length: 0, type: 0x08, stream: 1)).code == .unknownFrameType)
        #expect(try decodeError(header(length: 0, type: 0xFF, stream: 0)).code == .unknownFrameType)
        // END_STREAM on HEADERS, an undefined bit on MESSAGE, END_STREAM on a server's MESSAGE, ACK on HELLO.
        #expect(
            try decodeError(header(length: 0, type: FrameType.headers.rawValue, flags: 0x01, stream: 1)).code
                == .invalidFlags
        )
        #expect(
            try decodeError(header(length: 0, type: FrameType.message.rawValue, flags: 0x04, stream: 1), opened: [1])
                .code == .invalidFlags
        )
        #expect(
            try decodeError(header(length: 0, type: FrameType.message.rawValue, flags: 0x01, stream: 1), role: .client)
                .code == .invalidFlags
        )
        #expect(
            try decodeError(header(length: 0, type: FrameType.hello.rawValue, flags: 0x01, stream: 0)).code
                == .invalidFlags
        )
    }

    @Test func unknownEnumValueInAControlFrame() throws {
        // GOAWAY with code 99.
        let frame = header(length: 2, type: FrameType.goAway.rawValue, stream: 0) + [0x10, 99]
        let error = try decodeError(frame)
        #expect(error.code == .unknownEnumValue)
        #expect(error.statusCode == .invalidArgument)
    }

    @Test func zeroReusedAndUnopenedStreamIDs() throws {
        let headers = try MessageCoder().encode(RequestHeaders(method: RequestHeaders.Method.complete))
        func headersFrame(_ stream: UInt32) -> [UInt8] {
            header(length: UInt32(headers.readableBytes), type: FrameType.headers.rawValue, stream: stream)
                + Array(headers.readableBytesView)
        }
        #expect(try decodeError(headersFrame(0)).code == .invalidStreamID)
        #expect(try decodeError(headersFrame(5), opened: [5]).code == .streamIDReused)
        #expect(try decodeError(headersFrame(3), opened: [5]).code == .streamIDReused)
        #expect(
            try decodeError(header(length: 0, type: FrameType.message.rawValue, stream: 9), opened: [5]).code
                == .invalidStreamID
        )
        #expect(try decodeError(header(length: 0, type: FrameType.hello.rawValue, stream: 1)).code == .invalidStreamID)
        #expect(
            try decodeError(
                header(length: 8, type: FrameType.ping.rawValue, stream: 3) + [UInt8](repeating: 0, count: 8)
            ).code == .invalidStreamID
        )
        #expect(try decodeError(headersFrame(0x8000_0001)).code == .invalidStreamID)
    }

    @Test func helloMustComeFirstAndOnlyOnce() throws {
        var decoder = FrameDecoder(role: .server)
        var buffer = ByteBuffer(bytes: ConnectionPreface.bytes)
        try FrameEncoder().encode(.ping(1, ack: false), into: &buffer)
        let first = try #require(throws: FlexCodecError.self) { try decoder.decode(buffer: &buffer) }
        #expect(first.code == .frameNotAllowed)
        #expect(first.message.contains("first frame must be HELLO"))
        let again = try FrameDecoderTests.wire([.hello(Hello(versions: [1]))])
        let second = try decodeError(Array(again.readableBytesView), role: .client)
        #expect(second.code == .frameNotAllowed)
        // A server may refuse a connection with GOAWAY before its HELLO.
        var refusal = FrameDecoder(role: .client)
        var goAway = try FrameDecoderTests.wire([
            .goAway(GoAway(lastStreamID: 0, code: .unimplemented, errorCode: "unsupported_version"))
        ])
        #expect(try refusal.decode(buffer: &goAway) != nil)
    }

    @Test func framesThePeerMayNotSend() throws {
        #expect(
            try decodeError(header(length: 0, type: FrameType.trailers.rawValue, stream: 1), opened: [1]).code
                == .frameNotAllowed
        )
        #expect(
            try decodeError(header(length: 0, type: FrameType.cancel.rawValue, stream: 1), role: .client).code
                == .frameNotAllowed
        )
    }

    @Test func fixedSizePayloads() throws {
        #expect(
            try decodeError(
                header(length: 7, type: FrameType.ping.rawValue, stream: 0) + [UInt8](repeating: 0, count: 7)
            ).code == .invalidFramePayload
        )
        #expect(
            try decodeError(
                header(length: 4, type: FrameType.windowUpdate.rawValue, stream: 1) + [0, 0, 0, 0],
                opened: [1]
            ).code == .invalidFramePayload
        )
        #expect(
            try decodeError(
                header(length: 4, type: FrameType.windowUpdate.rawValue, stream: 1) + [0x80, 0, 0, 0],
                opened: [1]
            ).code == .invalidFramePayload
        )
        #expect(
            try decodeError(
                header(length: 3, type: FrameType.windowUpdate.rawValue, stream: 1) + [0, 0, 1],
                opened: [1]
            ).code == .invalidFramePayload
        )
    }
}
