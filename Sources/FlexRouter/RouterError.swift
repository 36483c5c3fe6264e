public import FlexCodec

/// A call the router refuses or could not complete, with what the caller is told.
///
/// Every error the router raises is one of these, so the server turns it into TRAILERS in one
/// place (``status``). The `code` strings are stable and machine-readable; the messages say how to
/// fix the request and never contain keys or prompt content.
public struct RouterError: Error, Hashable, Sendable, CustomStringConvertible {
    public var status: Status

    public init(_ code: StatusCode, _ errorCode: String, _ message: String, details: [String: String] = [:], upstream: UpstreamError? = nil) {
        self.status = Status(code: code, message: message, errorCode: errorCode, details: details, upstream: upstream)
    }

    public var description: String { "RouterError(\(self.status))" }

    /// The machine-readable code, e.g. `missing_start_within`.
    public var errorCode: String { self.status.errorCode }

    // MARK: start_within

    static let startWithinExample = #"use "priority", "default", "auto" or a duration such as "00h-00m-30s" (HHh-MMm-SSs)"#

    static var missingStartWithin: RouterError {
        RouterError(.invalidArgument, "missing_start_within",
                    "start_within is required: \(startWithinExample)", details: ["field": "start_within"])
    }

    static func invalidStartWithin(_ value: String, _ reason: String) -> RouterError {
        RouterError(.invalidArgument, "invalid_start_within",
                    "start_within \"\(value.prefix(40))\" is not valid (\(reason)): \(startWithinExample)",
                    details: ["field": "start_within"])
    }

    static func autoUnsupportedForGemini(model: String) -> RouterError {
        RouterError(.invalidArgument, "auto_unsupported_for_gemini",
                    "Gemini has no auto tier; use \"default\", \"priority\" or a duration such as \"00h-00m-30s\" for \(model)",
                    details: ["field": "start_within", "provider": "gemini"])
    }

    static func flexUnsupportedForAnthropic(model: String) -> RouterError {
        RouterError(.invalidArgument, "flex_unsupported_for_anthropic",
                    "Anthropic has no flex tier, so a start_within duration cannot be honoured for \(model); use \"default\", \"priority\" or \"auto\"",
                    details: ["field": "start_within", "provider": "anthropic"])
    }

    static func modelNotFlexCapable(provider: Provider, model: String) -> RouterError {
        RouterError(.invalidArgument, "model_not_flex_capable",
                    "\(provider.name) model \(model) does not offer the flex tier; use \"default\" or \"priority\", or a flex-capable model",
                    details: ["field": "start_within", "provider": provider.name, "model": model])
    }
}
