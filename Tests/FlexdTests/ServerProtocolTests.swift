import FlexCodec
import FlexJSON
import FlexServer
import FlexSim
import FlexTestSupport
import NIOCore
import Testing

@Suite("flexd: limits, cancellation, deadlines and drain with the router and flexsim", .serialized)
struct ServerProtocolTests {
    @Test func tooManyConcurrentStreamsAreRefusedAndTheOthersCarryOn() async throws {
        var queued = Profile.instant
        queued.flex.queueWaitSeconds = .constant(1)
        try await ServerFixture.with(profile: queued, configure: { $0.connection.limits.maxConcurrentStreams = 2 }) {
            fixture in
            let (client, hello) = try await WireClient.connected(port: fixture.port)
            #expect(hello.limits.maxConcurrentStreams == 2)
            for id: UInt32 in [1, 3, 5] { try client.call(StreamID(id), ServerFixture.request("limit-\(id)")) }
            var statuses: [UInt32: Status] = [:]
            while statuses.count < 3, let frame = try await client.readFrame() {
                if case .trailers(let id, let trailers) = frame { statuses[id.rawValue] = trailers.status }
            }
            #expect(statuses[5]?.errorCode == "too_many_streams")
            #expect(statuses[5]?.code == .resourceExhausted)
            #expect(statuses[1]?.code == .ok && statuses[3]?.code == .ok)
        }
    }

    @Test func aFrameOverTheLimitClosesTheConnectionWithGoAwayButNotTheServer() async throws {
        try await ServerFixture.with(configure: { $0.connection.limits.maxMessageSize = 16 * 1024 }) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            var header = ByteBuffer()
            header.writeMultipleIntegers(UInt32(1 << 20), FrameType.message.rawValue, UInt8(0), UInt32(1))
            try client.write(header)
            let frames = try await client.readUntilClosed()
            #expect(frames.goAway?.errorCode == "frame_too_large")
            #expect(frames.goAway?.code == .resourceExhausted)
            // Others still get served.
            let (other, _) = try await WireClient.connected(port: fixture.port)
            try other.call(1, ServerFixture.request("after-bad-peer"))
            #expect(try await other.readCall(1).trailers?.status.code == .ok)
        }
    }

    @Test(arguments: [
        ("garbage preface", Array("GET / HTTP/1.1\r\n\r\n".utf8)),
        ("unknown frame type", ConnectionPreface.bytes + [0, 0, 0, 0, 0x09, 0, 0, 0, 0, 1]),
        ("stream frame before HELLO", ConnectionPreface.bytes + [0, 0, 0, 0, 0x01, 0, 0, 0, 0, 1]),
        ("invalid HELLO", ConnectionPreface.bytes + [0, 0, 0, 3, 0x00, 0, 0, 0, 0, 0, 0x0A, 0x05, 0x61]),
    ])
    func malformedInputClosesOnlyThatConnection(_ name: String, _ bytes: [UInt8]) async throws {
        try await ServerFixture.with { fixture in
            let bad = try WireClient(port: fixture.port)
            try bad.write(ByteBuffer(bytes: bytes))
            let frames = try await bad.readUntilClosed()
            #expect(bad.closedByPeer, "\(name)")
            if name != "garbage preface" { #expect(frames.goAway?.code != .ok, "\(name): \(frames)") }
            let (good, _) = try await WireClient.connected(port: fixture.port)
            try good.call(1, ServerFixture.request("good-after-\(name)"))
            #expect(try await good.readCall(1).trailers?.status.code == .ok)
        }
    }

    @Test func cancelStopsTheCallAndItsUpstreamTransfer() async throws {
        var slow = Profile.instant
        slow.tiers["flex"] = .init(ttftSeconds: .zero, tokensPerSecond: 20)
        try await ServerFixture.with(profile: slow) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("cancel-me"), method: RequestHeaders.Method.stream)
            var natives = 0
            while natives < 3, let frame = try await client.readFrame() {
                if case .message = frame { natives += 1 }
            }
            try client.send(.cancel(1, Cancel(code: .cancelled, reason: "user left")))
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .cancelled)
            #expect(trailers.savings?.tierServed == .flex, "the record of what was billed comes back")
            let row = try #require(try await fixture.sim.ledgerRows("cancel-me", count: 1).first)
            #expect(row["outcome"]?.string == "cancelled_after_start")
        }
    }

    @Test func aCallPastItsDeadlineEndsWithDeadlineExceeded() async throws {
        var queued = Profile.instant
        queued.flex.queueWaitSeconds = .constant(30)
        try await ServerFixture.with(profile: queued) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(
                1,
                ServerFixture.request("deadline", startWithin: "00h-05m-00s"),
                timeout: .milliseconds(500)
            )
            let trailers = try #require(try await client.readCall(1).trailers)
            #expect(trailers.status.code == .deadlineExceeded)
            #expect(trailers.status.errorCode == "deadline_exceeded")
            let row = try #require(try await fixture.sim.ledgerRows("deadline", count: 1).first)
            #expect(row["billed"]?.bool == false)
        }
    }

    @Test func drainLetsCallsInFlightFinishThenCloses() async throws {
        var slow = Profile.instant
        slow.flex.queueWaitSeconds = .constant(2)
        try await ServerFixture.with(profile: slow) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("drain-1"))
            try client.call(3, ServerFixture.request("drain-2"), method: RequestHeaders.Method.stream)
            // Both calls running (their HEADERS read), however slow the machine, before the drain.
            for _ in 0..<1000 where fixture.server.callsInFlight < 2 {
                try await Task.sleep(for: .milliseconds(10))
            }
            try #require(fixture.server.callsInFlight == 2, "the calls never started")
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

    @Test func tooManyConnectionsAreRefusedWithGoAway() async throws {
        try await ServerFixture.with(configure: { $0.maxConnections = 1 }) { fixture in
            let (first, _) = try await WireClient.connected(port: fixture.port)
            let second = try WireClient(port: fixture.port)
            let frames = try await second.readUntilClosed()
            #expect(frames.goAway?.errorCode == "too_many_connections")
            try first.call(1, ServerFixture.request("only-connection"))
            #expect(try await first.readCall(1).trailers?.status.code == .ok)
        }
    }

    @Test func aSilentConnectionIsClosedAfterTheHandshakeTimeout() async throws {
        try await ServerFixture.with(configure: { $0.handshakeTimeout = .milliseconds(300) }) { fixture in
            let silent = try WireClient(port: fixture.port)
            try silent.write(ByteBuffer(bytes: ConnectionPreface.bytes))
            let frames = try await silent.readUntilClosed()
            #expect(frames.goAway?.errorCode == "handshake_timeout")
        }
    }

    @Test func anIdleConnectionIsClosed() async throws {
        try await ServerFixture.with(configure: { $0.idleTimeout = .milliseconds(300) }) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            let frames = try await client.readUntilClosed()
            #expect(frames.goAway?.errorCode == "idle_timeout")
        }
    }

    @Test func callsOverTheServersLimitAreRefused() async throws {
        var queued = Profile.instant
        queued.flex.queueWaitSeconds = .constant(1)
        try await ServerFixture.with(profile: queued, configure: { $0.maxCallsInFlight = 1 }) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("busy-1"))
            // Once the first call holds the only slot (its flex start is a second away).
            while fixture.server.callsInFlight < 1 { try await Task.sleep(for: .milliseconds(2)) }
            try client.call(3, ServerFixture.request("busy-2"))
            #expect(try await client.readCall(3).trailers?.status.errorCode == "server_busy")
            #expect(try await client.readCall(1).trailers?.status.code == .ok)
        }
    }
}
