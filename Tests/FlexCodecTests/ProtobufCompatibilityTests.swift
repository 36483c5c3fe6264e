import Foundation
import NIOCore
import Testing

@testable import FlexCodec

/// FlexCodec (libprotobuf-c underneath) against Google's own protobuf implementation (protoc's
/// `--encode` / `--decode`), so a wire-format mistake on our side cannot hide behind a round trip.
@Suite("Wire compatibility with protoc")
struct ProtobufCompatibilityTests {
    static let protoArguments = [
        "--proto_path=Proto", "flexinference/v1/inference.proto", "flexinference/v1/call.proto",
        "flexinference/v1/connection.proto",
    ]

    func protoc(encode type: String, text: String) throws -> ByteBuffer {
        let result = try Subprocess.run(
            "protoc",
            ["--encode=flexinference.v1.\(type)"] + Self.protoArguments,
            stdin: Data(text.utf8)
        )
        #expect(result.status == 0, "protoc --encode failed: \(result.stderr)")
        return ByteBuffer(bytes: result.stdout)
    }

    func protoc(decode type: String, _ bytes: ByteBuffer) throws -> String {
        let result = try Subprocess.run(
            "protoc",
            ["--decode=flexinference.v1.\(type)"] + Self.protoArguments,
            stdin: Data(bytes.readableBytesView)
        )
        #expect(result.status == 0, "protoc --decode failed: \(result.stderr)")
        return String(decoding: result.stdout, as: UTF8.self)
    }

    @Test func protocEncodedRequestDecodes() throws {
        let bytes = try protoc(
            encode: "InferenceRequest",
            text: """
                request_id: "req-7"
                provider: PROVIDER_GEMINI
                api: API_INTERACTIONS
                model: "gemini-3.5-flash"
                start_within: "00h-01m-00s"
                provider_key: "gm-test"
                metadata { key: "team" value: "search" }
                chat {
                  messages { role: ROLE_USER content { text: "hi" } content { image { data: "\\x89PNG" media_type: "image/png" } } }
                  temperature: 0
                  max_output_tokens: 0
                  stop: "END"
                  reasoning_effort: REASONING_EFFORT_HIGH
                }
                retry { count: 2 }
                """
        )
        let request = try MessageCoder().decode(InferenceRequest.self, from: bytes)
        let expected = InferenceRequest(
            requestID: "req-7",
            provider: .gemini,
            api: .interactions,
            model: "gemini-3.5-flash",
            startWithin: "00h-01m-00s",
            providerKey: "gm-test",
            metadata: ["team": "search"],
            body: .chat(
                ChatRequest(
                    messages: [
                        ChatMessage(
                            role: .user,
                            content: [
                                .text("hi"),
                                .image(
                                    ImagePart(
                                        source: .data(ByteBuffer(bytes: [0x89, 0x50, 0x4E, 0x47])),
                                        mediaType: "image/png"
                                    )
                                ),
                            ]
                        )
                    ],
                    temperature: 0,
                    maxOutputTokens: 0,
                    stop: ["END"],
                    reasoningEffort: .high
                )
            ),
            // A caller that sets only the count gets exponential backoff with jitter (proto3's
            // defaults mean the server's).
            retry: RetryOption(count: 2, backoff: .exponential, jitter: true)
        )
        #expect(request == expected)
    }

    @Test func ourEncodingDecodesInProtoc() throws {
        let text = try protoc(
            decode: "Trailers",
            try MessageCoder().encode(Trailers(status: .ok, savings: Fixtures.savings))
        )
        for line in [
            #"request_id: "req-0001""#, "provider: PROVIDER_OPENAI", "api: API_CHAT_COMPLETIONS",
            "tier_requested: TIER_FLEX", "tier_served: TIER_FLEX", "flex_wait_us: 850000", "input_tokens: 1200",
            "reasoning_tokens: 128", "standard_cost_picousd: 2722500000", "fee_picousd: 272250000",
            #"price_date: "2026-11-26""#, "retries: 2", "tokens_estimated: true",
        ] {
            #expect(text.contains(line), "protoc output lacks \(line):\n\(text)")
        }
    }

    @Test func everyFixtureSurvivesProtocReencoding() throws {
        // Our bytes -> protoc text -> protoc bytes -> our values must be the identity.
        func check<M: FlexMessage>(_ message: M, _ type: String) throws {
            let coder = MessageCoder()
            let text = try protoc(decode: type, coder.encode(message))
            let again = try protoc(encode: type, text: text)
            #expect(try coder.decode(M.self, from: again) == message, "\(type) changed through protoc")
        }
        try check(Fixtures.hello, "Hello")
        try check(Fixtures.requestHeaders, "RequestHeaders")
        try check(Fixtures.failedTrailers, "Trailers")
        try check(Fixtures.nativeRequest, "InferenceRequest")
        try check(Fixtures.typedRequest, "InferenceRequest")
        try check(Fixtures.response, "InferenceResponse")
        for event in Fixtures.streamEvents { try check(event, "StreamEvent") }
    }

    /// Every field of the schema, by name, read from `Proto/flexinference/v1/*.proto`: the lines
    /// `[repeated] TYPE name = N;` inside messages (enum values are upper case, so they do not match).
    static func schemaFields() throws -> Set<String> {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Proto/flexinference/v1")
        let field = try Regex(#"^\s*(?:repeated\s+)?(?:map<[^>]+>|[A-Za-z_][\w.]*)\s+([a-z][a-z0-9_]*)\s*=\s*\d+"#)
        var names: Set<String> = []
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".proto") {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                if let match = try field.firstMatch(in: String(line)), let name = match.output[1].substring {
                    names.insert(String(name))
                }
            }
        }
        return names
    }

    /// The fixtures set every field of the schema, and our encoding carries each to protoc: a
    /// field added to the schema but forgotten in the Swift mapping (or in the fixtures) fails here.
    @Test func theFixturesCarryEveryFieldOfTheSchemaThroughOurEncoding() throws {
        let coder = MessageCoder()
        var texts: [String] = []
        func decoded<M: FlexMessage>(_ message: M, _ type: String) throws {
            texts.append(try protoc(decode: type, coder.encode(message)))
        }
        try decoded(Fixtures.hello, "Hello")
        try decoded(Fixtures.requestHeaders, "RequestHeaders")
        try decoded(Fixtures.failedTrailers, "Trailers")
        try decoded(Trailers(status: .ok, savings: Fixtures.savings, metadata: ["k": "v"]), "Trailers")
        try decoded(Fixtures.nativeRequest, "InferenceRequest")
        try decoded(Fixtures.typedRequest, "InferenceRequest")
        try decoded(Fixtures.response, "InferenceResponse")
        for event in Fixtures.streamEvents { try decoded(event, "StreamEvent") }
        try decoded(
            GoAway(lastStreamID: 7, code: .unavailable, message: "draining", errorCode: "server_shutting_down"),
            "GoAway"
        )
        try decoded(Cancel(code: .deadlineExceeded, reason: "gone"), "Cancel")
        try decoded(ResponseHeaders(metadata: ["k": "v"]), "ResponseHeaders")
        try decoded(
            InferenceResponse(requestID: "refused", chat: ChatResult(refusal: "I cannot help with that.")),
            "InferenceResponse"
        )
        let used = try Regex(#"^\s*([a-z][a-z0-9_]*)\s*[:{]"#)
        var carried: Set<String> = []
        for text in texts {
            for line in text.split(separator: "\n") {
                if let match = try used.firstMatch(in: String(line)), let name = match.output[1].substring {
                    carried.insert(String(name))
                }
            }
        }
        let schema = try Self.schemaFields()
        #expect(!schema.isEmpty)
        #expect(
            schema.subtracting(carried).isEmpty,
            "fields no fixture carries through the codec: \(schema.subtracting(carried).sorted())"
        )
    }
}
