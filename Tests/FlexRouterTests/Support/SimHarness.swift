import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import NIOCore
import Testing

@testable import FlexRouter

/// An in-process flexsim on a free loopback port, reached over real HTTP, for the adapter tests.
struct SimHarness {
    /// The day flexsim prices at (and the tests price with).
    static let priceDate = CalendarDate("2026-11-26")!

    let server: SimServer
    let port: Int
    let catalog: Catalog

    /// Runs `body` against a fresh flexsim (profile `instant` unless told otherwise).
    static func with<T>(
        _ profile: Profile = .instant,
        seed: UInt64 = 11,
        _ body: (SimHarness) async throws -> T
    ) async throws -> T {
        let catalog = try Catalog.builtIn()
        let configuration = SimConfiguration(catalog: catalog, profile: profile, seed: seed, priceDate: Self.priceDate)
        let server = try await SimServer.start(configuration: configuration, host: "127.0.0.1", port: 0)
        guard let port = server.port else { throw RawHTTPError("flexsim has no port") }
        do {
            let result = try await body(SimHarness(server: server, port: port, catalog: catalog))
            try await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }

    /// flexsim's base path for a provider (what the router's `--*-base-url` would end with).
    static func basePath(_ provider: Provider) -> String {
        switch provider {
        case .openAI: "/openai/v1"
        case .anthropic: "/anthropic/v1"
        case .gemini: "/gemini/v1beta"
        }
    }

    /// Sends an adapter's request, tagged with a correlation id for the ledger.
    func send(
        _ request: UpstreamRequest,
        provider: Provider,
        correlation: String,
        extraHeaders: [(String, String)] = []
    ) throws -> RawHTTPResponse {
        try RawHTTPClient.exchange(
            port: self.port,
            path: Self.basePath(provider) + request.path,
            headers: request.headers + [("x-flexsim-correlation-id", correlation)] + extraHeaders,
            body: request.body
        )
    }

    /// The ledger row flexsim wrote for `correlation` (read through `GET /sim/ledger`).
    func ledgerRow(_ correlation: String) async throws -> JSONValue {
        for _ in 0..<200 {
            let response = try RawHTTPClient.exchange(port: self.port, method: "GET", path: "/sim/ledger")
            for line in response.text.split(separator: "\n") {
                let row = try JSONParser.parse(String(line))
                if row["correlation_id"]?.string == correlation { return row }
            }
            // A streamed answer is recorded as its last bytes leave; wait for it (bounded).
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RawHTTPError("no ledger row for \(correlation)")
    }

    /// Clears flexsim's ledger, prompt cache and capacity reservations (`POST /sim/reset`).
    func reset() throws {
        let response = try RawHTTPClient.exchange(port: self.port, path: "/sim/reset")
        guard response.status == 200 else { throw RawHTTPError("reset answered \(response.status)") }
    }
}

/// The classes of a ledger row's `tokens`.
func ledgerTokens(_ row: JSONValue) -> TokenUsage {
    func count(_ key: String) -> UInt64 { UInt64(row["tokens"]?[key]?.int ?? -1) }
    return TokenUsage(
        inputTokens: count("input"),
        cachedInputTokens: count("cached_input"),
        cacheWriteTokens: count("cache_write"),
        outputTokens: count("output"),
        reasoningTokens: count("reasoning"),
        cacheWrite1hTokens: count("cache_write_1h")
    )
}

/// What one streamed attempt looked like to an adapter's reader.
struct ReadStream {
    var dispositions: [EventDisposition]
    var events: [NativeEvent]
    var reader: any StreamReader

    /// The index of the first `.started` event.
    var startIndex: Int? { self.dispositions.firstIndex(of: .started) }

    /// The rule every clean stream obeys: preamble only before the start, exactly one start, content
    /// after it, and a last event that is the terminal one (and the only one).
    var isWellFormed: Bool {
        guard let start = self.startIndex, self.dispositions.last == .terminal else { return false }
        let before = self.dispositions[..<start]
        let after = self.dispositions[(start + 1)..<(self.dispositions.count - 1)]
        return before.allSatisfy { $0 == .preamble } && after.allSatisfy { $0 == .content }
    }
}

/// Feeds `events` to a reader, one by one.
///
/// And to a copy that is switched to relaying (``StreamReader/relayOnly()``) where the router would
/// switch it for a streaming caller, at the start (or the terminal event, if it comes first): every
/// sequence the adapter tests read checks that relaying reads each event as the full reader does
/// (disposition, usage and tier, output count).
func read(
    _ events: [NativeEvent],
    with reader: any StreamReader,
    sourceLocation: SourceLocation = #_sourceLocation
) -> ReadStream {
    var reader = reader
    var relayed = reader
    var committed = false
    var dispositions: [EventDisposition] = []
    for (index, event) in events.enumerated() {
        let disposition = reader.consume(event)
        let relayedDisposition = relayed.consume(event)
        #expect(relayedDisposition == disposition, "relayed event \(index)", sourceLocation: sourceLocation)
        dispositions.append(disposition)
        if !committed, disposition == .started || disposition == .terminal {
            committed = true
            relayed.relayOnly()
        }
    }
    #expect(relayed.result == reader.result, "relayed result", sourceLocation: sourceLocation)
    #expect(relayed.outputEvents == reader.outputEvents, "relayed output count", sourceLocation: sourceLocation)
    return ReadStream(dispositions: dispositions, events: events, reader: reader)
}

/// An event from JSON text (hand-written sequences).
func event(_ name: String, _ json: String) -> NativeEvent {
    NativeEvent(event: name, data: ByteBuffer(string: json))
}

/// A data-only event (Gemini generateContent chunks have no event name).
func chunk(_ json: String) -> NativeEvent {
    NativeEvent(event: "", data: ByteBuffer(string: json))
}

extension JSONValue {
    /// The element at `index` of an array (nil otherwise), for assertions.
    subscript(index: Int) -> JSONValue? {
        guard let array = self.array, array.indices.contains(index) else { return nil }
        return array[index]
    }
}

/// Parses an assembled or received body.
func json(_ buffer: ByteBuffer) throws -> JSONValue {
    try JSONParser.parse(buffer.readableBytesView)
}

/// Replaces the values of the named keys, wherever they are, with `"<varies>"`: per-response ids,
/// timestamps and signatures, which differ between two answers to the same request.
func masking(_ value: JSONValue, keys: Set<String>) -> JSONValue {
    switch value {
    case .object(let object):
        return .object(
            JSONObject(
                object.fields.map { field in
                    (key: field.key, value: keys.contains(field.key) ? "<varies>" : masking(field.value, keys: keys))
                }
            )
        )
    case .array(let items):
        return .array(items.map { masking($0, keys: keys) })
    default:
        return value
    }
}

/// The cost of `tokens` on `tier` per the catalog, in pico-USD (what flexsim's ledger bills).
func catalogCost(
    _ catalog: Catalog,
    _ provider: Provider,
    _ model: String,
    _ tier: Tier,
    _ tokens: TokenUsage
) throws -> Int64 {
    try catalog.cost(provider: provider, model: model, tier: tier, tokens: tokens, on: SimHarness.priceDate).total
        .rawValue
}

extension RouterError {
    /// The failure's error, for assertions.
    static func of(_ failure: RaceStateMachine.AttemptFailure) -> RouterError? {
        switch failure {
        case .capacity: nil
        case .retryable(let error, _), .fatal(let error): error
        }
    }
}

extension EventDisposition {
    var isError: Bool { if case .error = self { true } else { false } }

    var failure: RaceStateMachine.AttemptFailure? { if case .error(let failure) = self { failure } else { nil } }
}
