import FlexCore
import Testing

@testable import FlexRouter

/// One row of a golden request table: a typed request and the native JSON it must become.
struct GoldenRow: Sendable, CustomTestStringConvertible {
    var name: String
    var chat: ChatRequest
    var model: String
    var streaming = false
    /// The expected body, written readably (compared compactly, key order included).
    var json: String

    var testDescription: String { self.name }

    func check(_ api: Api, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let actual = try nativeJSON(self.chat, api, model: self.model, streaming: self.streaming)
        #expect(actual == (try compact(self.json)), "\(self.name)", sourceLocation: sourceLocation)
    }
}

/// One row of an unsupported-field table: a typed request the API cannot express, and the field
/// the error must name.
struct RefusalRow: Sendable, CustomTestStringConvertible {
    var name: String
    var chat: ChatRequest
    var model: String
    var field: String
    var code = "unsupported_for_provider"

    var testDescription: String { self.name }

    func check(_ api: Api, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = translationError(self.chat, api, model: self.model)
        #expect(
            error?.errorCode == self.code,
            "\(self.name): \(String(describing: error))",
            sourceLocation: sourceLocation
        )
        #expect(error?.status.code == .invalidArgument, sourceLocation: sourceLocation)
        #expect(
            error?.status.details["field"] == self.field,
            "\(self.name): \(String(describing: error))",
            sourceLocation: sourceLocation
        )
        if self.code == "unsupported_for_provider" {
            #expect(error?.status.details["api"] == api.name, sourceLocation: sourceLocation)
        }
    }
}
