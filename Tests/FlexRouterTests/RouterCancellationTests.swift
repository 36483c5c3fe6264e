import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import FlexTestSupport
import Logging
import NIOCore
import Synchronization
import Testing

@testable import FlexRouter

/// Cancelling the calling task stops the upstream transfer: flexsim sees the connection close, and
/// bills only what it had produced (nothing before the start).
@Suite("Router: cancellation", .serialized)
struct RouterCancellationTests {
    typealias R = RouterRaceTests

    @Test func cancellingWhileFlexIsQueuedCostsNothing() async throws {
        var queued = Profile.instant
        queued.flex.queueWaitSeconds = .constant(60)
        try await R.withRouter(profile: queued) { router, sim in
            let id = "cancel-queued"
            let call = Task {
                try await router.complete(
                    R.request(.chatCompletions, startWithin: "00h-05m-00s", id: id),
                    logger: Logger(label: "test")
                )
            }
            // Wait until flexsim has the request (it is queued: 60 s), then cancel.
            try await Self.waitForActiveRequests(sim, 1)
            call.cancel()
            let result = await call.result
            guard case .failure(let failure as CallFailure) = result else {
                Issue.record("expected a CallFailure, got \(result)")
                return
            }
            #expect(failure.status.code == .cancelled)
            #expect(failure.savings == nil)
            let rows = try await R.ledger(sim, id, count: 1)
            #expect(rows.first?["outcome"]?.string == "cancelled_before_start")
            #expect(rows.first?["billed"]?.bool == false)
        }
    }

    @Test func cancellingMidStreamBillsWhatWasProducedAndReturnsTheRecord() async throws {
        var slow = Profile.instant
        slow.tiers["standard"] = .init(ttftSeconds: .zero, tokensPerSecond: 20)
        try await R.withRouter(profile: slow) { router, sim in
            let id = "cancel-mid-stream"
            let seen = AsyncStream<Void>.makeStream()
            let call = Task {
                try await router.stream(
                    R.request(.chatCompletions, startWithin: "default", id: id),
                    logger: Logger(label: "test")
                ) { event in
                    if case .native = event { seen.continuation.yield() }
                }
            }
            var count = 0
            for await _ in seen.stream {
                count += 1
                if count == 3 { break }
            }
            call.cancel()
            let result = await call.result
            guard case .failure(let failure as CallFailure) = result else {
                Issue.record("expected a CallFailure, got \(result)")
                return
            }
            #expect(failure.status.code == .cancelled)
            #expect(failure.savings?.tierServed == .standard)
            let rows = try await R.ledger(sim, id, count: 1)
            #expect(rows.first?["outcome"]?.string == "cancelled_after_start")
            #expect(rows.first?["billed"]?.bool == true)
        }
    }

    /// Waits until flexsim reports `count` provider requests in flight.
    /// A call waiting for flex keeps no copy of the caller's request body (it can be as large as the
    /// prompt): the router parses it once and drops it. The test holds the body's only other
    /// reference, so the buffer is uniquely owned while the call waits.
    @Test func aWaitingCallKeepsNoCopyOfTheRequestBody() async throws {
        var queued = Profile.instant
        queued.flex.queueWaitSeconds = .constant(60)
        try await R.withRouter(profile: queued) { router, sim in
            // Handed over, not captured: a closure's captures live as long as its task.
            let handOver = Mutex<InferenceRequest?>(
                R.request(.chatCompletions, startWithin: "00h-05m-00s", id: "body-dropped")
            )
            guard
                var body = handOver.withLock({ request -> ByteBuffer? in
                    guard case .nativeJSON(let body)? = request?.body else { return nil }
                    return body
                })
            else {
                Issue.record("a native request")
                return
            }
            let call = Task {
                guard let request = handOver.withLock({ $0.take() }) else { return }
                _ = try await router.complete(consume request, logger: Logger(label: "test"))
            }
            try await Self.waitForActiveRequests(sim, 1)
            #expect(
                body.modifyIfUniquelyOwned { _ in true } == true,
                "something in the waiting call still holds the request body"
            )
            call.cancel()
            _ = await call.result
        }
    }

    static func waitForActiveRequests(_ sim: FlexsimFixture, _ count: Int) async throws {
        for _ in 0..<400 {
            if try sim.inFlight() >= count { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("flexsim never had \(count) requests in flight")
    }
}
