import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

/// Starts an in-process flexsim on a free loopback port and stops it afterwards.
func withSim<T>(
    _ profile: Profile = .instant,
    seed: UInt64 = 3,
    timeScale: Double = 1,
    _ body: (SimServer, Int) async throws -> T
) async throws -> T {
    let configuration = SimConfiguration(
        catalog: try Catalog.builtIn(),
        profile: profile,
        seed: seed,
        timeScale: timeScale,
        priceDate: CalendarDate("2026-11-26")
    )
    let server = try await SimServer.start(configuration: configuration, host: "127.0.0.1", port: 0)
    do {
        let result = try await body(server, server.port!)
        try await server.close()
        return result
    } catch {
        try? await server.close()
        throw error
    }
}

/// The ledger rows, parsed.
func ledgerRows(_ server: SimServer) throws -> [JSONValue] {
    let text = String(buffer: server.simulator.ledger.lines())
    return try text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
}

/// Waits (bounded) for a ledger row whose id is `id`.
func waitForRow(_ server: SimServer, id: String? = nil, count: Int? = nil) async throws -> JSONValue {
    for _ in 0..<400 {
        let rows = try ledgerRows(server)
        if let id, let row = rows.first(where: { $0["id"]?.string == id }) { return row }
        if let count, rows.count >= count { return rows[count - 1] }
        try await Task.sleep(for: .milliseconds(25))
    }
    throw TestError("no ledger row")
}

let openAIKey = ["authorization": "Bearer sk-test"]
let anthropicKey = ["x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"]
let geminiKey = ["x-goog-api-key": "AIzaTest"]

extension Profile {
    /// A profile with a fixed flex queue wait and a slow output rate, for billing tests.
    static func fixed(wait: Double, tokensPerSecond: Double, refusal: Double = 0) -> Profile {
        var profile = Profile.instant
        profile.name = "fixed"
        profile.flex.queueWaitSeconds = .constant(wait)
        profile.flex.refusalProbability = refusal
        profile.tiers["flex"] = .init(ttftSeconds: .zero, tokensPerSecond: tokensPerSecond)
        profile.tiers["standard"] = .init(ttftSeconds: .zero, tokensPerSecond: tokensPerSecond)
        return profile
    }
}
