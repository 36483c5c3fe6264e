import FlexClient
import FlexCodec
import FlexJSON
import FlexTestSupport
import NIOCore
import NIOPosix
import Testing

/// FlexClient against the real `flexd` and `flexsim` processes: the tier outcomes a caller sees
/// (fallback, priority, default), cancelling the calling task mid-stream, and a client deadline,
/// each checked against what flexsim billed.
@Suite("flexd end to end through FlexClient", .serialized)
struct FlexdEndToEndTests {
    /// A profile whose tiers answer at once; flex refused (`refusal`) or streaming slowly (`tokensPerSecond`).
    static func profile(
        refusal: Double,
        tokensPerSecond: Int = 0,
        queueWait: Double = 0,
        fault: String? = nil
    )
        -> String
    {
        """
        {"name": "e2e",
         "tiers": {"flex": {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": \(tokensPerSecond)},
                   "standard": {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": \(tokensPerSecond)},
                   "priority": {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": \(tokensPerSecond)}},
         "flex": {"refusal_probability": \(refusal), "scarce": {"fraction": 0, "window_s": 60, "refusal_probability": 0, "wait_multiplier": 1},
                  "queue_wait_s": {"kind": "constant", "value": \(queueWait)}, "concurrency": 0,
                  "max_queue_wait_s": 0, "preamble_while_queued": true}\(
            fault.map { #", "faults": [{"probability": 1, "fault": "\#($0)"}]"# } ?? "")}
        """
    }

    static func ledger(_ stack: FlexdProcessTests.Stack, _ correlation: String, count: Int) async throws -> [JSONValue]
    {
        for _ in 0..<200 {
            let text = try LoopbackHTTP.send(port: stack.simPort, method: "GET", path: "/sim/ledger").text
            let rows = try text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
                .filter { $0["correlation_id"]?.string == correlation }
            if rows.count >= count { return rows }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("flexsim's ledger never had \(count) rows for \(correlation)")
        return []
    }

    @Test func fallbackPriorityAndDefaultAsTheCallerSeesThem() async throws {
        try await FlexdProcessTests.withStack(profileJSON: Self.profile(refusal: 1)) { stack in
            try await withFlexClient(host: "127.0.0.1", port: stack.port) { client in
                // Flex refused for capacity: the call falls back to standard and says why.
                let (_, fellBack) = try await client.complete(
                    FlexdProcessTests.request(.chatCompletions, id: "e2e-fallback", startWithin: "00h-00m-30s")
                )
                let record = try #require(fellBack)
                #expect(record.tierServed == .standard && record.fellBack && record.fallbackReason == .flexCapacity)
                #expect(record.savedPicoUSD == 0 && record.feePicoUSD == 0)
                let rows = try await Self.ledger(stack, "e2e-fallback", count: 2)
                #expect(Set(rows.compactMap { $0["tier_asked"]?.string }) == ["flex", "default"], "\(rows)")
                #expect(
                    rows.reduce(0) { $0 + ($1["cost_picousd"]?.int ?? 0) } == record.actualCostPicoUSD,
                    "only the standard attempt is billed"
                )

                // Priority costs more than standard, by request; default goes straight to standard.
                let (_, priority) = try await client.complete(
                    FlexdProcessTests.request(.chatCompletions, id: "e2e-priority", startWithin: "priority")
                )
                #expect(priority?.tierServed == .priority && priority?.fellBack == false)
                #expect((priority?.actualCostPicoUSD ?? 0) > (priority?.standardCostPicoUSD ?? 0))
                let defaultTier = try await client.stream(
                    FlexdProcessTests.request(.interactions, id: "e2e-default", startWithin: "default")
                ) { events in
                    var route: RouteDecision?
                    for try await event in events {
                        if case .route(let decision) = event { route = decision }
                    }
                    return (route, events.savings)
                }
                #expect(defaultTier.0?.tier == .standard && defaultTier.0?.fellBack == false)
                #expect(defaultTier.1?.tierServed == .standard)
                let billed = try await Self.ledger(stack, "e2e-default", count: 1)
                #expect(billed.first?["cost_picousd"]?.int == defaultTier.1?.actualCostPicoUSD)
            }
        }
    }

    /// `--flex-policy adaptive` wired through: refused flex attempts teach the running flexd that
    /// flex is scarce; the next call skips flex, FlexClient reads `flex_scarce` (revision 1.2's
    /// `fallback_predicted` on the wire), flexsim sees no flex attempt, and the metric counts it.
    @Test func theAdaptivePolicyThroughTheRealProcess() async throws {
        try await FlexdProcessTests.withStack(
            profileJSON: Self.profile(refusal: 1),
            extraArguments: ["--flex-policy", "adaptive", "--flex-min-evidence", "2", "--flex-exploration", "0"]
        ) { stack in
            try await withFlexClient(host: "127.0.0.1", port: stack.port) { client in
                for index in 0..<3 {
                    let (_, record) = try await client.complete(
                        FlexdProcessTests.request(
                            .chatCompletions,
                            id: "e2e-learn-\(index)",
                            startWithin: "00h-00m-30s"
                        )
                    )
                    #expect(record?.fallbackReason == .flexCapacity, "call \(index) tries flex while learning")
                }
                let (route, record) = try await client.stream(
                    FlexdProcessTests.request(.chatCompletions, id: "e2e-scarce", startWithin: "00h-00m-30s")
                ) { events in
                    var route: RouteDecision?
                    for try await event in events {
                        if case .route(let decision) = event { route = decision }
                    }
                    return (route, events.savings)
                }
                #expect(route?.fallbackReason == .flexScarce && route?.tier == .standard)
                #expect(record?.fallbackReason == .flexScarce && record?.flexAttempts == 0)
                let rows = try await Self.ledger(stack, "e2e-scarce", count: 1)
                #expect(rows.count == 1 && rows.first?["tier_asked"]?.string == "default", "\(rows)")
                let metrics = try LoopbackHTTP.send(port: stack.adminPort, method: "GET", path: "/metrics").text
                #expect(metrics.contains(#"flexd_fallbacks_total{reason="flex_scarce"} 1"#), "\(metrics)")
            }
        }
    }

    /// At 4 tokens a second the answer takes several seconds, so the cancel lands mid-stream even
    /// on a loaded machine.
    @Test func cancellingTheCallingTaskMidStreamEndsTheUpstreamTransfer() async throws {
        try await FlexdProcessTests.withStack(profileJSON: Self.profile(refusal: 0, tokensPerSecond: 4)) { stack in
            try await withFlexClient(host: "127.0.0.1", port: stack.port) { client in
                let request = FlexdProcessTests.request(.chatCompletions, id: "e2e-cancel", startWithin: "00h-00m-30s")
                let reader = Task {
                    try await client.stream(request) { events in
                        var natives = 0
                        for try await event in events {
                            if case .native = event { natives += 1 }
                            if natives == 3 { try await Task.sleep(for: .seconds(60)) }
                        }
                        return natives
                    }
                }
                // Wait until flexsim is streaming the answer, then cancel the caller's task.
                var streaming = false
                for _ in 0..<200 where !streaming {
                    try await Task.sleep(for: .milliseconds(25))
                    let health = try JSONParser.parse(
                        LoopbackHTTP.send(port: stack.simPort, method: "GET", path: "/healthz").text
                    )
                    streaming = (health["in_flight"]?.int ?? 0) > 0
                }
                try await Task.sleep(for: .milliseconds(300))
                reader.cancel()
                do {
                    _ = try await reader.value
                    Issue.record("a cancelled stream ends with an error")
                } catch let error as FlexClientError {
                    #expect(error.code == .cancelled)
                } catch is CancellationError {
                    // The body's sleep saw the cancellation first; the call was cancelled all the same.
                }
                let row = try #require(try await Self.ledger(stack, "e2e-cancel", count: 1).first)
                // flexsim saw the transfer end before the answer did, and billed what it had generated.
                #expect(row["outcome"]?.string == "cancelled_after_start", "\(row)")
                #expect(row["billed"]?.bool == true && (row["tokens"]?["output"]?.int ?? 0) > 0, "\(row)")
            }
        }
    }

    @Test func aClientDeadlineEndsTheCallAndItsFlexWait() async throws {
        try await FlexdProcessTests.withStack(profileJSON: Self.profile(refusal: 0, queueWait: 30)) { stack in
            try await withFlexClient(host: "127.0.0.1", port: stack.port) { client in
                let request = FlexdProcessTests.request(.responses, id: "e2e-deadline", startWithin: "00h-05m-00s")
                do throws(FlexClientError) {
                    // Long enough for the flex request to reach flexsim (whose ledger the test reads)
                    // on a loaded machine; far shorter than flexsim's 30 s queue.
                    _ = try await client.complete(request, options: CallOptions(timeout: .seconds(2)))
                    Issue.record("the call outlives its deadline")
                } catch {
                    #expect(error.code == .deadlineExceeded)
                }
                let row = try #require(try await Self.ledger(stack, "e2e-deadline", count: 1).first)
                #expect(row["billed"]?.bool == false, "a flex request cancelled while queued is not billed: \(row)")
            }
        }
    }

    /// The retry option over the binary door: FlexClient encodes it, flexd re-sends the standard
    /// attempt flexsim failed once, and the record says so; a count over five is refused.
    @Test func theRetryOptionOverTheBinaryDoor() async throws {
        let profile = Self.profile(refusal: 0, fault: "status=503,fail_first=1,retry_after=0")
        try await FlexdProcessTests.withStack(profileJSON: profile) { stack in
            try await withFlexClient(host: "127.0.0.1", port: stack.port) { client in
                var request = FlexdProcessTests.request(.generateContent, id: "e2e-retry", startWithin: "default")
                request.retry = RetryOption(count: 2, backoff: .linear, jitter: false)
                let (_, savings) = try await client.complete(request)
                let record = try #require(savings)
                #expect(record.retries == 1 && record.tierServed == .standard)
                let rows = try await Self.ledger(stack, "e2e-retry", count: 2)
                #expect(rows.map { $0["status"]?.int } == [503, 200], "\(rows)")
                #expect(rows.reduce(0) { $0 + ($1["cost_picousd"]?.int ?? 0) } == record.actualCostPicoUSD)

                var invalid = FlexdProcessTests.request(.generateContent, id: "e2e-retry-6", startWithin: "default")
                invalid.retry = RetryOption(count: 6)
                do throws(FlexClientError) {
                    _ = try await client.complete(invalid)
                    Issue.record("a retry count of 6 was accepted")
                } catch {
                    #expect(error.code == .invalidArgument)
                    #expect(error.status.errorCode == "invalid_retry")
                }
            }
        }
    }

    /// A unary flex call stopped after flex started (4 tokens a second: the answer takes far longer
    /// than the test waits), by its deadline and by a CANCEL, over the wire with the codec (the
    /// TRAILERS are read, where FlexClient would end the call locally): the provider bills what it
    /// produced, and the TRAILERS carry a record of what flexd counted, marked estimated.
    @Test func aUnaryCallStoppedAfterTheStartCarriesAnEstimatedRecord() async throws {
        try await FlexdProcessTests.withStack(profileJSON: Self.profile(refusal: 0, tokensPerSecond: 4)) { stack in
            let (client, _) = try await WireClient.connected(port: stack.port)
            let late = FlexdProcessTests.request(.chatCompletions, id: "e2e-late-deadline", startWithin: "00h-00m-30s")
            try client.call(StreamID(1), late, timeout: .seconds(2))
            let cancelled = FlexdProcessTests.request(.responses, id: "e2e-late-cancel", startWithin: "00h-00m-30s")
            try client.call(StreamID(3), cancelled)
            try await Task.sleep(for: .seconds(2))
            try client.send(.cancel(StreamID(3), Cancel(code: .cancelled, reason: "the caller went away")))
            var ended: [StreamID: Trailers] = [:]
            while ended.count < 2, let frame = try await client.readFrame() {
                if case .trailers(let id, let trailers) = frame { ended[id] = trailers }
            }
            for (id, name, status) in [
                (UInt32(1), "e2e-late-deadline", StatusCode.deadlineExceeded), (3, "e2e-late-cancel", .cancelled),
            ] {
                let trailers = try #require(ended[StreamID(id)], "\(name) never ended")
                #expect(trailers.status.code == status, "\(name)")
                let record = try #require(trailers.savings, "\(name) ended without a record")
                #expect(record.tokensEstimated && record.tierServed == .flex, "\(name)")
                #expect(record.tokens.inputTokens > 0 && record.tokens.outputTokens > 0, "\(name)")
                let row = try #require(try await Self.ledger(stack, name, count: 1).first)
                #expect(row["billed"]?.bool == true, "\(row)")
                let visible = (row["tokens"]?["output"]?.int ?? 0) - (row["tokens"]?["reasoning"]?.int ?? 0)
                #expect(Int64(record.tokens.outputTokens) <= visible, "never more than flexsim produced: \(row)")
            }
        }
    }
}
