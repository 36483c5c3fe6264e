internal import FlexCatalog
public import FlexJSON
public import FlexRouter
public import FlexSim
internal import NIOCore

/// An in-process flexsim on a free loopback port (by default the instant profile: no waits, no
/// refusals), and the calls the adapter tests make to it.
public struct FlexsimFixture {
    public let server: SimServer
    public let port: Int

    /// Runs `body` against a fresh flexsim and always stops it.
    public static func with<T>(
        profile: Profile = .instant,
        seed: UInt64 = 7,
        _ body: (FlexsimFixture) async throws -> T
    ) async throws -> T {
        let configuration = SimConfiguration(
            catalog: try Catalog.builtIn(),
            profile: profile,
            seed: seed,
            timeScale: 1,
            priceDate: CalendarDate("2026-11-26")
        )
        let server = try await SimServer.start(configuration: configuration, host: "127.0.0.1", port: 0)
        guard let port = server.port else {
            try? await server.close()
            throw LoopbackHTTP.Failure(description: "flexsim has no port")
        }
        do {
            let result = try await body(FlexsimFixture(server: server, port: port))
            try await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }

    /// Sends an adapter's request to flexsim's OpenAI routes, tagged with `correlation` for the
    /// ledger, plus `extraHeaders` (flexsim's fault and output-size headers).
    public func send(
        _ request: UpstreamRequest,
        correlation: String,
        extraHeaders: [(String, String)] = []
    ) throws -> LoopbackHTTP.Response {
        try LoopbackHTTP.send(
            port: self.port,
            path: "/openai/v1" + request.path,
            headers: request.headers + [("x-flexsim-correlation-id", correlation)] + extraHeaders,
            body: request.body
        )
    }

    /// The ledger row flexsim wrote for `correlation`, read over HTTP (`GET /sim/ledger`). flexsim
    /// records a request as it finishes it, so this looks a few times (bounded) before giving up.
    public func ledgerRow(_ correlation: String) async throws -> JSONValue? {
        for _ in 0..<100 {
            let response = try LoopbackHTTP.send(port: self.port, method: "GET", path: "/sim/ledger")
            for line in response.text.split(separator: "\n") {
                let row = try JSONParser.parse(String(line))
                if row["correlation_id"]?.string == correlation { return row }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// flexsim's ledger rows for a correlation id, waiting (bounded) until there are `count`.
    public func ledgerRows(_ correlation: String, count: Int) async throws -> [JSONValue] {
        for _ in 0..<400 {
            let response = try LoopbackHTTP.send(port: self.port, method: "GET", path: "/sim/ledger")
            let rows = try response.text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
                .filter { $0["correlation_id"]?.string == correlation }
            if rows.count >= count { return rows }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw LoopbackHTTP.Failure(description: "flexsim's ledger never had \(count) rows for \(correlation)")
    }

    /// Provider requests flexsim has received and not yet ledgered (`/healthz` `in_flight`).
    public func inFlight() throws -> Int {
        let health = try JSONParser.parse(LoopbackHTTP.send(port: self.port, method: "GET", path: "/healthz").text)
        return Int(health["in_flight"]?.int ?? 0)
    }
}
