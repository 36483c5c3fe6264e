internal import FlexCodec
internal import NIOCore

/// A door's connection handler as its calls' tasks (and its timers, and the server's drain) reach
/// it: on its event loop. The binary protocol's handler and the HTTP door's are both one.
protocol CallWriter: AnyObject, SendableMetatype {
    /// Sends one event of `call`'s streamed answer if the client can take it now: nil when written,
    /// else the bytes to park. Throws once the call is stopped or its connection gone.
    func trySend(_ event: StreamEvent, of call: ServerCall) throws -> ParkedBytes?

    /// Parks `bytes` until the client can take them; `continuation` is resumed once they are
    /// written, or with an error when the call or the connection goes first.
    func park(_ bytes: ParkedBytes, of call: ServerCall, _ continuation: CheckedContinuation<Void, any Error>)

    /// The call's task stopped waiting (it was cancelled): its parked bytes are dropped, and what it
    /// sends from now on is refused.
    func abandon(_ call: ServerCall)

    /// Writes the call's last frames; returns the status they carry.
    func finish(_ call: ServerCall, _ ending: CallEnding) -> Status
}

/// Bytes a call could not send yet, and what they take from its stream's send window (0 for a
/// door without one).
struct ParkedBytes: Sendable {
    var bytes: ByteBuffer
    var size: Int
}

/// A ``CallWriter`` on its event loop: at once when the caller is already there (a connection's
/// tasks prefer its event loop), else by a hop to it.
struct LoopBoundDoor<Writer: CallWriter>: CallDoor {
    let eventLoop: any EventLoop
    let writer: NIOLoopBound<Writer>
    /// The handler's identity, for the server's registry of connections.
    let id: ObjectIdentifier

    /// On the writer's event loop.
    init(_ writer: Writer, on eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.writer = NIOLoopBound(writer, eventLoop: eventLoop)
        self.id = ObjectIdentifier(writer)
    }

    /// Runs `body` with the writer, on its event loop.
    func execute(_ body: @escaping @Sendable (Writer) -> Void) {
        if self.eventLoop.inEventLoop {
            body(self.writer.value)
        } else {
            self.eventLoop.execute { body(self.writer.value) }
        }
    }

    func send(_ event: StreamEvent, on call: ServerCall) async throws {
        if self.eventLoop.inEventLoop {
            guard let parked = try self.writer.value.trySend(event, of: call) else { return }
            try await self.wait(parking: parked, of: call)
        } else {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    self.eventLoop.execute {
                        let writer = self.writer.value
                        do {
                            guard let parked = try writer.trySend(event, of: call) else {
                                continuation.resume()
                                return
                            }
                            writer.park(parked, of: call, continuation)
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                }
            } onCancel: {
                self.execute { $0.abandon(call) }
            }
        }
    }

    /// Parks bytes the writer could not send yet, and waits until they are written.
    private func wait(parking parked: ParkedBytes, of call: ServerCall) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                self.execute { $0.park(parked, of: call, continuation) }
            }
        } onCancel: {
            self.execute { $0.abandon(call) }
        }
    }

    func finish(_ call: ServerCall, _ ending: CallEnding) async -> Status {
        if self.eventLoop.inEventLoop {
            return self.writer.value.finish(call, ending)
        }
        let writer = self.writer
        return (try? await self.eventLoop.submit { writer.value.finish(call, ending) }.get()) ?? ending.status
    }
}

/// The binary protocol's connection, as its calls and the drain reach it.
typealias ConnectionHandle = LoopBoundDoor<ServerConnectionHandler>
