import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Logging
import NIOCore
import Testing

@testable import FlexRouter

/// The router against a misbehaving provider (flexsim's fault injection, by profile): faults before
/// the start make a flex call fall back; faults after the start fail the call with an error, never a
/// clean end, and the record of what was billed still comes back.
@Suite("Router: provider faults", .serialized)
struct RouterFaultTests {
    typealias R = RouterRaceTests

    static func profile(_ fault: String, tier: String? = nil) -> Profile {
        var profile = Profile.instant
        profile.faults = [.init(probability: 1, fault: fault, tier: tier)]
        return profile
    }

    // MARK: Before the start: flex falls back

    @Test(arguments: R.flexAPIs)
    func a5xxOnFlexFallsBackForUpstreamError(_ api: Api) async throws {
        try await R.withRouter(profile: Self.profile("status=500", tier: "flex")) { router, sim in
            let id = "flex-500-\(api.name)"
            let outcome = try await R.call(router, R.request(api, startWithin: "00h-00m-30s", id: id), stream: true)
            #expect(outcome.record.tierServed == .standard)
            #expect(outcome.record.fallbackReason == .flexUpstreamError)
            R.expectMatchesLedger(outcome.record, try await R.ledger(sim, id, count: 2))
        }
    }

    @Test(arguments: R.flexAPIs)
    func anOverloadEventBeforeOutputFallsBack(_ api: Api) async throws {
        try await R.withRouter(profile: Self.profile("stream_error", tier: "flex")) { router, sim in
            let id = "flex-stream-error-\(api.name)"
            let outcome = try await R.call(router, R.request(api, startWithin: "00h-00m-30s", id: id), stream: false)
            #expect(outcome.record.tierServed == .standard)
            #expect(outcome.record.fellBack)
            // Gemini's in-stream 503 on flex is its capacity refusal; the others are upstream errors.
            #expect(outcome.record.fallbackReason == (api.provider == .gemini ? .flexCapacity : .flexUpstreamError))
            let rows = try await R.ledger(sim, id, count: 2)
            #expect(rows.contains { $0["tier_asked"]?.string == "flex" && $0["billed"]?.bool == false })
            R.expectMatchesLedger(outcome.record, rows)
        }
    }

    @Test func aStallBeforeTheHeadersOnFlexIsAStartTimeout() async throws {
        try await R.withRouter(profile: Self.profile("stall_before_headers=20s", tier: "flex")) { router, sim in
            let id = "flex-stall"
            let outcome = try await R.call(
                router,
                R.request(.chatCompletions, startWithin: "00h-00m-01s", id: id),
                stream: true
            )
            #expect(outcome.record.fallbackReason == .flexStartTimeout)
            let rows = try await R.ledger(sim, id, count: 2)
            #expect(rows.first { $0["tier_asked"]?.string == "flex" }?["billed"]?.bool == false)
            R.expectMatchesLedger(outcome.record, rows)
        }
    }

    @Test func aFlexStreamThatStallsAfterItsStartEndsAtTheIdleTimeoutNotAtItsBudget() async throws {
        // Before the start a flex attempt's idle timeout covers its budget (a queued request may
        // send nothing for that long); once it has started, silence is a stalled stream. With a
        // five-minute budget and the budget-long idle timeout, the 30 s stall would pass and the
        // call end cleanly; with the idle timeout shortened at the start it ends as data loss.
        try await R.withRouter(profile: Self.profile("stall_mid_stream=30s", tier: "flex"), idleTimeout: .seconds(1)) {
            router,
            _ in
            let error = try await #require(throws: CallFailure.self) {
                try await R.call(
                    router,
                    R.request(.chatCompletions, startWithin: "00h-05m-00s", id: "flex-stall-mid"),
                    stream: true
                )
            }
            #expect(error.status.code == .dataLoss)
            #expect(error.status.errorCode == "upstream_stream_truncated")
            #expect(error.savings?.tierServed == .flex)
        }
    }

    // MARK: Single tiers: errors come back as errors

    @Test func standardFailuresAreReturnedWithTheProvidersError() async throws {
        for (api, fault, status, code) in [
            (Api.chatCompletions, "status=500", StatusCode.unavailable, "upstream_unavailable"),
            (.messages, "status=529", .unavailable, "upstream_overloaded"),
            (.generateContent, "status=503", .unavailable, "upstream_unavailable"),
        ] {
            try await R.withRouter(profile: Self.profile(fault)) { router, _ in
                let error = try await #require(throws: CallFailure.self) {
                    try await R.call(router, R.request(api, startWithin: "default", id: "std-\(fault)"), stream: false)
                }
                #expect(error.status.code == status, "\(api) \(fault)")
                #expect(error.status.errorCode == code, "\(api) \(fault)")
                #expect(error.status.upstream?.httpStatus == UInt32(fault.dropFirst("status=".count)))
                #expect(error.savings == nil, "nothing was billed")
            }
        }
    }

    @Test func aSilentProviderHitsTheResponseHeadTimeout() async throws {
        try await R.withRouter(profile: Self.profile("stall_before_headers=30s"), responseHeadTimeout: .seconds(1)) {
            router,
            _ in
            let error = try await #require(throws: CallFailure.self) {
                try await R.call(router, R.request(.responses, startWithin: "default", id: "silent"), stream: false)
            }
            #expect(error.status.errorCode == "upstream_timeout")
            #expect(error.status.code == .unavailable)
        }
    }

    // MARK: After the start: data loss, with the record

    @Test(arguments: R.allAPIs, [false, true])
    func aCutAfterTheStartIsDataLossAndStillReturnsTheRecord(_ api: Api, _ stream: Bool) async throws {
        // An unstreamed Anthropic call is unstreamed upstream too (no race): a cut stream cannot
        // happen to it; its truncated body is the next test.
        if api == .messages && !stream { return }
        try await R.withRouter(profile: Self.profile("cut_mid_stream")) { router, sim in
            let id = "cut-\(api.name)-\(stream)"
            do {
                _ = try await R.call(
                    router,
                    R.request(api, startWithin: api.provider == .anthropic ? "default" : "00h-00m-30s", id: id),
                    stream: stream
                )
                Issue.record("a cut stream ended cleanly")
            } catch let failure as CallFailure {
                #expect(failure.status.code == .dataLoss)
                #expect(failure.status.errorCode == "upstream_stream_truncated")
                let record = try #require(failure.savings)
                #expect(record.tierServed != nil)
                let rows = try await R.ledger(sim, id, count: 1)
                #expect(rows.first?["outcome"]?.string == "cut_mid_stream")
                #expect(rows.first?["billed"]?.bool == true)
            }
        }
    }

    @Test func aTruncatedUnstreamedBodyIsAnError() async throws {
        try await R.withRouter(profile: Self.profile("truncated_json")) { router, _ in
            let failure = try await #require(throws: CallFailure.self) {
                try await R.call(router, R.request(.messages, startWithin: "default", id: "truncated"), stream: false)
            }
            #expect(failure.status.errorCode == "upstream_malformed_response")
        }
    }

    @Test(arguments: R.allAPIs)
    func aMalformedEventAfterTheStartFailsTheCall(_ api: Api) async throws {
        try await R.withRouter(profile: Self.profile("malformed_sse")) { router, _ in
            let failure = try await #require(throws: CallFailure.self) {
                try await R.call(
                    router,
                    R.request(api, startWithin: "default", id: "malformed-\(api.name)"),
                    stream: true
                )
            }
            #expect(failure.status.errorCode == "upstream_malformed_event")
            #expect(failure.savings != nil)
        }
    }
}
