import Testing

/// Polls `condition` until it holds or `limit` passes. The limit only bounds a test that is about to
/// fail (it is generous); no test asserts how fast something happens.
func eventually(
    within limit: Duration = .seconds(20),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: limit)
    while clock.now < deadline {
        if try await condition() {
            return true
        }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
