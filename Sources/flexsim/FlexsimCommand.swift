import ArgumentParser
import FlexCatalog
import FlexCore
import FlexSim
import Foundation
import NIOCore
import NIOPosix

/// `flexsim --listen 127.0.0.1:PORT [--profile NAME|FILE] [--seed N] [--time-scale X] ...`
@main
struct FlexsimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flexsim",
        abstract:
            "A simulator of the OpenAI, Anthropic and Gemini APIs with service tiers, a flex capacity model and fault injection.",
        discussion:
            "Routes, profiles, the fault header and the ledger format are described in the FlexSim documentation (Sources/FlexSim/Documentation.docc)."
    )

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one; the chosen address is printed).")
    var listen: String = "127.0.0.1:8090"

    @Option(
        help: "Built-in profile (\(Profile.builtInNames.joined(separator: ", "))) or the path of a profile JSON file."
    )
    var profile: String = "instant"

    @Option(help: "Seed for every simulated choice.")
    var seed: UInt64 = 1

    @Option(
        name: .customLong("time-scale"),
        help: "Divide every simulated delay by this factor (e.g. 20 runs twenty times faster)."
    )
    var timeScale: Double = 1

    @Option(
        help: "A catalog file (same format as the built-in one) whose models replace or add to the built-in catalog."
    )
    var catalog: String?

    @Option(
        name: .customLong("price-date"),
        help: "Bill at the prices in force on this day (YYYY-MM-DD) instead of today (UTC)."
    )
    var priceDate: String?

    @Option(help: "Event-loop threads.")
    var threads: Int = 1

    @Option(
        name: .customLong("max-body-bytes"),
        help: "Largest request body accepted; larger ones get the provider's 413."
    )
    var maxBodyBytes: Int = 16 << 20

    @Option(name: .customLong("ledger-capacity"), help: "Ledger lines kept in memory (oldest dropped first).")
    var ledgerCapacity: Int = 1_000_000

    @Option(
        name: .customLong("api-key"),
        help:
            "PROVIDER=KEY: accept only these keys for that provider (repeatable). Without it, any key with the provider's usual prefix is accepted."
    )
    var apiKeys: [String] = []

    func validate() throws {
        guard self.timeScale > 0, self.timeScale.isFinite else {
            throw ValidationError("--time-scale must be a positive number")
        }
        guard (1...64).contains(self.threads) else { throw ValidationError("--threads must be between 1 and 64") }
        guard self.maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive") }
        if let priceDate, CalendarDate(priceDate) == nil {
            throw ValidationError("--price-date must be YYYY-MM-DD, got \(priceDate)")
        }
        _ = try self.address()
    }

    func address() throws -> (String, Int) {
        guard let colon = self.listen.lastIndex(of: ":"),
            let port = Int(self.listen[self.listen.index(after: colon)...]), (0...65535).contains(port)
        else {
            throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8090 (got \(self.listen))")
        }
        return (String(self.listen[..<colon]), port)
    }

    func run() async throws {
        let profile: Profile
        if let builtIn = Profile.builtIn(named: self.profile) {
            profile = builtIn
        } else if FileManager.default.fileExists(atPath: self.profile) {
            do { profile = try Profile.load(path: self.profile) } catch {
                throw ValidationError("profile: \(error.description)")
            }
        } else {
            throw ValidationError(
                "--profile: \"\(self.profile)\" is neither a built-in profile (\(Profile.builtInNames.joined(separator: ", "))) nor a file"
            )
        }
        var catalog: Catalog
        do {
            catalog = try Catalog.builtIn()
            if let path = self.catalog { catalog = catalog.merging(try Catalog.load(path: path)) }
        } catch { throw ValidationError("catalog: \(error.description)") }
        var keys: [Provider: Set<String>] = [:]
        for item in self.apiKeys {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let provider = Provider(name: parts[0]), !parts[1].isEmpty else {
                throw ValidationError("--api-key must be PROVIDER=KEY with PROVIDER one of openai, anthropic, gemini")
            }
            keys[provider, default: []].insert(parts[1])
        }
        let configuration = SimConfiguration(
            catalog: catalog,
            profile: profile,
            seed: self.seed,
            timeScale: self.timeScale,
            maxBodyBytes: self.maxBodyBytes,
            ledgerCapacity: self.ledgerCapacity,
            priceDate: self.priceDate.flatMap(CalendarDate.init),
            apiKeys: keys
        )
        let (host, port) = try self.address()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        let server = try await SimServer.start(configuration: configuration, host: host, port: port, group: group)
        let bound = server.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? self.listen
        // Written straight to the file descriptor so that a parent reading the pipe sees it at once.
        FileHandle.standardOutput.write(
            Data(
                "flexsim listening on \(bound) profile=\(profile.name) seed=\(self.seed) time-scale=\(self.timeScale)\n"
                    .utf8
            )
        )
        try await server.waitUntilClosed()
    }
}
