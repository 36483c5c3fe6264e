internal import FlexCore
internal import FlexJSON

/// Gemini errors reported inside a stream: generateContent sends a chunk
/// `{"error": {"code": 503, "message": ..., "status": "UNAVAILABLE"}}`; Interactions sends an
/// `error` event whose `error.code` is the status name (`"UNAVAILABLE"`) or a number. Either is
/// classified as the HTTP error it stands for, so a 503 on flex before the start is a capacity
/// refusal like the HTTP 503 (``UpstreamFailure``).
enum GeminiStreamError {
    static func classify(_ error: JSONValue, flex: Bool) -> RaceStateMachine.AttemptFailure {
        let number = error["code"]?.int
        let name = error["status"]?.string ?? error["code"]?.string ?? ""
        let status: Int
        if let number, (400...599).contains(number) {
            status = Int(number)
        } else {
            status = Self.httpStatus(name)
        }
        return UpstreamFailure.classifyStreamError(
            provider: .gemini,
            type: name,
            code: number.map { String($0) } ?? "",
            message: error["message"]?.string ?? "",
            impliedStatus: status,
            flex: flex
        )
    }

    /// The HTTP status Google's canonical error names map to (google.rpc.Code).
    static func httpStatus(_ name: String) -> Int {
        switch name.uppercased() {
        case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE": 400
        case "UNAUTHENTICATED": 401
        case "PERMISSION_DENIED": 403
        case "NOT_FOUND": 404
        case "ALREADY_EXISTS", "ABORTED": 409
        case "RESOURCE_EXHAUSTED": 429
        case "CANCELLED": 499
        case "UNIMPLEMENTED": 501
        case "UNAVAILABLE": 503
        case "DEADLINE_EXCEEDED": 504
        default: 500  // INTERNAL, UNKNOWN, DATA_LOSS and anything new
        }
    }
}
