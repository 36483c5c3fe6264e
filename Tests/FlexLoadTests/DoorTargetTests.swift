import FlexCodec
import FlexJSON
import FlexLoadKit
import FlexServer
import FlexTestSupport
import Foundation
import NIOCore
import Testing

/// ``DoorTarget`` against an in-process flexd with its HTTP door, routing to an in-process flexsim:
/// every API, streamed and not, native and typed, goes through the door as an SDK sends it.
@Suite("DoorTarget")
struct DoorTargetTests {
    /// The fixture's flexd with its HTTP door on a free port; the body gets the door's URL.
    static func withDoor(_ body: (ServerFixture, String) async throws -> Void) async throws {
        try await ServerFixture.with(configure: { $0.http = FlexServer.HTTPDoorConfiguration(port: 0) }) { fixture in
            let port = try #require(try await fixture.server.httpListeningAddress()?.port)
            try await body(fixture, "http://127.0.0.1:\(port)")
        }
    }

    @Test func everyAPIThroughTheDoorReachesFlexsimWithItsBudgetAndRequestID() async throws {
        try await Self.withDoor { fixture, door in
            let target = try DoorTarget(root: door, timeout: .seconds(60))
            #expect(target.name == "flexd-http")
            let workload = Workload(mix: .standard, seed: 5, runID: "door-native")
            let (results, elapsed) = await LoadDriver(
                target: target,
                workload: workload,
                plan: LoadPlan(pacing: .concurrency(4), stop: .requests(80))
            ).run()
            let summary = results.summary(elapsed: elapsed)
            #expect(summary.requests == 80 && summary.errors == 0, "\(summary.errorsByCode)")
            #expect(
                (0..<80).contains { workload.call($0).stream },
                "the trace streams some calls (the door's SSE read to its end)"
            )
            // flexd forwarded each call's flexd-request-id as flexsim's correlation id, and its
            // flexd-start-within decided the tier: the 30 s and 5 min budgets were served flex.
            let rows = try await LoadDriverTests.ledgerRows(fixture.sim, prefix: "door-native-", count: 80)
            let budgeted = (0..<80).filter { workload.call($0).request.startWithin.hasPrefix("00h") }
            #expect(!budgeted.isEmpty)
            for index in budgeted {
                let served = rows.filter { $0["correlation_id"]?.string == "door-native-\(index)" }
                    .map { $0["tier_served"]?.string ?? "?" }
                #expect(served.contains("flex"), "call \(index) (budget) was served \(served)")
            }

            let typed = Workload(mix: .typed, seed: 5, runID: "door-typed")
            let (typedResults, typedElapsed) = await LoadDriver(
                target: target,
                workload: typed,
                plan: LoadPlan(pacing: .concurrency(4), stop: .requests(40))
            ).run()
            await target.close()
            let typedSummary = typedResults.summary(elapsed: typedElapsed)
            #expect(typedSummary.requests == 40 && typedSummary.errors == 0, "\(typedSummary.errorsByCode)")
        }
    }

    @Test func aCallTheDoorRefusesFailsWithItsHTTPStatus() async throws {
        try await Self.withDoor { _, door in
            let target = try DoorTarget(root: door, timeout: .seconds(60))
            // An Anthropic model through OpenAI's API: the door answers 400 itself.
            let mix = try JSONDecoder().decode(
                Mix.self,
                from: Data(
                    #"""
                    {"name": "mismatch", "calls": [{"api": "chat_completions", "model": "claude-haiku-4-5", "weight": 1}],
                     "stream_share": 0, "start_within": [{"value": "default", "weight": 1}],
                     "prompt_words": [4, 4], "max_output_tokens": [8, 8]}
                    """#.utf8
                )
            )
            let (results, elapsed) = await LoadDriver(
                target: target,
                workload: Workload(mix: mix, seed: 1, runID: "door-refused"),
                plan: LoadPlan(pacing: .concurrency(1), stop: .requests(3))
            ).run()
            await target.close()
            let summary = results.summary(elapsed: elapsed)
            #expect(summary.errorsByCode == ["http_400": 3], "\(summary.errorsByCode)")
        }
    }
}
