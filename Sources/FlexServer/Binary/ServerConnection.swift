internal import FlexCore
internal import NIOCore

/// One client connection's task: runs each call its handler (``ServerConnectionHandler``) starts in
/// a child task, until the connection has closed and its last call has ended.
///
/// The handler does the connection's I/O and protocol on the event loop; this task holds the
/// connection's calls in structured concurrency, so that the server's own task (and its drain)
/// ends only after every call has.
struct ServerConnection: Sendable {
    let channel: any Channel
    /// The calls the handler starts; finished when the connection is gone.
    let calls: AsyncStream<ServerCall>
    let timers: DeadlineTimers

    func run(_ shared: ServerShared) async {
        // The connection's tasks (this one, its calls, the work they await) run on its event loop,
        // so that a request read, its call and its frames stay on one thread; only libcurl's thread
        // and the ledger's queue hand work back.
        let executor = EventLoopTaskExecutor(self.channel.eventLoop)
        await withDiscardingTaskGroup { group in
            for await call in self.calls {
                group.addTask(executorPreference: executor) {
                    await call.run(shared, timers: self.timers)
                }
            }
            // The calls have stopped coming: the connection has closed, or this task was cancelled
            // (the server's task was, without a drain), and then the connection must not outlive it.
            self.channel.close(promise: nil)
        }
    }
}
