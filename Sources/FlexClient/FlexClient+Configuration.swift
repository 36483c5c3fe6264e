public import FlexCodec

extension FlexClient {
    /// How a ``FlexClient`` connects and calls. Every field has a documented default;
    /// ``defaults`` is the configuration with all of them.
    ///
    /// ```swift
    /// var configuration = FlexClient.Configuration.defaults
    /// configuration.apiKey = Secret(ProcessInfo.processInfo.environment["FLEXD_API_KEY"] ?? "")
    /// configuration.defaultTimeout = .seconds(120)
    /// configuration.keepalive = .init(interval: .seconds(30), timeout: .seconds(10))
    /// ```
    public struct Configuration: Sendable, Hashable {
        /// The flexd API key sent in every call's HEADERS (``CallOptions/apiKey`` overrides it per
        /// call). Default: none, for a flexd that runs without a keys file.
        public var apiKey: Secret

        /// The deadline of calls that do not set ``CallOptions/timeout``. Default: nil (no
        /// deadline beyond the server's own maximum).
        public var defaultTimeout: Duration?

        /// Offer LZ4 compression in the HELLO. Default: true. Request MESSAGEs of at least
        /// ``compressionThreshold`` bytes are then compressed when it helps, and the server may
        /// compress its answers.
        public var compression: Bool

        /// Smallest request payload worth compressing. Default: 1 KiB (the protocol's advice).
        public var compressionThreshold: Int

        /// The largest MESSAGE (and decompressed message) the client accepts, announced in its
        /// HELLO. Default: 4 MiB, the protocol default; bounds 16 KiB ... 64 MiB.
        public var maxMessageSize: Int

        /// Each call's flow-control window: how many MESSAGE bytes the server may send on a stream
        /// before the caller consumes them. The client buffers at most this plus one message per
        /// call, and returns credit (WINDOW_UPDATE) as the caller reads. Default: 1 MiB; bounds
        /// 1 ... 2^31-1.
        public var initialWindowSize: Int

        /// How long a TCP connect may take. Default: 10 s.
        public var connectTimeout: Duration

        /// How long the server may take to answer the HELLO. Default: 10 s.
        public var handshakeTimeout: Duration

        /// Keepalive pings, off by default (nil).
        public var keepalive: Keepalive?

        /// Connections the client opens to each endpoint address as soon as it is used (more
        /// connections spread calls over more of the server's threads). Default: 1; at most
        /// ``maxConnectionsPerEndpoint``.
        public var minConnectionsPerEndpoint: Int

        /// Connections the client opens to one endpoint address. The client opens another one
        /// when every connection it has there is at the server's `max_concurrent_streams` (100 for
        /// flexd by default), so calls in flight are not capped by one connection. Default: 32
        /// (3,200 calls in flight per flexd at its default limit); bounds 1 ... 1,024.
        public var maxConnectionsPerEndpoint: Int

        /// Calls that may wait in the client when every connection it may open is at the stream
        /// limit; beyond it a call fails at once with RESOURCE_EXHAUSTED (`too_many_pending_calls`,
        /// safe to retry). The client's `flexclient_calls_queued` gauge and ``FlexClient/statistics()``
        /// show the queue. Default: 10,000.
        public var maxQueuedCalls: Int

        /// How many times a call that the server did not process is sent again before it fails:
        /// one above a GOAWAY's `last_stream_id` (then it fails with UNAVAILABLE), or one refused
        /// with `too_many_streams` or `server_busy` (then it fails with RESOURCE_EXHAUSTED). It
        /// goes to another endpoint when there is one, with the same request id. Default: 1.
        /// Processed calls are never retried.
        public var maxTransparentRetries: Int

        /// The wait before connecting again to an endpoint whose last connection attempt failed
        /// (refused, closed or timed out before the handshake): calls go to the other endpoints
        /// meanwhile, and fail at once with UNAVAILABLE when no endpoint is reachable.
        public var reconnectBackoff: Backoff

        /// How long a host name's resolution is used before the client resolves it again (when it
        /// next needs a connection). A name whose every address is failing is resolved again at
        /// once. Default: 30 s.
        public var resolutionInterval: Duration

        /// Names the client in its metrics (the `client` dimension of `flexclient_*`). Default:
        /// `flexclient`.
        public var metricsLabel: String

        /// The `agent` string of the HELLO, for the server's logs. Default: `flexclient-swift/0.1`.
        public var agent: String

        /// Exponential backoff with jitter: after the n-th consecutive failure of an endpoint, wait
        /// `min(maximum, initial × multiplier^(n-1))`, multiplied by a random factor in
        /// `1 ± jitter`. A successful handshake resets the count.
        public struct Backoff: Sendable, Hashable {
            /// Default: 100 ms.
            public var initial: Duration
            /// Default: 10 s.
            public var maximum: Duration
            /// Default: 2.
            public var multiplier: Double
            /// A fraction in 0 ... 1. Default: 0.2.
            public var jitter: Double

            public init(
                initial: Duration = .milliseconds(100),
                maximum: Duration = .seconds(10),
                multiplier: Double = 2,
                jitter: Double = 0.2
            ) {
                self.initial = initial
                self.maximum = maximum
                self.multiplier = multiplier
                self.jitter = jitter
            }

            /// The wait after `failures` consecutive failures (at least 1); `random` is in -1 ... 1.
            func delay(afterFailures failures: Int, random: Double) -> Duration {
                var base = self.initial.seconds
                for _ in 0..<max(0, failures - 1) where base < self.maximum.seconds {
                    base *= self.multiplier
                }
                base = min(base, self.maximum.seconds)
                let jittered = base * (1 + self.jitter * min(1, max(-1, random)))
                return .nanoseconds(Int64(max(0, jittered) * 1e9))
            }
        }

        /// Keepalive: a PING every `interval`; a connection whose ping is not answered within
        /// `timeout` is closed (GOAWAY `keepalive_timeout`) and its calls fail with UNAVAILABLE.
        public struct Keepalive: Sendable, Hashable {
            public var interval: Duration
            public var timeout: Duration
            /// Ping also while no call is open. Default: false (a server may close connections
            /// that ping too often, GOAWAY `too_many_pings`).
            public var permitWithoutCalls: Bool

            public init(interval: Duration, timeout: Duration, permitWithoutCalls: Bool = false) {
                self.interval = interval
                self.timeout = timeout
                self.permitWithoutCalls = permitWithoutCalls
            }
        }

        public init(
            apiKey: Secret = "",
            defaultTimeout: Duration? = nil,
            compression: Bool = true,
            compressionThreshold: Int = ProtocolDefaults.compressionThreshold,
            maxMessageSize: Int = ProtocolDefaults.maxMessageSize,
            initialWindowSize: Int = ProtocolDefaults.initialWindowSize,
            connectTimeout: Duration = .seconds(10),
            handshakeTimeout: Duration = .seconds(10),
            keepalive: Keepalive? = nil,
            minConnectionsPerEndpoint: Int = 1,
            maxConnectionsPerEndpoint: Int = 32,
            maxQueuedCalls: Int = 10_000,
            maxTransparentRetries: Int = 1,
            reconnectBackoff: Backoff = Backoff(),
            resolutionInterval: Duration = .seconds(30),
            metricsLabel: String = "flexclient",
            agent: String = "flexclient-swift/0.1"
        ) {
            self.apiKey = apiKey
            self.defaultTimeout = defaultTimeout
            self.compression = compression
            self.compressionThreshold = compressionThreshold
            self.maxMessageSize = maxMessageSize
            self.initialWindowSize = initialWindowSize
            self.connectTimeout = connectTimeout
            self.handshakeTimeout = handshakeTimeout
            self.keepalive = keepalive
            self.minConnectionsPerEndpoint = minConnectionsPerEndpoint
            self.maxConnectionsPerEndpoint = maxConnectionsPerEndpoint
            self.maxQueuedCalls = maxQueuedCalls
            self.maxTransparentRetries = maxTransparentRetries
            self.reconnectBackoff = reconnectBackoff
            self.resolutionInterval = resolutionInterval
            self.metricsLabel = metricsLabel
            self.agent = agent
        }

        /// Every default.
        public static var defaults: Self { Self() }

        /// The defaults, changed by `configure`.
        public static func defaults(_ configure: (inout Self) -> Void) -> Self {
            var configuration = Self()
            configure(&configuration)
            return configuration
        }

        /// The HELLO this configuration sends.
        var hello: Hello {
            Hello(
                versions: ProtocolDefaults.supportedVersions,
                compression: self.compression ? [.lz4] : [],
                limits: Limits(
                    maxMessageSize: UInt32(self.maxMessageSize),
                    maxConcurrentStreams: 0,
                    initialWindowSize: UInt32(self.initialWindowSize)
                ),
                agent: self.agent
            )
        }

        /// Checks every bound; the client refuses to start with a configuration that breaks one.
        func validate() throws(FlexClientError) {
            func invalid(_ message: String) -> FlexClientError {
                .local(.invalidArgument, FlexClientError.LocalReason.invalidConfiguration, message)
            }
            let messageBounds = ProtocolDefaults.minimumMaxMessageSize...ProtocolDefaults.maximumMaxMessageSize
            guard messageBounds.contains(self.maxMessageSize) else {
                throw invalid("maxMessageSize \(self.maxMessageSize) is outside \(messageBounds)")
            }
            guard (1...Int(ProtocolDefaults.maxWindowSize)).contains(self.initialWindowSize) else {
                throw invalid("initialWindowSize \(self.initialWindowSize) is outside 1...2^31-1")
            }
            guard self.compressionThreshold >= 0 else { throw invalid("compressionThreshold must not be negative") }
            guard self.maxQueuedCalls >= 1 else { throw invalid("maxQueuedCalls must be at least 1") }
            guard self.maxTransparentRetries >= 0 else { throw invalid("maxTransparentRetries must not be negative") }
            guard (1...1024).contains(self.maxConnectionsPerEndpoint) else {
                throw invalid("maxConnectionsPerEndpoint \(self.maxConnectionsPerEndpoint) is outside 1...1024")
            }
            guard (1...self.maxConnectionsPerEndpoint).contains(self.minConnectionsPerEndpoint) else {
                throw invalid(
                    "minConnectionsPerEndpoint \(self.minConnectionsPerEndpoint) is outside 1...maxConnectionsPerEndpoint"
                )
            }
            let backoff = self.reconnectBackoff
            guard backoff.initial >= .zero, backoff.maximum >= backoff.initial, backoff.multiplier >= 1,
                (0...1).contains(backoff.jitter)
            else {
                throw invalid(
                    "reconnectBackoff needs 0 <= initial <= maximum, multiplier >= 1 and jitter in 0...1"
                )
            }
            guard self.resolutionInterval > .zero else { throw invalid("resolutionInterval must be positive") }
            guard self.connectTimeout > .zero, self.handshakeTimeout > .zero else {
                throw invalid("connectTimeout and handshakeTimeout must be positive")
            }
            if let timeout = self.defaultTimeout, timeout <= .zero { throw invalid("defaultTimeout must be positive") }
            if let keepalive = self.keepalive, keepalive.interval <= .zero || keepalive.timeout <= .zero {
                throw invalid("keepalive interval and timeout must be positive")
            }
            guard !self.agent.utf8.contains(0) else { throw invalid("agent must not contain U+0000") }
        }
    }
}
