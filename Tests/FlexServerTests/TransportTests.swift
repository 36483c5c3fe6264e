import FlexCodec
import FlexServer
import FlexTestSupport
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The TCP transport on its own: real sockets, the wire protocol, and an in-memory service behind
/// the seam instead of the router.
@Suite("FlexServer: the transport over an in-memory service", .serialized)
struct TransportTests {
    @Test func handshakeAnswersWithOneVersionLZ4AndTheServersLimits() async throws {
        try await TransportFixture.with(MemoryService()) { fixture in
            let (_, hello) = try await WireClient.connected(port: fixture.port)
            #expect(hello.versions == [1])
            #expect(hello.compression == [.lz4])
            #expect(hello.limits.maxConcurrentStreams == UInt32(ProtocolDefaults.maxConcurrentStreams))
            #expect(hello.agent == "flexd")
        }
    }

    @Test func aUnaryCallIsHeadersTheAnswerAndTrailersWithTheServicesRecord() async throws {
        let service = MemoryService()
        try await TransportFixture.with(service) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("unary-1", body: #"{"hello":"memory"}"#))
            let frames = try await client.readCall(1)
            #expect(frames.count == 3)
            guard case .responseHeaders = frames.first else {
                Issue.record("HEADERS first, got \(frames)")
                return
            }
            let response = try #require(try frames.messages(InferenceResponse.self).first)
            #expect(response.nativeJSON.map { String(buffer: $0) } == #"{"hello":"memory"}"#)
            let trailers = try #require(frames.trailers)
            #expect(trailers.status == .ok)
            #expect(trailers.savings == MemoryService.record(TransportFixture.request("unary-1")))
        }
        #expect(service.observed.requests.map(\.requestID) == ["unary-1"])
        #expect(service.observed.requests.first?.providerKey == "sk-memory")
        #expect(service.observed.tenants == [Tenant.anonymous.id])
    }

    @Test func aStreamingCallSendsTheServicesEventsInOrderThenTrailers() async throws {
        try await TransportFixture.with(MemoryService(streaming: MemoryService.events(5))) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("stream-1"), method: RequestHeaders.Method.stream)
            let frames = try await client.readCall(1)
            let events = try frames.messages(StreamEvent.self)
            #expect(events.first == .route(RouteDecision(tier: .flex)))
            let names = events.compactMap { event -> String? in
                if case .native(let native) = event { native.event } else { nil }
            }
            #expect(names == (0..<5).map { "chunk-\($0)" })
            #expect(frames.trailers?.status.code == .ok)
            #expect(frames.trailers?.savings?.tierServed == .flex)
        }
    }

    @Test func manyCallsShareOneConnection() async throws {
        try await TransportFixture.with(MemoryService()) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            let ids = (0..<60).map { StreamID(UInt32(2 * $0 + 1)) }
            for id in ids { try client.call(id, TransportFixture.request("many-\(id.rawValue)")) }
            var ended: [UInt32: Status] = [:]
            while ended.count < ids.count, let frame = try await client.readFrame() {
                if case .trailers(let id, let trailers) = frame { ended[id.rawValue] = trailers.status }
            }
            #expect(ended.count == 60 && ended.values.allSatisfy { $0 == .ok })
        }
    }

    @Test func theServicesFailureIsTheCallsTrailersWithItsRecord() async throws {
        let failing = MemoryService(unary: { request, _ throws(CallFailure) in
            throw CallFailure(
                Status(.upstreamStreamTruncated, "cut off after it started"),
                savings: MemoryService.record(request, saved: 3)
            )
        })
        try await TransportFixture.with(failing) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("fails"))
            let frames = try await client.readCall(1)
            #expect(frames.count == 1, "no HEADERS or MESSAGE for a failed call")
            let trailers = try #require(frames.trailers)
            #expect(trailers.status.code == .dataLoss)
            #expect(trailers.status.errorCode == "upstream_stream_truncated")
            #expect(trailers.savings?.savedPicoUSD == 3, "what was billed comes back with the error")
        }
    }

    @Test func cancelStopsTheServicesWorkAndKeepsItsRecord() async throws {
        let box = Mutex<MemoryService?>(nil)
        let service = MemoryService(unary: MemoryService.waitForCancellation { box.withLock { $0 } })
        box.withLock { $0 = service }
        try await TransportFixture.with(service) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("cancel-me"))
            try await Task.sleep(for: .milliseconds(50))
            try client.send(.cancel(1, Cancel(code: .cancelled, reason: "user left")))
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .cancelled)
            #expect(trailers.status.errorCode == "cancelled")
            #expect(trailers.savings?.savedPicoUSD == 7)
        }
        #expect(service.observed.cancelled == ["cancel-me"])
    }

    @Test func aCallPastItsDeadlineIsStoppedWithDeadlineExceeded() async throws {
        let box = Mutex<MemoryService?>(nil)
        let service = MemoryService(unary: MemoryService.waitForCancellation { box.withLock { $0 } })
        box.withLock { $0 = service }
        try await TransportFixture.with(service) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("deadline"), timeout: .milliseconds(300))
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .deadlineExceeded)
            #expect(trailers.status.errorCode == "deadline_exceeded")
        }
        #expect(service.observed.cancelled == ["deadline"])
    }

    @Test func drainLetsCallsInFlightFinishThenCloses() async throws {
        let slow = MemoryService(unary: { request, context throws(CallFailure) in
            try? await Task.sleep(for: .milliseconds(300))
            return try await MemoryService.echo(request, context)
        })
        try await TransportFixture.with(slow) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("drain-1"))
            try client.call(3, TransportFixture.request("drain-2"))
            // Both calls are running (on a loaded machine a fixed pause may not be enough).
            while slow.observed.requests.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
            fixture.server.beginGracefulShutdown()
            #expect(!fixture.server.isReady)
            var statuses: [UInt32: StatusCode] = [:]
            var goAway: GoAway?
            for frame in try await client.readUntilClosed() {
                if case .goAway(let frame) = frame { goAway = frame }
                if case .trailers(let id, let trailers) = frame { statuses[id.rawValue] = trailers.status.code }
            }
            #expect(goAway?.code == .ok && goAway?.errorCode == "server_shutting_down")
            #expect(goAway?.lastStreamID == 3)
            #expect(statuses == [1: .ok, 3: .ok], "no call in flight fails on a drain")
        }
    }

    /// A client that connects as the drain closes the listener gets its call answered or its
    /// connection closed: never left waiting (``AcceptedConnections``). A race: tried many times,
    /// each in a fresh server, with the drain begun right after the call is written.
    @Test func aClientConnectingAsTheDrainBeginsIsNeverLeftWaiting() async throws {
        for attempt in 0..<200 {
            try await TransportFixture.with(MemoryService()) { fixture in
                let client = try WireClient(port: fixture.port)
                var bytes = ByteBuffer(bytes: ConnectionPreface.bytes)
                try client.encoder.encode(.hello(Hello(versions: [1])), into: &bytes)
                try client.write(bytes)
                try client.call(1, TransportFixture.request("drain-race-\(attempt)"))
                fixture.server.beginGracefulShutdown()
                do {
                    let frames = try await client.readUntilClosed(timeout: .seconds(10))
                    if case .hello? = frames.first {
                        guard let goAway = frames.goAway else {
                            Issue.record("try \(attempt): no GOAWAY in \(frames)")
                            return
                        }
                        if goAway.lastStreamID >= 1 {
                            // Received before the drain: served, or refused as a drain refuses calls.
                            let code = frames.trailers?.status.code
                            #expect(code == .ok || code == .unavailable, "try \(attempt): \(frames)")
                        } else {
                            // The drain began before its HEADERS were read: not processed (PROTOCOL.md
                            // 11), so no TRAILERS; the client may send it again elsewhere.
                            #expect(frames.trailers == nil, "try \(attempt): \(frames)")
                        }
                    } else if let first = frames.first {
                        // Refused before its handshake ended: GOAWAY alone (PROTOCOL.md 11).
                        guard case .goAway = first, frames.count == 1 else {
                            Issue.record("try \(attempt): \(frames)")
                            return
                        }
                    }
                } catch {
                    Issue.record("try \(attempt): \(error)")
                }
            }
        }
    }

    @Test func callsStillRunningWhenTheDrainsGraceEndsAreStopped() async throws {
        let box = Mutex<MemoryService?>(nil)
        let service = MemoryService(unary: MemoryService.waitForCancellation { box.withLock { $0 } })
        box.withLock { $0 = service }
        try await TransportFixture.with(service, configure: { $0.drainGracePeriod = .milliseconds(200) }) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("never-ends"))
            // The call runs (on a loaded machine a fixed pause may not be enough).
            while service.observed.requests.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            fixture.server.beginGracefulShutdown()
            let frames = try await client.readUntilClosed()
            #expect(frames.trailers?.status.code == .unavailable)
            #expect(frames.trailers?.status.errorCode == "server_shutting_down")
            #expect(frames.trailers?.savings?.savedPicoUSD == 7)
        }
    }

    @Test func theServersWindowBoundsWhatItSendsUntilTheClientGivesCredit() async throws {
        let service = MemoryService(streaming: MemoryService.events(40, bytes: 1000))
        try await TransportFixture.with(service) { fixture in
            // A client window of 4 KiB: the server may send while it is positive.
            let (client, _) = try await WireClient.connected(
                port: fixture.port,
                hello: Hello(versions: [1], limits: Limits(initialWindowSize: 4096))
            )
            try client.call(1, TransportFixture.request("window"), method: RequestHeaders.Method.stream)
            var received = 0
            var messages = 0
            // Read what arrives without giving credit: it stops at the window.
            while let frame = try? await client.readFrame(timeout: .milliseconds(500)) {
                if case .message(_, let payload, _) = frame {
                    received += payload.readableBytes
                    messages += 1
                }
            }
            #expect(messages < 41)
            #expect(received <= 4096 + 1100, "at most the window plus one message")
            // Credit lets the rest through.
            try client.send(.windowUpdate(1, increment: 1 << 20))
            let rest = try await client.readCall(1)
            #expect(rest.trailers?.status.code == .ok)
            let later = try rest.messages(StreamEvent.self).count
            #expect(
                messages + later == 41,
                "the route and all 40 chunks arrive: \(messages) before the credit, \(later) after"
            )
        }
    }

    @Test func tooManyConcurrentStreamsAreRefusedAndTheOthersCarryOn() async throws {
        let slow = MemoryService(unary: { request, context throws(CallFailure) in
            try? await Task.sleep(for: .milliseconds(300))
            return try await MemoryService.echo(request, context)
        })
        try await TransportFixture.with(slow, configure: { $0.connection.limits.maxConcurrentStreams = 2 }) { fixture in
            let (client, hello) = try await WireClient.connected(port: fixture.port)
            #expect(hello.limits.maxConcurrentStreams == 2)
            for id: UInt32 in [1, 3, 5] { try client.call(StreamID(id), TransportFixture.request("limit-\(id)")) }
            var statuses: [UInt32: Status] = [:]
            while statuses.count < 3, let frame = try await client.readFrame() {
                if case .trailers(let id, let trailers) = frame { statuses[id.rawValue] = trailers.status }
            }
            #expect(statuses[5]?.errorCode == "too_many_streams")
            #expect(statuses[5]?.code == .resourceExhausted)
            #expect(statuses[1]?.code == .ok && statuses[3]?.code == .ok)
        }
    }

    @Test func callsOverTheServersLimitAreRefused() async throws {
        let started = Atomic<Bool>(false)
        let release = Atomic<Bool>(false)
        // The first call holds the server's only slot until the second has been refused (no
        // timing: a loaded machine once let the first finish before the second arrived).
        let holding = MemoryService(unary: { request, context throws(CallFailure) in
            started.store(true, ordering: .relaxed)
            while !release.load(ordering: .relaxed), !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(2))
            }
            return try await MemoryService.echo(request, context)
        })
        try await TransportFixture.with(holding, configure: { $0.maxCallsInFlight = 1 }) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("busy-1"))
            while !started.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(2)) }
            try client.call(3, TransportFixture.request("busy-2"))
            #expect(try await client.readCall(3).trailers?.status.errorCode == "server_busy")
            release.store(true, ordering: .relaxed)
            #expect(try await client.readCall(1).trailers?.status.code == .ok)
        }
    }

    /// Memory kept by malloc after connection churn is released every `releaseMemoryEvery` closed
    /// connections, whatever closed them (a bad preface, a finished client, a half-close).
    @Test func memoryIsReleasedAfterEveryBatchOfClosedConnections() async throws {
        let releases = Atomic<Int>(0)
        try await TransportFixture.with(
            MemoryService(),
            configure: {
                $0.releaseMemoryEvery = 10
                $0.releaseMemory = { releases.add(1, ordering: .relaxed) }
            }
        ) { fixture in
            for index in 0..<25 {
                let client = try WireClient(port: fixture.port)
                try client.write(ByteBuffer(string: index.isMultiple(of: 2) ? "GET / HTTP/1.1\r\n\r\n" : "FLEXD/1\n"))
                if !index.isMultiple(of: 2) { _ = shutdown(client.fd, Int32(SHUT_WR)) }
                _ = try await client.readUntilClosed()
            }
            // The server counts a connection out as it closes; the last one may still be closing.
            while fixture.server.connectionCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(releases.load(ordering: .relaxed) == 2, "25 closed connections: two batches of ten")
        }
    }

    @Test func memoryIsReleasedOnceAfterEachBurstOfCalls() async throws {
        let releases = Atomic<Int>(0)
        let started = Atomic<Int>(0)
        let burst = Atomic<Int>(0)
        // Each call waits until the whole burst is in flight, so the burst is the peak.
        let gathering = MemoryService(unary: { request, context throws(CallFailure) in
            started.add(1, ordering: .relaxed)
            while started.load(ordering: .relaxed) < burst.load(ordering: .relaxed), !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(2))
            }
            return try await MemoryService.echo(request, context)
        })
        try await TransportFixture.with(
            gathering,
            configure: {
                $0.releaseMemoryAfterCallBurst = 8
                $0.releaseMemory = { releases.add(1, ordering: .relaxed) }
            }
        ) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            var next: UInt32 = 1
            /// Sends `count` calls at once and reads every answer.
            func run(_ count: Int) async throws {
                started.store(0, ordering: .relaxed)
                burst.store(count, ordering: .relaxed)
                for _ in 0..<count {
                    try client.call(StreamID(next), TransportFixture.request("burst-\(next)"))
                    next += 2
                }
                var answered = 0
                while answered < count, let frame = try await client.readFrame() {
                    if case .trailers(_, let trailers) = frame {
                        #expect(trailers.status.code == .ok)
                        answered += 1
                    }
                }
                // A call gives its slot back just after its TRAILERS.
                while fixture.server.callsInFlight > 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
            try await run(12)
            #expect(releases.load(ordering: .relaxed) == 1, "a burst of 12 calls, over the threshold of 8")
            try await run(4)
            #expect(releases.load(ordering: .relaxed) == 1, "4 calls at once are no burst")
            try await run(10)
            #expect(releases.load(ordering: .relaxed) == 2, "the next burst releases again")
        }
    }

    @Test func tooManyConnectionsAreRefusedWithGoAway() async throws {
        try await TransportFixture.with(MemoryService(), configure: { $0.maxConnections = 1 }) { fixture in
            let (first, _) = try await WireClient.connected(port: fixture.port)
            let second = try WireClient(port: fixture.port)
            let frames = try await second.readUntilClosed()
            #expect(frames.goAway?.errorCode == "too_many_connections")
            #expect(frames.goAway?.code == .resourceExhausted)
            try first.call(1, TransportFixture.request("only-connection"))
            #expect(try await first.readCall(1).trailers?.status.code == .ok)
        }
    }

    @Test func aSilentConnectionIsClosedAfterTheHandshakeTimeout() async throws {
        try await TransportFixture.with(MemoryService(), configure: { $0.handshakeTimeout = .milliseconds(300) }) {
            fixture in
            let silent = try WireClient(port: fixture.port)
            try silent.write(ByteBuffer(bytes: ConnectionPreface.bytes))
            let frames = try await silent.readUntilClosed()
            #expect(frames.goAway?.errorCode == "handshake_timeout")
            #expect(frames.goAway?.code == .deadlineExceeded)
        }
    }

    @Test func anIdleConnectionIsClosedButOneWithACallIsNot() async throws {
        let slow = MemoryService(unary: { request, context throws(CallFailure) in
            try? await Task.sleep(for: .milliseconds(600))
            return try await MemoryService.echo(request, context)
        })
        try await TransportFixture.with(slow, configure: { $0.idleTimeout = .milliseconds(300) }) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            // A call longer than the idle timeout keeps the connection open...
            try client.call(1, TransportFixture.request("longer-than-idle"))
            let frames = try await client.readUntilClosed()
            #expect(frames.trailers?.status.code == .ok)
            // ... which closes, gracefully, once it has been idle that long after it.
            #expect(frames.goAway?.errorCode == "idle_timeout")
            #expect(frames.goAway?.code == .ok)
        }
    }

    @Test func everyCallMustCarryAValidKeyAndItsTenantReachesTheService() async throws {
        let service = MemoryService()
        let tenants = TenantDirectory(tenants: [(Tenant(id: "acme"), apiKey: "flexd-key-acme")])
        try await TransportFixture.with(service, tenants: tenants) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("no-key"))
            #expect(try await client.readCall(1).trailers?.status.errorCode == "missing_api_key")
            try client.call(3, TransportFixture.request("bad-key"), apiKey: "wrong")
            let refused = try #require(try await client.readCall(3).trailers?.status)
            #expect(refused.errorCode == "invalid_api_key" && refused.code == .unauthenticated)
            try client.call(5, TransportFixture.request("good-key"), apiKey: "flexd-key-acme")
            #expect(try await client.readCall(5).trailers?.status.code == .ok)
        }
        #expect(service.observed.tenants == ["acme"], "refused calls never reach the service")
    }

    @Test func anAnswerLargerThanTheClientAcceptsIsResponseTooLarge() async throws {
        let big = MemoryService(unary: { request, _ in
            (
                InferenceResponse(
                    requestID: request.requestID,
                    nativeJSON: ByteBuffer(repeating: UInt8(ascii: "a"), count: 40_000)
                ),
                MemoryService.record(request)
            )
        })
        try await TransportFixture.with(big) { fixture in
            let (client, _) = try await WireClient.connected(
                port: fixture.port,
                hello: Hello(versions: [1], compression: [], limits: Limits(maxMessageSize: 16 * 1024))
            )
            try client.call(1, TransportFixture.request("too-big"))
            let frames = try await client.readCall(1)
            #expect(frames.trailers?.status.errorCode == "response_too_large")
            #expect(frames.trailers?.savings?.savedPicoUSD == 1_000, "the record of the billed call still comes back")
        }
    }

    @Test func eachRecordIsKeptBeforeItsCallsTrailersAndAFailingRecorderFailsNoCall() async throws {
        let recorder = MemoryRecorder(failing: ["recorder-fails"])
        try await TransportFixture.with(MemoryService(), recorder: recorder) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, TransportFixture.request("recorded"))
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(recorder.kept.map(\.savings.requestID) == ["recorded"], "kept before the trailers were sent")
            #expect(recorder.kept.first?.status == trailers.status)
            #expect(recorder.kept.first?.tenant == .anonymous)
            try client.call(3, TransportFixture.request("recorder-fails"))
            #expect(try await client.readCall(3).trailers?.status.code == .ok)
        }
    }

    @Test(arguments: [
        ("garbage preface", Array("GET / HTTP/1.1\r\n\r\n".utf8)),
        ("unknown frame type", ConnectionPreface.bytes + [0, 0, 0, 0, 0x09, 0, 0, 0, 0, 1]),
        ("stream frame before HELLO", ConnectionPreface.bytes + [0, 0, 0, 0, 0x01, 0, 0, 0, 0, 1]),
        ("invalid HELLO", ConnectionPreface.bytes + [0, 0, 0, 3, 0x00, 0, 0, 0, 0, 0, 0x0A, 0x05, 0x61]),
    ])
    func malformedInputClosesOnlyThatConnection(_ name: String, _ bytes: [UInt8]) async throws {
        try await TransportFixture.with(MemoryService()) { fixture in
            let bad = try WireClient(port: fixture.port)
            try bad.write(ByteBuffer(bytes: bytes))
            let frames = try await bad.readUntilClosed()
            #expect(bad.closedByPeer, "\(name)")
            if name != "garbage preface" { #expect(frames.goAway?.code != .ok, "\(name): \(frames)") }
            let (good, _) = try await WireClient.connected(port: fixture.port)
            try good.call(1, TransportFixture.request("good-after-\(name)"))
            #expect(try await good.readCall(1).trailers?.status.code == .ok)
        }
    }
}

/// A recorder that keeps records in memory, and fails for the request ids it is told to.
final class MemoryRecorder: SavingsRecorder {
    private let records = Mutex<[FinishedCall]>([])
    let failing: Set<String>

    init(failing: Set<String> = []) {
        self.failing = failing
    }

    var kept: [FinishedCall] { self.records.withLock { $0 } }

    struct Refused: Error {}

    func record(_ call: FinishedCall) async throws {
        if self.failing.contains(call.savings.requestID) { throw Refused() }
        self.records.withLock { $0.append(call) }
    }
}
