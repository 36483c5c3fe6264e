import FlexCore
import FlexJSON
import NIOCore
import Testing

@testable import FlexRouter

/// A native body's members the adapters do not read are passed upstream as the caller wrote them:
/// the request each adapter sends holds the same members as the one it would build from the whole
/// body parsed, and the passed members' bytes are the caller's.
@Suite struct NativeBodySplicingTests {
    static let adapters: [any ProviderAdapter] = [
        OpenAIChatAdapter(), OpenAIResponsesAdapter(), AnthropicMessagesAdapter(), GeminiGenerateContentAdapter(),
        GeminiInteractionsAdapter(),
    ]

    static let models: [Api: String] = [
        .chatCompletions: "gpt-5.4-mini", .responses: "gpt-5.4-mini", .messages: "claude-haiku-4-5",
        .generateContent: "gemini-2.5-flash", .interactions: "gemini-3.8-flash",
    ]

    /// Bodies with and without the members adapters set, with escapes, numbers in forms an
    /// encoder would not write, and whitespace.
    static let bodies = [
        #"{"messages":[{"role":"user","content":"h\u00e9 \"q\"\n"}],"max_tokens":1.0E+2,"temperature":0.50}"#,
        #"{ "model" : "MODEL" , "input" : "hi" , "stream" : false , "stream_options" : { "include_usage" : false } , "n" : 1 }"#,
        #"{"stream":true}"#,
        #"{}"#,
        #"{"contents":[{"parts":[{"text":"\ud83d\ude00"}]}],"generationConfig":{"maxOutputTokens":64},"model":"MODEL"}"#,
    ]

    @Test(arguments: Self.adapters.map(\.api))
    func theSplicedRequestHasTheMembersOfTheWholeOne(_ api: Api) throws {
        let adapter = try #require(Self.adapters.first { $0.api == api })
        let model = try #require(Self.models[api])
        for text in Self.bodies {
            let body = ByteBuffer(
                string: text.split(separator: "MODEL", omittingEmptySubsequences: false).joined(separator: model)
            )
            let (kept, passed) = try NativeBody.parseRequest(body, api: api)
            let whole = try NativeBody.parsedWhole(body)
            for tier in api.provider == .anthropic ? [Tier.standard, .auto] : [.flex, .standard] {
                for stream in [true, false] {
                    let spliced = try adapter.makeRequest(
                        body: kept,
                        passing: passed,
                        model: model,
                        tier: tier,
                        stream: stream,
                        key: "sk-test"
                    )
                    let built = try adapter.makeRequest(
                        body: whole,
                        model: model,
                        tier: tier,
                        stream: stream,
                        key: "sk-test"
                    )
                    #expect(spliced.path == built.path)
                    #expect(
                        Self.sorted(try NativeBody.parsedWhole(spliced.body))
                            == Self.sorted(try NativeBody.parsedWhole(built.body)),
                        "\(text)"
                    )
                }
            }
        }
    }

    @Test func thePassedMembersAreTheCallersBytes() throws {
        let text = #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"h\u00e9"}], "max_tokens" :1.0E+2}"#
        let (kept, passed) = try NativeBody.parseRequest(ByteBuffer(string: text), api: .chatCompletions)
        #expect(kept.keys == ["model"])
        #expect(
            passed.byteCount == #""messages":[{"role":"user","content":"h\u00e9"}], "max_tokens" :1.0E+2"#.utf8.count
        )
        let request = try OpenAIChatAdapter().makeRequest(
            body: kept,
            passing: passed,
            model: "gpt-5.4-mini",
            tier: .flex,
            stream: false,
            key: "sk-test"
        )
        let sent = String(buffer: request.body)
        #expect(sent.hasPrefix(#"{"model":"gpt-5.4-mini","service_tier":"flex","#))
        #expect(sent.hasSuffix(#","messages":[{"role":"user","content":"h\u00e9"}], "max_tokens" :1.0E+2}"#))
    }

    @Test func aBodyOfNothingButKeptMembersPassesNothing() throws {
        let (kept, passed) = try NativeBody.parseRequest(ByteBuffer(string: #"{"model":"m"}"#), api: .messages)
        #expect(kept.keys == ["model"] && passed.byteCount == 0)
        var object = ByteBuffer(string: "{}")
        passed.splice(into: &object)
        #expect(object == ByteBuffer(string: "{}"))
        let (_, some) = try NativeBody.parseRequest(ByteBuffer(string: #"{"a":1}"#), api: .messages)
        some.splice(into: &object)
        #expect(object == ByteBuffer(string: #"{"a":1}"#))
        var other = ByteBuffer(string: #"{"b":2}"#)
        some.splice(into: &other)
        #expect(other == ByteBuffer(string: #"{"b":2,"a":1}"#))
    }

    @Test(
        arguments: [
            ("[1]", "must be a JSON object, not array"), ("\"x\"", "must be a JSON object, not string"),
            (#"{"a": [1,}"#, "is not valid JSON (unexpected character at byte 9)"),
            (#"[1,"#, "is not valid JSON (unexpected end of input at byte 3)"),
            (#"{"model": "m"} {"#, "is not valid JSON (unexpected data after the JSON value at byte 15)"),
        ]
    )
    func aBodyThatIsNotAnObjectSaysWhatItIs(_ text: String, _ message: String) {
        let error = #expect(throws: RouterError.self) {
            try NativeBody.parseRequest(ByteBuffer(string: text), api: .chatCompletions)
        }
        #expect(error?.errorCode == "invalid_request_body")
        #expect(error?.status.message.contains(message) == true, "\(error?.status.message ?? "")")
    }

    @Test func theTokenEstimateReadsThePassedMembers() throws {
        let text = #"{"model":"m","messages":[{"role":"user","content":"twelve bytes"}]}"#
        let (kept, passed) = try NativeBody.parseRequest(ByteBuffer(string: text), api: .chatCompletions)
        #expect(TokenEstimate.inputTokens(kept, passed) == 3)
        #expect(
            TokenEstimate.inputTokens(kept, passed)
                == TokenEstimate.inputTokens(try NativeBody.parsedWhole(ByteBuffer(string: text)))
        )
    }

    /// Members in key order (a key's repeats in their order): the spliced body puts the kept
    /// members first.
    static func sorted(_ object: JSONObject) -> [String] {
        object.fields.enumerated()
            .sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
            .map { "\($0.element.key)=\(JSONValue.object(JSONObject([$0.element])).jsonString)" }
    }
}
