public import FlexCodec

/// Why a connection is closing: what its GOAWAY says.
public struct ConnectionError: Error, Sendable, Hashable {
    public var code: ErrorCode
    public var message: String
    /// One of `code`'s alternative statuses, or nil for its own.
    public var status: StatusCode?

    public init(_ code: ErrorCode, _ message: String, status: StatusCode? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    /// The GOAWAY that says it.
    public func goAway(lastStreamID: StreamID) -> GoAway {
        GoAway(lastStreamID: lastStreamID, self.code, self.message, status: self.status)
    }
}
