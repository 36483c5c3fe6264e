import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

/// Validation errors over real HTTP, in each provider's own envelope and status.
@Suite struct ValidationTests {
    struct Case: Sendable, CustomStringConvertible {
        var path: String
        var headers: [String: String]
        var body: String
        var status: Int
        /// A fragment the error body must contain.
        var expect: String
        var description: String { "\(self.path) \(self.status) \(self.expect)" }
    }

    static let chat = "/openai/v1/chat/completions"
    static let messages = "/anthropic/v1/messages"
    static let gemini = "/gemini/v1beta/models/gemini-2.5-flash:generateContent"

    static let cases: [Case] = [
        Case(
            path: chat,
            headers: [:],
            body: #"{"model":"gpt-5","messages":[]}"#,
            status: 401,
            expect: #""type":"invalid_request_error""#
        ),
        Case(
            path: chat,
            headers: ["authorization": "Bearer nope"],
            body: "{}",
            status: 401,
            expect: #""code":"invalid_api_key""#
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body: #"{"model":"gpt-5"}"#,
            status: 400,
            expect: #""code":"missing_required_parameter""#
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body: #"{"model":"gpt-5","messages":"hi"}"#,
            status: 400,
            expect: #""code":"invalid_type""#
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body: #"{"model":"gpt-5","messages":[{"role":"bot","content":"x"}]}"#,
            status: 400,
            expect: #""param":"messages[0].role""#
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body: #"{"model":"gpt-5","messages":[{"role":"user","content":"x"}],"start_within":"00h-00m-30s"}"#,
            status: 400,
            expect: "Unrecognized request argument supplied: start_within"
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body: #"{"model":"gpt-x","messages":[{"role":"user","content":"x"}]}"#,
            status: 404,
            expect: #""code":"model_not_found""#
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body: #"{"model":"gpt-6.2-sol","messages":[{"role":"user","content":"x"}],"service_tier":"flex"}"#,
            status: 400,
            expect: #""param":"service_tier""#
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body:
                #"{"model":"gpt-5","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}"#,
            status: 400,
            expect: "only allowed when 'stream' is enabled"
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body: #"{"model":"gpt-5","messages":[{"role":"user","content":"x"}],"temperature":3}"#,
            status: 400,
            expect: "temperature"
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body: #"{"model":"gpt-5", "messages": [}"#,
            status: 400,
            expect: "could not parse the JSON body"
        ),
        Case(
            path: messages,
            headers: ["x-api-key": "sk-ant-x"],
            body: "{}",
            status: 400,
            expect: "anthropic-version: header is required"
        ),
        Case(
            path: messages,
            headers: ["x-api-key": "bad", "anthropic-version": "2023-06-01"],
            body: "{}",
            status: 401,
            expect: #""type":"authentication_error""#
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body: #"{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"x"}]}"#,
            status: 400,
            expect: "max_tokens: Field required"
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body: #"{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"system","content":"x"}]}"#,
            status: 400,
            expect: "messages.0.role: Input should be 'user' or 'assistant'"
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body:
                #"{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}],"service_tier":"flex"}"#,
            status: 400,
            expect: "service_tier"
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body: #"{"model":"claude-9","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#,
            status: 404,
            expect: #""type":"not_found_error""#
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body: #"{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}],"extra":1}"#,
            status: 400,
            expect: "extra: Extra inputs are not permitted"
        ),
        Case(path: gemini, headers: [:], body: "{}", status: 403, expect: #""status":"PERMISSION_DENIED""#),
        Case(path: gemini, headers: ["x-goog-api-key": "nope"], body: "{}", status: 400, expect: "API_KEY_INVALID"),
        Case(
            path: "/gemini/v1/models/gemini-0:generateContent",
            headers: geminiKey,
            body: #"{"contents":[{"parts":[{"text":"x"}]}]}"#,
            status: 404,
            expect: "is not found for API version v1,"
        ),
        Case(path: gemini, headers: geminiKey, body: "{}", status: 400, expect: "contents is not specified"),
        Case(
            path: gemini,
            headers: geminiKey,
            body: #"{"contents":[{"role":"bot","parts":[{"text":"x"}]}]}"#,
            status: 400,
            expect: "Please use a valid role"
        ),
        Case(
            path: gemini,
            headers: geminiKey,
            body: #"{"contents":[{"parts":[{"text":"x"}]}],"bogus":1}"#,
            status: 400,
            expect: #"Unknown name \"bogus\""#
        ),
        Case(
            path: "/gemini/v1beta/models/gemini-0:generateContent",
            headers: geminiKey,
            body: #"{"contents":[{"parts":[{"text":"x"}]}]}"#,
            status: 404,
            expect: #""status":"NOT_FOUND""#
        ),
        Case(
            path: "/gemini/v1beta/models/gemini-4-argon:generateContent",
            headers: geminiKey,
            body: #"{"contents":[{"parts":[{"text":"x"}]}],"serviceTier":"flex"}"#,
            status: 400,
            expect: "INVALID_ARGUMENT"
        ),
        Case(
            path: "/gemini/v1beta/interactions",
            headers: geminiKey,
            body: #"{"model":"gemini-2.5-flash"}"#,
            status: 400,
            expect: "input"
        ),
    ]

    @Test(arguments: cases)
    func rejected(_ c: Case) async throws {
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(c.path, headers: c.headers, body: c.body)
            let response = client.response()
            #expect(response.status == c.status, "\(response.raw)")
            #expect(response.body.contains(c.expect), "\(response.body)")
            #expect(!response.body.contains("sk-ant-x") && !response.body.contains("nope"), "key echoed")
            let row = try await waitForRow(server, count: 1)
            #expect(row["billed"] == .bool(false))
            #expect(row["status"]?.int == Int64(c.status))
        }
    }

    @Test func oversizedBodyGets413AndTheConnectionCloses() async throws {
        let configuration = SimConfiguration(catalog: try .builtIn(), maxBodyBytes: 1000)
        let server = try await SimServer.start(configuration: configuration, host: "127.0.0.1", port: 0)
        defer { Task { try? await server.close() } }
        let client = try TestHTTPClient(port: server.port!)
        client.send(Self.chat, headers: openAIKey, body: "{\"model\":\"" + String(repeating: "a", count: 5000) + "\"}")
        let response = client.response()
        #expect(response.status == 413)
        #expect(response.headers["connection"] == "close")
    }

    @Test func unknownRouteIs404() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send("/openai/v2/nothing", method: "GET")
            #expect(client.response().status == 404)
        }
    }
}
