public import FlexCore

/// A call the router refuses or could not complete, with what the caller is told.
///
/// Every error the router raises is one of these, built from FlexCore's `ErrorCode` table, so a
/// code's status is the table's. At the service seam it becomes a `CallFailure` (with the
/// savings record of anything billed). The messages say how to fix the request and never contain
/// keys or prompt content.
public struct RouterError: Error, Hashable, Sendable, CustomStringConvertible {
    public var status: Status

    /// - Parameter status: One of `code`'s alternative statuses, where the table allows one.
    public init(
        _ code: ErrorCode,
        _ message: String,
        details: [String: String] = [:],
        upstream: UpstreamError? = nil,
        status: StatusCode? = nil
    ) {
        self.status = Status(code, message, details: details, upstream: upstream, status: status)
    }

    public var description: String { "RouterError(\(self.status))" }

    /// The machine-readable code, e.g. `missing_start_within`.
    public var errorCode: String { self.status.errorCode }

    /// The error at the service seam, with the savings record of anything billed.
    func failure(savings: SavingsRecord? = nil) -> CallFailure {
        CallFailure(self.status, savings: savings)
    }

    /// The calling task was cancelled.
    static var cancelled: RouterError { RouterError(.cancelled, "the call was cancelled") }

    // MARK: start_within

    static let startWithinExample =
        #"use "priority", "default", "auto" or a duration such as "00h-00m-30s" (HHh-MMm-SSs)"#

    static var missingStartWithin: RouterError {
        RouterError(
            .missingStartWithin,
            "start_within is required: \(startWithinExample)",
            details: ["field": "start_within"]
        )
    }

    static func invalidStartWithin(_ value: String, _ reason: String) -> RouterError {
        RouterError(
            .invalidStartWithin,
            "start_within \"\(value.prefix(40))\" is not valid (\(reason)): \(startWithinExample)",
            details: ["field": "start_within"]
        )
    }

    static func autoUnsupportedForGemini(model: String) -> RouterError {
        RouterError(
            .autoUnsupportedForGemini,
            "Gemini has no auto tier; use \"default\", \"priority\" or a duration such as \"00h-00m-30s\" for \(model)",
            details: ["field": "start_within", "provider": "gemini"]
        )
    }

    static func flexUnsupportedForAnthropic(model: String) -> RouterError {
        RouterError(
            .flexUnsupportedForAnthropic,
            "Anthropic has no flex tier, so a start_within duration cannot be honoured for \(model); use \"default\", \"priority\" or \"auto\"",
            details: ["field": "start_within", "provider": "anthropic"]
        )
    }

    static func modelNotFlexCapable(provider: Provider, model: String) -> RouterError {
        RouterError(
            .modelNotFlexCapable,
            "\(provider.name) model \(model) does not offer the flex tier; use \"default\" or \"priority\", or a flex-capable model",
            details: ["field": "start_within", "provider": provider.name, "model": model]
        )
    }
}
