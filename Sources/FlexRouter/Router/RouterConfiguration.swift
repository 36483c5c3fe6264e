public import FlexCatalog
public import FlexCore
internal import Foundation

/// How a ``Router`` reaches the providers and runs the race.
public struct RouterConfiguration: Sendable {
    /// Base URL per provider, without a trailing slash; each adapter appends its path.
    public var baseURLs: [Provider: String]
    /// The model catalog: which models offer flex, and the prices savings are computed from.
    public var catalog: Catalog
    /// Whether a flex-first call always waits for flex until its budget runs out (`fixed`), or
    /// learns when flex starts and skips the waits that cannot pay (`adaptive`).
    public var flexPolicy: FlexPolicy
    /// Flex retries after a capacity refusal (off by default).
    public var retryPolicy: RaceStateMachine.RetryPolicy
    /// Re-sends to the tier a call settled on, for calls that set no retry option of their own
    /// (flexd: `--retries`; none by default). See "Retries" in the FlexRouter documentation.
    public var defaultRetry: RetryOption
    /// The first wait before a retry of the settled tier (exponential doubles it, linear adds it).
    public var retryBase: Duration
    /// Time to establish a connection (TCP and TLS) to a provider.
    public var connectTimeout: Duration
    /// Time to the response head on a non-flex attempt. Non-streamed answers arrive whole, so this
    /// bounds the whole generation of an unstreamed call.
    public var responseHeadTimeout: Duration
    /// Longest silence between body bytes once an attempt has committed (and on non-flex attempts).
    public var idleTimeout: Duration
    /// Largest non-streamed answer accepted from a provider.
    public var maxResponseBytes: Int
    /// Largest single Server-Sent Event accepted from a provider.
    public var maxEventBytes: Int
    /// The UTC day whose prices apply to a call (tests pin it).
    public var today: @Sendable () -> CalendarDate
    /// A request header that carries the call's request id upstream, so a simulator's ledger can be
    /// matched with flexd's records (flexsim: `x-flexsim-correlation-id`). Nil sends none.
    public var correlationHeader: String?
    /// libcurl's receive buffer for flex attempts (HTTP/1.1), in bytes; nil for the HTTP client's.
    /// A flex attempt may wait minutes for its start and holds the buffer all along, and flex always
    /// streams small events: 1 KiB (libcurl's minimum) saves 3 KiB per waiting call against the
    /// client's 4 KiB default.
    public var flexReceiveBufferSize: Int?

    /// The providers' public endpoints.
    public static let productionBaseURLs: [Provider: String] = [
        .openAI: "https://api.openai.com/v1",
        .anthropic: "https://api.anthropic.com/v1",
        .gemini: "https://generativelanguage.googleapis.com/v1beta",
    ]

    /// flexsim's routes under one root URL, e.g. `http://127.0.0.1:8090`.
    public static func flexsim(_ root: String) -> [Provider: String] {
        [.openAI: root + "/openai/v1", .anthropic: root + "/anthropic/v1", .gemini: root + "/gemini/v1beta"]
    }

    public init(
        baseURLs: [Provider: String] = RouterConfiguration.productionBaseURLs,
        catalog: Catalog,
        flexPolicy: FlexPolicy = .fixed,
        retryPolicy: RaceStateMachine.RetryPolicy = .none,
        defaultRetry: RetryOption = RetryOption(count: 0),
        retryBase: Duration = .milliseconds(500),
        connectTimeout: Duration = .seconds(10),
        responseHeadTimeout: Duration = .seconds(600),
        idleTimeout: Duration = .seconds(120),
        maxResponseBytes: Int = 16 * 1024 * 1024,
        maxEventBytes: Int = 4 * 1024 * 1024,
        today: @escaping @Sendable () -> CalendarDate = { CalendarDate.today() },
        correlationHeader: String? = nil,
        flexReceiveBufferSize: Int? = 1024
    ) {
        self.baseURLs = baseURLs
        self.catalog = catalog
        self.flexPolicy = flexPolicy
        self.retryPolicy = retryPolicy
        self.defaultRetry = defaultRetry
        self.retryBase = retryBase
        self.connectTimeout = connectTimeout
        self.responseHeadTimeout = responseHeadTimeout
        self.idleTimeout = idleTimeout
        self.maxResponseBytes = maxResponseBytes
        self.maxEventBytes = maxEventBytes
        self.today = today
        self.correlationHeader = correlationHeader
        self.flexReceiveBufferSize = flexReceiveBufferSize
    }
}

extension CalendarDate {
    /// Today in UTC.
    public static func today() -> CalendarDate {
        CalendarDate(unixSeconds: Int64(Date().timeIntervalSince1970))
    }
}
