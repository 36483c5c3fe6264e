import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

/// Response shapes and event order per API, keep-alive, and the ledger's cost maths.
@Suite struct ShapeTests {
    @Test func chatStreamOrderAndKeepAlive() async throws {
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            for _ in 0..<3 {  // three requests on one connection
                client.send(
                    "/openai/v1/chat/completions",
                    headers: openAIKey,
                    body:
                        #"{"model":"gpt-5","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#
                )
                let response = client.response()
                #expect(response.status == 200)
                #expect(response.headers["content-type"]?.hasPrefix("text/event-stream") == true)
                let events = response.events
                #expect(events.last == "[DONE]")
                let first = try JSONParser.parse(events[0])
                #expect(first["choices"]?.array?[0]["delta"]?["role"] == "assistant")
                let usage = try JSONParser.parse(events[events.count - 2])
                #expect(usage["choices"] == .array([]))
                #expect(usage["usage"]?["completion_tokens"]?.int ?? 0 > 0)
            }
            #expect(try ledgerRows(server).count == 3)
        }
    }

    @Test func anthropicStreamHasPingAndOrder() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/anthropic/v1/messages",
                headers: anthropicKey,
                body:
                    #"{"model":"claude-haiku-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            )
            let names = client.response().eventNames
            #expect(Array(names.prefix(3)) == ["message_start", "ping", "content_block_start"])
            #expect(Array(names.suffix(2)) == ["message_delta", "message_stop"])
            #expect(names.contains("content_block_stop"))
        }
    }

    @Test func geminiFinalChunkCarriesUsageAndTierHeader() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                headers: geminiKey,
                body: #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"serviceTier":"flex"}"#
            )
            let response = client.response()
            #expect(response.headers["x-gemini-service-tier"] == "flex")
            let chunks = try response.events.map { try JSONParser.parse($0) }
            #expect(chunks.dropLast().allSatisfy { $0["usageMetadata"] == nil })
            #expect(chunks.last?["usageMetadata"]?["serviceTier"] == "flex")
            #expect(chunks.last?["candidates"]?.array?[0]["finishReason"] == "STOP")
        }
    }

    @Test func interactionsStreamOrder() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/gemini/v1beta/interactions",
                headers: geminiKey,
                body: #"{"model":"gemini-2.5-flash","input":"hi","stream":true}"#
            )
            let names = client.response().eventNames
            #expect(Array(names.prefix(3)) == ["interaction.created", "interaction.status_update", "step.start"])
            #expect(names.last == "interaction.completed")
        }
    }

    @Test func responsesStreamStartsWithCreatedAndEndsCompleted() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/openai/v1/responses",
                headers: openAIKey,
                body: #"{"model":"gpt-4.1","input":"hi","stream":true}"#
            )
            let names = client.response().eventNames
            #expect(
                Array(names.prefix(3)) == ["response.created", "response.in_progress", "response.output_item.added"]
            )
            #expect(names.last == "response.completed")
        }
    }

    @Test func ledgerCostIsTheCatalogCost() async throws {
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/openai/v1/responses",
                headers: openAIKey.merging(["x-flexsim-output-tokens": "40"]) { $1 },
                body: #"{"model":"gpt-5.4-mini","input":"hello there","service_tier":"flex"}"#
            )
            let body = client.response().json
            #expect(
                body?["usage"]?["output_tokens"]?.int == 40
                    + (body?["usage"]?["output_tokens_details"]?["reasoning_tokens"]?.int ?? 0)
            )
            let row = try await waitForRow(server, count: 1)
            let t = row["tokens"]!
            let tokens = TokenUsage(
                inputTokens: UInt64(t["input"]!.int!),
                cachedInputTokens: UInt64(t["cached_input"]!.int!),
                cacheWriteTokens: UInt64(t["cache_write"]!.int!),
                outputTokens: UInt64(t["output"]!.int!),
                reasoningTokens: UInt64(t["reasoning"]!.int!)
            )
            #expect(tokens.outputTokens - tokens.reasoningTokens == 40)
            let expected = try Catalog.builtIn().cost(
                provider: .openAI,
                model: "gpt-5.4-mini",
                tier: .flex,
                tokens: tokens,
                on: CalendarDate("2026-11-26")!
            )
            #expect(row["cost_picousd"]?.int == expected.total.rawValue)
            #expect(row["tier_served"] == "flex")
        }
    }

    @Test func timeScaleShrinksRealDelaysButNotSimulatedOnes() async throws {
        // A 600 s simulated queue wait at time scale 10,000 takes 60 ms of real time.
        try await withSim(.fixed(wait: 600, tokensPerSecond: 50), timeScale: 10_000) { server, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/openai/v1/responses",
                headers: openAIKey,
                body: #"{"model":"gpt-5","input":"hi","service_tier":"flex"}"#
            )
            let response = client.response()
            #expect(response.status == 200 && response.json?["service_tier"] == "flex")
            let row = try await waitForRow(server, count: 1)
            #expect(row["queue_wait_ms"] == .int(600_000))
        }
    }

    @Test func ledgerAfterReturnsOnlyLaterLines() async throws {
        try await withSim { server, port in
            let client = try TestHTTPClient(port: port)
            for _ in 0..<3 {
                client.send(
                    "/openai/v1/chat/completions",
                    headers: openAIKey,
                    body: #"{"model":"gpt-4.1","messages":[{"role":"user","content":"x"}]}"#
                )
                _ = client.response()
            }
            client.send("/sim/ledger?after=1", method: "GET")
            let lines = client.response().body.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(try JSONParser.parse(String(lines[0]))["seq"] == .int(2))
            client.send("/sim/reset")
            _ = client.response()
            #expect(server.simulator.ledger.count == 0)
        }
    }

    @Test func sameSeedSameContent() async throws {
        let body = #"{"model":"gpt-5","messages":[{"role":"user","content":"same"}]}"#
        let first = try await withSim(seed: 5) { _, port in
            let client = try TestHTTPClient(port: port)
            client.send("/openai/v1/chat/completions", headers: openAIKey, body: body)
            return client.response().json?["choices"]?.array?[0]["message"]?["content"]
        }
        let second = try await withSim(seed: 5) { _, port in
            let client = try TestHTTPClient(port: port)
            client.send("/openai/v1/chat/completions", headers: openAIKey, body: body)
            return client.response().json?["choices"]?.array?[0]["message"]?["content"]
        }
        #expect(first != nil && first == second)
    }
}
