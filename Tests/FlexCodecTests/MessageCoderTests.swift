import NIOCore
import Testing

@testable import FlexCodec

@Suite("MessageCoder: Swift values to protobuf-c and back")
struct MessageCoderTests {
    let coder = MessageCoder()

    func roundTrip<M: FlexMessage>(_ message: M) throws -> M {
        let bytes = try coder.encode(message)
        return try coder.decode(M.self, from: bytes)
    }

    @Test func helloRoundTrips() throws {
        #expect(try roundTrip(Fixtures.hello) == Fixtures.hello)
        #expect(try roundTrip(Hello(versions: [])) == Hello(versions: []))
    }

    @Test func goAwayRoundTrips() throws {
        let goAway = GoAway(
            lastStreamID: .max,
            code: .unavailable,
            message: "draining",
            errorCode: "server_shutting_down"
        )
        #expect(try roundTrip(goAway) == goAway)
    }

    @Test func callHeadersRoundTrip() throws {
        #expect(try roundTrip(Fixtures.requestHeaders) == Fixtures.requestHeaders)
        #expect(try roundTrip(RequestHeaders(method: "")) == RequestHeaders(method: ""))
        let response = ResponseHeaders(metadata: ["x-served-by": "flexd-1"])
        #expect(try roundTrip(response) == response)
    }

    @Test func trailersRoundTrip() throws {
        #expect(try roundTrip(Fixtures.failedTrailers) == Fixtures.failedTrailers)
        let ok = Trailers(status: .ok, savings: Fixtures.savings)
        #expect(try roundTrip(ok) == ok)
    }

    @Test func cancelRoundTripsAndZeroCodeMeansCancelled() throws {
        let cancel = Cancel(code: .deadlineExceeded, reason: "client deadline")
        #expect(try roundTrip(cancel) == cancel)
        // An empty CANCEL payload (code 0 on the wire) is read as CANCELLED.
        #expect(try coder.decode(Cancel.self, from: ByteBuffer()) == Cancel(code: .cancelled))
    }

    @Test func inferenceRequestsRoundTrip() throws {
        #expect(try roundTrip(Fixtures.nativeRequest) == Fixtures.nativeRequest)
        #expect(try roundTrip(Fixtures.typedRequest) == Fixtures.typedRequest)
        #expect(try roundTrip(InferenceRequest()) == InferenceRequest())
        // An empty native body is still a native body (oneof presence survives).
        let empty = InferenceRequest(body: .nativeJSON(ByteBuffer()))
        #expect(try roundTrip(empty) == empty)
    }

    @Test func optionalScalarsKeepPresence() throws {
        // Zero values that are set must come back as set, and unset ones as nil.
        let zeros = ChatRequest(parallelToolCalls: false, temperature: 0, topP: 0, maxOutputTokens: 0, seed: 0)
        let decoded = try roundTrip(InferenceRequest(body: .chat(zeros)))
        #expect(decoded.body == .chat(zeros))
        let unset = try roundTrip(InferenceRequest(body: .chat(ChatRequest())))
        guard case .chat(let chat) = unset.body else {
            Issue.record("expected a chat body")
            return
        }
        #expect(chat.temperature == nil && chat.topP == nil && chat.maxOutputTokens == nil && chat.seed == nil)
        #expect(chat.parallelToolCalls == nil)
    }

    @Test func inferenceResponseRoundTrips() throws {
        #expect(try roundTrip(Fixtures.response) == Fixtures.response)
        #expect(try roundTrip(InferenceResponse()) == InferenceResponse())
    }

    @Test(arguments: Fixtures.streamEvents)
    func streamEventRoundTrips(_ event: StreamEvent) throws {
        #expect(try roundTrip(event) == event)
    }

    @Test func encodingIsDeterministic() throws {
        // Maps are written with sorted keys, so equal values always give equal bytes.
        let first = try coder.encode(Fixtures.typedRequest)
        for _ in 0..<20 {
            var request = Fixtures.typedRequest
            request.metadata = ["b": "2", "a": "1", "c": "3", "d": "4"]
            var again = request
            again.metadata = Dictionary(uniqueKeysWithValues: request.metadata.shuffled().map { ($0.key, $0.value) })
            #expect(try coder.encode(request) == coder.encode(again))
        }
        #expect(try coder.encode(Fixtures.typedRequest) == first)
    }

    @Test func largeNativeBodiesSurvive() throws {
        let request = Fixtures.nativeRequest(jsonBytes: 1_000_000)
        #expect(try roundTrip(request) == request)
    }

    @Test func oneOffHelpersMatchTheCoder() throws {
        let bytes = try Fixtures.nativeRequest.protobufBytes()
        #expect(bytes == (try coder.encode(Fixtures.nativeRequest)))
        #expect(try InferenceRequest(protobufBytes: bytes) == Fixtures.nativeRequest)
    }

    /// Revision 1.2: the adaptive policy's reasons travel as the revision-1 values a 1.1 client
    /// knows, with `fallback_predicted`; 4 and 5 are not values of the wire's enum.
    @Test func predictedFallbackReasonsTravelAsKnownValues() throws {
        for reason in FallbackReason.allCases {
            let route = StreamEvent.route(RouteDecision(tier: .standard, fellBack: true, fallbackReason: reason))
            #expect(try roundTrip(route) == route)
        }
        // RouteDecision { tier STANDARD, fell_back, fallback_reason FLEX_CAPACITY, fallback_predicted }.
        let scarce = StreamEvent.route(RouteDecision(tier: .standard, fellBack: true, fallbackReason: .flexScarce))
        #expect(
            Array(try coder.encode(scarce).readableBytesView) == [
                0x0A, 0x08, 0x08, 0x02, 0x10, 0x01, 0x18, 0x01, 0x28, 0x01,
            ]
        )
        let late = StreamEvent.route(RouteDecision(tier: .standard, fellBack: true, fallbackReason: .flexPredictedLate))
        #expect(
            Array(try coder.encode(late).readableBytesView) == [
                0x0A, 0x08, 0x08, 0x02, 0x10, 0x01, 0x18, 0x02, 0x28, 0x01,
            ]
        )
        // What a 1.1 decoder keeps (the field it does not know dropped): flex_capacity.
        #expect(
            try coder.decode(
                StreamEvent.self,
                from: ByteBuffer(bytes: [0x0A, 0x06, 0x08, 0x02, 0x10, 0x01, 0x18, 0x01])
            )
                == .route(RouteDecision(tier: .standard, fellBack: true, fallbackReason: .flexCapacity))
        )
        // fallback_reason 4 is not a wire value, and `predicted` means nothing with an upstream error.
        #expect(throws: FlexCodecError.self) {
            try coder.decode(StreamEvent.self, from: ByteBuffer(bytes: [0x0A, 0x04, 0x10, 0x01, 0x18, 0x04]))
        }
        #expect(
            try coder.decode(
                StreamEvent.self,
                from: ByteBuffer(bytes: [0x0A, 0x06, 0x10, 0x01, 0x18, 0x03, 0x28, 0x01])
            )
                == .route(RouteDecision(tier: nil, fellBack: true, fallbackReason: .flexUpstreamError))
        )
        var record = Fixtures.savings
        record.fallbackReason = .flexScarce
        let trailers = Trailers(status: .ok, savings: record)
        #expect(try roundTrip(trailers) == trailers)
    }
}

@Suite("MessageCoder: bad input")
struct MessageCoderBadInputTests {
    let coder = MessageCoder()

    @Test(
        arguments: [
            [0x0A, 0x05, 0x61],  // field 1, length 5, only one byte follows
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],  // endless varint
            [0x0B],  // start-group wire type
            [0x12, 0x80, 0x80, 0x80, 0x80, 0x10],  // length far past the end
        ] as [[UInt8]]
    )
    func invalidProtobufIsRejected(_ bytes: [UInt8]) {
        #expect(throws: FlexCodecError.self) {
            try coder.decode(InferenceRequest.self, from: ByteBuffer(bytes: bytes))
        }
        do {
            _ = try coder.decode(InferenceRequest.self, from: ByteBuffer(bytes: bytes))
        } catch {
            #expect(error.code == .invalidProtobuf)
        }
    }

    @Test func unknownEnumValuesAreRejected() throws {
        // InferenceRequest.provider (field 2, varint) = 7: not a provider in v1.
        let error = try #require(throws: FlexCodecError.self) {
            try coder.decode(InferenceRequest.self, from: ByteBuffer(bytes: [0x10, 0x07]))
        }
        #expect(error.code == .unknownEnumValue)
        #expect(error.message.contains("Provider"))
        // GoAway.code (field 2) = 99; StreamEvent route tier (nested) = 9.
        #expect(throws: FlexCodecError.self) { try coder.decode(GoAway.self, from: ByteBuffer(bytes: [0x10, 99])) }
        #expect(throws: FlexCodecError.self) {
            try coder.decode(StreamEvent.self, from: ByteBuffer(bytes: [0x0A, 0x02, 0x08, 0x09]))
        }
        // Negative enum values (ten-byte varints) too.
        let negative: [UInt8] = [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        #expect(throws: FlexCodecError.self) {
            try coder.decode(InferenceRequest.self, from: ByteBuffer(bytes: negative))
        }
    }

    @Test func invalidUTF8IsRejected() throws {
        // InferenceRequest.model (field 4) = 0xC3 0x28, an invalid two-byte sequence.
        let error = try #require(throws: FlexCodecError.self) {
            try coder.decode(InferenceRequest.self, from: ByteBuffer(bytes: [0x22, 0x02, 0xC3, 0x28]))
        }
        #expect(error.code == .invalidString)
        #expect(error.message.contains("InferenceRequest.model"))
    }

    @Test func nulInAStringIsRefusedWhenEncoding() throws {
        var request = Fixtures.nativeRequest
        request.model = "gpt\u{0}-5"
        let error = try #require(throws: FlexCodecError.self) { try coder.encode(request) }
        #expect(error.code == .invalidString)
        // The coder still works afterwards (its arena was reset).
        #expect(
            try coder.decode(InferenceRequest.self, from: coder.encode(Fixtures.nativeRequest))
                == Fixtures.nativeRequest
        )
    }

    @Test func streamEventWithNothingSetIsRejected() throws {
        let error = try #require(throws: FlexCodecError.self) { try coder.decode(StreamEvent.self, from: ByteBuffer()) }
        #expect(error.code == .missingField)
        let part = try #require(throws: FlexCodecError.self) {
            // ChatRequest with one message holding one empty ContentPart.
            try coder.decode(InferenceRequest.self, from: ByteBuffer(bytes: [0x4A, 0x04, 0x0A, 0x02, 0x12, 0x00]))
        }
        #expect(part.code == .missingField)
    }

    /// `InferenceRequest { chat { messages: [{}, {}, ...] } }` with `count` empty messages: two bytes
    /// each on the wire, about 130 bytes each once unpacked.
    static func emptyMessages(_ count: Int) -> ByteBuffer {
        var chat: [UInt8] = []
        for _ in 0..<count { chat += [0x0A, 0x00] }
        var body: [UInt8] = [0x4A]
        var length = chat.count
        while length >= 0x80 {
            body.append(UInt8(length & 0x7F) | 0x80)
            length >>= 7
        }
        body.append(UInt8(length))
        return ByteBuffer(bytes: body + chat)
    }

    @Test func amplificationIsBounded() throws {
        // 200,000 empty ChatMessages: 400 KB on the wire, ~26 MB as C structs: over the default 64x.
        let error = try #require(throws: FlexCodecError.self) {
            try coder.decode(InferenceRequest.self, from: Self.emptyMessages(200_000))
        }
        #expect(error.code == .invalidProtobuf)
        #expect(coder.arena.bytesUsed == 0)
        // A stricter coder refuses smaller bombs; the default admits them.
        #expect(throws: FlexCodecError.self) {
            try MessageCoder(maximumAmplification: 1).decode(InferenceRequest.self, from: Self.emptyMessages(50_000))
        }
        let decoded = try coder.decode(InferenceRequest.self, from: Self.emptyMessages(2_000))
        guard case .chat(let request) = decoded.body else {
            Issue.record("expected a chat body")
            return
        }
        #expect(request.messages.count == 2_000)
        #expect(coder.arena.bytesUsed == 0)
        #expect(coder.arena.chunkCount <= 1)
    }

    @Test func arenaIsReleasedOnEveryPath() throws {
        for _ in 0..<100 {
            _ = try coder.decode(InferenceRequest.self, from: coder.encode(Fixtures.typedRequest))
            _ = try? coder.decode(InferenceRequest.self, from: ByteBuffer(bytes: [0x22, 0x02, 0xC3, 0x28]))
            _ = try? coder.decode(InferenceRequest.self, from: ByteBuffer(bytes: [0x0A, 0x05, 0x61]))
            #expect(coder.arena.bytesUsed == 0)
        }
        #expect(coder.arena.chunkCount <= 1)
    }
}
