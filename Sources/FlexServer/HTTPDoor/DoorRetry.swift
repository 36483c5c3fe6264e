internal import FlexCodec
internal import FlexJSON

/// The HTTP door's `retry` body field: `{"count": 1..5, "backoff": "exponential" | "linear",
/// "jitter": true | false}` (backoff and jitter optional: exponential, with jitter). It is taken out
/// of the body before the body goes upstream, as `start_within` is.
enum DoorRetry {
    /// Reads the field; anything else than the shape above is `invalid_retry` (400).
    static func read(_ value: JSONValue) throws(DoorRefusal) -> RetryOption {
        guard let object = value.object else {
            throw Self.invalid("retry must be an object such as {\"count\": 2}, not \(value.typeName)")
        }
        for key in object.keys where !["count", "backoff", "jitter"].contains(key) {
            throw Self.invalid("retry has no field \"\(key.prefix(40))\"; it takes count, backoff and jitter")
        }
        guard let count = object["count"]?.int, (1...Int64(RetryOption.maximumCount)).contains(count) else {
            throw Self.invalid("retry.count must be an integer from 1 to \(RetryOption.maximumCount)")
        }
        var backoff = RetryOption.Backoff.exponential
        if let value = object["backoff"] {
            guard let name = value.string, let parsed = RetryOption.Backoff(name: name) else {
                throw Self.invalid("retry.backoff must be \"exponential\" or \"linear\"")
            }
            backoff = parsed
        }
        var jitter = true
        if let value = object["jitter"] {
            guard let flag = value.bool else { throw Self.invalid("retry.jitter must be true or false") }
            jitter = flag
        }
        return RetryOption(count: UInt32(count), backoff: backoff, jitter: jitter)
    }

    private static func invalid(_ message: String) -> DoorRefusal {
        DoorRefusal(Status(.invalidRetry, message, details: ["field": "retry"]))
    }
}
