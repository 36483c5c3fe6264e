public import FlexCodec

/// Every status and GOAWAY the TCP server sends for reasons of its own, in one place: the wire
/// protocol's errors (PROTOCOL.md, section 9) as this server raises them, each built from FlexCore's
/// `ErrorCode` table. Errors of the service behind the server arrive as a `CallFailure` whose
/// status goes out unchanged; codec errors map with `FlexCodecError.goAway(lastStreamID:)`.
public enum WireErrors {
    // MARK: Stream errors (TRAILERS)

    public static func unknownMethod(_ method: String) -> Status {
        Status(.unknownMethod, "unknown method \"\(method.prefix(100))\"")
    }

    public static func tooManyStreams(limit: Int) -> Status {
        Status(.tooManyStreams, "more than \(limit) calls open on this connection")
    }

    public static let requestWithoutEndStream = Status(
        .invalidMessage,
        "the request MESSAGE must carry END_STREAM (one request per call)"
    )

    public static let secondRequest = Status(.invalidMessage, "a call takes exactly one request MESSAGE")

    public static func invalidRequest(_ error: FlexCodecError) -> Status {
        Status(.invalidMessage, "the request MESSAGE is not a valid InferenceRequest: \(error.message)")
    }

    public static func unauthenticated(presented apiKey: Secret) -> Status {
        apiKey.isEmpty
            ? Status(.missingAPIKey, "send your flexd API key in api_key")
            : Status(.invalidAPIKey, "the flexd API key is not valid")
    }

    public static let serverBusy = Status(.serverBusy, "the server is at its limit of calls in flight; retry")

    /// A CANCEL from the client: CANCELLED whatever code it carries (PROTOCOL.md 5.6); the message
    /// says which, when it is not CANCELLED.
    public static func cancelled(by cancel: Cancel) -> Status {
        var message = "cancelled by the client"
        if cancel.code == .deadlineExceeded {
            message += " (its deadline passed)"
        } else if cancel.code != .ok && cancel.code != .cancelled {
            message += " (code \(cancel.code))"
        }
        if !cancel.reason.isEmpty { message += ": \(cancel.reason.prefix(200))" }
        return Status(.cancelled, message)
    }

    /// A stream whose request MESSAGE did not arrive before the call's deadline.
    public static let deadlineBeforeRequest = Status(
        .deadlineExceeded,
        "the call's deadline passed before its request MESSAGE arrived"
    )

    /// A stream whose request MESSAGE did not arrive within the handshake timeout after its HEADERS.
    public static func requestNotSent(within timeout: Duration) -> Status {
        Status(.requestTimeout, "no request MESSAGE within \(timeout) of the call's HEADERS")
    }

    /// A stream still waiting for its request when the client closed its side of the connection.
    public static let inputClosedBeforeRequest = Status(
        .invalidMessage,
        "the client closed its side of the connection before the call's request MESSAGE"
    )

    public static let deadlinePassed = Status(.deadlineExceeded, "the call's deadline passed")

    public static let connectionClosed = Status(.connectionClosed, "the connection closed")

    public static let stoppedByShutdown = Status(.serverShuttingDown, "the server shut down before the call finished")

    public static func responseTooLarge(_ error: FlexCodecError) -> Status {
        Status(.responseTooLarge, "the answer is larger than the client accepts: \(error.message)")
    }

    // MARK: Connection errors (GOAWAY)

    public static func tooManyConnections(limit: Int) -> GoAway {
        GoAway(lastStreamID: .connection, .tooManyConnections, "the server has \(limit) connections open")
    }

    public static func handshakeTimeout(after timeout: Duration) -> ConnectionError {
        ConnectionError(.handshakeTimeout, "no HELLO within \(timeout)")
    }

    /// Graceful: GOAWAY OK.
    public static func idleTimeout(after timeout: Duration) -> ConnectionError {
        ConnectionError(.idleTimeout, "no call for \(timeout)")
    }

    public static func tooManyPings(limit: Int) -> ConnectionError {
        ConnectionError(.tooManyPings, "more than \(limit) pings without a call")
    }

    public static func windowOverflow(_ stream: StreamID) -> ConnectionError {
        ConnectionError(.flowControlError, "WINDOW_UPDATE on stream \(stream) pushed its window over 2^31-1")
    }

    public static func unexpectedFrame(_ type: FrameType) -> ConnectionError {
        ConnectionError(.protocolError, "unexpected \(type) frame")
    }

    public static let helloFirst = ConnectionError(.protocolError, "the first frame must be HELLO")

    /// A frame the codec could not read: the codec's own code and status.
    public static func undecodable(_ error: FlexCodecError) -> ConnectionError {
        ConnectionError(error.errorCode, error.message, status: error.statusCode)
    }

    public static func drain(lastStreamID: StreamID) -> GoAway {
        GoAway(lastStreamID: lastStreamID, .serverShuttingDown, "the server is shutting down", graceful: true)
    }
}
