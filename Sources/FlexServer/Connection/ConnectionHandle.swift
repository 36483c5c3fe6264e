internal import FlexCodec
internal import NIOCore

/// How a call's task (and a timer, and the server's drain) reaches its connection's handler: on the
/// handler's event loop, at once when already there (a connection's tasks prefer its event loop),
/// else by a hop to it.
struct ConnectionHandle: Sendable {
    let eventLoop: any EventLoop
    let handler: NIOLoopBound<ServerConnectionHandler>
    /// The handler's identity, for the server's registry of connections.
    let id: ObjectIdentifier

    /// On the handler's event loop.
    init(_ handler: ServerConnectionHandler, on eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.handler = NIOLoopBound(handler, eventLoop: eventLoop)
        self.id = ObjectIdentifier(handler)
    }

    /// Runs `body` with the handler, on its event loop.
    func execute(_ body: @escaping @Sendable (ServerConnectionHandler) -> Void) {
        if self.eventLoop.inEventLoop {
            body(self.handler.value)
        } else {
            self.eventLoop.execute { body(self.handler.value) }
        }
    }

    /// Sends one event of `call`'s streamed answer: returns once it is written, which is at once
    /// unless the client's window or the socket is closed (the backpressure from the client to the
    /// upstream transfer). Throws once the call is stopped or the connection gone.
    func send(_ event: StreamEvent, on call: ServerCall) async throws {
        let id = call.id
        if self.eventLoop.inEventLoop {
            guard let frame = try self.handler.value.trySend(event, on: id) else { return }
            try await self.wait(for: frame, on: id)
        } else {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    self.eventLoop.execute { self.handler.value.sendOrPark(event, on: id, continuation) }
                }
            } onCancel: {
                self.execute { $0.abandon(id) }
            }
        }
    }

    /// Parks a frame the handler could not send yet, and waits until it is written.
    private func wait(for frame: ServerConnectionHandler.ParkedFrameRequest, on id: StreamID) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                self.execute { $0.park(frame, on: id, continuation) }
            }
        } onCancel: {
            self.execute { $0.abandon(id) }
        }
    }

    /// Hands `call`'s last frames to the handler; returns the status they carry.
    func finish(_ call: ServerCall, _ ending: CallEnding) async -> Status {
        if self.eventLoop.inEventLoop {
            return self.handler.value.finish(call, ending)
        }
        let handler = self.handler
        return (try? await self.eventLoop.submit { handler.value.finish(call, ending) }.get()) ?? ending.status
    }
}
