internal import FlexCodec
internal import NIOCore

/// One HTTP door connection's task: runs the calls its handler starts, one after the other (HTTP/1.1
/// answers requests in order), until the connection has closed.
struct HTTPDoorConnection: Sendable {
    let channel: any Channel
    let calls: AsyncStream<ServerCall>
    let timers: DeadlineTimers

    func run(_ shared: ServerShared) async {
        for await call in self.calls {
            await call.run(shared, timers: self.timers)
        }
        // The calls have stopped coming: the connection has closed, or this task was cancelled.
        self.channel.close(promise: nil)
    }
}
