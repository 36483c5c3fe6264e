/// The outcome of a call: what its caller is told (the binary protocol carries it in TRAILERS).
public struct Status: Sendable, Hashable, CustomStringConvertible {
    public var code: StatusCode
    /// Human-readable, safe to show to the caller's developers.
    public var message: String
    /// Machine-readable reason, e.g. `missing_start_within`. Empty when ``code`` is OK.
    public var errorCode: String
    /// Extra machine-readable facts (e.g. `field` → `start_within`).
    public var details: [String: String]
    /// Present when the provider itself returned the error.
    public var upstream: UpstreamError?

    public init(
        code: StatusCode,
        message: String = "",
        errorCode: String = "",
        details: [String: String] = [:],
        upstream: UpstreamError? = nil
    ) {
        self.code = code
        self.message = message
        self.errorCode = errorCode
        self.details = details
        self.upstream = upstream
    }

    public static let ok = Status(code: .ok)

    /// An error status: `code`'s status, its wire name, and what happened.
    ///
    /// - Parameters:
    ///   - message: Human-readable, for the caller's developers: what is wrong and how to fix it.
    ///     Never a key, never prompt content.
    ///   - status: One of `code`'s ``ErrorCode/alternativeStatuses`` where the table says the
    ///     situation calls for it; nil for the code's own status.
    public init(
        _ code: ErrorCode,
        _ message: String,
        details: [String: String] = [:],
        upstream: UpstreamError? = nil,
        status: StatusCode? = nil
    ) {
        assert(status.map(code.allows) ?? true, "\(code) is never sent with \(status!)")
        self.init(
            code: status ?? code.status,
            message: message,
            errorCode: code.name,
            details: details,
            upstream: upstream
        )
    }

    /// The table's entry for ``errorCode``; nil when OK or for a code this build does not know.
    public var error: ErrorCode? { ErrorCode(name: self.errorCode) }

    public var description: String {
        var text = "\(self.code)"
        if !self.errorCode.isEmpty { text += " (\(self.errorCode))" }
        if !self.message.isEmpty { text += ": \(self.message)" }
        return text
    }
}
