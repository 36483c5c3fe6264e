import FlexCodec
import FlexServer
import FlexSim
import FlexTestSupport
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What an independent client, written from PROTOCOL.md alone, found against flexd (issue 20),
/// each over real TCP against the router and flexsim: the request's deadline, a request that never
/// comes, U+0000 in strings, a key no header can carry, a body that picks its own tier, CANCEL's
/// status, and a client that half-closes its socket.
@Suite("flexd: protocol v1.1 conformance over TCP", .serialized)
struct ProtocolConformanceTests {
    // MARK: Deadlines and requests that do not come (5.5)

    /// The call's deadline and its start_within budget count from its HEADERS, not its MESSAGE.
    @Test func aCallsClockStartsAtItsHeaders() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            let request = ServerFixture.request("clock", startWithin: "default")
            try client.send(.requestHeaders(1, RequestHeaders(method: RequestHeaders.Method.complete)))
            try await Task.sleep(for: .milliseconds(400))
            var bytes = ByteBuffer()
            try client.encoder.encodeMessage(request, streamID: 1, endStream: true, into: &bytes)
            try client.write(bytes)
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .ok)
            let record = try #require(trailers.savings)
            #expect(
                record.timeToStartMicroseconds >= 400_000,
                "time to start counts from HEADERS: \(record.timeToStartMicroseconds) µs"
            )
        }
    }

    /// HEADERS whose MESSAGE never comes: the stream ends at its deadline, and its slot is free.
    @Test func aStreamWithoutItsRequestEndsAtItsDeadlineAndFreesItsSlot() async throws {
        try await ServerFixture.with(configure: { $0.connection.limits.maxConcurrentStreams = 1 }) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.send(
                .requestHeaders(1, RequestHeaders(method: RequestHeaders.Method.complete, timeout: .milliseconds(300)))
            )
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .deadlineExceeded)
            #expect(trailers.status.errorCode == "deadline_exceeded")
            #expect(trailers.savings == nil)
            // The only slot is free again: the next call runs.
            try client.call(3, ServerFixture.request("after-missing-request", startWithin: "default"))
            #expect(try await client.readCall(3).trailers?.status.code == .ok)
        }
    }

    /// Without a deadline, the request must come within the handshake timeout of its HEADERS.
    @Test func aStreamWithoutItsRequestOrDeadlineEndsAfterTheHandshakeTimeout() async throws {
        try await ServerFixture.with(configure: { $0.handshakeTimeout = .milliseconds(300) }) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.send(.requestHeaders(1, RequestHeaders(method: RequestHeaders.Method.stream)))
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .deadlineExceeded)
            #expect(trailers.status.errorCode == "request_timeout")
            // A MESSAGE that comes after is one for a closed stream: ignored, the connection carries on.
            try client.send(.message(1, ByteBuffer(), endStream: true))
            try client.call(3, ServerFixture.request("after-request-timeout", startWithin: "default"))
            #expect(try await client.readCall(3).trailers?.status.code == .ok)
        }
    }

    // MARK: Strings (3.2)

    /// U+0000 in any string of the request ends the call with `invalid_message`, never cut short.
    @Test(arguments: ["request_id", "start_within", "model", "metadata"])
    func aStringWithNULIsRefusedNotCut(_ field: String) async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            var request = ServerFixture.request("nul", startWithin: "default")
            // FlexCodec refuses to encode U+0000, so the test writes a same-length marker and turns
            // it into a zero byte in the encoded message.
            let marked: String
            switch field {
            case "request_id":
                marked = "x\u{1}tail"
                request.requestID = marked
            case "start_within":
                marked = "default\u{1}junk"
                request.startWithin = marked
            case "model":
                marked = "gpt-5.4-mini\u{1}x"
                request.model = marked
            default:
                marked = "a\u{1}b"
                request.metadata = ["feature": marked]
            }
            var payload = try MessageCoder().encode(request)
            let bytes = Array(payload.readableBytesView)
            let pattern = Array(marked.utf8)
            let start = try #require(
                (0...(bytes.count - pattern.count)).first { Array(bytes[$0..<($0 + pattern.count)]) == pattern }
            )
            let offset = try #require(pattern.firstIndex(of: 1))
            let marker = start + offset
            payload.setInteger(UInt8(0), at: payload.readerIndex + marker)
            try client.send(.requestHeaders(1, RequestHeaders(method: RequestHeaders.Method.complete)))
            try client.send(.message(1, payload, endStream: true))
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .invalidArgument, "\(field)")
            #expect(trailers.status.errorCode == "invalid_message", "\(field)")
            #expect(trailers.status.message.contains("U+0000"), "\(trailers.status.message)")
            #expect(try fixture.sim.inFlight() == 0)
        }
    }

    // MARK: Refusals the router owns

    @Test func aProviderKeyWithCRLFIsTheCallersErrorNotAnUnreachableProvider() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            var request = ServerFixture.request("crlf", startWithin: "default")
            request.providerKey = "sk-test-server\r\nX-Injected: yes"
            try client.call(1, request)
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .invalidArgument)
            #expect(trailers.status.errorCode == "invalid_provider_key")
            #expect(!trailers.status.message.contains("sk-test-server"))
            #expect(trailers.savings == nil)
        }
    }

    @Test func aNativeBodyThatPicksItsOwnTierIsRefused() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            var request = ServerFixture.request("own-tier")
            request.body = .nativeJSON(
                ByteBuffer(
                    string:
                        #"{"model":"gpt-5.4-mini","service_tier":"flex","messages":[{"role":"user","content":"x"}]}"#
                )
            )
            try client.call(1, request)
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .invalidArgument)
            #expect(trailers.status.errorCode == "service_tier_not_allowed")
            #expect(trailers.status.details["field"] == "service_tier")
        }
    }

    // MARK: Cancellation (5.6)

    @Test func aCancelCarryingDeadlineExceededIsAnsweredCancelled() async throws {
        var queued = Profile.instant
        queued.flex.queueWaitSeconds = .constant(30)
        try await ServerFixture.with(profile: queued) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("cancel-deadline", startWithin: "00h-05m-00s"))
            _ = try await fixture.sim.ledgerOrInFlight(atLeast: 1)
            try client.send(.cancel(1, Cancel(code: .deadlineExceeded, reason: "local deadline")))
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .cancelled)
            #expect(trailers.status.errorCode == "cancelled")
        }
    }

    // MARK: Answers to the ambiguities (revision 1.1)

    /// A GOAWAY as the client's first frame: the server closes without a HELLO.
    @Test func aClientGoAwayAsTheFirstFrameClosesWithoutHello() async throws {
        try await ServerFixture.with { fixture in
            let client = try WireClient(port: fixture.port)
            var bytes = ByteBuffer(bytes: ConnectionPreface.bytes)
            try client.encoder.encode(.goAway(GoAway(lastStreamID: .connection)), into: &bytes)
            try client.write(bytes)
            let frames = try await client.readUntilClosed()
            #expect(frames.isEmpty, "\(frames)")
            #expect(client.closedByPeer)
        }
    }

    /// HEADERS naming a stream that has ended is a connection error, never a new call (5.1).
    @Test func headersOnAClosedStreamIsAConnectionError() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("closed-stream", startWithin: "default"))
            #expect(try await client.readCall(1).trailers?.status.code == .ok)
            var bytes = ByteBuffer()
            try client.encoder.encode(
                .requestHeaders(1, RequestHeaders(method: RequestHeaders.Method.complete)),
                into: &bytes
            )
            try client.write(bytes)
            let frames = try await client.readUntilClosed()
            #expect(frames.goAway?.errorCode == "protocol_error", "\(frames)")
            #expect(frames.goAway?.code == .internal)
            #expect(frames.goAway?.lastStreamID == 1)
        }
    }

    /// An `initial_window_size` of 0 in the client's HELLO means the default window, not none.
    @Test func aZeroInitialWindowMeansTheDefault() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(
                port: fixture.port,
                hello: Hello(versions: [1], limits: Limits(initialWindowSize: 0))
            )
            try client.call(
                1,
                ServerFixture.request("zero-window", startWithin: "default"),
                method: RequestHeaders.Method.stream
            )
            let frames = try await client.readCall(1)
            #expect(frames.trailers?.status.code == .ok)
            #expect(try frames.messages(StreamEvent.self).count > 2, "events flow without any WINDOW_UPDATE")
        }
    }

    /// A HEADERS payload that does not decode (here: U+0000 in the API key) is a connection error.
    @Test func anUndecodableHeadersIsAConnectionError() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            var payload = try MessageCoder().encode(
                RequestHeaders(method: RequestHeaders.Method.complete, apiKey: "key\u{1}x")
            )
            let bytes = Array(payload.readableBytesView)
            let marker = try #require(bytes.firstIndex(of: 1).flatMap { bytes[$0 - 1] == UInt8(ascii: "y") ? $0 : nil })
            payload.setInteger(UInt8(0), at: payload.readerIndex + marker)
            var header = ByteBuffer()
            header.writeMultipleIntegers(UInt32(payload.readableBytes), FrameType.headers.rawValue, UInt8(0), UInt32(1))
            header.writeBuffer(&payload)
            try client.write(header)
            let frames = try await client.readUntilClosed()
            #expect(frames.goAway?.errorCode == "invalid_message", "\(frames)")
            #expect(frames.goAway?.code == .invalidArgument)
        }
    }

    // MARK: Half-close (11)

    /// A client that sends its calls and then shuts its sending side down still gets everything:
    /// the HELLO, the answers, the trailers; a stream whose request never came ends at once; then
    /// the server closes.
    @Test func aClientThatHalfClosesAfterSendingGetsItsAnswers() async throws {
        try await ServerFixture.with { fixture in
            let client = try WireClient(port: fixture.port)
            var bytes = ByteBuffer(bytes: ConnectionPreface.bytes)
            try client.encoder.encode(.hello(Hello(versions: [1])), into: &bytes)
            try client.encoder.encode(
                .requestHeaders(1, RequestHeaders(method: RequestHeaders.Method.complete)),
                into: &bytes
            )
            try client.encoder.encodeMessage(
                ServerFixture.request("half-close-1", startWithin: "default"),
                streamID: 1,
                endStream: true,
                into: &bytes
            )
            try client.encoder.encode(
                .requestHeaders(3, RequestHeaders(method: RequestHeaders.Method.stream)),
                into: &bytes
            )
            try client.write(bytes)
            #expect(shutdown(client.fd, Int32(SHUT_WR)) == 0)
            let frames = try await client.readUntilClosed()
            guard case .hello? = frames.first else {
                Issue.record("no HELLO first: \(frames)")
                return
            }
            var statuses: [UInt32: Status] = [:]
            for case .trailers(let id, let trailers) in frames { statuses[id.rawValue] = trailers.status }
            #expect(statuses[1]?.code == .ok, "the call sent before the half-close is answered")
            #expect(statuses[3]?.errorCode == "invalid_message", "the stream whose request never came ends")
            #expect(try frames.filter { $0.streamID == 1 }.messages(InferenceResponse.self).count == 1)
            #expect(client.closedByPeer)
        }
    }
}

extension FlexsimFixture {
    /// Waits until flexsim has received `count` provider requests (in flight or ledgered).
    func ledgerOrInFlight(atLeast count: Int) async throws -> Int {
        for _ in 0..<400 {
            let seen = try self.inFlight()
            if seen >= count { return seen }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("flexsim never saw \(count) requests")
        return 0
    }
}
