import Logging

/// Logs nothing, but renders every line the server writes (at every level, metadata included)
/// and traps if a secret the client sent (its API key, a provider key) appears in it.
struct SecretCheckingLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    static let secrets = [ClientScript.secretKey, "sk-fuzz-secret"]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "\(event.message)"
        for (key, value) in self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            line += " \(key)=\(value)"
        }
        for secret in Self.secrets where line.contains(secret) {
            fatalError("a secret reached the server's log: \(line)")
        }
    }
}
