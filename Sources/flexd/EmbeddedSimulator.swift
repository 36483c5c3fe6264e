import FlexCatalog
import FlexSim
import ServiceLifecycle

/// `--upstream sim`: flexsim in the same process, on a free loopback port, as a service that stops
/// after the server has drained.
final class EmbeddedSimulator: Service, Sendable {
    let server: SimServer
    let port: Int

    private init(server: SimServer, port: Int) {
        self.server = server
        self.port = port
    }

    static func start(
        profile: String,
        seed: UInt64,
        timeScale: Double,
        catalog: Catalog
    ) async throws -> EmbeddedSimulator {
        let resolved: Profile
        do {
            resolved = try Profile.builtIn(named: profile) ?? Profile.load(path: profile)
        } catch {
            throw ServeError(
                "--sim-profile \(profile) is neither a built-in profile nor a readable profile file: \(error)"
            )
        }
        let configuration = SimConfiguration(catalog: catalog, profile: resolved, seed: seed, timeScale: timeScale)
        let server = try await SimServer.start(configuration: configuration, host: "127.0.0.1", port: 0)
        guard let port = server.port else {
            try? await server.close()
            throw ServeError("the embedded flexsim has no port")
        }
        return EmbeddedSimulator(server: server, port: port)
    }

    func run() async throws {
        // Serve until the service group shuts down (after the server's drain), then stop.
        try? await gracefulShutdown()
        try await self.server.close()
    }
}

struct ServeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
