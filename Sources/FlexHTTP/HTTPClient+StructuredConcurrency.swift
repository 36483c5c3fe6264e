public import Logging

/// Runs `body` with a new ``HTTPClient`` and shuts the client down when `body` returns or throws.
///
/// ```swift
/// let status = try await withHTTPClient { client in
///     try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:8080/healthz")).status
/// }
/// ```
///
/// - Parameters:
///   - configuration: the client's configuration; defaults to ``HTTPClient/Configuration/defaults``.
///   - backgroundActivityLogger: logs the client's own activity; silent when `nil`.
///   - body: what to do with the client. Requests still in flight when it returns fail with
///     ``HTTPClientError/Code/shutdown``.
/// - Returns: what `body` returns.
public func withHTTPClient<Result, Failure: Error>(
    configuration: HTTPClient.Configuration = .defaults,
    backgroundActivityLogger: Logger? = nil,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (HTTPClient) async throws(Failure) -> Result
) async throws -> Result {
    let client = try HTTPClient(configuration: configuration, backgroundActivityLogger: backgroundActivityLogger)
    let result: Swift.Result<Result, Failure>
    do {
        result = .success(try await body(client))
    } catch {
        result = .failure(error)
    }
    await client.shutdown()
    return try result.get()
}
