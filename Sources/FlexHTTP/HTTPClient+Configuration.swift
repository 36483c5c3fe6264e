extension HTTPClient {
    /// How an ``HTTPClient`` behaves. Every field has a documented default; start from ``defaults``.
    ///
    /// ```swift
    /// var configuration = HTTPClient.Configuration.defaults
    /// configuration.connectionPool.maximumConnectionsPerHost = 1024
    /// configuration.tls.caFile = "/etc/flexd/upstream-ca.pem"
    /// ```
    public struct Configuration: Sendable, Hashable {
        /// Timeouts for requests that do not set their own. Defaults to a 10 s connect timeout and no
        /// other timeout.
        public var timeouts: HTTPTimeouts

        /// Connection reuse and limits.
        public var connectionPool: ConnectionPool

        /// Certificate verification.
        public var tls: TLS

        /// Which proxy to use. Defaults to ``Proxy/environment``.
        public var proxy: Proxy

        /// Which HTTP versions to negotiate. Defaults to ``HTTPVersionPolicy/http2OverTLS``.
        public var httpVersion: HTTPVersionPolicy

        /// How much unread body to buffer per request before pausing the transfer.
        public var bodyBuffering: BodyBuffering

        /// The largest response head (status line and header lines, in bytes) to accept; larger heads
        /// fail with ``HTTPClientError/Code/responseHeadTooLarge``. Defaults to 64 KiB.
        public var maximumResponseHeadSize: Int

        /// TCP keep-alive probes on idle connections, after this much idle time; `nil` disables them.
        /// Defaults to 60 s, so that long waits behind NATs and load balancers keep their
        /// connections.
        public var tcpKeepAlive: Duration?

        /// libcurl's receive buffer per request (`CURLOPT_BUFFERSIZE`), in bytes, for requests over
        /// HTTP/1.1; clamped to libcurl's range (1 KiB – 10 MiB). Defaults to 4 KiB: a request holds
        /// the buffer from start to end, so thousands of requests waiting for a response head (flex
        /// queues) pay for it thousands of times, and LLM responses arrive in small events anyway.
        ///
        /// HTTP/2 requests do not take it: libcurl 7.88's HTTP/2 code spins on a receive buffer
        /// smaller than a frame, and loses the end of a stream now and then when a stream's data
        /// overflows its buffer. They get 64 KiB on libcurl before 8.1 (untouched until data
        /// arrives, so waiting streams barely pay for it), libcurl's default (16 KiB) from 8.1 on.
        public var receiveBufferSize: Int

        /// The defaults described on each field.
        public static var defaults: Self {
            Self()
        }

        /// Creates the default configuration.
        public init() {
            self.timeouts = HTTPTimeouts(connect: .seconds(10))
            self.connectionPool = ConnectionPool()
            self.tls = TLS()
            self.proxy = .environment
            self.httpVersion = .http2OverTLS
            self.bodyBuffering = BodyBuffering()
            self.maximumResponseHeadSize = 64 * 1024
            self.tcpKeepAlive = .seconds(60)
            self.receiveBufferSize = 4 * 1024
        }
    }

    /// Connection reuse and limits (libcurl's connection cache, shared by every request of a client).
    public struct ConnectionPool: Sendable, Hashable {
        /// The most connections open at once to one host (`CURLMOPT_MAX_HOST_CONNECTIONS`). Requests
        /// beyond it wait for a connection, and that wait counts toward the connect timeout. Over
        /// HTTP/1.1 each in-flight request needs its own connection, so this bounds concurrency per
        /// host; over HTTP/2 one connection carries ``maximumConcurrentStreams`` requests. Defaults to
        /// 256.
        public var maximumConnectionsPerHost: Int

        /// The most connections open at once in total (`CURLMOPT_MAX_TOTAL_CONNECTIONS`); `nil` for no
        /// limit beyond the per-host one. Defaults to `nil`.
        public var maximumTotalConnections: Int?

        /// The most idle connections kept for reuse (`CURLMOPT_MAXCONNECTS`); the oldest is closed
        /// beyond it. Defaults to 256.
        public var maximumIdleConnections: Int

        /// The most concurrent HTTP/2 streams FlexHTTP opens on one connection
        /// (`CURLMOPT_MAX_CONCURRENT_STREAMS`; the server's own limit also applies). Defaults to 100.
        public var maximumConcurrentStreams: Int

        /// An idle connection older than this is not reused (`CURLOPT_MAXAGE_CONN`). Defaults to 60 s,
        /// below common server keep-alive timeouts.
        public var idleTimeout: Duration

        /// Creates the defaults described on each field.
        public init() {
            self.maximumConnectionsPerHost = 256
            self.maximumTotalConnections = nil
            self.maximumIdleConnections = 256
            self.maximumConcurrentStreams = 100
            self.idleTimeout = .seconds(60)
        }
    }

    /// Certificate verification. Peers are always verified (certificate chain and host name).
    public struct TLS: Sendable, Hashable {
        /// A PEM file of CA certificates to trust instead of the system store (`CURLOPT_CAINFO`), e.g.
        /// for a test server's self-signed certificate. `nil` (the default) uses the system store that
        /// libcurl was built with (Debian: `/etc/ssl/certs/ca-certificates.crt`).
        public var caFile: String?

        /// Creates the defaults: the system CA store.
        public init(caFile: String? = nil) {
            self.caFile = caFile
        }
    }

    /// Which proxy requests go through.
    public struct Proxy: Sendable, Hashable {
        enum Value: Hashable, Sendable {
            case environment
            case none
            case url(String)
        }

        let value: Value

        /// libcurl's default: `http_proxy` (lower case only), `https_proxy`/`HTTPS_PROXY`,
        /// `all_proxy`/`ALL_PROXY` and `no_proxy`/`NO_PROXY` from the environment.
        public static let environment = Self(value: .environment)

        /// No proxy, whatever the environment says.
        public static let none = Self(value: .none)

        /// This proxy for every request (e.g. `http://proxy:3128`). Credentials in it are never logged.
        public static func url(_ url: String) -> Self {
            Self(value: .url(url))
        }
    }

    /// Which HTTP versions to negotiate.
    public struct HTTPVersionPolicy: Sendable, Hashable {
        enum Value: Hashable, Sendable {
            case http2OverTLS
            case http1Only
        }

        let value: Value

        /// HTTP/2 over TLS when the server offers it through ALPN (requests to one host then share
        /// one connection), HTTP/1.1 with keep-alive otherwise and for every cleartext `http://` URL.
        /// Cleartext HTTP/2 (h2c) is never used: it is broken in Debian 12's libcurl 7.88.1. That
        /// libcurl also resets every streamed answer's HTTP/2 stream once it has ended, which
        /// servers that limit resets answer by closing the connection, and now and then loses the
        /// end of a stream (<doc:KnownLimits>).
        public static let http2OverTLS = Self(value: .http2OverTLS)

        /// HTTP/1.1 only: a connection per request in flight, so `maximumConnectionsPerHost` must
        /// be at least the concurrency wanted.
        public static let http1Only = Self(value: .http1Only)
    }

    /// How much unread body to buffer per request.
    public struct BodyBuffering: Sendable, Hashable {
        /// Pause the transfer once this many bytes are waiting for the consumer. A transfer may
        /// overshoot it by one libcurl write (at most 16 KiB). Defaults to 256 KiB.
        public var highWatermark: Int

        /// Resume a paused transfer once the consumer has brought the buffer down to this many bytes.
        /// Defaults to 64 KiB.
        public var lowWatermark: Int

        /// Creates the defaults described on each field.
        public init(highWatermark: Int = 256 * 1024, lowWatermark: Int = 64 * 1024) {
            self.highWatermark = highWatermark
            self.lowWatermark = lowWatermark
        }
    }
}
