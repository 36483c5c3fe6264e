import FlexCodec
import FlexServer
import Logging
import NIOCore
import Synchronization

/// A ``FlexServer`` on a free loopback port with an in-memory service behind it, drained and
/// stopped when the test body returns. No router, no provider, no C library but the codec's.
struct TransportFixture {
    let server: FlexServer
    let port: Int
    /// The HTTP door's port, when the configuration opens it.
    let httpPort: Int?

    static func with<T: Sendable>(
        _ service: any InferenceService,
        tenants: TenantDirectory = .open,
        recorder: (any SavingsRecorder)? = nil,
        configure: (inout FlexServer.Configuration) -> Void = { _ in },
        _ body: (TransportFixture) async throws -> T
    ) async throws -> T {
        var configuration = FlexServer.Configuration(host: "127.0.0.1", port: 0, drainGracePeriod: .seconds(5))
        configure(&configuration)
        let server = FlexServer(
            configuration: configuration,
            service: service,
            tenants: tenants,
            recorder: recorder,
            logger: Logger(label: "flexserver-test")
        )
        let running = Task { try await server.run() }
        do {
            let address = try await server.listeningAddress()
            let http = try await server.httpListeningAddress()
            let result = try await body(TransportFixture(server: server, port: address.port ?? 0, httpPort: http?.port))
            server.beginGracefulShutdown()
            try await Self.stopped(running)
            return result
        } catch {
            server.beginGracefulShutdown()
            _ = try? await Self.stopped(running)
            throw error
        }
    }

    struct ServerDidNotStop: Error, CustomStringConvertible {
        var description: String { "the server did not stop within 30 s of its drain" }
    }

    /// Waits for the server's task to end, and fails the test (instead of hanging the suite) if a
    /// drain never finishes: its grace period here is 5 s.
    private static func stopped(_ running: Task<Void, any Error>) async throws {
        let outcome = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<Void, any Error>?, Never>) in
            let resumed = Mutex(false)
            let resume = { @Sendable (outcome: Result<Void, any Error>?) in
                let first = resumed.withLock { resumed in
                    defer { resumed = true }
                    return !resumed
                }
                if first { continuation.resume(returning: outcome) }
            }
            let timer = Task { try await Task.sleep(for: .seconds(30)) }
            Task {
                let outcome = await running.result
                timer.cancel()
                resume(outcome)
            }
            Task { if (try? await timer.value) != nil { resume(nil) } }
        }
        guard let outcome else { throw ServerDidNotStop() }
        try outcome.get()
    }

    /// A native request for the in-memory service (its body is echoed back).
    static func request(_ id: String, body: String = #"{"echo":true}"#) -> InferenceRequest {
        InferenceRequest(
            requestID: id,
            provider: .openAI,
            api: .chatCompletions,
            model: "memory-model",
            startWithin: "00h-00m-30s",
            providerKey: "sk-memory",
            body: .nativeJSON(ByteBuffer(string: body))
        )
    }
}
