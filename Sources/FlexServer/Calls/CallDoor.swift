internal import FlexCodec

/// How a call's task reaches the door the call came in through (the binary protocol's connection
/// handler, or the HTTP door's), on that connection's event loop.
protocol CallDoor: Sendable {
    /// Sends one event of the call's streamed answer: returns once it is written, which is at once
    /// unless the client is not taking more (the backpressure from the client to the upstream
    /// transfer). Throws once the call is stopped or the connection gone.
    func send(_ event: StreamEvent, on call: ServerCall) async throws

    /// Hands over the call's ending (a unary call's answer, the status, the savings record) to be
    /// written; returns the status the caller is told.
    func finish(_ call: ServerCall, _ ending: CallEnding) async -> Status
}
