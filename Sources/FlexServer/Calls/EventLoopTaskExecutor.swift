internal import NIOCore

/// A task executor that runs jobs on one SwiftNIO event loop.
///
/// Each connection's tasks (its calls and what they await) prefer the event loop that does the
/// connection's I/O, so a frame read, the call it starts and the frames it writes stay on one
/// thread instead of hopping between the event loop and the cooperative pool: on a small machine
/// those thread switches, not the work, are most of a call's cost (the FlexServer documentation,
/// "Inside the server"). Work with no preference (libcurl's thread, the ledger's queue) resumes a
/// call by enqueueing it here.
final class EventLoopTaskExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
