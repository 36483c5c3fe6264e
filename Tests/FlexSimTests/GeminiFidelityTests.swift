import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

/// Gemini as Google serves it: every route under `/v1` as well as `/v1beta` (the google-genai
/// SDK's default is `v1`), and a key answered as Google answers it.
@Suite struct GeminiFidelityTests {
    static let contents = #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"serviceTier":"flex"}"#

    /// The same request under both versions gets the same answer (ids and timestamps aside).
    @Test func generateContentUnderV1IsTheV1betaHandler() async throws {
        try await withSim { server, port in
            var answers: [JSONValue] = []
            for version in ["v1beta", "v1"] {
                let client = try TestHTTPClient(port: port)
                client.send(
                    "/gemini/\(version)/models/gemini-2.5-flash:generateContent",
                    headers: geminiKey,
                    body: Self.contents
                )
                let response = client.response()
                #expect(response.status == 200, "\(version): \(response.raw)")
                #expect(response.headers["x-gemini-service-tier"] == "flex")
                answers.append(try #require(response.json?["candidates"]))
            }
            #expect(answers[0] == answers[1])
            let rows = try ledgerRows(server)
            #expect(
                rows.count == 2 && rows.allSatisfy { $0["api"] == "generate_content" && $0["billed"] == .bool(true) }
            )
        }
    }

    @Test func streamGenerateContentUnderV1() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/gemini/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                headers: geminiKey,
                body: Self.contents
            )
            let response = client.response()
            #expect(response.status == 200)
            let chunks = try response.events.map { try JSONParser.parse($0) }
            #expect(chunks.count > 1)
            #expect(chunks.last?["usageMetadata"]?["serviceTier"] == "flex")
            #expect(chunks.last?["candidates"]?.array?[0]["finishReason"] == "STOP")
        }
    }

    @Test func interactionsUnderV1() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/gemini/v1/interactions",
                headers: geminiKey,
                body: #"{"model":"gemini-2.5-flash","input":"hi","service_tier":"flex"}"#
            )
            let response = client.response()
            #expect(response.status == 200, "\(response.raw)")
            #expect(response.json?["status"] == "completed" && response.json?["service_tier"] == "flex")
        }
    }

    @Test(arguments: [
        "/gemini/v2/models/gemini-2.5-flash:generateContent", "/gemini/v1/models/gemini-2.5-flash:countTokens",
        "/gemini/v1/interactions/x", "/gemini/v1", "/v1/models/gemini-2.5-flash:generateContent",
    ])
    func otherPathsAreStill404(_ path: String) async throws {
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(path, headers: geminiKey, body: Self.contents)
            let response = client.response()
            #expect(response.status == 404)
            #expect(response.body.contains("flexsim has no route"))
            #expect(try ledgerRows(server).isEmpty)
        }
    }

    /// Google's answer to a key it does not know, byte for byte in content: 400 INVALID_ARGUMENT
    /// with an ErrorInfo whose reason is API_KEY_INVALID (not 401).
    @Test(arguments: ["v1beta", "v1"])
    func aBadKeyIsGoogles400ApiKeyInvalid(_ version: String) async throws {
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/gemini/\(version)/models/gemini-2.5-flash:generateContent",
                headers: ["x-goog-api-key": "not-a-gemini-key"],
                body: Self.contents
            )
            let response = client.response()
            #expect(response.status == 400)
            let expected = try JSONParser.parse(
                #"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}"#
            )
            #expect(response.json == expected, "\(response.body)")
            #expect(!response.raw.contains("not-a-gemini-key"))
            let row = try await waitForRow(server, count: 1)
            #expect(row["reason"] == "unauthorized" && row["status"]?.int == 400 && row["billed"] == .bool(false))
        }
    }

    @Test func noKeyIsGoogles403PermissionDenied() async throws {
        try await withSim { _, port in
            for (path, body) in [
                ("/gemini/v1/models/gemini-2.5-flash:generateContent", Self.contents),
                ("/gemini/v1beta/interactions", #"{"model":"gemini-2.5-flash","input":"hi"}"#),
            ] {
                let client = try TestHTTPClient(port: port)
                client.send(path, body: body)
                let response = client.response()
                #expect(response.status == 403)
                let expected = try JSONParser.parse(
                    #"{"error":{"code":403,"message":"Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.","status":"PERMISSION_DENIED"}}"#
                )
                #expect(response.json == expected, "\(response.body)")
            }
        }
    }

    /// A key in the query (`?key=`) is checked the same way.
    @Test func aBadKeyInTheQueryIsRefusedTheSameWay() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send("/gemini/v1/models/gemini-2.5-flash:generateContent?key=wrong", body: Self.contents)
            let response = client.response()
            #expect(response.status == 400)
            #expect(response.json?["error"]?["details"]?.array?.first?["reason"] == "API_KEY_INVALID")
        }
    }
}
