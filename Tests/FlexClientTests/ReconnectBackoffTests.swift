import Testing

@testable import FlexClient

/// The reconnect backoff's arithmetic: exponential, capped, jittered within its bounds.
@Suite struct ReconnectBackoffTests {
    let backoff = FlexClient.Configuration.Backoff(
        initial: .milliseconds(100),
        maximum: .seconds(10),
        multiplier: 2,
        jitter: 0.2
    )

    @Test func growsExponentiallyUpToTheMaximum() {
        let delays = (1...10).map { self.backoff.delay(afterFailures: $0, random: 0) }
        #expect(
            delays.prefix(7) == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                .milliseconds(1600), .milliseconds(3200), .milliseconds(6400),
            ]
        )
        #expect(delays.suffix(3).allSatisfy { $0 == .seconds(10) })
        #expect(self.backoff.delay(afterFailures: 10_000, random: 0) == .seconds(10))
    }

    @Test func jitterStaysWithinItsFraction() {
        #expect(self.backoff.delay(afterFailures: 1, random: -1) == .milliseconds(80))
        #expect(self.backoff.delay(afterFailures: 1, random: 1) == .milliseconds(120))
        #expect(self.backoff.delay(afterFailures: 100, random: 1) == .seconds(12))
        #expect(self.backoff.delay(afterFailures: 1, random: 5) == .milliseconds(120))
    }

    @Test func outOfBoundsSettingsAreRefused() {
        for configure in [
            { (c: inout FlexClient.Configuration) in c.reconnectBackoff.multiplier = 0.5 },
            { $0.reconnectBackoff.jitter = 2 },
            { $0.reconnectBackoff = .init(initial: .seconds(2), maximum: .seconds(1)) },
            { $0.maxConnectionsPerEndpoint = 0 },
            { $0.minConnectionsPerEndpoint = 40 },
            { $0.resolutionInterval = .zero },
        ] as [(inout FlexClient.Configuration) -> Void] {
            #expect(throws: FlexClientError.self) {
                try FlexClient(host: "127.0.0.1", port: 7400, configuration: .defaults(configure))
            }
        }
    }
}
