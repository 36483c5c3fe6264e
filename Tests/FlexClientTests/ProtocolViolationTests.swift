import FlexClient
import FlexCodec
import NIOCore
import Testing

/// A server that breaks the protocol gets a GOAWAY naming the rule and a closed connection; the
/// calls on it fail with that error.
@Suite(.timeLimit(.minutes(1))) struct ProtocolViolationTests {
    /// Raw frame bytes: header (length, type, flags, stream) and payload.
    static func frame(
        type: UInt8,
        flags: UInt8 = 0,
        stream: UInt32,
        payload: [UInt8] = [],
        length: UInt32? = nil
    ) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(length ?? UInt32(payload.count), type, flags, stream)
        buffer.writeBytes(payload)
        return Array(buffer.readableBytesView)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: @Sendable (StreamID) -> [UInt8]
        var code: StatusCode
        var errorCode: String
        var testDescription: String { self.name }
    }

    static let cases: [Case] = [
        Case(
            name: "unknown frame type",
            bytes: { _ in frame(type: 0x09, stream: 0) },
            code: .internal,
            errorCode: "protocol_error"
        ),
        Case(
            name: "END_STREAM on a server MESSAGE",
            bytes: { frame(type: 0x02, flags: 0x01, stream: $0.rawValue, payload: [0x0A, 0x00]) },
            code: .internal,
            errorCode: "protocol_error"
        ),
        Case(
            name: "CANCEL from a server",
            bytes: { frame(type: 0x04, stream: $0.rawValue) },
            code: .internal,
            errorCode: "protocol_error"
        ),
        Case(
            name: "TRAILERS on a stream never opened",
            bytes: { _ in frame(type: 0x03, stream: 99) },
            code: .internal,
            errorCode: "protocol_error"
        ),
        Case(
            name: "PING with 4 bytes",
            bytes: { _ in frame(type: 0x05, stream: 0, payload: [1, 2, 3, 4]) },
            code: .internal,
            errorCode: "protocol_error"
        ),
        Case(
            name: "a second HELLO",
            bytes: { _ in frame(type: 0x00, stream: 0, payload: [0x0A, 0x01, 0x01]) },
            code: .internal,
            errorCode: "protocol_error"
        ),
        Case(
            name: "a frame over the client's maximum size",
            bytes: { frame(type: 0x02, stream: $0.rawValue, length: 64 * 1024 * 1024) },
            code: .resourceExhausted,
            errorCode: "frame_too_large"
        ),
        Case(
            name: "a compression bomb",
            bytes: { frame(type: 0x02, flags: 0x02, stream: $0.rawValue, payload: [0x7F, 0xFF, 0xFF, 0xFF, 0x00]) },
            code: .resourceExhausted,
            errorCode: "compression_error"
        ),
        Case(
            name: "corrupt LZ4",
            bytes: {
                frame(type: 0x02, flags: 0x02, stream: $0.rawValue, payload: [0x00, 0x00, 0x00, 0x10, 0xFF, 0xFF])
            },
            code: .internal,
            errorCode: "compression_error"
        ),
        Case(
            name: "a GOAWAY that does not decode",
            bytes: { _ in frame(type: 0x06, stream: 0, payload: [0xFF, 0xFF]) },
            code: .invalidArgument,
            errorCode: "invalid_message"
        ),
        Case(
            name: "a zero window increment",
            bytes: { frame(type: 0x07, stream: $0.rawValue, payload: [0, 0, 0, 0]) },
            code: .internal,
            errorCode: "protocol_error"
        ),
    ]

    @Test(arguments: cases)
    func aViolationClosesTheConnectionWithGoAwayAndFailsTheCall(_ violation: Case) async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task { try await client.stream(Fixtures.request()) { try await $0.collect() } }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.write(.responseHeaders(id, ResponseHeaders()))
                try await connection.writeRaw(violation.bytes(id))
                let frames = try await connection.readUntilClosed()
                #expect(frames.count == 1)
                guard case .goAway(let goAway) = frames.first else {
                    Issue.record("expected GOAWAY, got \(frames)")
                    return
                }
                #expect(goAway.code == violation.code)
                #expect(goAway.errorCode == violation.errorCode)
                #expect(goAway.lastStreamID == 0)
                let error = await failure(of: call)
                #expect(error?.code.statusCode == violation.code)
                #expect(error?.status.errorCode == violation.errorCode)
                #expect(error?.origin == .client)
                #expect(error?.message.hasPrefix("the server violated the protocol") == true)
            }
        }
    }

    @Test func aHelloWithAVersionTheClientDidNotOfferIsRefused() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                try await connection.handshake(answer: Hello(versions: [7], compression: [.lz4]))
                let frames = try await connection.readUntilClosed()
                guard case .goAway(let goAway) = frames.last, frames.count == 1 else {
                    Issue.record("expected one GOAWAY, got \(frames)")
                    return
                }
                #expect(goAway.errorCode == "unsupported_version")
                #expect(goAway.code == .unimplemented)
                let error = await failure(of: call)
                #expect(error?.code == .unimplemented)
                #expect(error?.status.errorCode == "unsupported_version")
            }
        }
    }

    @Test func aFirstFrameOtherThanHelloIsRefused() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                _ = try await connection.readFrame()
                try await connection.writeRaw(Self.frame(type: 0x05, stream: 0, payload: [0, 0, 0, 0, 0, 0, 0, 1]))
                let frames = try await connection.readUntilClosed()
                guard case .goAway(let goAway) = frames.last else {
                    Issue.record("expected GOAWAY, got \(frames)")
                    return
                }
                #expect(goAway.errorCode == "protocol_error")
                #expect(await failure(of: call)?.status.errorCode == "protocol_error")
            }
        }
    }

    @Test func aStreamLevelViolationCancelsOnlyThatCall() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let bad = Task { try await client.complete(Fixtures.request(id: "bad")) }
                let good = Task { try await client.complete(Fixtures.request(id: "good")) }
                let connection = await server.accept()
                try await connection.handshake()
                let (first, _, firstRequest) = try await connection.readCall()
                let (second, _, _) = try await connection.readCall()
                let (badID, goodID) = firstRequest.requestID == "bad" ? (first, second) : (second, first)
                // A MESSAGE before HEADERS on the bad call.
                try await connection.writeMessage(Fixtures.response(), on: badID)
                guard case .cancel(badID, _) = try await connection.readFrame() else {
                    Issue.record("expected CANCEL of the bad call")
                    return
                }
                let error = await failure(of: bad)
                #expect(error?.code == .internal)
                #expect(error?.status.errorCode == "protocol_error")
                try await connection.answer(goodID, Fixtures.response(id: "good"))
                #expect(try await good.value.0 == Fixtures.response(id: "good"))
            }
        }
    }
}
