/// A misbehaviour flexsim can inject into one response.
///
/// Chosen per request with the `x-flexsim-fault` header (comma-separated, e.g.
/// `x-flexsim-fault: stall_before_headers=2s,cut_mid_stream`) or drawn from the profile.
public enum Fault: Sendable, Equatable, CustomStringConvertible {
    /// Wait this long before sending anything (status line included).
    case stallBeforeHeaders(seconds: Double)
    /// Send the status line and headers a few bytes at a time over this long.
    case slowHeaders(seconds: Double)
    /// Streaming: pause this long halfway through the events.
    case stallMidStream(seconds: Double)
    /// Streaming: close the connection halfway through the events, with no terminal event.
    case cutMidStream
    /// Streaming: one event halfway through carries a broken `data:` line; the stream then goes on.
    case malformedSSE
    /// Non-streaming: the body is the first half of the JSON document (Content-Length matches it).
    case truncatedJSON
    /// Streaming: HTTP 200 and the pre-output events, then the API's in-stream error event (an
    /// overload) instead of any output (`stream_error`), or halfway through the output
    /// (`stream_error_mid`). The stream then ends cleanly at the HTTP level.
    case streamError(midStream: Bool)
    /// Answer with this status and the provider's error envelope (500, 502, 503, 529, ...).
    case status(Int)
    /// Make the visible output about this many bytes long.
    case largeResponse(bytes: Int)
    /// With `status`: only the first N requests of each correlation id (`x-flexsim-correlation-id`)
    /// get the status; later ones are answered normally (a provider that recovers, for retries).
    case failFirst(Int)
    /// With `status`: the error answer's `retry-after` header, in whole seconds (0...3600), instead
    /// of the default (`1` on 429, 503 and 529, none otherwise).
    case retryAfter(seconds: Int)

    public var description: String {
        switch self {
        case .stallBeforeHeaders(let s): "stall_before_headers=\(s)s"
        case .slowHeaders(let s): "slow_headers=\(s)s"
        case .stallMidStream(let s): "stall_mid_stream=\(s)s"
        case .cutMidStream: "cut_mid_stream"
        case .malformedSSE: "malformed_sse"
        case .truncatedJSON: "truncated_json"
        case .streamError(let mid): mid ? "stream_error_mid" : "stream_error"
        case .status(let code): "status=\(code)"
        case .largeResponse(let bytes): "large_response=\(bytes)"
        case .failFirst(let count): "fail_first=\(count)"
        case .retryAfter(let seconds): "retry_after=\(seconds)"
        }
    }

    /// Parses a comma-separated list; the error names the item it could not read.
    public static func parseList(_ text: String) throws(FaultParseError) -> [Fault] {
        var faults: [Fault] = []
        for raw in text.split(separator: ",") {
            let item = raw.trimmingSpaces()
            if item.isEmpty { continue }
            guard let fault = Fault(item) else { throw FaultParseError(item: item) }
            faults.append(fault)
        }
        return faults
    }

    /// One item: `name` or `name=value`.
    public init?(_ item: String) {
        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
        let name = parts[0]
        let value = parts.count > 1 ? parts[1] : nil
        switch name {
        case "stall_before_headers", "stall_before_first_byte":
            guard let s = value.flatMap(Fault.seconds) else { return nil }
            self = .stallBeforeHeaders(seconds: s)
        case "slow_headers":
            guard let s = value.flatMap(Fault.seconds) else { return nil }
            self = .slowHeaders(seconds: s)
        case "stall_mid_stream":
            guard let s = value.flatMap(Fault.seconds) else { return nil }
            self = .stallMidStream(seconds: s)
        case "cut_mid_stream": self = .cutMidStream
        case "malformed_sse": self = .malformedSSE
        case "truncated_json": self = .truncatedJSON
        case "stream_error": self = .streamError(midStream: false)
        case "stream_error_mid": self = .streamError(midStream: true)
        case "status":
            guard let code = value.flatMap({ Int($0) }), (400...599).contains(code) else { return nil }
            self = .status(code)
        case "500", "502", "503", "529": self = .status(Int(name)!)
        case "large_response":
            guard let bytes = value.flatMap({ Int($0) }), bytes > 0, bytes <= 16 << 20 else { return nil }
            self = .largeResponse(bytes: bytes)
        case "fail_first":
            guard let count = value.flatMap({ Int($0) }), (1...100).contains(count) else { return nil }
            self = .failFirst(count)
        case "retry_after":
            guard let seconds = value.flatMap({ Int($0) }), (0...3600).contains(seconds) else { return nil }
            self = .retryAfter(seconds: seconds)
        default: return nil
        }
    }

    /// `2s`, `250ms` or a bare number of seconds.
    static func seconds(_ text: String) -> Double? {
        let value: Double?
        if text.hasSuffix("ms") {
            value = Double(text.dropLast(2)).map { $0 / 1000 }
        } else if text.hasSuffix("s") {
            value = Double(text.dropLast())
        } else {
            value = Double(text)
        }
        guard let value, value >= 0, value <= 3600 else { return nil }
        return value
    }
}

public struct FaultParseError: Error, Sendable, Equatable {
    public var item: String
    public init(item: String) { self.item = item }
}

extension Substring {
    func trimmingSpaces() -> String {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
