import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

/// Billing truth (refused, cancelled before start, cancelled after start) and each fault, over
/// real HTTP with a closed socket as the cancel. No timing assertions: the profile's fixed waits
/// only make the order of events certain.
@Suite struct BillingAndFaultTests {
    static let flexChat =
        #"{"model":"gpt-5","messages":[{"role":"user","content":"hi"}],"stream":true,"service_tier":"flex"}"#

    @Test func refusedFlexIsNotBilled() async throws {
        try await withSim(.outage) { server, port in
            let client = try TestHTTPClient(port: port)
            client.send("/openai/v1/chat/completions", headers: openAIKey, body: Self.flexChat)
            let response = client.response()
            #expect(response.status == 429)
            #expect(response.body.contains("Resource Unavailable"))
            let row = try await waitForRow(server, count: 1)
            #expect(row["outcome"] == "refused" && row["billed"] == .bool(false) && row["cost_picousd"] == .int(0))
        }
    }

    @Test func cancelledBeforeStartIsNotBilled() async throws {
        try await withSim(.fixed(wait: 30, tokensPerSecond: 10)) { server, port in
            let client = try TestHTTPClient(port: port)
            client.send("/openai/v1/chat/completions", headers: openAIKey, body: Self.flexChat)
            // Headers and the role-only preamble chunk arrive while queued; no output yet.
            let seen = client.read { $0.contains("\"role\":\"assistant\"") }
            #expect(seen.hasPrefix("HTTP/1.1 200"))
            #expect(!seen.contains("\"content\":\"") || seen.contains("\"content\":\"\""))
            client.closeNow()
            let row = try await waitForRow(server, count: 1)
            #expect(row["outcome"] == "cancelled_before_start")
            #expect(row["billed"] == .bool(false) && row["cost_picousd"] == .int(0))
        }
    }

    @Test func cancelledAfterStartBillsInputAndOutputSoFar() async throws {
        try await withSim(.fixed(wait: 0, tokensPerSecond: 5)) { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/openai/v1/chat/completions",
                headers: openAIKey.merging(["x-flexsim-output-tokens": "200"]) { $1 },
                body: Self.flexChat
            )
            _ = client.read { $0.components(separatedBy: "\"content\":\"").count > 3 }  // two output events seen
            client.closeNow()
            let row = try await waitForRow(server, count: 1)
            #expect(row["outcome"] == "cancelled_after_start")
            #expect(row["billed"] == .bool(true))
            // Output includes reasoning (produced first, so billed in full); the visible part was cut.
            let visible = (row["tokens"]?["output"]?.int ?? 0) - (row["tokens"]?["reasoning"]?.int ?? 0)
            #expect(visible >= 1 && visible < 200)
            #expect(row["tokens"]?["input"]?.int ?? 0 > 0)
            #expect(row["cost_picousd"]?.int ?? 0 > 0)
        }
    }

    @Test func unaryCancelledWhileQueuedIsNotBilled() async throws {
        try await withSim(.fixed(wait: 30, tokensPerSecond: 0)) { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
                headers: geminiKey,
                body: #"{"contents":[{"parts":[{"text":"x"}]}],"serviceTier":"flex"}"#
            )
            try await Task.sleep(for: .milliseconds(100))
            client.closeNow()
            let row = try await waitForRow(server, count: 1)
            #expect(row["outcome"] == "cancelled_before_start" && row["billed"] == .bool(false))
        }
    }

    func faulted(
        _ fault: String,
        path: String = "/openai/v1/chat/completions",
        headers: [String: String] = openAIKey,
        body: String = #"{"model":"gpt-5","messages":[{"role":"user","content":"hi"}],"stream":true}"#
    ) async throws -> (TestResponse, JSONValue) {
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(path, headers: headers.merging(["x-flexsim-fault": fault]) { $1 }, body: body)
            let response = fault == "cut_mid_stream" ? TestResponse(raw: client.read { _ in false }) : client.response()
            return (response, try await waitForRow(server, count: 1))
        }
    }

    @Test func cutMidStreamEndsWithoutTerminalEventAndBillsSoFar() async throws {
        let (response, row) = try await faulted("cut_mid_stream")
        #expect(!response.raw.contains("[DONE]"))
        #expect(!response.raw.hasSuffix("0\r\n\r\n"))
        #expect(row["outcome"] == "cut_mid_stream" && row["billed"] == .bool(true))
    }

    @Test func malformedSSE() async throws {
        let (response, row) = try await faulted("malformed_sse")
        #expect(response.events.contains { (try? JSONParser.parse($0)) == nil && $0 != "[DONE]" })
        #expect(response.events.last == "[DONE]")
        #expect(row["fault"] == "malformed_sse")
    }

    @Test func truncatedJSON() async throws {
        let (response, _) = try await faulted(
            "truncated_json",
            body: #"{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}"#
        )
        #expect(response.status == 200)
        #expect(response.body.hasPrefix("{\"id\":\"chatcmpl-"))
        #expect(response.json == nil)
    }

    @Test(arguments: [(500, "server_error"), (502, "server_error"), (503, "server_error")])
    func openAIStatusFaults(_ status: Int, _ type: String) async throws {
        let (response, row) = try await faulted("status=\(status)")
        #expect(response.status == status && response.body.contains(type))
        #expect(row["outcome"] == "fault" && row["billed"] == .bool(false))
    }

    @Test func anthropic529Overloaded() async throws {
        let (response, _) = try await faulted(
            "529",
            path: "/anthropic/v1/messages",
            headers: anthropicKey,
            body: #"{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"x"}]}"#
        )
        #expect(response.status == 529)
        #expect(response.body.contains(#""type":"overloaded_error""#))
    }

    @Test func stallsAndSlowHeadersStillDeliverAWholeResponse() async throws {
        for fault in ["stall_before_headers=200ms", "slow_headers=200ms", "stall_mid_stream=200ms"] {
            let (response, row) = try await faulted(fault)
            #expect(response.events.last == "[DONE]", "\(fault)")
            #expect(row["fault"]?.string == fault.replacingOccurrences(of: "200ms", with: "0.2s"))
        }
    }

    @Test func largeResponse() async throws {
        let (response, row) = try await faulted(
            "large_response=400000",
            body: #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#
        )
        #expect(response.body.utf8.count > 400_000)
        #expect(row["tokens"]?["output"]?.int == 100_000)
    }

    @Test func unknownFaultIsA400() async throws {
        let (response, _) = try await faulted("explode")
        #expect(response.status == 400 && response.body.contains("x-flexsim-fault"))
    }
}

@Suite struct StreamErrorFaultTests {
    @Test(arguments: [
        (
            "/openai/v1/chat/completions",
            #"{"model":"gpt-5","messages":[{"role":"user","content":"hi"}],"stream":true}"#, #"{"error":"#
        ),
        ("/openai/v1/responses", #"{"model":"gpt-5","input":"hi","stream":true}"#, "server_is_overloaded"),
        (
            "/anthropic/v1/messages",
            #"{"model":"claude-haiku-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
            "overloaded_error"
        ),
        (
            "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            #"{"contents":[{"parts":[{"text":"x"}]}]}"#, "UNAVAILABLE"
        ),
        ("/gemini/v1beta/interactions", #"{"model":"gemini-2.5-flash","input":"hi","stream":true}"#, "UNAVAILABLE"),
    ])
    func overloadInsteadOfOutputIsNotBilled(_ path: String, _ body: String, _ marker: String) async throws {
        let headers = path.hasPrefix("/openai") ? openAIKey : path.hasPrefix("/anthropic") ? anthropicKey : geminiKey
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(path, headers: headers.merging(["x-flexsim-fault": "stream_error"]) { $1 }, body: body)
            let response = client.response()
            #expect(response.status == 200)
            #expect(response.body.contains(marker))
            #expect(!response.body.contains("[DONE]"))
            let row = try await waitForRow(server, count: 1)
            #expect(row["outcome"] == "fault" && row["reason"] == "stream_error" && row["billed"] == .bool(false))
        }
    }

    @Test func overloadMidStreamBillsWhatWasSent() async throws {
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/anthropic/v1/messages",
                headers: anthropicKey.merging(["x-flexsim-fault": "stream_error_mid"]) { $1 },
                body:
                    #"{"model":"claude-haiku-4-5","max_tokens":500,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            )
            let names = client.response().eventNames
            #expect(names.last == "error" && names.contains("content_block_delta") && !names.contains("message_stop"))
            let row = try await waitForRow(server, count: 1)
            #expect(row["reason"] == "stream_error_mid" && row["billed"] == .bool(true))
            #expect((row["tokens"]?["output"]?.int ?? 0) > 0)
        }
    }
}
