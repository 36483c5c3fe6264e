import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import Logging
import NIOCore
import Testing

@testable import FlexRouter

/// Retries on the settled tier against flexsim (`fail_first`, `retry_after`): what is re-sent, what
/// is not, and that exactly one attempt is billed.
@Suite("Router: retries on the settled tier", .serialized)
struct RouterRetryTests {
    typealias R = RouterRaceTests

    static func profile(_ fault: String, tier: String? = nil) -> Profile {
        RouterFaultTests.profile(fault, tier: tier)
    }

    static func request(
        _ api: Api = .chatCompletions,
        startWithin: String = "default",
        id: String,
        retry: RetryOption?
    ) -> InferenceRequest {
        var request = R.request(api, startWithin: startWithin, id: id)
        request.retry = retry
        return request
    }

    @Test(arguments: [false, true])
    func a500ThenSuccessIsServedWithOneRetryAndBilledOnce(_ stream: Bool) async throws {
        try await R.withRouter(profile: Self.profile("status=500,fail_first=1")) { router, sim in
            let id = "retry-500-\(stream)"
            let outcome = try await R.call(
                router,
                Self.request(id: id, retry: RetryOption(count: 3)),
                stream: stream
            )
            #expect(outcome.record.retries == 1)
            #expect(outcome.record.tierServed == .standard && !outcome.record.tokensEstimated)
            let rows = try await R.ledger(sim, id, count: 2)
            #expect(rows.count == 2)
            #expect(rows.filter { $0["status"]?.int == 500 }.count == 1)
            R.expectMatchesLedger(outcome.record, rows)
        }
    }

    @Test func theServersDefaultAppliesToACallWithoutItsOwnOption() async throws {
        try await R.withRouter(
            profile: Self.profile("status=529,fail_first=2,retry_after=0"),
            defaultRetry: RetryOption(count: 2)
        ) { router, sim in
            let id = "retry-default-529"
            let outcome = try await R.call(router, Self.request(.messages, id: id, retry: nil), stream: false)
            #expect(outcome.record.retries == 2)
            R.expectMatchesLedger(outcome.record, try await R.ledger(sim, id, count: 3))

            // A call's own option wins over the default: 0 re-sends none.
            let own = "retry-own-zero"
            let error = try await #require(throws: CallFailure.self) {
                try await R.call(router, Self.request(.messages, id: own, retry: RetryOption(count: 0)), stream: false)
            }
            #expect(error.status.errorCode == "upstream_overloaded")
            #expect(error.status.details["retries"] == nil)
            #expect(try await R.ledger(sim, own, count: 1).count == 1)
        }
    }

    @Test func a429sRetryAfterIsHonoured() async throws {
        try await R.withRouter(profile: Self.profile("status=429,fail_first=1,retry_after=1")) { router, sim in
            let id = "retry-429"
            let outcome = try await R.call(
                router,
                Self.request(.responses, id: id, retry: RetryOption(count: 1, jitter: true)),
                stream: false
            )
            #expect(outcome.record.retries == 1)
            let rows = try await R.ledger(sim, id, count: 2)
            let arrivals = rows.compactMap { $0["received_at_ms"]?.int }.sorted()
            #expect(arrivals.count == 2)
            // Not sent again before the Retry-After instant (a bound the rule guarantees, not a speed).
            #expect(arrivals.count == 2 && arrivals[1] - arrivals[0] >= 1000, "\(arrivals)")
            R.expectMatchesLedger(outcome.record, rows)
        }
    }

    @Test func exhaustedRetriesEndWithTheLastErrorAndTheirCount() async throws {
        try await R.withRouter(profile: Self.profile("status=502")) { router, sim in
            let id = "retry-exhausted"
            let error = try await #require(throws: CallFailure.self) {
                try await R.call(
                    router,
                    Self.request(.generateContent, id: id, retry: RetryOption(count: 2, backoff: .linear)),
                    stream: false
                )
            }
            #expect(error.status.errorCode == "upstream_unavailable")
            #expect(error.status.upstream?.httpStatus == 502)
            #expect(error.status.details["retries"] == "2")
            #expect(error.savings == nil, "nothing was billed")
            let rows = try await R.ledger(sim, id, count: 3)
            #expect(rows.count == 3 && rows.allSatisfy { $0["billed"]?.bool == false })
        }
    }

    @Test func noRetryWaitsPastTheCallsDeadline() async throws {
        try await R.withRouter(profile: Self.profile("status=500")) { router, sim in
            let id = "retry-deadline"
            // The first backoff (0.5 s, no jitter) cannot end before the deadline.
            let error = try await #require(throws: CallFailure.self) {
                try await R.call(
                    router,
                    Self.request(id: id, retry: RetryOption(count: 3, jitter: false)),
                    stream: false,
                    deadline: .now + .milliseconds(300)
                )
            }
            #expect(error.status.errorCode == "upstream_unavailable")
            #expect(error.status.details["retries"] == nil)
            #expect(try await R.ledger(sim, id, count: 1).count == 1, "the call ended without a second attempt")
        }
    }

    @Test func aCallersErrorIsNeverRetried() async throws {
        try await R.withRouter(profile: Self.profile("status=400")) { router, sim in
            let id = "retry-400"
            let error = try await #require(throws: CallFailure.self) {
                try await R.call(router, Self.request(id: id, retry: RetryOption(count: 5)), stream: false)
            }
            #expect(error.status.errorCode == "upstream_invalid_request")
            #expect(try await R.ledger(sim, id, count: 1).count == 1)
        }
    }

    @Test func aFlexLegsFailureFallsBackAsBeforeAndIsNotRetried() async throws {
        try await R.withRouter(profile: Self.profile("status=500", tier: "flex")) { router, sim in
            let id = "retry-flex-leg"
            let outcome = try await R.call(
                router,
                Self.request(startWithin: "00h-00m-30s", id: id, retry: RetryOption(count: 3)),
                stream: true
            )
            #expect(outcome.record.fallbackReason == .flexUpstreamError)
            #expect(outcome.record.flexAttempts == 1 && outcome.record.retries == 0)
            let rows = try await R.ledger(sim, id, count: 2)
            #expect(rows.filter { $0["tier_asked"]?.string == "flex" }.count == 1)
            R.expectMatchesLedger(outcome.record, rows)
        }
    }

    @Test func aStartedStreamThatIsCutIsNotRetried() async throws {
        try await R.withRouter(profile: Self.profile("cut_mid_stream")) { router, sim in
            let id = "retry-cut"
            let error = try await #require(throws: CallFailure.self) {
                try await R.call(router, Self.request(id: id, retry: RetryOption(count: 3)), stream: true)
            }
            #expect(error.status.code == .dataLoss)
            #expect(error.savings?.retries == 0)
            #expect(try await R.ledger(sim, id, count: 1).count == 1)
        }
    }

    @Test func aCountOverFiveIsInvalidRetry() async throws {
        try await R.withRouter { router, _ in
            let error = try await #require(throws: CallFailure.self) {
                try await R.call(router, Self.request(id: "retry-6", retry: RetryOption(count: 6)), stream: false)
            }
            #expect(error.status.errorCode == "invalid_retry" && error.status.code == .invalidArgument)
        }
    }

    @Test func retryAfterReadsSecondsAndHTTPDates() {
        let now = Date(timeIntervalSince1970: 1_795_219_200)  // Sat, 21 Nov 2026 00:00:00 GMT
        #expect(UpstreamFailure.retryAfter("2", now: now) == .seconds(2))
        #expect(UpstreamFailure.retryAfter("Sat, 21 Nov 2026 00:00:03 GMT", now: now) == .seconds(3))
        #expect(UpstreamFailure.retryAfter("Fri, 20 Nov 2026 00:00:00 GMT", now: now) == .zero)
        #expect(UpstreamFailure.retryAfter("soon", now: now) == nil)
    }
}
